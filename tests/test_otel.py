"""``aa.otel.OpenTelemetryHooks``: one CLIENT span per call and the GenAI client metrics.

Spans go to opentelemetry-sdk's InMemorySpanExporter and metrics to its
InMemoryMetricReader; every call runs against the mock server, on asyncio
and trio.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import agent_adapter as aa
from agent_adapter.otel import DURATION_BUCKETS, TOKEN_BUCKETS, OpenTelemetryHooks
from agent_adapter.testing import MockServer, Reply
from sse_builders import USER, completion, text_stream

pytestmark = pytest.mark.anyio

MANY = text_stream(*[f"w{i} " for i in range(300)])


class Telemetry:
    """An SDK tracer and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def hooks(self, **kwargs: Any) -> OpenTelemetryHooks:
        return OpenTelemetryHooks(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs
        )

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.exporter.get_finished_spans())

    def points(self, name: str) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        found: list[HistogramDataPoint] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)  # type: ignore[arg-type]
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.tracer_provider.shutdown()
    t.meter_provider.shutdown()


def client_for(srv: MockServer, hooks: aa.Hooks, **kwargs: Any) -> aa.Client:
    return aa.Client(
        "openai",
        api_key="sk-test",
        base_url=srv.base_url + "/v1",
        hooks=[hooks],
        retry=aa.RetryPolicy(initial_backoff=0),
        **kwargs,
    )


async def test_chat_span_and_metrics(telemetry: Telemetry) -> None:
    async with MockServer() as srv, client_for(srv, telemetry.hooks()) as client:
        srv.enqueue(Reply.json(completion("hi")))
        await client.chat(model="gpt-4o", messages=USER, max_tokens=64, temperature=0.2, top_p=0.9)
    (span,) = telemetry.spans
    assert span.name == "chat gpt-4o" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.request.stream"] is False
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attrs["gen_ai.response.id"] == "chatcmpl-N1"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == srv.port
    assert "error.type" not in attrs and "gen_ai.response.time_to_first_chunk" not in attrs

    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and tuple(duration.explicit_bounds) == DURATION_BUCKETS
    assert dict(duration.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
    }
    tokens = {
        (p.attributes or {})["gen_ai.token.type"]: p
        for p in telemetry.points("gen_ai.client.token.usage")
    }
    assert tokens["input"].sum == 12 and tokens["output"].sum == 3
    assert tuple(tokens["input"].explicit_bounds) == TOKEN_BUCKETS
    assert telemetry.points("gen_ai.client.operation.time_to_first_chunk") == []


async def test_stream_records_time_to_first_chunk(telemetry: Telemetry) -> None:
    async with MockServer() as srv, client_for(srv, telemetry.hooks()) as client:
        srv.enqueue(Reply.sse(text_stream("a", "b"), delay=0.01))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
    (span,) = telemetry.spans
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-4o" and attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] == s.response.metrics.ttft
    (first,) = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and tuple(first.explicit_bounds) == DURATION_BUCKETS


async def test_embeddings_span(telemetry: Telemetry) -> None:
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    async with MockServer() as srv, client_for(srv, telemetry.hooks()) as client:
        srv.enqueue(Reply.json(body))
        await client.embed(model="text-embedding-3-small", input="hi")
    (span,) = telemetry.spans
    attrs = dict(span.attributes or {})
    assert span.name == "embeddings text-embedding-3-small"
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.usage.input_tokens"] == 4 and "gen_ai.usage.output_tokens" not in attrs
    (tokens,) = telemetry.points("gen_ai.client.token.usage")
    assert (tokens.attributes or {})["gen_ai.token.type"] == "input"


async def test_retries_are_span_events(telemetry: Telemetry) -> None:
    async with MockServer() as srv, client_for(srv, telemetry.hooks()) as client:
        srv.enqueue(Reply.error(503, {"error": {"message": "busy"}}), Reply.json(completion()))
        await client.chat(model="gpt-4o", messages=USER)
    (span,) = telemetry.spans
    (event,) = span.events
    assert event.name == "agent_adapter.retry"
    assert dict(event.attributes or {})["error.type"] == "ServerError"
    assert dict(event.attributes or {})["agent_adapter.attempt"] == 1
    assert span.status.status_code is StatusCode.UNSET


