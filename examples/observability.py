"""Observability: per-call metrics printed through a hook, and spans exported to the console.

An ``aa.Hooks`` subclass is told when each call starts and ends; its
``CallInfo`` holds the outcome, attempts, usage, cost and ``metrics`` (TTFB,
TTFT, duration, time per output token, ...), but no message text unless the
client was made with ``capture_content=True``. With the ``otel`` extra and
``opentelemetry-sdk`` installed, ``aa.otel.OpenTelemetryHooks`` also makes one
span per call (GenAI semantic conventions), here printed as one line each.

With a key:    OPENAI_API_KEY=sk-... python examples/observability.py
Without a key: python examples/observability.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

from typing import Any

import anyio
from _common import CHAT_MODELS, connection, pick_provider

import agent_adapter as aa


class PrintMetrics(aa.Hooks):
    """One line per call, when it ends. Hooks are synchronous: keep them quick."""

    def on_end(self, call: aa.CallInfo) -> None:
        m = call.metrics
        ms = lambda seconds: "-" if seconds is None else f"{1000 * seconds:.1f} ms"  # noqa: E731
        usage = call.usage
        tokens = f"{usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage else "no usage"
        cost = f"${call.cost:.6f}" if call.cost is not None else "cost unknown"
        print(
            f"[hook] {call.operation} {call.model}: {call.outcome} in {ms(m.duration)} "
            f"(ttfb {ms(m.ttfb)}, ttft {ms(m.ttft)}, tpot {ms(m.tpot)}, "
            f"{'pooled' if m.reused else 'new'} connection) | {call.attempts} attempt(s), "
            f"{tokens}, {cost}, {call.message_count} message(s) / {call.prompt_bytes} bytes"
        )


def span_hooks() -> list[aa.Hooks]:
    """OpenTelemetry spans on the console, if the SDK is installed (else nothing)."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError:
        print("[otel] pip install 'agent-adapter[otel]' opentelemetry-sdk to export spans")
        return []

    def one_line(span: Any) -> str:
        attrs = span.attributes or {}
        keys = ("gen_ai.provider.name", "gen_ai.response.model", "gen_ai.usage.output_tokens")
        shown = " ".join(f"{k}={attrs[k]}" for k in keys if k in attrs)
        seconds = (span.end_time - span.start_time) / 1e9
        return f"[span] {span.name} ({seconds * 1000:.1f} ms) {shown}\n"

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(formatter=one_line)))
    return [aa.otel.OpenTelemetryHooks(tracer_provider=provider)]


async def main(provider: str) -> None:
    model = CHAT_MODELS[provider]
    # A made-up price, so the hook has a cost to print (real prices: aa.Price per million tokens).
    prices = {model: aa.Price(input=0.15, output=0.60)}
    messages = [{"role": "user", "content": "Say hello in five words."}]
    async with (
        connection(provider, delay=0.01) as kwargs,
        aa.Client(provider, hooks=[PrintMetrics(), *span_hooks()], prices=prices, **kwargs) as c,
    ):
        response = await c.chat(model=model, messages=messages)
        print(f"chat: {response.content}")
        async with c.stream(model=model, messages=messages) as stream:
            text = "".join([chunk.delta async for chunk in stream])
        print(f"stream: {text}")
        metrics = stream.response.metrics  # the same numbers on every response
        print(
            f"stream metrics: ttft {metrics.ttft_ms or 0:.1f} ms, tbt {metrics.tbt_ms or 0:.1f} ms"
        )


if __name__ == "__main__":
    anyio.run(main, pick_provider(__doc__.splitlines()[0]))
