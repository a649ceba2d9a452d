"""CPU time per unit of work, ours vs the floors: the load-robust view of parse and req/s.

    python benchmarks/cputime.py            # parse (3 read patterns) and requests (c=1, c=64)
    python benchmarks/cputime.py --only parse --rounds 40

``run.py`` measures wall-clock rates, which on a shared machine move with the
load. This measures the CPU seconds the measuring thread (parse) or process
(requests; the server is another process) spent per event or per request,
taking the minimum over interleaved rounds, so time spent descheduled does not
count. It is a diagnostic, not a replacement: a CPU ratio is not a throughput
ratio (the floor's requests/s is partly bound by the server's CPU), and cache
contention still shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


def parse(rounds: int) -> None:
    from agent_adapter.providers.openai import OpenAIAdapter
    from agent_adapter.types import ChatRequest, Message

    n = 10_000
    stream = data.openai_stream(n)
    adapter = OpenAIAdapter(name="openai", base_url="http://127.0.0.1:1/v1", api_key="sk-bench")
    request = ChatRequest(model=MODEL, messages=[Message(role="user", content="hi")], stream=True)

    def ours(reads: list[bytes]) -> int:
        decoder, count = adapter.stream_decoder(request), 0
        for r in reads:
            count += len(decoder.feed(r))
        assert decoder.end()
        assert count == stream.ours
        return count

    def split(reads: list[bytes]) -> int:
        splitter, count = Splitter(), 0
        for r in reads:
            count += len(splitter.feed(r))
        assert splitter.done
        assert count == stream.events
        return count

    for pattern in data.READ_PATTERNS:
        reads = data.reads(stream.body, pattern)
        best = {"ours": float("inf"), "floor": float("inf")}
        for _ in range(rounds):
            for name, fn in (("ours", ours), ("floor", split)):
                t0 = time.thread_time()
                fn(reads)
                best[name] = min(best[name], time.thread_time() - t0)
        us = {k: v / n * 1e6 for k, v in best.items()}
        print(
            f"parse {pattern:6} ({len(reads):>6} reads): ours {us['ours']:.2f} µs/event, "
            f"floor {us['floor']:.2f}, ours/floor {us['ours'] / us['floor']:.2f}x"
        )


async def _ours_batch(base: str, conc: int, total: int) -> float:
    import anyio

    import agent_adapter as aa

    async with aa.Client("openai", api_key="sk-bench", base_url=f"{base}/json/v1", retry=0) as c:

        async def worker(k: int) -> None:
            for _ in range(k):
                r = await c.chat(model=MODEL, messages=MESSAGES, tools=TOOLS)
                assert r.usage is not None
                assert r.usage.completion_tokens == 96

        async with anyio.create_task_group() as tg:  # warm-up: opens the connections
            for _ in range(conc):
                tg.start_soon(worker, 2)
        t0 = time.process_time()
        async with anyio.create_task_group() as tg:
            for _ in range(conc):
                tg.start_soon(worker, total // conc)
        return (time.process_time() - t0) / (total // conc * conc)


async def _floor_batch(base: str, conc: int, total: int) -> float:
    pool = floor.H11Pool(f"{base}/json/v1")

    async def worker(k: int) -> None:
        for _ in range(k):
            parts: list[bytes] = []
            await pool.request("/chat/completions", floor.body(False), parts.append)
            r = COMPLETION.decode(b"".join(parts))
            assert r.usage is not None
            assert r.usage.completion_tokens == 96

    await asyncio.gather(*(worker(2) for _ in range(conc)))
    t0 = time.process_time()
    await asyncio.gather(*(worker(total // conc) for _ in range(conc)))
    await pool.aclose()
    return (time.process_time() - t0) / (total // conc * conc)


def requests(rounds: int, total: int) -> None:
    import anyio

    server = Server(1 if (os.cpu_count() or 1) >= 2 else None)
    try:
        for conc in (1, 64):
            best = {"ours": float("inf"), "floor": float("inf")}
            for _ in range(rounds):
                best["ours"] = min(best["ours"], anyio.run(_ours_batch, server.base, conc, total))
                best["floor"] = min(
                    best["floor"], asyncio.run(_floor_batch(server.base, conc, total))
                )
            o, f = best["ours"] * 1e6, best["floor"] * 1e6
            print(
                f"requests c={conc:<2}: ours {o:.0f} µs CPU/request, floor (h11) {f:.0f}, "
                f"floor/ours {f / o:.3f}"
            )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["parse", "requests"])
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--requests", type=int, default=3000, help="per round and concurrency")
    ns = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})  # the server, if any, runs on CPU 1
    if ns.only in (None, "parse"):
        parse(ns.rounds or 25)
    if ns.only in (None, "requests"):
        requests(ns.rounds or 3, ns.requests)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
