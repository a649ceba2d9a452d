"""The concurrency gate: at most N attempts in flight, a FIFO queue, nothing leaked.

Wire tests measure concurrency where it matters, at the mock server (how
many requests its handler holds at once), and check afterwards that no slot,
no waiter and no connection is left behind. A stream holds its slot until it
ends, however it ends.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.registry import create_adapter
from agent_adapter.resilience import ConcurrencyLimit, MemoryStore
from agent_adapter.runner import Call, Gate, run_to_end
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.validation import build_chat_request
from sse_builders import DONE, USER, chunk, completion, text_stream

pytestmark = pytest.mark.anyio

MANY = text_stream(*[f"w{i} " for i in range(300)])


def client_for(srv: MockServer, **kwargs: object) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", **kwargs)  # type: ignore[arg-type]


class Held:
    """A handler that holds each request until ``release`` is set (or ``delay`` passes),
    counting how many it holds at once."""

    def __init__(self, delay: float | None = None) -> None:
        self.delay = delay
        self.release = anyio.Event()
        self.active = 0
        self.peak = 0
        self.order: list[str] = []

    async def __call__(self, request: RecordedRequest) -> Reply:
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.order.append(request.json()["messages"][0]["content"])
        try:
            if self.delay is None:
                await self.release.wait()
            else:
                await anyio.sleep(self.delay)
        finally:
            self.active -= 1
        return Reply.json(completion("done"))


def said(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll counters that have no event of their own."""
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.001)


def clean(client: aa.Client) -> None:
    limit = client.concurrency
    assert limit is not None
    assert (limit.in_flight, limit.waiting) == (0, 0)
    assert not client.transport._in_use


def test_settings_are_validated_naming_the_field() -> None:
    for kwargs, field in [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": "8"}, "max_concurrency"),
        ({"max_concurrency": 2, "max_queue": -1}, "max_queue"),
        ({"max_queue": 5}, "max_queue"),
    ]:
        with pytest.raises(aa.ValidationError) as info:
            aa.Client("openai", api_key="k", **kwargs)  # type: ignore[arg-type]
        assert info.value.field == field
    client = aa.Client("openai", api_key="k")
    assert client.concurrency is None
    assert client._gates(client._adapter("openai"), "gpt-4o") == ()  # nothing configured


async def test_200_callers_never_more_than_8_in_flight() -> None:
    handler = Held(delay=0.005)
    async with MockServer(handler) as srv, client_for(srv, max_concurrency=8) as client:
        limit = client.concurrency
        assert limit is not None
        seen: list[int] = []

        async def one(i: int) -> None:
            r = await client.chat(model="gpt-4o", messages=said(str(i)))
            assert r.content == "done"
            seen.append(limit.in_flight)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for i in range(200):
                    tg.start_soon(one, i)
        assert len(srv.requests) == 200 == len(seen)
        assert handler.peak == 8  # the server never held more than 8 at once
        assert max(seen) <= 8
        clean(client)


async def test_waiters_are_served_in_order() -> None:
    handler = Held(delay=0.01)
    async with MockServer(handler) as srv, client_for(srv, max_concurrency=1) as client:
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(lambda i=i: client.chat(model="gpt-4o", messages=said(str(i))))
                await anyio.sleep(0.001)  # arrival order: 0, 1, 2, ...
        assert handler.order == [str(i) for i in range(6)]
        clean(client)


async def test_a_full_queue_refuses_at_once() -> None:
    handler = Held()
    async with (
        MockServer(handler) as srv,
        client_for(srv, max_concurrency=2, max_queue=3) as client,
    ):
        limit = client.concurrency
        assert limit is not None
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(lambda i=i: client.chat(model="gpt-4o", messages=said(str(i))))
            await until(lambda: limit.in_flight == 2 and limit.waiting == 3 and handler.active == 2)
            with anyio.fail_after(0.5), pytest.raises(aa.QueueFullError) as info:
                await client.chat(model="gpt-4o", messages=USER)
            error = info.value
            assert isinstance(error, aa.RateLimitError) and error.local
            assert not error.retryable and error.provider == "openai"
            assert error.retry_after is not None and error.retry_after > 0
            assert len(srv.requests) == 2
            handler.release.set()
        assert len(srv.requests) == 5
        clean(client)


