"""agent-adapter with hooks: what observing every call costs.

Cases ``hooks_stream`` (one 5,000-chunk stream, chunks/s) and ``hooks_rps64``
(non-streaming requests/s at concurrency 64), each with ``--variant``:

* ``none``: no hooks (the baseline; the same code path as ``ours.py``);
* ``count``: one ``aa.Hooks`` that counts its events;
* ``otel``: ``aa.otel.OpenTelemetryHooks`` on the OpenTelemetry SDK, spans to a
  no-op exporter through a ``SimpleSpanProcessor`` and metrics aggregated by
  an ``InMemoryMetricReader`` (never collected during the run).
"""

from __future__ import annotations

import time

from _common import MESSAGES, MODEL, TOOLS, args, check, data, profiled, rate_result, reps, size

NAME = "agent-adapter"
LABELS = {
    "none": f"{NAME} (no hooks)",
    "count": f"{NAME} + counting hook",
    "otel": f"{NAME} + OTel",
}


def hooks(variant: str) -> list[object]:
    import agent_adapter as aa

    if variant == "none":
        return []
    if variant == "count":

        class Counting(aa.Hooks):
            def __init__(self) -> None:
                self.events = 0

            def on_request(self, call: aa.CallInfo) -> None:
                self.events += 1

            def on_first_token(self, call: aa.CallInfo) -> None:
                self.events += 1

            def on_end(self, call: aa.CallInfo) -> None:
                self.events += 1

        return [Counting()]
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Nowhere(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Nowhere()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return [aa.otel.OpenTelemetryHooks(tracer_provider, meter_provider)]


def client(ns, base: str):  # type: ignore[no-untyped-def]
    import agent_adapter as aa

    return aa.Client(
        "openai", api_key="sk-bench", base_url=base, retry=0, hooks=hooks(ns.variant or "none")
    )


async def _stream(c, expected: int) -> None:  # type: ignore[no-untyped-def]
    n = 0
    async with c.stream(model=MODEL, messages=MESSAGES, tools=TOOLS) as s:
        async for _chunk in s:
            n += 1
    check(NAME, n, expected)


async def hooks_stream(ns) -> None:  # type: ignore[no-untyped-def]
    n = size(ns, "events")
    stream = data.openai_stream(n)
    async with client(ns, f"{ns.base}/s{n}/v1") as c:
        await _stream(c, stream.ours)
        seconds = []
        for _ in reps(ns):
            t0 = time.perf_counter()
            await _stream(c, stream.ours)
            seconds.append(time.perf_counter() - t0)
    rate_result(ns, LABELS[ns.variant or "none"], n, seconds, stream.ours)


async def hooks_rps64(ns) -> None:  # type: ignore[no-untyped-def]
    import anyio

    conc = size(ns, "concurrency")
    done = 0

    async def one(c) -> None:  # type: ignore[no-untyped-def]
        r = await c.chat(model=MODEL, messages=MESSAGES, tools=TOOLS)
        assert r.usage.completion_tokens == 96

    async def worker(c, deadline: float) -> None:  # type: ignore[no-untyped-def]
        nonlocal done
        while time.perf_counter() < deadline:
            await one(c)
            done += 1

    async with client(ns, f"{ns.base}/json/v1") as c:
        async with anyio.create_task_group() as tg:  # warm-up: opens the connections
            for _ in range(conc):
                tg.start_soon(one, c)
        t0 = time.perf_counter()
        with profiled():
            async with anyio.create_task_group() as tg:
                for _ in range(conc):
                    tg.start_soon(worker, c, t0 + size(ns, "seconds"))
        seconds = time.perf_counter() - t0
    rate_result(ns, LABELS[ns.variant or "none"], done, [seconds], done)


def main() -> None:
    ns = args(["hooks_stream", "hooks_rps64"])
    import anyio

    case = hooks_stream if ns.case == "hooks_stream" else hooks_rps64
    anyio.run(case, ns, backend=ns.backend)


if __name__ == "__main__":
    main()
