"""A minimal, fast HTTP/1.1 server on loopback that replays pre-built responses.

Run as its own process (``run.py`` starts it). Every response is built once at
start-up, head and chunked body together, and sent with one ``write``, so the
server does almost no work per request and is not what the benchmark measures.
It is an ``asyncio.Protocol`` (no streams, no per-request tasks): parse the
request head, wait for ``content-length`` bytes of body, write the bytes.

Routing is by the first path segment, so one ``base_url`` per scenario works
for every client (``{base}/chat/completions``, ``{base}/v1/messages``):

* ``/s<N>/...``  OpenAI SSE stream with N events (``data.openai_stream(N)``, N = 10,
  200, 500, 5000; s10 is the warm-up that opens pooled connections cheaply)
* ``/a<N>/...``  Anthropic SSE stream with N events
* ``/json/...``  a non-streamed ``chat.completion``
* ``/hold/...``  OpenAI SSE: role header + one content chunk, then holds the
  connection open (never ends the body) until the client closes it
* ``/e503/...``  a 503 with an OpenAI-shaped error body (a deployment that is down)
* ``/_stats``    request counts per route, as JSON

Keep-alive throughout; bodies are ``Transfer-Encoding: chunked`` with
``--chunk`` bytes per HTTP chunk (default 4096; events may straddle chunks,
as they do behind real proxies).

Usage: ``python benchmarks/server.py [--port 0] [--chunk 4096]``; prints
``PORT <n>`` on stdout once it listens. Stops on SIGTERM/SIGINT, and with
``--watch-stdin`` also when its standard input (a pipe from ``run.py``)
closes, so it never outlives the runner.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
from typing import ClassVar

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import data


def _chunked(body: bytes, size: int) -> bytes:
    parts = []
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        parts.append(b"%x\r\n%s\r\n" % (len(piece), piece))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _sse_head() -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: text/event-stream; charset=utf-8\r\n"
        b"cache-control: no-cache\r\n"
        b"x-request-id: req_bench\r\n"
        b"transfer-encoding: chunked\r\n"
        b"connection: keep-alive\r\n\r\n"
    )


def build_routes(chunk: int) -> dict[bytes, bytes]:
    routes: dict[bytes, bytes] = {}
    for n in (10, 200, 500, 5000):
        routes[b"s%d" % n] = _sse_head() + _chunked(data.openai_stream(n).body, chunk)
    routes[b"a5000"] = _sse_head() + _chunked(data.anthropic_stream(5000).body, chunk)
    body = data.chat_completion()
    routes[b"json"] = (
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: application/json\r\n"
        b"x-request-id: req_bench\r\n"
        b"content-length: %d\r\n"
        b"connection: keep-alive\r\n\r\n" % len(body)
    ) + body
    down = b'{"error": {"message": "The server is overloaded", "type": "server_error"}}'
    routes[b"e503"] = (
        b"HTTP/1.1 503 Service Unavailable\r\n"
        b"content-type: application/json\r\n"
        b"content-length: %d\r\n"
        b"connection: keep-alive\r\n\r\n" % len(down)
    ) + down
    first = data.openai_stream(500).body.split(b"\n\n")
    held = first[0] + b"\n\n" + first[1] + b"\n\n"
    routes[b"hold"] = _sse_head() + b"%x\r\n%s\r\n" % (len(held), held)
    return routes


_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"


class HTTP(asyncio.Protocol):
    """One connection: parse request heads, skip bodies, write the pre-built reply."""

    routes: ClassVar[dict[bytes, bytes]] = {}
    stats: ClassVar[dict[str, int]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport
        self.buf = b""
        self.held = False

    def data_received(self, chunk: bytes) -> None:
        if self.held:
            return  # a held stream: ignore anything else on this connection
        buf = self.buf + chunk if self.buf else chunk
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            length = 0
            lower = head.lower()
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 2)
                length = int(head[i + 17 : j if j >= 0 else len(head)])
            total = end + 4 + length
            if len(buf) < total:
                break
            buf = buf[total:]
            path = head.split(b" ", 2)[1]
            key = path.split(b"/", 2)[1]
            name = key.decode("latin-1")
            self.stats[name] = self.stats.get(name, 0) + 1
            if key == b"_stats":
                body = json.dumps(self.stats).encode()
                self.t.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                continue
            reply = self.routes.get(key)
            if reply is None:
                self.t.write(_NOT_FOUND)
                continue
            self.t.write(reply)
            if key == b"hold":
                self.held = True
                buf = b""
                break
        self.buf = buf

    def connection_lost(self, exc: Exception | None) -> None:
        self.t = None  # type: ignore[assignment]


async def serve(port: int, chunk: int, watch_stdin: bool) -> None:
    HTTP.routes = build_routes(chunk)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HTTP, "127.0.0.1", port, backlog=4096, reuse_address=True)
    sock = server.sockets[0]
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if watch_stdin:  # the parent holds our stdin pipe: its end (EOF) means stop
        loop.add_reader(sys.stdin.fileno(), lambda: os.read(sys.stdin.fileno(), 1) or stop.set())
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=4096, help="bytes per HTTP chunk")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    parser.add_argument("--watch-stdin", action="store_true", help="stop when stdin closes")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    asyncio.run(serve(args.port, args.chunk, args.watch_stdin))


if __name__ == "__main__":
    main()
