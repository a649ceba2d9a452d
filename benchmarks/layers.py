"""Where the gap to the floor comes from: our stack measured layer by layer, in one process.

    python benchmarks/layers.py            # streaming (one 5,000-event stream) and requests/s
    python benchmarks/layers.py --rounds 12 --concurrency 64

Starts ``server.py`` and, in ONE process, alternates these variants round by round, then
prints medians relative to the h11 floor.

Streaming:

1. the h11 floor;
2. our ``Transport`` feeding the floor's split + msgspec (the cost of the transport);
3. our ``Transport`` feeding our ``OpenAIStreamDecoder`` (+ the decoder);
4. the full ``client.stream()`` (+ ``ChatStream``).

Requests/s: the floor, then our ``Transport`` with a pre-encoded request, + encode/decode,
+ validation, and the full ``client.chat``.

This is a diagnostic for optimising ``src/``. It uses ``Client._prepare`` and
``Client._adapter`` (private), so it may need updating when those change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "contestants"))
sys.path.insert(0, HERE)

import data  # noqa: E402
import floor  # noqa: E402
from _common import MESSAGES, MODEL, TOOLS  # noqa: E402
from _floor import COMPLETION, Splitter  # noqa: E402
from run import Server  # noqa: E402


def report(title: str, rates: dict[str, list[float]], unit: str) -> None:
    base = statistics.median(next(iter(rates.values())))
    print(f"\n{title}")
    for name, values in rates.items():
        m = statistics.median(values)
        print(f"  {name:36} {m:>10,.0f} {unit}   floor/this {base / m:.2f}x")


async def streaming(base: str, rounds: int) -> None:
    import agent_adapter as aa
    from agent_adapter.resilience import Timeouts

    n = 5000
    st = data.openai_stream(n)
    c = aa.Client("openai", api_key="sk-bench", base_url=f"{base}/s{n}/v1", retry=0)
    adapter, limits = c._adapter("openai"), Timeouts()
    pool, payload = floor.H11Pool(base), floor.body(True)

    async def v_floor() -> None:
        await floor._stream(pool, payload, st.events, f"/s{n}/v1/chat/completions")

    async def v_transport() -> None:
        _, req = c._prepare(MODEL, MESSAGES, TOOLS, {}, stream=True)
        r = await c.transport.send(adapter.encode(req), limits)
        sp, count = Splitter(), 0
        while piece := await r.next_chunk():
            count += len(sp.feed(piece))
        await r.aclose()
        assert count == st.events

    async def v_decoder() -> None:
        _, req = c._prepare(MODEL, MESSAGES, TOOLS, {}, stream=True)
        r = await c.transport.send(adapter.encode(req), limits)
        d, count = adapter.stream_decoder(req), 0
        while piece := await r.next_chunk():
            count += len(d.feed(piece))
        await r.aclose()
        assert count == st.ours

    async def v_full() -> None:
        count = 0
        async with c.stream(model=MODEL, messages=MESSAGES, tools=TOOLS) as s:
            async for _ in s:
                count += 1
        assert count == st.ours

    variants = {
        "floor (h11 + split/msgspec)": v_floor,
        "our Transport + split/msgspec": v_transport,
        "our Transport + our decoder": v_decoder,
        "full client.stream()": v_full,
    }
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for f in variants.values():
        await f()
    for _ in range(rounds):
        for k, f in variants.items():
            t0 = time.perf_counter()
            for _ in range(3):
                await f()
            rates[k].append(3 * n / (time.perf_counter() - t0))
    report("streaming, one 5,000-event stream (chunks/s):", rates, "/s")
    await c.aclose()
    await pool.aclose()


async def requests(base: str, rounds: int, conc: int) -> None:
    import agent_adapter as aa
    from agent_adapter.resilience import Timeouts

    per = 300 if conc == 1 else max(5, 1280 // conc)
    c = aa.Client("openai", api_key="sk-bench", base_url=f"{base}/json/v1", retry=0)
    adapter, limits = c._adapter("openai"), Timeouts()
    pool = floor.H11Pool(base)
    _, req0 = c._prepare(MODEL, MESSAGES, TOOLS, {}, stream=False)
    http0 = adapter.encode(req0)

    async def v_floor() -> None:
        parts: list[bytes] = []
        await pool.request("/json/v1/chat/completions", floor.body(False), parts.append)
        COMPLETION.decode(b"".join(parts))

    async def v_transport() -> None:
        r = await c.transport.send(http0, limits)
        body = await r.read()
        await r.aclose()
        COMPLETION.decode(body)

    async def v_codec() -> None:
        r = await c.transport.send(adapter.encode(req0), limits)
        body = await r.read()
        await r.aclose()
        adapter.decode(r.status, r.headers, body)

    async def v_validated() -> None:
        _, req = c._prepare(MODEL, MESSAGES, TOOLS, {}, stream=False)
        r = await c.transport.send(adapter.encode(req), limits)
        body = await r.read()
        await r.aclose()
        adapter.decode(r.status, r.headers, body)

    async def v_full() -> None:
        await c.chat(model=MODEL, messages=MESSAGES, tools=TOOLS)

    variants = {
        "floor (h11 + msgspec)": v_floor,
        "our Transport (pre-encoded request)": v_transport,
        "+ adapter encode/decode": v_codec,
        "+ validation": v_validated,
        "full client.chat()": v_full,
    }

    async def batch(f) -> None:  # type: ignore[no-untyped-def]
        async def worker() -> None:
            for _ in range(per):
                await f()

        await asyncio.gather(*(worker() for _ in range(conc)))

    rates: dict[str, list[float]] = {k: [] for k in variants}
    for f in variants.values():
        await batch(f)
    for _ in range(rounds):
        for k, f in variants.items():
            t0 = time.perf_counter()
            await batch(f)
            rates[k].append(per * conc / (time.perf_counter() - t0))
    report(f"non-streaming requests, concurrency {conc} (req/s):", rates, "/s")
    await c.aclose()
    await pool.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=0, help="only this c for req/s")
    ns = parser.parse_args()
    server = Server(None)
    try:

        async def all_cases() -> None:
            await streaming(server.base, ns.rounds)
            for conc in [ns.concurrency] if ns.concurrency else [1, 64]:
                await requests(server.base, ns.rounds, conc)

        asyncio.run(all_cases())
    finally:
        server.stop()


if __name__ == "__main__":
    main()
