"""agent-adapter: the sans-IO decoder (parse) and ``aa.Client`` end to end (everything else)."""

from __future__ import annotations

import time
import tracemalloc

from _common import (
    MESSAGES,
    MODEL,
    PARSE_CASES,
    TOOLS,
    args,
    check,
    data,
    emit,
    parse_reads,
    profiled,
    rate_result,
    reps,
    rss_bytes,
    settle,
    size,
)

NAME = "agent-adapter"


def parse(ns) -> None:  # type: ignore[no-untyped-def]
    from agent_adapter.providers.openai import OpenAIAdapter
    from agent_adapter.types import ChatRequest, Message

    n = size(ns, "events")
    stream = data.openai_stream(n)
    reads = parse_reads(ns, stream.body)
    adapter = OpenAIAdapter(name="openai", base_url="http://127.0.0.1:1/v1", api_key="sk-bench")
    request = ChatRequest(model=MODEL, messages=[Message(role="user", content="hi")], stream=True)

    def run() -> int:
        decoder = adapter.stream_decoder(request)
        feed = decoder.feed
        count = 0
        for chunk in reads:
            count += len(feed(chunk))
        assert decoder.end()
        return count

    small = data.openai_stream(1000)
    decoder = adapter.stream_decoder(request)  # warm-up + correctness (untimed, 1000 events)
    text = "".join(c.delta for r in parse_reads(ns, small.body) for c in decoder.feed(r))
    assert decoder.end(), "no [DONE]"
    assert text == small.text, "decoded text differs"
    seconds = []
    for _ in reps(ns):
        t0 = time.perf_counter()
        count = run()
        seconds.append(time.perf_counter() - t0)
        check(NAME, count, stream.ours)
    rate_result(ns, NAME, n, seconds, count)


def client(base: str, provider: str = "openai", **kw):  # type: ignore[no-untyped-def]
    import agent_adapter as aa

    return aa.Client(provider, api_key="sk-bench", base_url=base, retry=0, **kw)


async def _stream(c, expected: int, text: str | None = None, **kw) -> int:  # type: ignore[no-untyped-def]
    n = 0
    async with c.stream(model=kw.pop("model", MODEL), messages=MESSAGES, tools=TOOLS, **kw) as s:
        async for _chunk in s:
            n += 1
    check(NAME, n, expected)
    if text is not None:
        assert s.response.content == text, "assembled text differs"
    return n


async def stream1(ns) -> None:  # type: ignore[no-untyped-def]
    n = size(ns, "events")
    stream = data.openai_stream(n)
    async with client(f"{ns.base}/s{n}/v1") as c:
        await _stream(c, stream.ours, stream.text)
        seconds = []
        for _ in reps(ns):
            t0 = time.perf_counter()
            await _stream(c, stream.ours)
            seconds.append(time.perf_counter() - t0)
    name = NAME if ns.backend == "asyncio" else f"{NAME} (trio)"
    rate_result(ns, name, n, seconds, stream.ours)


async def stream64(ns) -> None:  # type: ignore[no-untyped-def]
    import anyio

    n, conc = size(ns, "events"), size(ns, "concurrency")
    stream = data.openai_stream(n)

    async def batch(c) -> None:  # type: ignore[no-untyped-def]
        async with anyio.create_task_group() as tg:
            for _ in range(conc):
                tg.start_soon(_stream, c, stream.ours)

    async with client(f"{ns.base}/s{n}/v1") as c:
        await _stream(c, stream.ours, stream.text)
        warm, small = client(f"{ns.base}/s10/v1", transport=c.transport), data.openai_stream(10)
        async with anyio.create_task_group() as tg:  # warm-up: opens the pooled connections
            for _ in range(conc):
                tg.start_soon(_stream, warm, small.ours)
        seconds = []
        for _ in reps(ns):
            t0 = time.perf_counter()
            await batch(c)
            seconds.append(time.perf_counter() - t0)
    rate_result(ns, NAME, n * conc, seconds, stream.ours * conc)


