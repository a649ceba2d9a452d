"""Every ending of a call passes through its one end exactly once.

What a concurrency slot or a per-call hook will be tied to is ``Call.end``;
these tests count its callbacks for every way a stream (and a chat or embed
call) can end, over the real mock server, and check that the connection was
released each time. They run on asyncio and trio.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.registry import create_adapter
from agent_adapter.runner import Call, run_to_end
from agent_adapter.stream import StreamState
from agent_adapter.testing import MockServer, Reply
from agent_adapter.validation import build_chat_request
from sse_builders import DONE, USER, chunk, completion, text_stream

pytestmark = pytest.mark.anyio

MANY = text_stream(*[f"w{i} " for i in range(300)])


def client_for(srv: MockServer, **kwargs: object) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", **kwargs)  # type: ignore[arg-type]


class Ends:
    """Counts a call's end callbacks and keeps the outcomes."""

    def __init__(self) -> None:
        self.outcomes: list[str | None] = []

    def __call__(self, call: Call) -> None:
        self.outcomes.append(call.outcome)


def watched(stream: aa.ChatStream) -> Ends:
    ends = Ends()
    stream._call.on_end(ends)
    return ends


async def settle(srv: MockServer, client: aa.Client) -> None:
    """Nothing is left in use when the call has returned: the connection was pooled or closed."""
    assert not client.transport._in_use


async def test_complete() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("a", "b")))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        async with s:
            assert "".join([c.delta async for c in s]) == "ab"
            assert ends.outcomes == ["ok"]  # the body's end ends the call, before the exit
        assert s.state is StreamState.ENDED
        assert ends.outcomes == ["ok"]
        assert client.transport.idle_connections == 1


async def test_whole_stream_in_the_first_read_ends_once() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("a")))  # no delays: one read holds it all
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        async with s:
            assert [c.delta async for c in s][-1] == ""
        assert ends.outcomes == ["ok"]


async def test_http_error_on_entering() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.error(400, {"error": {"message": "bad", "type": "invalid_request"}}))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        with pytest.raises(aa.BadRequestError):
            async with s:
                pass
        assert ends.outcomes == ["error"]
        await settle(srv, client)


async def test_retried_attempts_end_the_call_once() -> None:
    async with MockServer() as srv, client_for(srv, retry=aa.RetryPolicy(initial_backoff=0)) as c:
        srv.enqueue(Reply.error(503, {"error": {"message": "busy"}}), Reply.sse(text_stream("x")))
        s = c.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        async with s:
            assert "".join([ch.delta async for ch in s]) == "x"
        assert s.attempts == 2
        assert ends.outcomes == ["ok"]


async def test_error_event_after_content() -> None:
    events = [
        chunk({"role": "assistant", "content": "part"}),
        b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n',
    ]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        with pytest.raises(aa.StreamError):
            async with s:
                async for _ in s:
                    pass
        assert ends.outcomes == ["error"]
        await settle(srv, client)


async def test_truncated_after_content() -> None:
    events = text_stream("a", "b", usage=False, done=False)[:-1]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        with pytest.raises(aa.StreamError) as info:
            async with s:
                async for _ in s:
                    pass
        assert info.value.truncated
        assert ends.outcomes == ["truncated"]
        await settle(srv, client)


async def test_idle_timeout() -> None:
    events = [chunk({"role": "assistant", "content": "x"}), DONE]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=[0.0, 5.0]))
        s = client.stream(model="gpt-4o", messages=USER, timeouts=aa.Timeouts(idle=0.2))
        ends = watched(s)
        with pytest.raises(aa.TimeoutError):
            async with s:
                async for _ in s:
                    pass
        assert ends.outcomes == ["timeout"]
        await srv.wait_for_closed(1)


async def test_total_timeout_before_content() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("late"), delay=[2.0, 0.0, 0.0, 0.0, 0.0]))
        s = client.stream(model="gpt-4o", messages=USER, timeouts=aa.Timeouts(total=0.2))
        ends = watched(s)
        with pytest.raises(aa.TimeoutError) as info:
            async with s:
                pass
        assert info.value.which == "total"
        assert ends.outcomes == ["timeout"]
        await srv.wait_for_closed(1)


