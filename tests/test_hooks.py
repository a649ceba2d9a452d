"""``aa.Hooks``: on_end runs exactly once per call, whatever the ending (asyncio and trio).

One test per ending, over the real mock server: complete, error, timeout,
cancelled (outer cancel scope, ``break``, ``aclose()`` from another task, a
stream abandoned without closing), truncated; plus what ``CallInfo`` holds
and that a hook that raises never breaks the call.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import anyio
import pytest

import agent_adapter as aa
from agent_adapter import hooks as hooks_module
from agent_adapter.testing import MockServer, Reply
from sse_builders import DONE, USER, chunk, completion, text_stream

pytestmark = pytest.mark.anyio

MANY = text_stream(*[f"w{i} " for i in range(300)])


class Recorder(aa.Hooks):
    """Keeps every event and the CallInfo it came with."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.info: aa.CallInfo | None = None

    def on_request(self, call: aa.CallInfo) -> None:
        self.info = call
        self.events.append("request")

    def on_retry(
        self, call: aa.CallInfo, error: aa.AdapterError, attempt: int, delay: float
    ) -> None:
        self.events.append(("retry", attempt, type(error).__name__))

    def on_first_token(self, call: aa.CallInfo) -> None:
        assert call.metrics.ttft is not None
        self.events.append("first_token")

    def on_end(self, call: aa.CallInfo) -> None:
        assert call is self.info  # one CallInfo from start to end
        self.events.append(("end", call.outcome))

    @property
    def ends(self) -> list[Any]:
        return [e for e in self.events if isinstance(e, tuple) and e[0] == "end"]


def client_for(srv: MockServer, *hooks: aa.Hooks, **kwargs: Any) -> aa.Client:
    return aa.Client(
        "openai",
        api_key="sk-test",
        base_url=srv.base_url + "/v1",
        hooks=list(hooks),
        retry=aa.RetryPolicy(initial_backoff=0),
        **kwargs,
    )


# -- complete ---------------------------------------------------------------------


async def test_chat_complete() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.json(completion("hi"), headers={"x-request-id": "req_1"}))
        response = await client.chat(model="gpt-4o", messages=USER, max_tokens=50)
    assert rec.events == ["request", ("end", "ok")]
    info = rec.info
    assert info is not None
    assert info.operation == "chat" and info.provider == "openai" and info.model == "gpt-4o"
    assert info.attempts == 1 and info.error_type is None
    assert info.request_id == "req_1" and info.response_id == "chatcmpl-N1"
    assert info.response_model == response.model and info.finish_reason == "stop"
    assert info.usage == response.usage and info.metrics == response.metrics
    assert info.server_address == "127.0.0.1" and info.server_port == srv.port
    assert info.message_count == 1 and info.prompt_bytes > 0 and info.max_tokens == 50
    assert info.start_time > 1e9 and len(info.id) == 16
    assert info.messages is None and info.output is None  # content is off by default


async def test_stream_complete() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(text_stream("a", "b"), delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        assert rec.events == []  # the request is sent on entering
        async with s:
            async for _ in s:
                pass
    assert rec.events == ["request", "first_token", ("end", "ok")]
    assert rec.info is not None and rec.info.operation == "stream"
    assert rec.info.metrics == s.response.metrics and rec.info.finish_reason == "stop"


async def test_embed_complete() -> None:
    rec = Recorder()
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.json(body))
        await client.embed(model="text-embedding-3-small", input=["a", "b"])
    assert rec.events == ["request", ("end", "ok")]
    assert rec.info is not None and rec.info.operation == "embed" and rec.info.message_count == 2
    assert rec.info.input is None


async def test_retries_are_reported_and_end_once() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.error(503, {"error": {"message": "busy"}}), Reply.sse(text_stream("x")))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
    assert rec.events == [
        "request",
        ("retry", 1, "ServerError"),
        "first_token",
        ("end", "ok"),
    ]
    assert rec.info is not None and rec.info.attempts == 2