async def rps(ns, conc: int) -> None:  # type: ignore[no-untyped-def]
    import anyio

    done = 0

    async def one(c) -> None:  # type: ignore[no-untyped-def]
        r = await c.chat(model=MODEL, messages=MESSAGES, tools=TOOLS)
        assert r.usage.completion_tokens == 96

    async def worker(c, deadline: float) -> None:  # type: ignore[no-untyped-def]
        nonlocal done
        while time.perf_counter() < deadline:
            await one(c)
            done += 1

    async with client(f"{ns.base}/json/v1") as c:
        r = await c.chat(model=MODEL, messages=MESSAGES, tools=TOOLS)
        assert r.content.startswith("Lisbon")
        assert r.finish_reason == "stop"
        async with anyio.create_task_group() as tg:  # warm-up: opens the connections
            for _ in range(conc):
                tg.start_soon(one, c)
        t0 = time.perf_counter()
        with profiled():
            async with anyio.create_task_group() as tg:
                for _ in range(conc):
                    tg.start_soon(worker, c, t0 + size(ns, "seconds"))
        seconds = time.perf_counter() - t0
    rate_result(ns, NAME, done, [seconds], done)


async def memory(ns) -> None:  # type: ignore[no-untyped-def]
    # The harness (plain asyncio tasks and events) mirrors openai_sdk.memory exactly, so that
    # only the clients differ; our client runs on asyncio here, through anyio.
    import asyncio

    from agent_adapter.transport import Transport

    streams = size(ns, "streams")
    transport = Transport(max_connections=2 * streams)  # the default (256) would queue
    opened = 0
    all_open = asyncio.Event()

    async def hold(c, release, want: int) -> None:  # type: ignore[no-untyped-def]
        nonlocal opened
        async with c.stream(model=MODEL, messages=MESSAGES, tools=TOOLS) as s:
            first = await s.__anext__()  # the first content chunk (the role header is folded)
            assert first.delta
            opened += 1
            if opened == want:
                all_open.set()
            await release.wait()

    async with client(f"{ns.base}/hold/v1", transport=transport) as c:
        release = asyncio.Event()
        task = asyncio.ensure_future(hold(c, release, 1))  # warm-up: one stream
        await all_open.wait()
        release.set()
        await task
        opened, all_open, release = 0, asyncio.Event(), asyncio.Event()
        traced = ns.variant == "traced"  # Python heap (tracemalloc) instead of RSS
        if traced:
            tracemalloc.start()
        settle()
        before = tracemalloc.get_traced_memory()[0] if traced else rss_bytes()
        tasks = [asyncio.ensure_future(hold(c, release, streams)) for _ in range(streams)]
        await all_open.wait()  # all `streams` are open: the measurement
        settle()
        after = tracemalloc.get_traced_memory()[0] if traced else rss_bytes()
        if traced:
            tracemalloc.stop()
        release.set()
        await asyncio.gather(*tasks)
        await transport.aclose()
    name = f"{NAME} (traced heap)" if ns.variant == "traced" else NAME
    what = "traced" if ns.variant == "traced" else "rss"
    per = (after - before) / streams / 1024
    emit(ns, name, per, "KiB", [per], streams, **{f"{what}_before": before, f"{what}_after": after})


async def anthropic(ns) -> None:  # type: ignore[no-untyped-def]
    n = size(ns, "events")
    stream = data.anthropic_stream(n)
    kw = {"model": data.ANTHROPIC_MODEL, "max_tokens": 1024}
    async with client(f"{ns.base}/a{n}", provider="anthropic") as c:
        await _stream(c, stream.ours, stream.text, **kw)
        seconds = []
        for _ in reps(ns):
            t0 = time.perf_counter()
            await _stream(c, stream.ours, **kw)
            seconds.append(time.perf_counter() - t0)
    rate_result(ns, NAME, n, seconds, stream.ours)


def main() -> None:
    ns = args([*PARSE_CASES, "stream1", "stream64", "rps1", "rps64", "memory", "anthropic"])
    if ns.case in PARSE_CASES:
        parse(ns)
        return
    import anyio

    cases = {
        "stream1": lambda: stream1(ns),
        "stream64": lambda: stream64(ns),
        "rps1": lambda: rps(ns, 1),
        "rps64": lambda: rps(ns, size(ns, "concurrency")),
        "memory": lambda: memory(ns),
        "anthropic": lambda: anthropic(ns),
    }
    anyio.run(cases[ns.case], backend=ns.backend)


if __name__ == "__main__":
    main()
