"""A routed call is one call to its hooks: one on_request, on_fallback between deployments, one end.

Two mock servers stand for two deployments; the first fails, the second
answers. Hooks, the OpenTelemetry span and the fallback log record are
checked for chat, stream and embeddings, on asyncio and trio.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_adapter as aa
from agent_adapter.otel import OpenTelemetryHooks
from agent_adapter.testing import MockServer, Reply
from sse_builders import DONE, USER, completion, text_stream, usage_chunk

pytestmark = pytest.mark.anyio

NO_RETRY = aa.RetryPolicy(max_retries=0)
DOWN = Reply.error(503, {"error": {"message": "overloaded", "type": "server_error"}})
MANY = text_stream(*[f"w{i} " for i in range(300)])
EMBEDDING = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}


class Recorder(aa.Hooks):
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.info: aa.CallInfo | None = None

    def on_request(self, call: aa.CallInfo) -> None:
        self.info = call
        self.events.append("request")

    def on_retry(
        self, call: aa.CallInfo, error: aa.AdapterError, attempt: int, delay: float
    ) -> None:
        self.events.append(("retry", attempt))

    def on_fallback(self, call: aa.CallInfo, error: aa.AdapterError, next_deployment: str) -> None:
        self.events.append(("fallback", type(error).__name__, next_deployment))

    def on_first_token(self, call: aa.CallInfo) -> None:
        self.events.append("first_token")

    def on_end(self, call: aa.CallInfo) -> None:
        assert call is self.info
        self.events.append(("end", call.outcome))


@asynccontextmanager
async def two(
    *hooks: aa.Hooks, model: str = "gpt-4o", **kwargs: Any
) -> AsyncIterator[tuple[aa.Router, MockServer, MockServer, list[str]]]:
    async with MockServer() as a, MockServer() as b:
        deployments = [
            aa.Deployment(f"openai/{model}", api_key="sk-a", base_url=a.base_url + "/v1"),
            aa.Deployment(f"openai/{model}", api_key="sk-b", base_url=b.base_url + "/v1"),
        ]
        async with aa.Router(
            {"smart": deployments}, retry=NO_RETRY, hooks=list(hooks), **kwargs
        ) as router:
            yield router, a, b, list(router.deployments["smart"])


async def test_a_routed_chat_is_one_call_with_a_fallback() -> None:
    rec = Recorder()
    async with two(rec) as (router, a, b, ids):
        a.enqueue(DOWN)
        b.enqueue(Reply.json(completion("from b")))
        response = await router.chat(model="smart", messages=USER)
    assert response.content == "from b"
    assert rec.events == ["request", ("fallback", "ServerError", ids[1]), ("end", "ok")]
    info = rec.info
    assert info is not None and info.deployment == ids[1] == response.deployment
    assert info.attempts == 2 and info.outcome == "ok" and info.error_type is None
    assert info.server_port == b.port and info.model == "gpt-4o"
    assert info.usage == response.usage


async def test_a_routed_chat_that_every_deployment_fails_ends_once_with_the_routed_error() -> None:
    rec = Recorder()
    async with two(rec) as (router, a, b, _ids):
        a.enqueue(DOWN)
        b.enqueue(DOWN)
        with pytest.raises(aa.AllProvidersFailedError):
            await router.chat(model="smart", messages=USER)
    assert rec.events[-1] == ("end", "error") and rec.events.count(("end", "error")) == 1
    assert rec.info is not None and rec.info.error_type == "AllProvidersFailedError"
    assert rec.info.attempts == 2


async def test_a_routed_chat_cancelled_ends_once() -> None:
    rec = Recorder()

    async def slow(request: object) -> Reply:
        await anyio.sleep(5)
        return Reply.json(completion())

    async with two(rec) as (router, a, _b, _ids):
        a.handler = slow
        with anyio.move_on_after(0.2):
            await router.chat(model="smart", messages=USER)
    assert rec.events == ["request", ("end", "cancelled")]


async def test_a_routed_stream_ends_when_the_answering_stream_ends() -> None:
    rec = Recorder()
    async with two(rec) as (router, a, b, ids):
        a.enqueue(DOWN)
        b.enqueue(Reply.sse(text_stream("x", "y"), delay=0.01))
        async with router.stream(model="smart", messages=USER) as s:
            assert rec.events == ["request", ("fallback", "ServerError", ids[1]), "first_token"]
            assert "".join([c.delta async for c in s]) == "xy"
    assert rec.events[-1] == ("end", "ok") and len(rec.events) == 4
    assert rec.info is not None and rec.info.deployment == ids[1]
    assert rec.info.metrics.ttft is not None and rec.info.finish_reason == "stop"


async def test_a_routed_stream_over_before_it_is_handed_back_ends_once() -> None:
    rec = Recorder()
    async with two(rec) as (router, a, _b, _ids):
        a.enqueue(Reply.sse([usage_chunk(), DONE]))  # no content: the body ends while opening
        async with router.stream(model="smart", messages=USER) as s:
            assert rec.events == ["request", ("end", "ok")]
            assert [c.delta async for c in s] == [""]
    assert rec.events == ["request", ("end", "ok")]


async def test_a_routed_stream_that_finds_no_deployment_ends_once() -> None:
    rec = Recorder()
    async with two(rec) as (router, a, b, _ids):
        a.enqueue(DOWN)
        b.enqueue(DOWN)
        with pytest.raises(aa.AllProvidersFailedError):
            async with router.stream(model="smart", messages=USER):
                pass
    assert rec.events[-1] == ("end", "error") and rec.events.count(("end", "error")) == 1


async def test_an_abandoned_routed_stream_ends_from_del() -> None:
    rec = Recorder()
    async with two(rec) as (router, a, _b, _ids):
        a.enqueue(Reply.sse(MANY, delay=0.01))
        s = router.stream(model="smart", messages=USER)
        await s.__anext__()
        with pytest.warns(ResourceWarning):
            del s
            gc.collect()
        assert rec.events[-1] == ("end", "cancelled")


async def test_a_routed_embed_is_one_call() -> None:
    rec = Recorder()
    async with two(rec, model="text-embedding-3-small") as (router, a, b, ids):
        a.enqueue(DOWN)
        b.enqueue(Reply.json(EMBEDDING))
        result = await router.embed(model="smart", input="x")
    assert result.deployment == ids[1]
    assert rec.events == ["request", ("fallback", "ServerError", ids[1]), ("end", "ok")]
    assert rec.info is not None and rec.info.operation == "embed"


async def test_router_call_hooks_add_to_the_routers() -> None:
    mine, theirs = Recorder(), Recorder()
    async with two(mine) as (router, a, _b, _ids):
        a.enqueue(Reply.json(completion()))
        await router.chat(model="smart", messages=USER, hooks=[theirs])
    assert mine.events == theirs.events == ["request", ("end", "ok")]


async def test_one_span_per_routed_call_with_a_fallback_event() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with two(OpenTelemetryHooks(tracer_provider=provider, propagate=True)) as (
        router,
        a,
        b,
        ids,
    ):
        a.enqueue(DOWN)
        b.enqueue(Reply.json(completion()))
        await router.chat(model="smart", messages=USER)
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    assert event.name == "agent_adapter.fallback"
    assert dict(event.attributes or {})["agent_adapter.next_deployment"] == ids[1]
    attrs = dict(span.attributes or {})
    assert attrs["agent_adapter.deployment"] == ids[1] and attrs["agent_adapter.attempts"] == 2
    assert attrs["server.port"] == b.port  # the deployment that answered
    trace_id = f"{span.context.trace_id:032x}"
    assert trace_id in a.requests[0].headers["traceparent"]  # every candidate carries it
    assert trace_id in b.requests[0].headers["traceparent"]
    provider.shutdown()


async def test_each_fallback_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async with two() as (router, a, b, ids):
        a.enqueue(DOWN)
        b.enqueue(Reply.json(completion()))
        await router.chat(model="smart", messages=USER)
    (record,) = [
        r for r in caplog.records if r.name == "agent_adapter" and "falling back" in r.getMessage()
    ]
    assert record.levelno == logging.WARNING
    fields = record.__dict__
    assert fields["deployment"] == ids[0] and fields["next_deployment"] == ids[1]
    assert fields["error_type"] == "ServerError" and fields["status"] == 503
    assert "sk-a" not in repr(fields) and "sk-b" not in repr(fields)