async def test_cancelled_waiters_leak_nothing() -> None:
    handler = Held()
    async with MockServer(handler) as srv, client_for(srv, max_concurrency=2) as client:
        limit = client.concurrency
        assert limit is not None
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(lambda i=i: client.chat(model="gpt-4o", messages=said(str(i))))
            await until(lambda: limit.in_flight == 2 and limit.waiting == 18 and handler.active)
            tg.cancel_scope.cancel()
        clean(client)
        handler.release.set()
        assert (await client.chat(model="gpt-4o", messages=USER)).content == "done"
        clean(client)


async def test_the_deadline_passes_in_the_queue() -> None:
    handler = Held()
    async with MockServer(handler) as srv, client_for(srv, max_concurrency=1) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: client.chat(model="gpt-4o", messages=USER))
            await until(lambda: handler.active == 1)
            start = anyio.current_time()
            with pytest.raises(aa.TimeoutError) as info:
                await client.chat(model="gpt-4o", messages=USER, timeouts=0.2)
            assert info.value.which == "total"
            assert 0.15 < anyio.current_time() - start < 1.0
            assert client.concurrency is not None and client.concurrency.waiting == 0
            handler.release.set()
        assert len(srv.requests) == 1
        clean(client)


# -- the gate itself, without the wire ---------------------------------------------------


def bare_call(*gates: Gate) -> Call:
    adapter = create_adapter("openai", api_key="sk-test")
    http = adapter.encode(build_chat_request("gpt-4o", USER))
    return Call("chat", adapter, http, aa.Timeouts(), aa.RetryPolicy(max_retries=0), gates=gates)


@pytest.mark.parametrize("cancel_first", [True, False])
async def test_a_slot_handed_to_a_waiter_cancelled_at_that_moment_is_passed_on(
    cancel_first: bool,
) -> None:
    limit = ConcurrencyLimit(1)
    call = bare_call(limit)
    held = await limit.enter(call)
    entered: list[str] = []

    async def wait(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            permit = await limit.enter(call)
            entered.append(name)
            await anyio.sleep_forever()
        if name in entered:
            permit.settle(call, None)

    b, c = anyio.CancelScope(), anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(wait, "b", b)
        await anyio.sleep(0.01)
        tg.start_soon(wait, "c", c)
        await anyio.sleep(0.01)
        assert limit.waiting == 2
        if cancel_first:  # no checkpoint between the two: the slot goes to a cancelled waiter
            b.cancel()
            held.settle(call, None)
        else:
            held.settle(call, None)
            b.cancel()
        # b either never gets in or gets in and is cancelled at once; c gets the slot.
        await until(lambda: entered[-1:] == ["c"])
        assert entered in (["c"], ["b", "c"]) and (limit.in_flight, limit.waiting) == (1, 0)
        c.cancel()
    assert (limit.in_flight, limit.waiting) == (0, 0)


async def test_a_slot_freed_by_another_gate_on_the_same_counter_wakes_the_queue() -> None:
    # Two gates on one store and key (two clients sharing a store): a slot freed by
    # one, with nobody waiting there, must reach the other's queue without a poll.
    store = MemoryStore()
    first = ConcurrencyLimit(1, store=store, key="shared")
    second = ConcurrencyLimit(1, store=store, key="shared")
    call = bare_call(first)
    held = await first.enter(call)
    got: list[float] = []

    async def wait() -> None:
        permit = await second.enter(call)
        got.append(anyio.current_time())
        permit.settle(call, None)

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await until(lambda: second.waiting == 1)
        assert first.in_flight == second.in_flight == 1
        freed = anyio.current_time()
        held.settle(call, None)
        await until(lambda: bool(got))
    assert got[0] - freed < 0.5
    assert (first.in_flight, second.waiting) == (0, 0)
    assert not store._watchers  # nobody waits: nobody watches


async def test_a_refusal_by_a_later_gate_frees_the_slot() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1)
    limit = ConcurrencyLimit(1)

    async def fail(call: Call) -> str:
        raise aa.ServerError("boom", status=503)

    deployment = "openai:gpt-4o@https://api.openai.com/v1"
    with pytest.raises(aa.ServerError):
        await run_to_end(bare_call(limit, breaker.gate(deployment)), fail)
    with pytest.raises(aa.CircuitOpenError):
        await run_to_end(bare_call(limit, breaker.gate(deployment)), fail)
    assert limit.in_flight == 0


