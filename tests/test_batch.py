"""``run_batch`` / ``Client.batch`` over the real mock server, on asyncio and trio.

The server's handler counts the requests it holds at once, so the concurrency
bound is measured where it matters: on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.batch import BatchProgress, for_each, run_batch
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.testing.fake import provider_reply

pytestmark = pytest.mark.anyio


class Gauge:
    """An async handler: answers like the fake OpenAI after a pause, counting requests in flight."""

    def __init__(self, pause: float = 0.02) -> None:
        self.pause = pause
        self.now = 0
        self.peak = 0

    async def __call__(self, request: RecordedRequest) -> Reply:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            text = request.json()["messages"][-1]["content"]
            if "fail" in text:
                return Reply.error(400, {"error": {"message": f"bad: {text}", "type": "x"}})
            # Later requests answer sooner, so completion order differs from input order.
            await anyio.sleep(self.pause / (1 + int(text.split()[-1]) % 5))
            return provider_reply(request)
        finally:
            self.now -= 1


def client_for(srv: MockServer) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", retry=0)


def ask(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


async def test_results_come_in_input_order() -> None:
    async with MockServer(handler=Gauge()) as srv, client_for(srv) as client:
        requests = [ask(f"question {i}") for i in range(40)]
        results = await client.batch(requests, concurrency=8)
    assert [r.content for r in results if isinstance(r, aa.ChatResponse)] == [
        f"You said: question {i}" for i in range(40)
    ]


async def test_one_failure_does_not_abort_the_batch() -> None:
    progress: list[BatchProgress] = []
    async with MockServer(handler=Gauge()) as srv, client_for(srv) as client:
        requests = [ask(f"please fail {i}" if i % 3 == 0 else f"ok {i}") for i in range(12)]
        results = await run_batch(client, requests, concurrency=4, on_progress=progress.append)
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, aa.BadRequestError)
            assert result.status == 400 and f"fail {i}" in result.message
        else:
            assert isinstance(result, aa.ChatResponse) and result.content == f"You said: ok {i}"
    assert [p.done for p in progress] == list(range(1, 13))
    last = progress[-1]
    assert (last.done, last.failed, last.total) == (12, 4, 12)
    assert last.elapsed > 0 and last.rate > 0 and last.eta == 0


async def test_concurrency_is_bounded_on_the_wire() -> None:
    gauge = Gauge(pause=0.05)
    async with MockServer(handler=gauge) as srv, client_for(srv) as client:
        results = await client.batch([ask(f"q {i}") for i in range(30)], concurrency=5)
        assert len(srv.requests) == 30
        assert srv.connections_opened <= 5  # the workers reuse their connections
    assert all(isinstance(r, aa.ChatResponse) for r in results)
    assert gauge.peak == 5


async def test_an_iterator_is_pulled_lazily() -> None:
    pulled: list[int] = []

    def requests() -> Iterator[dict[str, Any]]:
        for i in range(10):
            pulled.append(i)
            yield ask(f"lazy {i}")

    seen: list[BatchProgress] = []
    gauge = Gauge()
    async with MockServer(handler=gauge) as srv, client_for(srv) as client:
        results = await client.batch(requests(), concurrency=3, on_progress=seen.append)
    assert len(results) == 10 and pulled == list(range(10))
    assert seen[-1].total is None and seen[-1].eta is None
    assert gauge.peak <= 3


async def test_cancelling_the_batch_closes_every_connection_in_flight() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(*[Reply.stall() for _ in range(20)])
        with anyio.move_on_after(0.3) as scope:
            await client.batch([ask(f"stall {i}") for i in range(20)], concurrency=4)
        assert scope.cancelled_caught
        assert len(srv.requests) == 4  # no worker started another request
        await srv.wait_for_client_disconnects(4)
        await srv.wait_for_closed(4)
        assert srv.open_connections == 0
        assert not client.transport._in_use


class Buggy:
    """A target that is not a Client: passes calls on, and has a bug for ``model="bug"``."""

    def __init__(self, client: aa.Client, srv: MockServer) -> None:
        self.client, self.srv = client, srv

    async def chat(self, **kwargs: Any) -> aa.ChatResponse:
        if kwargs["model"] == "bug":
            await self.srv.wait_for_requests(2)  # the others are in flight
            raise RuntimeError("a bug")
        return await self.client.chat(**kwargs)


async def test_a_bug_propagates_unwrapped_and_cancels_the_rest() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.stall(), Reply.stall())
        requests = [ask("a"), ask("b"), {**ask("c"), "model": "bug"}, ask("never")]
        with pytest.raises(RuntimeError, match="a bug"), anyio.fail_after(5):
            await run_batch(Buggy(client, srv), requests, concurrency=3)
        await srv.wait_for_client_disconnects(2)
        assert len(srv.requests) == 2
        # A request that is not chat keywords is a bug of the caller's, raised as itself too.
        with pytest.raises(TypeError):
            await client.batch([{"messages": []}])
        with pytest.raises(TypeError, match="mapping of chat keywords"):
            await client.batch(["not a dict"])  # type: ignore[list-item]


async def test_validation_errors_are_results_too() -> None:
    async with MockServer(handler=Gauge()) as srv, client_for(srv) as client:
        results = await client.batch([ask("fine 1"), {**ask("x"), "temperature": 9}])
        assert len(srv.requests) == 1
    assert isinstance(results[0], aa.ChatResponse)
    assert isinstance(results[1], aa.ValidationError) and results[1].field == "temperature"


async def test_an_empty_batch_and_a_bad_concurrency() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        assert await client.batch([]) == []
        for bad in (0, -1, 1.5, True):
            with pytest.raises(aa.ValidationError, match="concurrency: must be a positive"):
                await client.batch([ask("x")], concurrency=bad)  # type: ignore[arg-type]
        assert srv.requests == []


async def test_for_each_raises_an_iterator_error_as_itself() -> None:
    started: list[int] = []

    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise LookupError("the input broke")

    async def work(item: int) -> None:
        started.append(item)
        await anyio.sleep(0.01)

    with pytest.raises(LookupError, match="the input broke"):
        await for_each(items(), work, concurrency=4)
    assert started == [1, 2]


async def test_router_batch_routes_each_request_and_keeps_order() -> None:
    gauge = Gauge()
    async with MockServer(handler=gauge) as srv:
        deployment = aa.Deployment(
            "openai/gpt-4o", api_key="sk-test", base_url=srv.base_url + "/v1"
        )
        async with aa.Router(models={"smart": [deployment]}, retry=0) as router:
            requests = [{**ask(f"question {i}"), "model": "smart"} for i in range(20)]
            requests[7] = {**ask("please fail 7"), "model": "smart"}
            results = await router.batch(requests, concurrency=4)
    assert isinstance(results[7], aa.AdapterError)
    assert [r.content for i, r in enumerate(results) if i != 7] == [  # type: ignore[union-attr]
        f"You said: question {i}" for i in range(20) if i != 7
    ]
    assert all(r.deployment is not None for r in results if isinstance(r, aa.ChatResponse))
    assert gauge.peak <= 4
    assert len(srv.requests) == 20
