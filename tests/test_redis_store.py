"""``RedisStore`` on a real ``redis-server``: limits, breakers and slots shared between processes.

A session-wide ``redis-server`` listens on a free loopback port (tests keep
apart by key prefix); the outage tests start their own so they can kill,
pause and restart it. "Another process" is a real one where it matters
(``redis_worker.py``, run with this interpreter against the mock server this
process runs); elsewhere a second store in this process stands for it: it
shares nothing with the first but the server.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.resilience.redis.link import leaf
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from redis_support import RedisServer, free_port
from sse_builders import USER, completion

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("redis_worker.py")
DOWN = Reply.error(503, {"error": {"message": "overloaded", "type": "server_error"}})


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


def client_for(srv: MockServer, **kwargs: Any) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", **kwargs)


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - state without an event of its own
            await anyio.sleep(0.005)


async def worker(backend: str, **settings: Any) -> dict[str, Any]:
    """Run redis_worker.py (another process, its own Client and RedisStore); what it printed."""
    settings["backend"] = backend
    done = await anyio.run_process(
        [sys.executable, str(WORKER), msgspec.json.encode(settings).decode()],
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, Any] = msgspec.json.decode(done.stdout)
    return result


# -- the store's contract, on Redis ----------------------------------------------------------


async def test_the_scripts_keep_the_store_contract(redis_url: str, prefix: str) -> None:
    inf, near = math.inf, 0.2
    async with aa.RedisStore(redis_url, prefix=prefix, timeout=2) as store:
        assert not store.degraded and store.last_error is None
        assert abs(store.clock() - time.time()) < 5  # Redis's clock: the same machine's here
        take = store.take
        assert await take("b", 10, rate=1.0, capacity=10, now=0, max_wait=0) == 0.0
        waits = [await take("b", n, rate=1.0, capacity=10, now=0, max_wait=inf) for n in (2, 1)]
        assert waits == pytest.approx([2.0, 3.0], abs=near)  # reservations queue
        refused = await take("b", 5, rate=1.0, capacity=10, now=0, max_wait=0)
        assert refused == pytest.approx(8.0, abs=near)
        again = await take("b", 5, rate=1.0, capacity=10, now=0, max_wait=0)
        assert again == pytest.approx(8.0, abs=near)  # the refused take took nothing
        store.give("b", 100, rate=1.0, capacity=10, now=0)  # a refund, capped
        assert await store.flush()
        assert await take("b", 10, rate=1.0, capacity=10, now=0, max_wait=0) == 0.0
        assert await take("b", 1, rate=1.0, capacity=10, now=0, max_wait=0) > 0.5
        store.lower("u", 0, rate=inf, capacity=inf, now=50.0, until=52.0)  # a 2 s pause
        assert store.paused("u", now=0) == pytest.approx(2.0, abs=near)
        assert await store.flush()
        assert await take("u", 10**9, rate=inf, capacity=inf, now=0, max_wait=0) > 1.5
        assert await take("free", 10**9, rate=inf, capacity=inf, now=0, max_wait=0) == 0.0

        assert [store.record("f", now=0, window=10) for _ in range(3)] == [1, 2, 3]
        store.set("open", 1.5)
        assert [await store.acquire("c", 2) for _ in range(3)] == [True, True, False]
        assert store.count("c") == 2
        assert await store.flush()

        async with aa.RedisStore(redis_url, prefix=prefix, timeout=2) as other:  # "elsewhere"
            assert other.get("open") == 1.5  # read at start
            # Windows are learned from what is published and from its own records' replies:
            # a store that started after the last failure counts only its own first.
            assert other.record("f", now=0, window=10) == 1
            assert await other.flush()
            assert other.record("f", now=0, window=10) == 5
            assert not await other.acquire("c", 2)  # both slots are the first store's
            assert other.count("c") == 2
            wait = await other.take("u", 1, rate=inf, capacity=inf, now=0, max_wait=0)
            assert wait > 1.0  # the pause is shared
            store.release("c")
            await until(lambda: other.count("c") == 1)  # published
            assert await other.acquire("c", 2)
            store.clear("f")  # as a closing breaker does: failures first, then the state
            store.set("open", None)
            await until(lambda: other.get("open") is None)
            assert other.record("f", now=0, window=10) == 1
            other.release("c")
        store.release("c")
        store.release("c")  # never below zero
        assert store.count("c") == 0


async def test_add_sums_across_stores_and_expires_in_redis(redis_url: str, prefix: str) -> None:
    async with (
        aa.RedisStore(redis_url, prefix=prefix, timeout=2) as one,
        aa.RedisStore(redis_url, prefix=prefix, timeout=2) as two,
    ):
        assert one.add("spend", 1.5, now=0, ttl=60) == 1.5  # applied locally at once
        assert two.add("spend", 0.25, now=0, ttl=60) == 0.25  # its mirror had not heard yet
        assert await one.flush() and await two.flush()
        await until(lambda: one.get("spend") == two.get("spend") == 1.75)  # atomic in Redis
        one.add("brief", 1.0, now=0, ttl=0.2)
        assert await one.flush()
        async with aa.RedisStore(redis_url, prefix=prefix, timeout=2) as late:
            assert late.get("spend") == 1.75 and late.get("brief") == 1.0  # read at start
            await anyio.sleep(0.3)
            late.add("spend", 0.25, now=0, ttl=60)  # an add forgets what expired meanwhile
            assert await late.flush()
            await until(lambda: one.get("brief") is None and two.get("spend") == 2.0)
            assert late.get("brief") is None


async def test_without_redis_the_store_is_local_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_adapter")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    start = anyio.current_time()
    async with aa.RedisStore(url, timeout=0.2) as store:
        assert anyio.current_time() - start < 2
        assert store.degraded and store.last_error is not None
        assert await store.take("b", 1, rate=1.0, capacity=1, now=0, max_wait=0) == 0.0
        assert await store.take("b", 1, rate=1.0, capacity=1, now=0, max_wait=0) > 0.5
        assert [await store.acquire("c", 1), await store.acquire("c", 1)] == [True, False]
        await anyio.sleep(0.3)  # a few reconnection attempts
    warnings = [r for r in caplog.records if r.name == "agent_adapter"]
    assert len(warnings) == 1 and "is not there" in warnings[0].getMessage()
    assert "per process" in warnings[0].getMessage()


async def test_a_store_never_started_is_local_and_says_so(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_adapter")
    store = aa.RedisStore(redis_url)
    assert await store.acquire("c", 1) and not await store.acquire("c", 1)
    assert await store.acquire("d", 1)
    warnings = [r.getMessage() for r in caplog.records if r.name == "agent_adapter"]
    assert len(warnings) == 1 and "never started" in warnings[0]


async def test_last_error_names_the_failure_not_a_cancellation() -> None:
    caught: list[BaseException] = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        try:
            await anyio.sleep(1)
        except BaseException as error:  # a real one: trio's cannot be made by hand
            caught.append(error)
            raise
    cancelled, failure = caught[0], ConnectionError("reset")
    group = BaseExceptionGroup("session", [cancelled, ExceptionGroup("pool", [failure])])
    assert leaf(group) is failure
    assert leaf(BaseExceptionGroup("only", [cancelled])) is cancelled
    assert leaf(failure) is failure


def test_importing_the_library_never_imports_coredis() -> None:
    code = (
        "import sys, agent_adapter as aa, agent_adapter.client, agent_adapter.routing\n"
        "store = aa.RedisStore('redis://127.0.0.1:1/0')\n"
        "assert store.degraded and 'coredis' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- shared between processes ----------------------------------------------------------------


async def test_one_rpm_limit_holds_across_two_processes(
    redis_url: str, prefix: str, anyio_backend: str
) -> None:
    # rpm=4: four requests now, then one every 15 s, shared by this process and the worker.
    limit = aa.RateLimit(rpm=4, max_wait=0)
    async with (
        MockServer(lambda _: Reply.json(completion())) as srv,
        aa.RedisStore(redis_url, prefix=prefix, timeout=2) as store,
        client_for(srv, store=store, rate_limit=limit, retry=0) as client,
    ):
        for _ in range(2):
            await client.chat(model="gpt-4o", messages=USER)
        settings = {"url": redis_url, "prefix": prefix, "base_url": srv.base_url + "/v1"}
        result = await worker(anyio_backend, **settings, rpm=4, calls=6)
        ok = result["outcomes"].count("ok")
        assert ok in (2, 3) and result["outcomes"][ok:] == ["rate_limited"] * (6 - ok)
        assert not result["degraded"]
        refusals: list[aa.RateLimitError] = []
        for _ in range(3):
            try:
                await client.chat(model="gpt-4o", messages=USER)
            except aa.RateLimitError as error:
                refusals.append(error)
        assert len(refusals) >= 2 and all(error.local for error in refusals)
        assert len(srv.requests) <= 5  # 4, and one refill on a very slow machine
        assert sum("worker" in r.json()["messages"][0]["content"] for r in srv.requests) == ok


async def test_a_breaker_opened_in_one_process_is_open_in_the_other(
    redis_url: str, prefix: str, anyio_backend: str
) -> None:
    async with (
        MockServer(lambda _: DOWN) as srv,
        aa.RedisStore(redis_url, prefix=prefix, timeout=2) as store,
        client_for(
            srv, store=store, retry=0, breaker=aa.CircuitBreaker(failure_threshold=2, store=store)
        ) as client,
    ):
        breaker = client.breaker
        assert breaker is not None
        deployment = client.deployment_id("gpt-4o")
        settings = {"url": redis_url, "prefix": prefix, "base_url": srv.base_url + "/v1"}
        opened = await worker(anyio_backend, **settings, threshold=2, calls=3)
        assert opened["outcomes"] == ["server_error", "server_error", "circuit_open"]
        assert opened["state"] == "open"
        # Published when the worker opened it: no round trip needed to know.
        await until(lambda: breaker.state(deployment) == "open")
        assert 25 < (breaker.retry_after(deployment) or 0) <= 30
        with pytest.raises(aa.CircuitOpenError):
            await client.chat(model="gpt-4o", messages=USER)
        late = await worker(anyio_backend, **settings, threshold=2, calls=1)  # reads it at start
        assert late["outcomes"] == ["circuit_open"]
        assert len(srv.requests) == 2


async def test_concurrency_is_counted_across_two_stores(redis_url: str, prefix: str) -> None:
    hold = anyio.Event()
    arrived: dict[str, float] = {}
    active = peak = 0

    async def handler(request: RecordedRequest) -> Reply:
        nonlocal active, peak
        name = request.json()["messages"][0]["content"]
        arrived[name] = anyio.current_time()
        active += 1
        peak = max(peak, active)
        try:
            if name.startswith("a"):
                await hold.wait()
            else:
                await anyio.sleep(0.05)
        finally:
            active -= 1
        return Reply.json(completion())

    async def call(client: aa.Client, name: str) -> None:
        await client.chat(model="gpt-4o", messages=[{"role": "user", "content": name}])

    async with (
        MockServer(handler) as srv,
        aa.RedisStore(redis_url, prefix=prefix, timeout=2) as one,
        aa.RedisStore(redis_url, prefix=prefix, timeout=2) as two,
        client_for(srv, store=one, max_concurrency=2) as a,
        client_for(srv, store=two, max_concurrency=2) as b,
        anyio.create_task_group() as tg,
    ):
        assert a.concurrency is not None and b.concurrency is not None
        tg.start_soon(call, a, "a1")
        tg.start_soon(call, a, "a2")
        await until(lambda: len(arrived) == 2)
        await until(lambda: b.concurrency is not None and b.concurrency.in_flight == 2)
        for name in ("b1", "b2", "b3"):
            tg.start_soon(call, b, name)
        await until(lambda: b.concurrency is not None and b.concurrency.waiting == 3)
        await anyio.sleep(0.2)
        assert "b1" not in arrived  # both slots are held by the other store
        freed = anyio.current_time()
        hold.set()
        await until(lambda: "b1" in arrived)
        assert arrived["b1"] - freed < 0.5  # woken by the release message, not a poll
    assert peak <= 2 and len(srv.requests) == 5
    assert (a.concurrency.in_flight, b.concurrency.in_flight, b.concurrency.waiting) == (0, 0, 0)


# -- when Redis is not there -----------------------------------------------------------------


async def test_redis_killed_mid_test_then_restarted(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_adapter")
    messages: Callable[[], list[str]] = lambda: [  # noqa: E731
        r.getMessage() for r in caplog.records if r.name == "agent_adapter"
    ]
    limit = aa.RateLimit(rpm=20, max_wait=0)
    sent = 0
    async with (
        MockServer(lambda _: Reply.json(completion())) as srv,
        aa.RedisStore(own_redis.url, timeout=0.5) as store,
        client_for(srv, store=store, rate_limit=limit, max_concurrency=4, retry=0) as client,
    ):
        assert not store.degraded

        async def calls(n: int) -> None:
            nonlocal sent
            for _ in range(n):
                await client.chat(model="gpt-4o", messages=USER)
                sent += 1
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(calls, 12)
            await until(lambda: sent >= 4)
            own_redis.kill()  # mid-run: the calls in flight fall back to local state
        assert sent == 12 and len(srv.requests) == 12  # no request lost
        assert store.degraded and store.last_error is not None
        assert len(messages()) == 1 and "is not there" in messages()[0]
        # Local limits: the bucket goes on from what Redis last said (20 - 12 left, + refill).
        more = 0
        with pytest.raises(aa.RateLimitError) as refused:
            for _ in range(12):
                await client.chat(model="gpt-4o", messages=USER)
                more += 1
        assert refused.value.local and 8 <= more <= 9
        assert len(srv.requests) == 12 + more

        own_redis.start()  # empty: what this process holds is written back on reconnecting
        await until(lambda: not store.degraded, seconds=8)
        assert len(messages()) == 2 and "is back" in messages()[1]
        bucket = store._key("b", client.rate_limiter._requests.key)  # type: ignore[union-attr]
        assert own_redis.command(b"EXISTS", bucket.encode()) == b":1"
        with pytest.raises(aa.RateLimitError):
            await client.chat(model="gpt-4o", messages=USER)  # still spent, now in Redis
    assert len(srv.requests) == 12 + more


async def test_sums_added_during_an_outage_are_added_to_the_shared_total(
    own_redis: RedisServer, prefix: str
) -> None:
    async with (
        aa.RedisStore(own_redis.url, prefix=prefix, timeout=0.5) as one,
        aa.RedisStore(own_redis.url, prefix=prefix, timeout=0.5) as two,
    ):
        one.add("spend", 1.0, now=0, ttl=600)
        assert await one.flush()
        await until(lambda: two.get("spend") == 1.0)
        assert own_redis.command(b"CLIENT", b"PAUSE", b"1500", b"ALL") == b"+OK"
        one.add("spend", 2.0, now=0, ttl=600)  # queued: times out, kept to add on reconnecting
        two.add("spend", 4.0, now=0, ttl=600)
        await until(lambda: one.degraded and two.degraded)
        await until(lambda: not one.degraded and not two.degraded, seconds=8)
        assert await one.flush() and await two.flush()
        # Both sums reach Redis, as atomic adds: written whole, one of them would be lost.
        await until(lambda: one.get("spend") == two.get("spend") == 7.0)
        async with aa.RedisStore(own_redis.url, prefix=prefix, timeout=0.5) as late:
            assert late.get("spend") == 7.0


async def test_redis_slower_than_the_timeout_is_left_until_it_answers(
    own_redis: RedisServer,
) -> None:
    async with (
        MockServer(lambda _: Reply.json(completion())) as srv,
        aa.RedisStore(own_redis.url, timeout=0.2) as store,
        client_for(srv, store=store, rate_limit=aa.RateLimit(rpm=100), retry=0) as client,
    ):
        await client.chat(model="gpt-4o", messages=USER)
        assert own_redis.command(b"CLIENT", b"PAUSE", b"1000", b"ALL") == b"+OK"
        start = anyio.current_time()
        await client.chat(model="gpt-4o", messages=USER)  # waits at most the timeout
        assert anyio.current_time() - start < 0.8
        assert store.degraded and isinstance(store.last_error, TimeoutError)
        await until(lambda: not store.degraded, seconds=8)
        await client.chat(model="gpt-4o", messages=USER)
        assert len(srv.requests) == 3
