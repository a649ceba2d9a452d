"""OpenTelemetry for every call: one CLIENT span and the GenAI client metrics (extra ``otel``).

``OpenTelemetryHooks`` is an ``aa.Hooks``; give it to a client
(``aa.Client(..., hooks=[OpenTelemetryHooks()])``). Importing this module
imports ``opentelemetry``; ``import agent_adapter`` does not.

Names follow the OpenTelemetry GenAI semantic conventions (status
"development"), as published at
https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/ and
https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/ (from
open-telemetry/semantic-conventions-genai, ``docs/gen-ai/``): the current
``gen_ai.provider.name`` (not the older ``gen_ai.system``), the span named
``"{gen_ai.operation.name} {gen_ai.request.model}"``, and the metrics
``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` and
``gen_ai.client.operation.time_to_first_chunk`` with the recommended bucket
boundaries. Retries and fallbacks are span events (the conventions define
none for them): ``agent_adapter.retry`` and ``agent_adapter.fallback``.

Content (``gen_ai.input.messages``, ``gen_ai.output.messages``, error
messages) goes on spans only with ``capture_content=True`` here *and* on the
client, which decides what leaves it at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import __version__
from .hooks import CallInfo, Hooks
from .types import ContentPart, Message, TextPart

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from .errors import AdapterError

__all__ = ["DURATION_BUCKETS", "TOKEN_BUCKETS", "OpenTelemetryHooks", "provider_name"]

DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""Seconds: the conventions' boundaries for operation duration and time to first chunk."""

TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""Tokens: the conventions' boundaries for ``gen_ai.client.token.usage``."""

OPERATIONS = {"chat": "chat", "stream": "chat", "embed": "embeddings"}

PROVIDERS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "moonshot": "moonshot_ai",
    "cohere": "cohere",
}
"""Our provider names → the conventions' well-known ``gen_ai.provider.name`` values."""

_ERRORS = ("error", "timeout", "truncated")  # outcomes that are failures; "cancelled" is not
_encode = msgspec.json.Encoder().encode


def provider_name(provider: str) -> str:
    """The ``gen_ai.provider.name`` for one of our providers (its own name when not well-known)."""
    return PROVIDERS.get(provider, provider)


