"""Hedged requests: a slow deployment is raced against the next; the loser's connection closes.

Every race asserts what the losing MockServer saw: the client went away
mid-response and the connection closed (it was not pooled half-read), on
asyncio and trio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.routing.hedge import WARMUP_DELAY, WARMUP_SAMPLES, Latencies
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from sse_builders import USER, completion, text_stream

pytestmark = pytest.mark.anyio

NO_RETRY = aa.RetryPolicy(max_retries=0)
DOWN = Reply.error(503, {"error": {"message": "overloaded", "type": "server_error"}})
PINGS = Reply.sse([b": ping\n\n"] * 100, delay=0.05)  # a 200 stream that never has content


def dep(srv: MockServer, model: str = "openai/gpt-4o") -> aa.Deployment:
    suffix = "/v1" if model.startswith("openai/") else ""
    return aa.Deployment(model, api_key="sk-test", base_url=srv.base_url + suffix)


@asynccontextmanager
async def servers(*handlers: Any) -> AsyncIterator[list[MockServer]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(MockServer(handler=h)) for h in handlers]


def slow(seconds: float) -> Any:
    """A handler that answers like the fake provider, after ``seconds``."""

    async def handler(request: Any) -> Reply:
        await anyio.sleep(seconds)
        return provider_reply(request)

    return handler


def router_for(*srvs: MockServer, hedge: aa.Hedge, **kwargs: Any) -> aa.Router:
    return aa.Router({"smart": [dep(s) for s in srvs]}, hedge=hedge, retry=NO_RETRY, **kwargs)


async def test_a_slow_chat_is_hedged_and_the_loser_connection_closes() -> None:
    async with servers(lambda _: Reply.stall(), provider_reply) as [a, b]:
        async with router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router:
            start = anyio.current_time()
            with anyio.fail_after(3):
                r = await router.chat(model="smart", messages=USER)
            elapsed = anyio.current_time() - start
            assert r.deployment == router.deployments["smart"][1]
            assert 0.1 <= elapsed < 1.0
            await a.wait_for_client_disconnects(1)
            await a.wait_for_closed(1)
            assert a.open_connections == 0
            assert router.transport.idle_connections == 1  # only the winner's, pooled
        assert len(a.requests) == len(b.requests) == 1


async def test_a_stream_without_first_content_is_hedged_the_loser_closed() -> None:
    async with (
        servers(lambda _: PINGS, provider_reply) as [a, b],
        router_for(a, b, hedge=aa.Hedge(delay=0.15)) as router,
    ):
        with anyio.fail_after(3):
            async with router.stream(model="smart", messages=USER) as s:
                text = "".join([c.delta async for c in s])
        assert s.deployment == router.deployments["smart"][1]
        assert text.startswith("You said: hi")
        assert s.response.deployment == s.deployment
        await a.wait_for_client_disconnects(1)
        await a.wait_for_closed(1)
        assert a.open_connections == 0


async def test_a_cancelled_loser_does_not_count_against_its_breaker() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1)
    async with (
        servers(lambda _: Reply.stall(), provider_reply) as [a, b],
        router_for(a, b, hedge=aa.Hedge(delay=0.1), breaker=breaker) as router,
    ):
        for _ in range(2):
            r = await router.chat(model="smart", messages=USER)
            assert r.deployment == router.deployments["smart"][1]
        assert breaker.state(router.deployments["smart"][0]) == "closed"
        assert len(a.requests) == 2  # still tried first each time


async def test_the_first_deployment_may_still_win_after_the_hedge_started() -> None:
    async with (
        servers(slow(0.3), lambda _: Reply.stall()) as [a, b],
        router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router,
    ):
        with anyio.fail_after(3):
            r = await router.chat(model="smart", messages=USER)
        assert r.deployment == router.deployments["smart"][0]
        await b.wait_for_client_disconnects(1)
        await b.wait_for_closed(1)
        assert b.open_connections == 0


async def test_a_stream_race_won_by_the_first_closes_the_hedge() -> None:
    events = [b": ping\n\n", *text_stream("late")]
    late = Reply.sse(events, delay=[0.0, 2.0] + [0.0] * (len(events) - 2))
    first = Reply.sse(text_stream("a", "b"), delay=[0.0, 0.3, 0.0, 0.0, 0.0, 0.0])
    async with (
        servers(lambda _: first, lambda _: late) as [a, b],
        router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router,
    ):
        with anyio.fail_after(3):
            async with router.stream(model="smart", messages=USER) as s:
                assert "".join([c.delta async for c in s]) == "ab"
        assert s.deployment == router.deployments["smart"][0]
        await b.wait_for_client_disconnects(1)
        await b.wait_for_closed(1)


async def test_a_failure_before_the_delay_is_plain_fallback() -> None:
    async with (
        servers(lambda _: DOWN, provider_reply) as [a, b],
        router_for(a, b, hedge=aa.Hedge(delay=1.0)) as router,
    ):
        start = anyio.current_time()
        r = await router.chat(model="smart", messages=USER)
        assert anyio.current_time() - start < 0.5  # the next did not wait for the delay
        assert r.deployment == router.deployments["smart"][1]


async def test_errors_of_the_losers_are_not_raised() -> None:
    async with servers(slow(0.4), lambda _: DOWN) as [a, b]:
        async with router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router:
            r = await router.chat(model="smart", messages=USER)
        assert r.deployment == router.deployments["smart"][0]
        assert len(b.requests) == 1  # the hedge went out, failed, and was not raised


async def test_max_extra_bounds_the_extra_requests_and_every_loser_closes() -> None:
    stall = lambda _: Reply.stall()  # noqa: E731
    async with servers(stall, stall, provider_reply, provider_reply) as [a, b, c, d]:
        async with router_for(a, b, c, d, hedge=aa.Hedge(delay=0.1, max_extra=2)) as router:
            with anyio.fail_after(3):
                r = await router.chat(model="smart", messages=USER)
            assert r.deployment == router.deployments["smart"][2]
            for loser in (a, b):
                await loser.wait_for_client_disconnects(1)
                await loser.wait_for_closed(1)
        assert d.requests == []  # two extras at most


async def test_all_failed_in_a_race_lists_the_errors() -> None:
    async with servers(lambda _: DOWN, lambda _: DOWN) as [a, b]:
        async with router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router:
            with pytest.raises(aa.AllProvidersFailedError) as info:
                await router.chat(model="smart", messages=USER)
        ids = list(router.deployments["smart"])
        assert [e.deployment for e in info.value.errors] == ids


async def test_a_caller_error_in_a_race_raises_at_once() -> None:
    bad = Reply.error(400, {"error": {"message": "bad role", "type": "invalid_request_error"}})
    async with servers(lambda _: bad, provider_reply) as [a, b]:
        async with router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router:
            with pytest.raises(aa.BadRequestError):
                await router.chat(model="smart", messages=USER)
        assert b.requests == []


async def test_a_race_keeps_the_total_deadline() -> None:
    stall = lambda _: Reply.stall()  # noqa: E731
    async with servers(stall, stall) as [a, b]:
        hedge = aa.Hedge(delay=0.1)
        async with router_for(a, b, hedge=hedge, timeouts=aa.Timeouts(total=0.4)) as router:
            with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(3):
                await router.chat(model="smart", messages=USER)
        assert info.value.which == "total"
        assert "0.4 s" in str(info.value)
        for srv in (a, b):
            await srv.wait_for_closed(1)


async def test_a_race_keeps_a_total_deadline_given_per_call() -> None:
    stall = lambda _: Reply.stall()  # noqa: E731
    async with (
        servers(stall, stall) as [a, b],
        router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router,
    ):
        with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(3):
            async with router.stream(model="smart", messages=USER, timeouts=0.3):
                pass
        assert info.value.which == "total"
        assert "0.3 s" in str(info.value)


async def test_cancelling_a_race_from_outside_closes_every_connection() -> None:
    stall = lambda _: Reply.stall()  # noqa: E731
    async with (
        servers(stall, stall) as [a, b],
        router_for(a, b, hedge=aa.Hedge(delay=0.1)) as router,
    ):
        with anyio.move_on_after(0.3) as scope:
            async with router.stream(model="smart", messages=USER):
                pass
        assert scope.cancelled_caught
        for srv in (a, b):
            await srv.wait_for_client_disconnects(1)
            await srv.wait_for_closed(1)


async def test_a_percentile_delay_follows_the_groups_latencies() -> None:
    async with servers(lambda _: Reply.json(completion()), provider_reply) as [a, b]:
        async with router_for(a, b, hedge=aa.Hedge(delay="p95")) as router:
            for _ in range(WARMUP_SAMPLES):
                await router.chat(model="smart", messages=USER)
            ring = router._groups["smart"].chat_latencies
            assert ring is not None and len(ring) == WARMUP_SAMPLES
            assert router.hedge is not None
            assert router.hedge.delay_for(ring) < WARMUP_DELAY  # loopback answers are fast
        assert b.requests == []  # never slow enough to hedge


def test_latencies_percentiles_need_enough_samples() -> None:
    ring = Latencies(size=50)
    for i in range(WARMUP_SAMPLES - 1):
        ring.add(float(i))
    assert ring.percentile(0.95) is None
    assert aa.Hedge(delay="p95").delay_for(ring) == WARMUP_DELAY
    for i in range(100):  # the ring keeps only the newest 50: 50..99
        ring.add(float(i))
    assert len(ring) == 50
    assert ring.percentile(0.5) == 74.0
    assert ring.percentile(0.95) == 97.0
    assert aa.Hedge(delay="p99").delay_for(ring) == 99.0
    assert aa.Hedge(delay=0.25).delay_for(ring) == 0.25


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"delay": 0}, "hedge.delay"),
        ({"delay": "p42"}, "hedge.delay"),
        ({"delay": True}, "hedge.delay"),
        ({"max_extra": 0}, "hedge.max_extra"),
    ],
)
def test_bad_hedges_are_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(aa.ValidationError) as info:
        aa.Hedge(**kwargs)
    assert info.value.field == field