# -- error, timeout, truncated -----------------------------------------------------


async def test_chat_error() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.error(400, {"error": {"message": "bad", "type": "invalid_request"}}))
        with pytest.raises(aa.BadRequestError):
            await client.chat(model="gpt-4o", messages=USER)
    assert rec.ends == [("end", "error")]
    assert rec.info is not None and rec.info.error_type == "BadRequestError"
    assert rec.info.error_status == 400 and rec.info.error_message is None
    assert rec.info.metrics.ttfb is not None and rec.info.metrics.duration is not None


async def test_stream_error_after_content() -> None:
    rec = Recorder()
    events = [
        chunk({"role": "assistant", "content": "part"}),
        b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n',
    ]
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        with pytest.raises(aa.StreamError):
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
    assert rec.events == ["request", "first_token", ("end", "error")]
    assert rec.info is not None and rec.info.error_type == "StreamError"


async def test_chat_timeout() -> None:
    rec = Recorder()

    async def slow(request: object) -> Reply:
        await anyio.sleep(5)
        return Reply.json(completion())

    async with MockServer(handler=slow) as srv, client_for(srv, rec) as client:
        with pytest.raises(aa.TimeoutError):
            await client.chat(model="gpt-4o", messages=USER, timeouts=0.2)
    assert rec.ends == [("end", "timeout")]
    assert rec.info is not None and rec.info.error_type == "TimeoutError"


async def test_stream_idle_timeout() -> None:
    rec = Recorder()
    events = [chunk({"role": "assistant", "content": "x"}), DONE]
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(events, delay=[0.0, 5.0]))
        with pytest.raises(aa.TimeoutError):
            async with client.stream(
                model="gpt-4o", messages=USER, timeouts=aa.Timeouts(idle=0.2)
            ) as s:
                async for _ in s:
                    pass
    assert rec.ends == [("end", "timeout")]


async def test_stream_truncated() -> None:
    rec = Recorder()
    events = text_stream("a", "b", usage=False, done=False)[:-1]
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        with pytest.raises(aa.StreamError):
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
    assert rec.ends == [("end", "truncated")]


# -- cancelled ---------------------------------------------------------------------


async def test_chat_cancelled_by_an_outer_scope() -> None:
    rec = Recorder()

    async def slow(request: object) -> Reply:
        await anyio.sleep(5)
        return Reply.json(completion())

    async with MockServer(handler=slow) as srv, client_for(srv, rec) as client:
        with anyio.move_on_after(0.2):
            await client.chat(model="gpt-4o", messages=USER)
    assert rec.ends == [("end", "cancelled")]
    assert rec.info is not None and rec.info.error_type is not None


async def test_stream_cancelled_by_an_outer_scope() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        with anyio.move_on_after(0.2):
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
    assert rec.ends == [("end", "cancelled")]
    assert rec.info is not None and rec.info.metrics.ttft is not None


async def test_stream_break() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                break
        await s.aclose()
    assert rec.ends == [("end", "cancelled")]


async def test_stream_aclose_from_another_task() -> None:
    rec = Recorder()
    events = [chunk({"role": "assistant", "content": "hi"}), DONE]
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(events, delay=[0.0, 30.0]))
        async with client.stream(model="gpt-4o", messages=USER) as s:

            async def reader() -> None:
                async for _ in s:
                    pass

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(reader)
                    await anyio.sleep(0.1)
                    await s.aclose()
                    assert rec.ends == [("end", "cancelled")]
    assert rec.ends == [("end", "cancelled")]


async def test_stream_abandoned_ends_from_del() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        srv.enqueue(Reply.sse(MANY, delay=0.01))
        s = client.stream(model="gpt-4o", messages=USER)
        await s.__anext__()
        with pytest.warns(ResourceWarning, match="not closed"):
            del s
            gc.collect()
        assert rec.ends == [("end", "cancelled")]
        assert rec.info is not None and rec.info.metrics.ttft is not None