class OpenTelemetryHooks(Hooks):
    """A span per call and the GenAI client metrics, on the given or the global providers.

    The span starts at ``on_request`` (a child of the caller's current span)
    and ends exactly once at ``on_end``, also when the call is cancelled or a
    stream is abandoned; a cancelled call is not an error (no ``error.type``,
    status unset, ``agent_adapter.outcome="cancelled"``) and records no
    operation duration. ``propagate=True`` puts the span's W3C
    ``traceparent`` on the provider request. ``capture_content=True`` records
    messages and output on the span, if the client captures them
    (``aa.Client(capture_content=True)``).
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool = False,
        propagate: bool = False,
    ) -> None:
        self.capture_content = capture_content
        self.propagate = propagate
        self._tracer = trace.get_tracer("agent_adapter", __version__, tracer_provider)
        meter = metrics.get_meter("agent_adapter", __version__, meter_provider)
        self._duration = _histogram(
            meter,
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            DURATION_BUCKETS,
        )
        self._tokens = _histogram(
            meter,
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            TOKEN_BUCKETS,
        )
        self._first_chunk = _histogram(
            meter,
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk of a streaming response.",
            DURATION_BUCKETS,
        )
        self._spans: dict[str, Span] = {}
        self._propagator = TraceContextTextMapPropagator()

    # -- hooks ----------------------------------------------------------------

    def on_request(self, call: CallInfo) -> None:
        operation = OPERATIONS[call.operation]
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": provider_name(call.provider),
            "gen_ai.request.model": call.model,
        }
        if call.operation != "embed":
            attributes["gen_ai.request.stream"] = call.operation == "stream"
        for key, value in (
            ("gen_ai.request.max_tokens", call.max_tokens),
            ("gen_ai.request.temperature", call.temperature),
            ("gen_ai.request.top_p", call.top_p),
            ("server.address", call.server_address),
            ("server.port", call.server_port),
        ):
            if value is not None:
                attributes[key] = value
        self._spans[call.id] = self._tracer.start_span(
            f"{operation} {call.model}", kind=SpanKind.CLIENT, attributes=attributes
        )

    def request_headers(self, call: CallInfo) -> Mapping[str, str] | None:
        span = self._spans.get(call.id) if self.propagate else None
        if span is None:
            return None
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=trace.set_span_in_context(span))
        return carrier

    def on_retry(self, call: CallInfo, error: AdapterError, attempt: int, delay: float) -> None:
        span = self._spans.get(call.id)
        if span is not None:
            span.add_event(
                "agent_adapter.retry",
                {
                    "agent_adapter.attempt": attempt,
                    "agent_adapter.delay": delay,
                    "error.type": type(error).__name__,
                },
            )

    def on_fallback(self, call: CallInfo, error: AdapterError, next_deployment: str) -> None:
        span = self._spans.get(call.id)
        if span is not None:
            span.add_event(
                "agent_adapter.fallback",
                {
                    "agent_adapter.deployment": call.deployment or "",
                    "agent_adapter.next_deployment": next_deployment,
                    "error.type": type(error).__name__,
                },
            )

    def on_end(self, call: CallInfo) -> None:
        span = self._spans.pop(call.id, None)
        if span is None:
            return
        common = self._metric_attributes(call)
        failed = call.outcome in _ERRORS
        error_type = (call.error_type or "_OTHER") if failed else None
        self._finish_span(span, call, error_type)
        m = call.metrics
        # A cancelled call did not complete: its duration would pass for a fast success
        # (no error.type), and counting it as an error would inflate error rates.
        if m.duration is not None and call.outcome != "cancelled":
            attributes = dict(common, **{"error.type": error_type}) if error_type else common
            self._duration.record(m.duration, attributes)
        if m.ttft is not None:
            self._first_chunk.record(m.ttft, common)
        usage = call.usage
        if usage is not None:
            self._tokens.record(usage.prompt_tokens, dict(common, **{"gen_ai.token.type": "input"}))
            if call.operation != "embed":
                self._tokens.record(
                    usage.completion_tokens, dict(common, **{"gen_ai.token.type": "output"})
                )

    # -- plumbing ---------------------------------------------------------------

    def _finish_span(self, span: Span, call: CallInfo, error_type: str | None) -> None:
        # A routed call may end on another deployment than it started on: the answering one.
        attributes = self._metric_attributes(call)
        attributes["agent_adapter.outcome"] = call.outcome or "cancelled"
        span.update_name(f"{attributes['gen_ai.operation.name']} {call.model}")
        if call.response_id:
            attributes["gen_ai.response.id"] = call.response_id
        if call.finish_reason:
            attributes["gen_ai.response.finish_reasons"] = [call.finish_reason]
        if call.deployment:
            attributes["agent_adapter.deployment"] = call.deployment
        if call.request_id:
            attributes["agent_adapter.request_id"] = call.request_id
        if call.attempts > 1:
            attributes["agent_adapter.attempts"] = call.attempts
        if call.cost is not None:
            attributes["agent_adapter.cost_usd"] = call.cost
        usage = call.usage
        if usage is not None:
            attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
            if call.operation != "embed":
                attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
            if usage.cached_tokens:
                attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
            if usage.cache_creation_tokens:
                attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_creation_tokens
            if usage.reasoning_tokens:
                attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
        if call.metrics.ttft is not None:
            attributes["gen_ai.response.time_to_first_chunk"] = call.metrics.ttft
        if self.capture_content:
            attributes.update(_content(call))
        if error_type is not None:
            attributes["error.type"] = error_type
        span.set_attributes(attributes)
        if error_type is not None:
            status = f" {call.error_status}" if call.error_status is not None else ""
            message = call.error_message if self.capture_content else None
            span.set_status(Status(StatusCode.ERROR, message or f"{error_type}{status}"))
        span.end()

    def _metric_attributes(self, call: CallInfo) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": OPERATIONS[call.operation],
            "gen_ai.provider.name": provider_name(call.provider),
            "gen_ai.request.model": call.model,
        }
        if call.response_model:
            attributes["gen_ai.response.model"] = call.response_model
        if call.server_address:
            attributes["server.address"] = call.server_address
            if call.server_port is not None:
                attributes["server.port"] = call.server_port
        return attributes


def _histogram(
    meter: metrics.Meter, name: str, unit: str, description: str, buckets: Sequence[float]
) -> Histogram:
    """A histogram with the conventions' boundaries (advisory, API >= 1.30; plain before)."""
    try:
        return meter.create_histogram(
            name, unit, description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # an opentelemetry-api older than 1.30
        return meter.create_histogram(name, unit, description)


def _content(call: CallInfo) -> dict[str, str]:
    """The conventions' ``gen_ai.input.messages`` / ``gen_ai.output.messages`` as JSON text."""
    found: dict[str, str] = {}
    if call.messages is not None:
        found["gen_ai.input.messages"] = _encode([_message(m) for m in call.messages]).decode()
    elif call.input is not None:
        found["gen_ai.input.messages"] = _encode(
            [{"role": "user", "parts": [{"type": "text", "content": text}]} for text in call.input]
        ).decode()
    if call.output is not None:
        output: dict[str, Any] = {
            "role": "assistant",
            "parts": [{"type": "text", "content": call.output}],
        }
        if call.finish_reason:
            output["finish_reason"] = call.finish_reason
        found["gen_ai.output.messages"] = _encode([output]).decode()
    return found


def _message(message: Message) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if message.reasoning:
        parts.append({"type": "reasoning", "content": message.reasoning})
    if message.role == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.tool_call_id, "response": message.text()}
        )
    elif isinstance(message.content, str):
        parts.append({"type": "text", "content": message.content})
    elif message.content is not None:
        parts.extend(_part(p) for p in message.content)
    for tool_call in message.tool_calls or ():
        parts.append(
            {
                "type": "tool_call",
                "id": tool_call.id,
                "name": tool_call.name,
                "arguments": tool_call.arguments,
            }
        )
    return {"role": message.role, "parts": parts}


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "content": part.text}
    return {"type": type(part).__name__.removesuffix("Part").lower()}  # media: its kind, no bytes
