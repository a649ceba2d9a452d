"""Nothing observability emits carries the API key, nor the prompt unless content capture is on.

A request with a recognisable key and prompt goes through chat, stream,
embed, a retry, a router's fallback and error paths (some whose error body
echoes both, as providers do), with a recording hook and the OpenTelemetry hooks attached
and every logger at DEBUG. Then every CallInfo seen by a hook (at every
event), every span (attributes, events, status), every metric data point's
attributes and every log record (message, args, ``extra``) is scanned.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_adapter as aa
from agent_adapter.otel import OpenTelemetryHooks
from agent_adapter.testing import MockServer, Reply
from sse_builders import chunk, completion, text_stream

pytestmark = pytest.mark.anyio

KEY = "sk-canary-KEY-7c1d9e2f4a6b"
PROMPT = "PROMPT-CANARY-the-walrus-at-midnight"
EMBEDDING = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 4, "total_tokens": 4},
}


class Seen(aa.Hooks):
    """Everything hooks were given, as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_request(self, call: aa.CallInfo) -> None:
        self.texts.append(repr(call))

    def request_headers(self, call: aa.CallInfo) -> None:
        self.texts.append(repr(call))

    def on_retry(
        self, call: aa.CallInfo, error: aa.AdapterError, attempt: int, delay: float
    ) -> None:
        self.texts += [repr(call), str(error), repr(error), repr(attempt), repr(delay)]

    def on_fallback(self, call: aa.CallInfo, error: aa.AdapterError, next_deployment: str) -> None:
        self.texts += ["on_fallback", repr(call), repr(type(error)), next_deployment]

    def on_first_token(self, call: aa.CallInfo) -> None:
        self.texts.append(repr(call))

    def on_end(self, call: aa.CallInfo) -> None:
        self.texts.append(repr(call))


async def run_every_path(capture: bool, caplog: pytest.LogCaptureFixture) -> tuple[str, str]:
    """Drive every path; return (what hooks saw, what spans/metrics/logs hold) as text."""
    caplog.set_level(logging.DEBUG)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    seen = Seen()
    otel = OpenTelemetryHooks(tracer_provider, meter_provider, capture_content=capture)
    messages = [{"role": "user", "content": PROMPT}]
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}; you said {PROMPT}"}}
    busy = Reply.error(503, {"error": {"message": "busy"}})
    broken = [
        chunk({"role": "assistant", "content": "part"}),
        b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n',
    ]
    async with (
        MockServer() as srv,
        aa.Client(
            "openai",
            api_key=KEY,
            base_url=srv.base_url + "/v1",
            hooks=[seen, otel],
            capture_content=capture,
            retry=aa.RetryPolicy(initial_backoff=0),
        ) as client,
    ):
        srv.enqueue(
            Reply.json(completion()),
            busy,
            Reply.sse(text_stream("a", "b"), delay=0.005),
            Reply.json(EMBEDDING),
            Reply.error(401, echo),
            Reply.sse(broken, delay=0.005),
        )
        await client.chat(model="gpt-4o", messages=messages)
        async with client.stream(model="gpt-4o", messages=messages) as s:  # retried once
            async for _ in s:
                pass
        await client.embed(model="text-embedding-3-small", input=PROMPT)
        with pytest.raises(aa.AuthenticationError):
            await client.chat(model="gpt-4o", messages=messages)
        with pytest.raises(aa.StreamError):
            async with client.stream(model="gpt-4o", messages=messages) as s:
                async for _ in s:
                    pass
        assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent

        # A routed call that falls back from a deployment whose error echoes key and prompt.
        async with MockServer() as other:
            srv.enqueue(Reply.error(503, echo))
            other.enqueue(Reply.json(completion()))
            deployments = [
                aa.Deployment("openai/gpt-4o", api_key=KEY, base_url=srv.base_url + "/v1"),
                aa.Deployment("openai/gpt-4o", api_key=KEY, base_url=other.base_url + "/v1"),
            ]
            async with aa.Router(
                {"smart": deployments},
                hooks=[seen, otel],
                capture_content=capture,
                retry=aa.RetryPolicy(max_retries=0),
            ) as router:
                await router.chat(model="smart", messages=messages)
        assert any("on_fallback" in t for t in seen.texts)

    emitted: list[str] = []
    for span in exporter.get_finished_spans():
        emitted += [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
        emitted += [f"{e.name} {dict(e.attributes or {})}" for e in span.events]
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    emitted.append(repr(dict(point.attributes or {})))
    records = caplog.records
    assert any(r.name == "agent_adapter" and r.levelno == logging.WARNING for r in records)
    for record in records:
        emitted += [record.getMessage(), repr(record.args), repr(record.__dict__)]
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return "\n".join(seen.texts), "\n".join(emitted)


async def test_without_capture_neither_key_nor_prompt_appears(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks, emitted = await run_every_path(False, caplog)
    for text in (hooks, emitted):
        assert KEY not in text
        assert PROMPT not in text
    assert "prompt_bytes=" in hooks and "gen_ai.usage.input_tokens" in emitted  # sizes are there


async def test_with_capture_the_prompt_appears_but_never_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks, emitted = await run_every_path(True, caplog)
    for text in (hooks, emitted):
        assert KEY not in text
    assert PROMPT in hooks
    assert PROMPT in emitted  # gen_ai.input.messages on the spans
    assert "Incorrect API key provided: ****" in hooks  # the echoed key is redacted
