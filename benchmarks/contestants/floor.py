"""The floors: the least work that still gets typed chunks out (see ``_floor.py``).

parse: ``Splitter`` alone (``split(b"\\n\\n")`` + strip ``data: `` + msgspec).

Network cases, two variants:

* ``--variant h11``: raw h11 over ``asyncio`` streams, one keep-alive
  connection per worker, no pool logic, no timeouts, no retries, no error
  handling; request body ``msgspec.json.encode`` of a dict.
* ``--variant httpcore``: ``httpcore.AsyncConnectionPool`` (what our
  transport's building blocks give you off the shelf) + the same splitter.
"""

from __future__ import annotations

import time

import msgspec
from _common import (
    MESSAGES,
    MODEL,
    PARSE_CASES,
    TOOLS,
    args,
    check,
    data,
    parse_reads,
    profiled,
    rate_result,
    reps,
    size,
)
from _floor import COMPLETION, Splitter

NAME = "floor"


def parse(ns) -> None:  # type: ignore[no-untyped-def]
    n = size(ns, "events")
    stream = data.openai_stream(n)
    reads = parse_reads(ns, stream.body)
    small = data.openai_stream(1000)
    splitter = Splitter()
    text = []
    for r in parse_reads(ns, small.body):  # warm-up + correctness (untimed, a 1000-event stream)
        for c in splitter.feed(r):
            if c.choices and c.choices[0].delta and c.choices[0].delta.content:
                text.append(c.choices[0].delta.content)
    assert "".join(text) == small.text, "decoded text differs"
    seconds = []
    for _ in reps(ns):
        t0 = time.perf_counter()
        splitter = Splitter()
        feed = splitter.feed
        count = 0
        for r in reads:
            count += len(feed(r))
        assert splitter.done
        seconds.append(time.perf_counter() - t0)
        check(NAME, count, stream.events)
    rate_result(ns, "floor (split+msgspec)", n, seconds, count)


def body(stream: bool) -> bytes:
    obj: dict[str, object] = {"model": MODEL, "messages": MESSAGES, "tools": TOOLS}
    if stream:
        obj["stream"] = True
        obj["stream_options"] = {"include_usage": True}
    return msgspec.json.encode(obj)


# -- raw h11 over asyncio streams ----------------------------------------------------------


class H11Pool:
    """Idle connections in a list: pop one or connect; push it back when done."""

    def __init__(self, base: str) -> None:
        import urllib.parse

        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = u.hostname, u.port, u.path
        self.idle: list[tuple[object, object, object]] = []

    async def request(self, path: str, payload: bytes, on_data) -> None:  # type: ignore[no-untyped-def]
        import asyncio

        import h11

        if self.idle:
            reader, writer, conn = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            conn = h11.Connection(h11.CLIENT)
        headers = [
            ("host", f"{self.host}:{self.port}"),
            ("content-type", "application/json"),
            ("authorization", "Bearer sk-bench"),
            ("content-length", str(len(payload))),
        ]
        writer.write(
            conn.send(h11.Request(method="POST", target=self.prefix + path, headers=headers))
            + conn.send(h11.Data(data=payload))
            + conn.send(h11.EndOfMessage())
        )
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif type(event) is h11.Data:
                on_data(event.data)
            elif type(event) is h11.EndOfMessage:
                break
            elif type(event) is h11.Response:
                assert event.status_code == 200
        conn.start_next_cycle()
        self.idle.append((reader, writer, conn))

    async def aclose(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


# -- httpcore pool -------------------------------------------------------------------------


class HttpcorePool:
    def __init__(self, base: str) -> None:
        import httpcore

        self.base = base
        self.pool = httpcore.AsyncConnectionPool(max_connections=256, max_keepalive_connections=256)

    async def request(self, path: str, payload: bytes, on_data) -> None:  # type: ignore[no-untyped-def]
        headers = [
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer sk-bench"),
        ]
        async with self.pool.stream(
            "POST", self.base + path, headers=headers, content=payload
        ) as r:
            assert r.status == 200
            async for piece in r.aiter_stream():
                on_data(piece)

    async def aclose(self) -> None:
        await self.pool.aclose()


def pool(ns, base: str):  # type: ignore[no-untyped-def]
    return H11Pool(base) if ns.variant == "h11" else HttpcorePool(base)


async def _stream(  # type: ignore[no-untyped-def]
    p, payload: bytes, expected: int, path: str = "/chat/completions"
) -> int:
    splitter = Splitter()
    count = 0

    def on_data(piece: bytes) -> None:
        nonlocal count
        count += len(splitter.feed(piece))

    await p.request(path, payload, on_data)
    assert splitter.done
    check(NAME, count, expected)
    return count


async def stream1(ns) -> None:  # type: ignore[no-untyped-def]
    n = size(ns, "events")
    stream = data.openai_stream(n)
    p = pool(ns, f"{ns.base}/s{n}/v1")
    await _stream(p, body(True), stream.events)
    seconds = []
    for _ in reps(ns):
        t0 = time.perf_counter()
        await _stream(p, body(True), stream.events)
        seconds.append(time.perf_counter() - t0)
    await p.aclose()
    rate_result(ns, f"floor ({ns.variant})", n, seconds, stream.events)


async def stream64(ns) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    n, conc = size(ns, "events"), size(ns, "concurrency")
    stream = data.openai_stream(n)
    p = pool(ns, ns.base)
    path, small = f"/s{n}/v1/chat/completions", data.openai_stream(10)
    # warm-up: opens the pooled connections
    await asyncio.gather(
        *(_stream(p, body(True), small.events, "/s10/v1/chat/completions") for _ in range(conc))
    )
    seconds = []
    for _ in reps(ns):
        t0 = time.perf_counter()
        await asyncio.gather(*(_stream(p, body(True), stream.events, path) for _ in range(conc)))
        seconds.append(time.perf_counter() - t0)
    await p.aclose()
    rate_result(ns, f"floor ({ns.variant})", n * conc, seconds, stream.events * conc)


async def rps(ns, conc: int) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    done = 0
    p = pool(ns, f"{ns.base}/json/v1")

    async def one() -> None:
        parts: list[bytes] = []
        await p.request("/chat/completions", body(False), parts.append)
        r = COMPLETION.decode(b"".join(parts))
        assert r.usage is not None
        assert r.usage.completion_tokens == 96

    async def worker(deadline: float) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    await asyncio.gather(*(one() for _ in range(conc)))  # warm-up: opens the connections
    t0 = time.perf_counter()
    with profiled():
        await asyncio.gather(*(worker(t0 + size(ns, "seconds")) for _ in range(conc)))
    seconds = time.perf_counter() - t0
    await p.aclose()
    rate_result(ns, f"floor ({ns.variant})", done, [seconds], done)


def main() -> None:
    ns = args([*PARSE_CASES, "stream1", "stream64", "rps1", "rps64"])
    if ns.case in PARSE_CASES:
        parse(ns)
        return
    import asyncio

    ns.variant = ns.variant or "h11"
    cases = {
        "stream1": lambda: stream1(ns),
        "stream64": lambda: stream64(ns),
        "rps1": lambda: rps(ns, 1),
        "rps64": lambda: rps(ns, size(ns, "concurrency")),
    }
    asyncio.run(cases[ns.case]())


if __name__ == "__main__":
    main()