async def test_outer_cancel_scope() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        with anyio.move_on_after(0.2) as scope:
            async with s:
                async for _ in s:
                    pass
        assert scope.cancelled_caught
        assert ends.outcomes == ["cancelled"]
        await srv.wait_for_closed(1)


async def test_outer_cancel_while_opening() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("late"), delay=[5.0, 0.0, 0.0, 0.0, 0.0]))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        with anyio.move_on_after(0.2):
            async with s:
                pass
        assert ends.outcomes == ["cancelled"]
        await srv.wait_for_closed(1)


async def test_break() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        async with s:
            async for _ in s:
                break
        assert ends.outcomes == ["cancelled"]
        await s.aclose()  # idempotent: nothing more
        assert ends.outcomes == ["cancelled"]
        await srv.wait_for_closed(1)


async def test_aclose_from_another_task() -> None:
    events = [chunk({"role": "assistant", "content": "hi"}), DONE]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=[0.0, 30.0]))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        async with s:

            async def reader() -> None:
                async for _ in s:
                    pass

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(reader)
                    await anyio.sleep(0.1)
                    await s.aclose()
                    assert ends.outcomes == ["cancelled"]  # aclose returns after the end
        assert ends.outcomes == ["cancelled"]
        await srv.wait_for_closed(1)


async def test_aclose_from_another_task_while_opening() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("late"), delay=[30.0, 0.0, 0.0, 0.0, 0.0]))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)

        async def opener() -> None:
            with pytest.raises(StopAsyncIteration):
                await s.__aenter__()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(opener)
                await anyio.sleep(0.1)
                await s.aclose()
        assert ends.outcomes == ["cancelled"]
        await srv.wait_for_closed(1)


async def test_abandoned() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        await s.__anext__()  # started, then dropped without closing
        with pytest.warns(ResourceWarning, match="not closed"):
            del s
            gc.collect()
        assert ends.outcomes == ["cancelled"]
        await srv.wait_for_client_disconnects(1)
        assert not client.transport._in_use


async def test_never_entered_stream_fires_nothing() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        s = client.stream(model="gpt-4o", messages=USER)
        ends = watched(s)
        await s.aclose()
        assert ends.outcomes == []
        assert srv.requests == []


def bare_call(**timeouts: float) -> Call:
    adapter = create_adapter("openai", api_key="sk-test")
    http = adapter.encode(build_chat_request("gpt-4o", USER))
    retry = aa.RetryPolicy(max_retries=2, initial_backoff=0)
    return Call("chat", adapter, http, aa.Timeouts(**timeouts), retry)


async def test_run_to_end_ok_error_retry_timeout_cancel() -> None:
    async def ok(call: Call) -> str:
        return "done"

    async def fail_twice(call: Call) -> str:
        if call.attempts < 3:
            raise aa.ServerError("busy", status=503)
        return "third"

    async def refuse(call: Call) -> str:
        raise aa.AuthenticationError("no", status=401)

    async def hang(call: Call) -> str:
        await anyio.sleep(10)
        return "never"

    cases: list[tuple[Callable[[Call], object], str, dict[str, float]]] = [
        (ok, "ok", {}),
        (fail_twice, "ok", {}),
        (refuse, "error", {}),
        (hang, "timeout", {"total": 0.05}),
    ]
    for attempt, outcome, timeouts in cases:
        call = bare_call(**timeouts)
        ends = Ends()
        call.on_end(ends)
        if outcome == "ok":
            await run_to_end(call, attempt)  # type: ignore[arg-type]
        else:
            with pytest.raises(aa.AdapterError) as info:
                await run_to_end(call, attempt)  # type: ignore[arg-type]
            assert info.value.provider == "openai"  # stamped by the runner
        assert ends.outcomes == [outcome], attempt
        call.end("error")  # a second end does nothing
        assert ends.outcomes == [outcome]

    call = bare_call()
    ends = Ends()
    call.on_end(ends)
    with anyio.move_on_after(0.05):
        await run_to_end(call, hang)
    assert ends.outcomes == ["cancelled"]


async def test_chat_and_embed_failures_release_their_connection() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(completion("hi")), Reply.error(401, {"error": {"message": "no"}}))
        assert (await client.chat(model="gpt-4o", messages=USER)).content == "hi"
        with pytest.raises(aa.AuthenticationError):
            await client.embed(model="text-embedding-3-small", input=["x"])
        await settle(srv, client)