async def test_a_failed_call_has_error_status_and_type(telemetry: Telemetry) -> None:
    async with MockServer() as srv, client_for(srv, telemetry.hooks()) as client:
        srv.enqueue(Reply.error(429, {"error": {"message": "slow down"}}))
        with pytest.raises(aa.RateLimitError):
            await client.chat(model="gpt-4o", messages=USER, retry=0)
    (span,) = telemetry.spans
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "RateLimitError 429"  # no provider message by default
    assert dict(span.attributes or {})["error.type"] == "RateLimitError"
    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert (duration.attributes or {})["error.type"] == "RateLimitError"


async def test_cancelled_and_abandoned_calls_end_their_span_once(telemetry: Telemetry) -> None:
    async with MockServer() as srv, client_for(srv, telemetry.hooks()) as client:
        srv.enqueue(Reply.sse(MANY, delay=0.01), Reply.sse(MANY, delay=0.01))
        with anyio.move_on_after(0.1):
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
        abandoned = client.stream(model="gpt-4o", messages=USER)
        await abandoned.__anext__()
        with pytest.warns(ResourceWarning):
            del abandoned
            gc.collect()
    spans = telemetry.spans
    assert len(spans) == 2
    assert telemetry.points("gen_ai.client.operation.duration") == []  # neither completed
    for span in spans:
        assert dict(span.attributes or {})["agent_adapter.outcome"] == "cancelled"
        assert span.status.status_code is StatusCode.UNSET  # a cancellation is not a failure
        assert span.end_time is not None


async def test_the_span_is_a_child_and_propagate_sends_its_traceparent(
    telemetry: Telemetry,
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with MockServer() as srv, client_for(srv, telemetry.hooks(propagate=True)) as client:
        srv.enqueue(Reply.json(completion()), Reply.json(completion()))
        with tracer.start_as_current_span("handler"):
            await client.chat(model="gpt-4o", messages=USER)
        await client.chat(model="gpt-4o", messages=USER)
    (handler,) = [s for s in telemetry.spans if s.name == "handler"]
    first, second = sorted(
        (s for s in telemetry.spans if s.name == "chat gpt-4o"), key=lambda s: s.start_time or 0
    )
    assert first.parent is not None and first.parent.span_id == handler.context.span_id
    assert second.parent is None
    for request, span in zip(srv.requests, (first, second), strict=True):
        ctx = span.context
        expected = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
        assert request.headers["traceparent"] == expected
    assert second.context.trace_id != first.context.trace_id  # no current span: a new trace


async def test_content_needs_both_the_client_and_the_hook(telemetry: Telemetry) -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json(completion("answer")), Reply.json(completion("answer")))
        hooks = telemetry.hooks(capture_content=True)
        async with client_for(srv, hooks) as client:
            await client.chat(model="gpt-4o", messages=USER)
        async with client_for(srv, hooks, capture_content=True) as client:
            await client.chat(model="gpt-4o", messages=USER)
    without, with_content = sorted(telemetry.spans, key=lambda s: s.start_time or 0)
    assert "gen_ai.input.messages" not in (without.attributes or {})
    attrs = dict(with_content.attributes or {})
    assert attrs["gen_ai.input.messages"] == (
        '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'
    )
    assert attrs["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"answer"}],"finish_reason":"stop"}]'
    )


def test_import_agent_adapter_pulls_no_opentelemetry() -> None:
    code = (
        "import sys, agent_adapter as aa\n"
        "aa.Client('openai', api_key='k'); aa.Hooks; aa.CallInfo\n"
        "bad = sorted(m for m in sys.modules if m.startswith('opentelemetry'))\n"
        "assert not bad, bad\n"
        "aa.otel.OpenTelemetryHooks\n"
        "assert 'opentelemetry.trace' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
