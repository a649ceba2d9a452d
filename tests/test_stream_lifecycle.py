"""Streams over the wire: assembly, connection reuse, cancellation, deadlines.

Every test talks to the real mock server over loopback and runs on asyncio
and trio. Cancellation tests assert what the *server* saw (the client closed
the connection mid-response), so they fail if a connection is left open or
returned to the pool half-read.
"""

from __future__ import annotations

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from sse_builders import DONE, USER, chunk, text_stream, usage_chunk

pytestmark = pytest.mark.anyio


def client_for(srv: MockServer, **kwargs: object) -> aa.Client:
    return aa.Client("openai", api_key="sk-test-secret", base_url=srv.base_url + "/v1", **kwargs)  # type: ignore[arg-type]


async def test_stream_assembles_text_usage_and_metrics() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(
            Reply.sse(
                text_stream("Hel", "lo", " wörld"), delay=0.005, headers={"x-request-id": "req_9"}
            )
        )
        async with client.stream(model="gpt-4o", messages=USER) as s:
            deltas = [c.delta async for c in s]
        r = s.response
        assert "".join(deltas) == "Hello wörld" == r.content
        assert r.finish_reason == "stop"
        assert r.usage is not None and r.usage.completion_tokens == 3
        assert r.metrics.ttft is not None and r.metrics.ttft > 0
        assert r.metrics.duration is not None and r.metrics.duration >= r.metrics.ttft
        assert r.request_id == "req_9"
        body = srv.requests[0].json()
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert srv.requests[0].headers["authorization"] == "Bearer sk-test-secret"


async def test_two_streams_share_one_connection() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("a")), Reply.sse(text_stream("b")))
        for expected in ("a", "b"):
            async with client.stream(model="gpt-4o", messages=USER) as s:
                assert "".join([c.delta async for c in s]) == expected
        assert srv.requests[0].connection_id == srv.requests[1].connection_id
        assert srv.connections_opened == 1


async def test_break_closes_connection_instead_of_pooling_it() -> None:
    events = text_stream(*[f"w{i} " for i in range(200)])
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                break
        await srv.wait_for_client_disconnects(1)
        await srv.wait_for_closed(1)
        assert client.transport.idle_connections == 0
        # The next call opens a fresh connection and works.
        srv.enqueue(Reply.sse(text_stream("ok")))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            assert "".join([c.delta async for c in s]) == "ok"
        assert srv.requests[1].connection_id != srv.requests[0].connection_id


async def test_outer_cancel_scope_closes_connection() -> None:
    events = text_stream(*[f"w{i} " for i in range(500)])
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        received = []
        with anyio.move_on_after(0.3) as scope:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for c in s:
                    received.append(c.delta)
        assert scope.cancelled_caught
        assert 0 < len(received) < 500
        await srv.wait_for_client_disconnects(1)
        await srv.wait_for_closed(1)
        assert srv.open_connections == 0


async def test_aclose_from_another_task_interrupts_a_blocked_read() -> None:
    # Content first, then the server stalls: the reader is blocked in a socket read.
    events = [chunk({"role": "assistant", "content": "hi"}), *([b": keep-alive\n\n"] * 1)]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse([*events, DONE], delay=[0, 0, 30.0]))
        got: list[str] = []
        async with client.stream(model="gpt-4o", messages=USER) as s:

            async def reader() -> None:
                async for c in s:
                    got.append(c.delta)

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(reader)
                    await anyio.sleep(0.2)
                    await s.aclose()
        assert got == ["hi"]
        await srv.wait_for_client_disconnects(1)
        await srv.wait_for_closed(1)


async def test_idle_timeout_is_not_reset_by_keepalive_comments() -> None:
    keepalives = [b": keep-alive\n\n"] * 40
    events = [chunk({"role": "assistant", "content": "start"}), *keepalives, DONE]
    delays = [0.0, *([0.05] * 40), 0.0]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=delays))
        with pytest.raises(aa.TimeoutError) as info:
            async with client.stream(
                model="gpt-4o", messages=USER, timeouts=aa.Timeouts(idle=0.4)
            ) as s:
                async for _ in s:
                    pass
        assert info.value.which == "idle"
        assert info.value.partial is not None and info.value.partial.content == "start"
        await srv.wait_for_closed(1)