async def test_a_stream_never_entered_reports_nothing() -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, rec) as client:
        s = client.stream(model="gpt-4o", messages=USER)
        await s.aclose()
    assert rec.events == []


# -- configuration, content, failing hooks --------------------------------------------


async def test_call_hooks_are_added_to_the_client_hooks() -> None:
    mine, theirs = Recorder(), Recorder()
    async with MockServer() as srv, client_for(srv, mine) as client:
        srv.enqueue(Reply.json(completion()), Reply.json(completion()))
        await client.chat(model="gpt-4o", messages=USER, hooks=[theirs])
        await client.chat(model="gpt-4o", messages=USER)
    assert mine.ends == [("end", "ok"), ("end", "ok")]
    assert theirs.ends == [("end", "ok")]


async def test_capture_content_carries_the_messages_and_the_output() -> None:
    rec = Recorder()
    async with (
        MockServer() as srv,
        client_for(srv, rec, capture_content=True) as client,
    ):
        srv.enqueue(Reply.error(400, {"error": {"message": "bad thing"}}), Reply.json(completion()))
        with pytest.raises(aa.BadRequestError):
            await client.chat(model="gpt-4o", messages=USER)
        assert rec.info is not None and rec.info.error_message is not None
        await client.chat(model="gpt-4o", messages=USER)
    assert rec.info is not None and rec.info.messages is not None
    assert rec.info.messages[0].content == "hi"
    assert rec.info.output == "Hello there!"


class Broken(aa.Hooks):
    def on_request(self, call: aa.CallInfo) -> None:
        raise RuntimeError("on_request broke")

    def on_first_token(self, call: aa.CallInfo) -> None:
        raise RuntimeError("on_first_token broke")

    def on_end(self, call: aa.CallInfo) -> None:
        raise RuntimeError("on_end broke")


async def test_a_hook_that_raises_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    async with MockServer() as srv, client_for(srv, Broken(), rec) as client:
        srv.enqueue(Reply.sse(text_stream("fine")))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            assert "".join([c.delta async for c in s]) == "fine"
    assert rec.events == ["request", "first_token", ("end", "ok")]  # later hooks still ran
    broke = [r for r in caplog.records if r.name == "agent_adapter" and r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in broke] == [
        "Broken.on_request raised; the call goes on",
        "Broken.on_first_token raised; the call goes on",
        "Broken.on_end raised; the call goes on",
    ]


def test_hooks_are_checked_before_any_io() -> None:
    with pytest.raises(aa.ValidationError) as info:
        aa.Client("openai", api_key="k", hooks=[object()])  # type: ignore[list-item]
    assert info.value.field == "hooks"
    with pytest.raises(aa.ValidationError):
        aa.Client("openai", api_key="k", hooks=Recorder())  # type: ignore[arg-type]


async def test_no_call_info_is_built_without_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a CallInfo was built for a call without hooks")

    monkeypatch.setattr(hooks_module, "CallInfo", refuse)
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(completion()), Reply.sse(text_stream("x")))
        await client.chat(model="gpt-4o", messages=USER)
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass


class Tracing(aa.Hooks):
    def request_headers(self, call: aa.CallInfo) -> dict[str, str]:
        return {"X-Trace": f"call-{call.id}"}


async def test_request_headers_go_on_every_attempt_of_every_operation() -> None:
    tracing = Tracing()
    async with MockServer() as srv, client_for(srv, tracing) as client:
        srv.enqueue(
            Reply.error(503, {"error": {"message": "busy"}}),
            Reply.json(completion()),
            Reply.sse(text_stream("x")),
        )
        await client.chat(model="gpt-4o", messages=USER)
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
    first, retried, streamed = (r.headers.get("x-trace") for r in srv.requests)
    assert first is not None and first == retried and first.startswith("call-")
    assert streamed is not None and streamed != first
    assert all(r.headers["authorization"] == "Bearer sk-test" for r in srv.requests)