# -- a stream holds its slot until it ends -------------------------------------------------


async def test_a_waiter_gets_the_slot_when_the_stream_closes() -> None:
    async with MockServer() as srv, client_for(srv, max_concurrency=1) as client:
        limit = client.concurrency
        assert limit is not None
        srv.enqueue(Reply.sse(MANY, delay=0.01), Reply.json(completion("after")))
        got: list[str] = []

        async def chat() -> None:
            got.append((await client.chat(model="gpt-4o", messages=USER)).content)

        async with (
            anyio.create_task_group() as tg,
            client.stream(model="gpt-4o", messages=USER) as s,
        ):
            async for _ in s:
                tg.start_soon(chat)
                await until(lambda: limit.waiting == 1)
                await anyio.sleep(0.05)
                assert len(srv.requests) == 1  # the chat waits for the stream's slot
                got.append("stream")
                break
        assert got == ["stream", "after"]
        clean(client)


async def test_stream_endings_free_the_slot() -> None:
    error_after_content = [
        chunk({"role": "assistant", "content": "part"}),
        b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n',
    ]
    async with MockServer() as srv, client_for(srv, max_concurrency=1, retry=0) as client:
        limit = client.concurrency
        assert limit is not None

        # Read to the end.
        srv.enqueue(Reply.sse(text_stream("a", "b"), delay=0.01))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            assert limit.in_flight == 1
            assert "".join([c.delta async for c in s]) == "ab"
        clean(client)

        # break.
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                assert limit.in_flight == 1
                break
        clean(client)

        # An error event after content.
        srv.enqueue(Reply.sse(error_after_content, delay=0.01))
        with pytest.raises(aa.StreamError):
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    assert limit.in_flight == 1
        clean(client)

        # An HTTP error on entering.
        srv.enqueue(Reply.error(503, {"error": {"message": "busy"}}))
        with pytest.raises(aa.ServerError):
            async with client.stream(model="gpt-4o", messages=USER):
                pass
        clean(client)

        # An outer cancel scope.
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        with anyio.move_on_after(0.1) as scope:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    assert limit.in_flight == 1
        assert scope.cancelled_caught
        clean(client)

        # An idle timeout.
        srv.enqueue(Reply.sse([chunk({"role": "assistant", "content": "x"}), DONE], [0, 5]))
        with pytest.raises(aa.TimeoutError):
            async with client.stream(
                model="gpt-4o", messages=USER, timeouts=aa.Timeouts(idle=0.1)
            ) as s:
                async for _ in s:
                    pass
        clean(client)

        # Abandoned: never closed, collected by the garbage collector.
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        abandoned = client.stream(model="gpt-4o", messages=USER)
        await abandoned.__anext__()
        assert limit.in_flight == 1
        with pytest.warns(ResourceWarning, match="not closed"):
            del abandoned
            gc.collect()
        await srv.wait_for_client_disconnects(1)
        clean(client)

        srv.enqueue(Reply.json(completion("still works")))
        assert (await client.chat(model="gpt-4o", messages=USER)).content == "still works"
        clean(client)