async def test_first_token_deadline_ignores_pings_and_is_named() -> None:
    events = [*[b": ping\n\n"] * 40, *text_stream("late")]
    delays = [0.05] * 40 + [0.0] * (len(events) - 40)
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=delays))
        with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(5):
            async with client.stream(
                model="gpt-4o",
                messages=USER,
                timeouts=aa.Timeouts(first_token=0.3),
                retry=aa.RetryPolicy(max_retries=3, initial_backoff=0.01),
            ):
                pass
        assert info.value.which == "first_token"
        assert not info.value.retryable
        assert len(srv.requests) == 1  # a call-wide deadline is not retried
        assert isinstance(info.value, TimeoutError)  # also the builtin
        await srv.wait_for_closed(1)


async def test_total_deadline_bounds_the_whole_stream() -> None:
    events = text_stream(*[f"w{i}" for i in range(100)])
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=0.02))
        with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(5):
            async with client.stream(
                model="gpt-4o", messages=USER, timeouts=aa.Timeouts(total=0.3)
            ) as s:
                async for _ in s:
                    pass
        assert info.value.which == "total"


async def test_truncated_stream_raises_with_partial() -> None:
    events = text_stream("Hello", " world", usage=False, done=False)[:-1]  # no finish, no [DONE]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events))
        with pytest.raises(aa.StreamError) as info:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
        assert info.value.partial.content == "Hello world"
        assert info.value.partial.finish_reason is None


async def test_truncated_chunked_encoding_after_content_is_a_stream_error() -> None:
    events = text_stream("a", "b", "c", usage=False, done=False)
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.truncated_chunked(events))
        with pytest.raises(aa.StreamError) as info:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
        assert info.value.partial.content.startswith("a")


async def test_usage_only_final_chunk_is_read() -> None:
    events = [
        chunk({"role": "assistant", "content": "x"}),
        chunk({}, finish="stop"),
        usage_chunk(prompt=11, completion=1),
        DONE,
    ]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            chunks = [c async for c in s]
        assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 11
        assert s.response.usage is not None and s.response.usage.total_tokens == 12


async def test_iterating_without_async_with_reads_to_the_end() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("one", "two")))
        s = client.stream(model="gpt-4o", messages=USER)
        assert "".join([c.delta async for c in s]) == "onetwo"
        assert client.transport.idle_connections == 1  # read to the end: reusable


async def test_abandoned_stream_shuts_its_connection_and_frees_its_slot() -> None:
    import gc

    events = text_stream(*[f"w{i} " for i in range(200)])
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        await s.__anext__()  # started, then dropped without closing
        with pytest.warns(ResourceWarning, match="not closed"):
            del s
            gc.collect()
        await srv.wait_for_client_disconnects(1)
        assert not client.transport._in_use
        srv.enqueue(Reply.sse(text_stream("next")))
        async with client.stream(model="gpt-4o", messages=USER) as s2:
            assert "".join([c.delta async for c in s2]) == "next"


async def test_event_size_limit_is_configurable_and_oversize_is_a_stream_error() -> None:
    big = chunk({"role": "assistant", "content": "x" * 5000})
    async with MockServer() as srv:
        base = srv.base_url + "/v1"
        options = {"max_event_bytes": 4096, "max_line_bytes": 4096}
        async with aa.Client("openai", api_key="k", base_url=base, options=options) as client:
            srv.enqueue(Reply.sse([big, DONE]))
            with pytest.raises(aa.StreamError, match="longer than 4096 bytes"):
                async with client.stream(model="gpt-4o", messages=USER, retry=0) as s:
                    async for _ in s:
                        pass
        async with aa.Client("openai", api_key="k", base_url=base) as client:
            srv.enqueue(Reply.sse([big, DONE]))
            async with client.stream(model="gpt-4o", messages=USER) as s:
                assert len("".join([c.delta async for c in s])) == 5000
