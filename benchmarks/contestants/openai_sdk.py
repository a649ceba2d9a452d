"""openai-python: its real SSE + typed-chunk path (parse) and ``AsyncOpenAI`` end to end.

parse: the SDK's own ``openai._streaming.Stream`` over an in-memory
``httpx2.Response`` whose body iterator yields the same random-size reads;
``Stream.__stream__`` runs exactly as in production: ``SSEDecoder.iter_bytes``
(its ``_SSELineDecoder`` + ``decode``), ``sse.json()`` (stdlib ``json``), the
legacy ``error`` check, then ``client._process_response_data(...,
cast_to=ChatCompletionChunk)`` (``construct_type``, as ``create(stream=True)``
does with the default ``_strict_response_validation=False``).
"""

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

NAME = "openai-python"


def parse(ns) -> None:  # type: ignore[no-untyped-def]
    import httpx2
    import openai
    from openai._streaming import Stream
    from openai.types.chat import ChatCompletionChunk

    n = size(ns, "events")
    stream = data.openai_stream(n)
    reads = parse_reads(ns, stream.body)
    client = openai.OpenAI(api_key="sk-bench", base_url="http://127.0.0.1:1/v1", max_retries=0)
    request = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")

    def make(pieces: list[bytes]) -> Stream[ChatCompletionChunk]:
        response = httpx2.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=iter(pieces),
            request=request,
        )
        return Stream(cast_to=ChatCompletionChunk, response=response, client=client)

    small = data.openai_stream(1000)
    small_reads = parse_reads(ns, small.body)
    text = []
    for chunk in make(small_reads):  # warm-up + correctness (untimed, a 1000-event stream)
        assert isinstance(chunk, ChatCompletionChunk)
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    assert "".join(text) == small.text, "decoded text differs"
    seconds = []
    for _ in reps(ns):
        t0 = time.perf_counter()
        count = 0
        for _chunk in make(reads):
            count += 1
        seconds.append(time.perf_counter() - t0)
        check(NAME, count, stream.events)
    rate_result(ns, NAME, n, seconds, count)


def client(base: str):  # type: ignore[no-untyped-def]
    import openai

    # timeout=120: the SDK's default 5 s *connect* timeout fires spuriously when 64 streams
    # saturate the event loop while the warm-up batch is still connecting.
    return openai.AsyncOpenAI(api_key="sk-bench", base_url=base, max_retries=0, timeout=120)


async def _stream(c, expected: int, text: str | None = None) -> int:  # type: ignore[no-untyped-def]
    n = 0
    parts = []
    s = await c.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        tools=TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    async with s:
        async for chunk in s:
            n += 1
            if text is not None and chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
    check(NAME, n, expected)
    if text is not None:
        assert "".join(parts) == text, "assembled text differs"
    return n


async def stream1(ns) -> None:  # type: ignore[no-untyped-def]
    n = size(ns, "events")
    stream = data.openai_stream(n)
    async with client(f"{ns.base}/s{n}/v1") as c:
        await _stream(c, stream.events, stream.text)
        seconds = []
        for _ in reps(ns):
            t0 = time.perf_counter()
            await _stream(c, stream.events)
            seconds.append(time.perf_counter() - t0)
    rate_result(ns, NAME, n, seconds, stream.events)


async def stream64(ns) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    n, conc = size(ns, "events"), size(ns, "concurrency")
    stream = data.openai_stream(n)
    async with client(f"{ns.base}/s{n}/v1") as c:
        await _stream(c, stream.events, stream.text)
        warm, small = c.with_options(base_url=f"{ns.base}/s10/v1"), data.openai_stream(10)
        # warm-up: opens the pooled connections (with_options shares the httpx2 client)
        await asyncio.gather(*(_stream(warm, small.events) for _ in range(conc)))
        seconds = []
        for _ in reps(ns):
            t0 = time.perf_counter()
            await asyncio.gather(*(_stream(c, stream.events) for _ in range(conc)))
            seconds.append(time.perf_counter() - t0)
    rate_result(ns, NAME, n * conc, seconds, stream.events * conc)


async def rps(ns, conc: int) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    done = 0

    async def one(c) -> None:  # type: ignore[no-untyped-def]
        r = await c.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
        assert r.usage.completion_tokens == 96

    async def worker(c, deadline: float) -> None:  # type: ignore[no-untyped-def]
        nonlocal done
        while time.perf_counter() < deadline:
            await one(c)
            done += 1

    async with client(f"{ns.base}/json/v1") as c:
        r = await c.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
        assert r.choices[0].message.content.startswith("Lisbon")
        await asyncio.gather(*(one(c) for _ in range(conc)))  # warm-up: opens the connections
        t0 = time.perf_counter()
        with profiled():
            await asyncio.gather(*(worker(c, t0 + size(ns, "seconds")) for _ in range(conc)))
        seconds = time.perf_counter() - t0
    rate_result(ns, NAME, done, [seconds], done)


async def memory(ns) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    streams = size(ns, "streams")
    opened = 0
    all_open = asyncio.Event()

    async def hold(c, release, want: int) -> None:  # type: ignore[no-untyped-def]
        nonlocal opened
        s = await c.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            tools=TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with s:
            await s.__anext__()  # the role header
            first = await s.__anext__()  # the first content chunk
            assert first.choices[0].delta.content
            opened += 1
            if opened == want:
                all_open.set()
            await release.wait()

    async with client(f"{ns.base}/hold/v1") as c:
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
    name = f"{NAME} (traced heap)" if ns.variant == "traced" else NAME
    what = "traced" if ns.variant == "traced" else "rss"
    per = (after - before) / streams / 1024
    emit(ns, name, per, "KiB", [per], streams, **{f"{what}_before": before, f"{what}_after": after})


def main() -> None:
    ns = args([*PARSE_CASES, "stream1", "stream64", "rps1", "rps64", "memory"])
    if ns.case in PARSE_CASES:
        parse(ns)
        return
    import asyncio

    cases = {
        "stream1": lambda: stream1(ns),
        "stream64": lambda: stream64(ns),
        "rps1": lambda: rps(ns, 1),
        "rps64": lambda: rps(ns, size(ns, "concurrency")),
        "memory": lambda: memory(ns),
    }
    asyncio.run(cases[ns.case]())


if __name__ == "__main__":
    main()
