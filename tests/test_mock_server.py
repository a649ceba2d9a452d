"""The mock provider server, checked on the wire with raw sockets and httpcore.

Every async test runs on asyncio and trio (see conftest.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import h11
import httpcore
import pytest

from agent_adapter.testing import MockServer, RecordedRequest, Reply, serve_forever

SSE_CHUNKS = [b'data: {"x":1}\n\n', b'data: {"x":2}\n\n', b"data: [DONE]\n\n"]


# -- small raw HTTP client helpers -----------------------------------------------------


@asynccontextmanager
async def connect(srv: MockServer) -> AsyncIterator[anyio.abc.SocketStream]:
    stream = await anyio.connect_tcp("127.0.0.1", srv.port)
    try:
        yield stream
    finally:
        await anyio.aclose_forcefully(stream)


async def read_all(stream: anyio.abc.SocketStream, limit: float = 3.0) -> tuple[bytes, str]:
    """Read until the server ends the connection; say how: "eof" or "reset"."""
    buf = bytearray()
    with anyio.fail_after(limit):
        while True:
            try:
                buf += await stream.receive()
            except anyio.EndOfStream:
                return bytes(buf), "eof"
            except anyio.BrokenResourceError:
                return bytes(buf), "reset"


async def read_until(stream: anyio.abc.SocketStream, marker: bytes, limit: float = 3.0) -> bytes:
    buf = bytearray()
    with anyio.fail_after(limit):
        while marker not in buf:
            buf += await stream.receive()
    return bytes(buf)


def split_head(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def dechunk(body: bytes) -> tuple[list[bytes], bool, bytes]:
    """Parse chunked framing by hand: (chunks, saw the final 0-chunk, bytes after it)."""
    chunks = []
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        size = int(size_line, 16)
        if size == 0:
            assert rest.startswith(b"\r\n")
            return chunks, True, rest[2:]
        chunks.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        body = rest[size + 2 :]
    return chunks, False, b""


class H11Client:
    """A by-hand HTTP/1.1 client on one connection; keeps the raw bytes it read."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> tuple[h11.Response, bytes, bytes]:
        if self.conn.our_state is h11.DONE:
            self.conn.start_next_cycle()
        hs = [("host", "mock"), *headers]
        if body:
            hs.append(("content-length", str(len(body))))
        out = self.conn.send(h11.Request(method=method, target=target, headers=hs)) or b""
        out += self.conn.send(h11.Data(data=body)) or b"" if body else b""
        out += self.conn.send(h11.EndOfMessage()) or b""
        await self.stream.send(out)
        raw = bytearray()
        response: h11.Response | None = None
        data = bytearray()
        with anyio.fail_after(3):
            while True:
                event = self.conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        chunk = await self.stream.receive()
                    except anyio.EndOfStream:
                        chunk = b""
                    raw += chunk
                    self.conn.receive_data(chunk)
                elif isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    data += event.data
                elif isinstance(event, h11.EndOfMessage):
                    assert response is not None
                    return response, bytes(data), bytes(raw)


def header(response: httpcore.Response | h11.Response, name: str) -> str | None:
    for key, value in response.headers:
        if key.lower() == name.encode():
            return value.decode()
    return None


async def collect(
    pool: httpcore.AsyncConnectionPool, method: str, url: str, received: list[bytes]
) -> httpcore.Response:
    """Stream a response body into ``received`` (kept even if reading fails)."""
    async with pool.stream(method, url) as r:
        async for chunk in r.aiter_stream():
            received.append(chunk)
    return r


# -- normal replies --------------------------------------------------------------------


@pytest.mark.anyio
async def test_json_reply_and_request_recording() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        assert srv.base_url == f"http://127.0.0.1:{srv.port}"
        srv.enqueue(Reply.json({"a": 1}, status=201, headers={"x-request-id": "req_1"}))
        r = await pool.request(
            "POST",
            srv.base_url + "/v1/chat/completions?api-version=2",
            headers={"Authorization": "Bearer sk-test", "X-Custom": "One"},
            content=b'{"model": "m", "stream": false}',
        )
        assert r.status == 201
        assert r.content == b'{"a":1}'
        assert header(r, "content-type") == "application/json"
        assert header(r, "content-length") == "7"
        assert header(r, "x-request-id") == "req_1"

        (req,) = srv.requests
        assert isinstance(req, RecordedRequest)
        assert req.method == "POST"
        assert req.path == "/v1/chat/completions?api-version=2"
        assert req.headers["authorization"] == "Bearer sk-test"
        assert req.headers["x-custom"] == "One"
        assert all(name == name.lower() for name in req.headers)
        assert ("X-Custom", "One") in req.header_list  # original spelling kept
        assert req.body == b'{"model": "m", "stream": false}'
        assert req.json() == {"model": "m", "stream": False}
        assert req.connection_id == 1
        assert req.http_version == "1.1"
        assert srv.pending == 0


@pytest.mark.anyio
async def test_repeated_request_headers_are_joined() -> None:
    async with MockServer() as srv, connect(srv) as stream:
        srv.enqueue(Reply.json({}))
        client = H11Client(stream)
        await client.request("GET", "/", headers=[("Accept", "a"), ("accept", "b")])
        assert srv.requests[0].headers["accept"] == "a, b"
        assert [v for k, v in srv.requests[0].header_list if k.lower() == "accept"] == ["a", "b"]


@pytest.mark.anyio
async def test_error_and_raw_replies() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(
            Reply.error(429, {"error": {"message": "slow down"}}, headers={"retry-after": "1"}),
            Reply.raw(
                200,
                {"content-type": "text/plain", "Content-Length": "999", "X-A": "b"},
                b"exact \x00 bytes",
            ),
        )
        r = await pool.request("POST", srv.base_url + "/a")
        assert r.status == 429
        assert header(r, "retry-after") == "1"
        assert header(r, "content-type") == "application/json"
        assert r.content == b'{"error":{"message":"slow down"}}'

        r = await pool.request("POST", srv.base_url + "/b")
        assert r.status == 200
        assert r.content == b"exact \x00 bytes"
        assert header(r, "content-length") == str(len(b"exact \x00 bytes"))  # ours, not 999
        assert header(r, "content-type") == "text/plain"
        assert header(r, "x-a") == "b"


@pytest.mark.anyio
@pytest.mark.parametrize("keep_alive", [True, False])
async def test_sse_is_chunked_on_the_wire(keep_alive: bool) -> None:
    headers = [] if keep_alive else [("connection", "close")]
    async with MockServer() as srv:
        async with connect(srv) as stream:
            srv.enqueue(Reply.sse(SSE_CHUNKS), Reply.sse(SSE_CHUNKS, coalesce=False))
            client = H11Client(stream)
            for coalesced in (True, False):
                if not keep_alive and not coalesced:
                    break  # the connection was closed after the first reply
                response, data, raw = await client.request("POST", "/v1/chat", headers=headers)
                assert response.status_code == 200
                assert header(response, "content-type") == "text/event-stream"
                assert header(response, "transfer-encoding") == "chunked"
                assert header(response, "content-length") is None
                assert data == b"".join(SSE_CHUNKS)
                chunks, terminated, rest = dechunk(split_head(raw)[2])
                assert terminated
                assert rest == b""
                # delay=0 sends one coalesced chunk; coalesce=False one HTTP chunk per item
                assert chunks == ([b"".join(SSE_CHUNKS)] if coalesced else SSE_CHUNKS)
            if not keep_alive:
                assert await read_all(stream) == (b"", "eof")
        await srv.wait_for_closed(1)
        assert [q.connection_id for q in srv.requests] == [1] * (2 if keep_alive else 1)


@pytest.mark.anyio
async def test_sse_with_delay_paces_chunks() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.sse(SSE_CHUNKS, delay=0.05))
        arrivals: list[tuple[float, bytes]] = []
        start = time.perf_counter()
        async with pool.stream("POST", srv.base_url + "/v1/chat") as r:
            assert r.status == 200
            async for chunk in r.aiter_stream():
                arrivals.append((time.perf_counter() - start, chunk))
        assert b"".join(c for _, c in arrivals) == b"".join(SSE_CHUNKS)
        assert [c for _, c in arrivals] == SSE_CHUNKS  # each chunk arrived on its own
        assert arrivals[0][0] < 0.04  # the first chunk is not delayed
        assert arrivals[1][0] >= 0.04
        assert arrivals[2][0] >= 0.09


@pytest.mark.anyio
async def test_per_chunk_delays_delay_the_first_chunk_after_headers() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.sse(SSE_CHUNKS, delay=[0.1, 0.0, 0.0]))
        start = time.perf_counter()
        async with pool.stream("POST", srv.base_url + "/") as r:
            headers_at = time.perf_counter() - start
            body = b"".join([c async for c in r.aiter_stream()])
        total = time.perf_counter() - start
        assert headers_at < 0.08  # headers go out at once
        assert total >= 0.09
        assert body == b"".join(SSE_CHUNKS)


@pytest.mark.anyio
async def test_ndjson_stream() -> None:
    lines = [b'{"done":false}\n', b'{"done":true}\n']
    async with MockServer() as srv, connect(srv) as stream:
        srv.enqueue(Reply.stream(lines, coalesce=False))
        response, data, raw = await H11Client(stream).request("POST", "/api/chat")
        assert header(response, "content-type") == "application/x-ndjson"
        assert data == b"".join(lines)
        assert dechunk(split_head(raw)[2])[:2] == (lines, True)


@pytest.mark.anyio
async def test_same_reply_object_serves_every_request_and_protocol() -> None:
    reply = Reply.sse(SSE_CHUNKS)
    async with MockServer(handler=lambda req: reply) as srv:
        async with connect(srv) as stream:
            client = H11Client(stream)
            for _ in range(3):  # keep-alive fast path
                response, data, _ = await client.request("POST", "/")
                assert data == b"".join(SSE_CHUNKS)
        async with connect(srv) as stream:  # HTTP/1.0: no chunked, close-delimited body
            await stream.send(b"POST / HTTP/1.0\r\nHost: x\r\n\r\n")
            raw, how = await read_all(stream)
            status, headers, body = split_head(raw)
            assert (status, how) == (200, "eof")
            assert "transfer-encoding" not in headers
            assert body == b"".join(SSE_CHUNKS)
        async with connect(srv) as stream:  # HEAD: headers only
            response, data, raw = await H11Client(stream).request("HEAD", "/")
            assert response.status_code == 200
            assert data == b""
            assert raw.endswith(b"\r\n\r\n")
        assert [r.connection_id for r in srv.requests] == [1, 1, 1, 2, 3]
        assert [r.http_version for r in srv.requests] == ["1.1", "1.1", "1.1", "1.0", "1.1"]


# -- wire faults -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_reset_before_headers() -> None:
    async with MockServer() as srv, connect(srv) as stream:
        srv.enqueue(Reply.reset_before_headers(), Reply.reset_before_headers())
        await stream.send(b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        raw, how = await read_all(stream)
        assert raw == b""
        assert how == "reset"  # SO_LINGER 0: an RST, not a polite FIN
        assert srv.requests[0].body == b"{}"  # the request was read first
        async with httpcore.AsyncConnectionPool() as pool:
            with pytest.raises((httpcore.ReadError, httpcore.RemoteProtocolError)):
                await pool.request("POST", srv.base_url + "/v1", content=b"{}")
        await srv.wait_for_closed(2)
        assert srv.client_disconnects == 0


@pytest.mark.anyio
async def test_reset_mid_body() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.reset_mid_body(SSE_CHUNKS, after=2))
        received: list[bytes] = []
        with pytest.raises(httpcore.ReadError):  # a reset, after the headers and 2 chunks
            await collect(pool, "POST", srv.base_url + "/v1", received)
        assert b"".join(received) == b"".join(SSE_CHUNKS[:2])
        await srv.wait_for_closed(1)


@pytest.mark.anyio
async def test_truncated_chunked() -> None:
    async with MockServer() as srv, connect(srv) as stream:
        srv.enqueue(Reply.truncated_chunked(SSE_CHUNKS))
        await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw, how = await read_all(stream)
        assert how == "eof"  # an orderly close...
        chunks, terminated, _ = dechunk(split_head(raw)[2])
        assert chunks == SSE_CHUNKS
        assert not terminated  # ...without the final 0-length chunk

    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.truncated_chunked(SSE_CHUNKS))
        received: list[bytes] = []
        with pytest.raises(httpcore.RemoteProtocolError, match="incomplete chunked read"):
            await collect(pool, "GET", srv.base_url + "/", received)
        assert b"".join(received) == b"".join(SSE_CHUNKS)


@pytest.mark.anyio
async def test_stall_until_client_gives_up() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.stall())
        start = time.perf_counter()
        with pytest.raises(httpcore.ReadTimeout):
            await pool.request("POST", srv.base_url + "/", extensions={"timeout": {"read": 0.1}})
        assert 0.09 <= time.perf_counter() - start < 1.0
        await srv.wait_for_closed(1, timeout=2)
        assert srv.client_disconnects == 1  # the server saw the client leave while stalling


@pytest.mark.anyio
async def test_stall_headers_first() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.stall(headers_first=True))
        async with pool.stream(
            "POST", srv.base_url + "/", extensions={"timeout": {"read": 0.1}}
        ) as r:
            assert r.status == 200
            assert header(r, "content-type") == "text/event-stream"
            with pytest.raises(httpcore.ReadTimeout):
                await r.aread()
        await srv.wait_for_client_disconnects(1)
        await srv.wait_for_closed(1)


@pytest.mark.anyio
@pytest.mark.parametrize("headers_first", [False, True])
async def test_stall_with_seconds_closes_the_connection(headers_first: bool) -> None:
    async with MockServer() as srv:
        async with connect(srv) as stream:
            srv.enqueue(Reply.stall(0.1, headers_first=headers_first))
            start = time.perf_counter()
            await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            raw, how = await read_all(stream)
            assert time.perf_counter() - start >= 0.09
            assert how == "eof"
            if headers_first:
                status, headers, body = split_head(raw)
                assert status == 200
                assert headers["transfer-encoding"] == "chunked"
                assert body == b""
            else:
                assert raw == b""
        await srv.wait_for_closed(1)
        assert srv.client_disconnects == 0


@pytest.mark.anyio
async def test_trickle_is_slow_but_never_silent_long() -> None:
    body = b'{"id":"x","choices":[]}'[:12]
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.trickle(body, every=0.02, size=2), Reply.json({"after": True}))
        pieces = []
        start = time.perf_counter()
        # each read completes within 0.15 s although the whole body takes ~0.12 s+
        async with pool.stream(
            "GET", srv.base_url + "/", extensions={"timeout": {"read": 0.15}}
        ) as r:
            assert header(r, "content-length") == str(len(body))
            async for chunk in r.aiter_stream():
                pieces.append(chunk)
        assert b"".join(pieces) == body
        assert len(pieces) >= 3
        assert all(len(p) <= 4 for p in pieces[1:])
        assert time.perf_counter() - start >= 0.11
        # the connection stays usable after a trickled (content-length) body
        r2 = await pool.request("GET", srv.base_url + "/")
        assert r2.content == b'{"after":true}'
        assert [q.connection_id for q in srv.requests] == [1, 1]


@pytest.mark.anyio
async def test_trickle_read_timeout() -> None:
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.trickle(b"abcdef", every=0.3))
        with pytest.raises(httpcore.ReadTimeout):
            await pool.request("GET", srv.base_url + "/", extensions={"timeout": {"read": 0.05}})
        await srv.wait_for_client_disconnects(1)


# -- connections -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_keep_alive_reuses_one_connection() -> None:
    async with MockServer() as srv:
        srv.enqueue(
            Reply.json({"n": 1}),
            Reply.sse(SSE_CHUNKS, delay=0.01),  # the slow (guarded) path keeps alive too
            Reply.trickle(b"xyz", every=0.0),
            Reply.json({"n": 4}),
        )
        async with httpcore.AsyncConnectionPool() as pool:
            for _ in range(4):
                r = await pool.request("POST", srv.base_url + "/v1/chat")
                assert r.status == 200
        assert [q.connection_id for q in srv.requests] == [1, 1, 1, 1]
        assert srv.connections_opened == 1
        await srv.wait_for_closed(1)  # the pool closed its connection on exit

        srv.enqueue(Reply.json({}), Reply.json({}))
        async with httpcore.AsyncConnectionPool() as a, httpcore.AsyncConnectionPool() as b:
            await a.request("GET", srv.base_url + "/a")
            await b.request("GET", srv.base_url + "/b")
        assert [q.connection_id for q in srv.requests[4:]] == [2, 3]
        await srv.wait_for_closed(3)
        assert srv.open_connections == 0


@pytest.mark.anyio
async def test_pipelined_requests_are_answered_in_order() -> None:
    async with MockServer() as srv, connect(srv) as stream:
        srv.enqueue(Reply.sse([b"data: 1\n\n", b"data: 2\n\n"], delay=0.02))
        srv.enqueue(Reply.json({"n": 2}))
        srv.enqueue(Reply.json({"n": 3}))
        req = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        await stream.send(req * 3)
        raw = await read_until(stream, b'{"n":3}')
        assert raw.count(b"HTTP/1.1 200 ") == 3
        assert raw.index(b"data: 2") < raw.index(b'{"n":2}') < raw.index(b'{"n":3}')
        assert [q.connection_id for q in srv.requests] == [1, 1, 1]
        assert srv.client_disconnects == 0


@pytest.mark.anyio
async def test_connection_close_request() -> None:
    async with MockServer() as srv:
        async with connect(srv) as stream:
            srv.enqueue(Reply.json({"ok": True}))
            await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            raw, how = await read_all(stream)
            status, headers, body = split_head(raw)
            assert (status, how, body) == (200, "eof", b'{"ok":true}')
            assert headers["connection"] == "close"
            # lingering close: the server sent FIN and waits for the client's end
            await anyio.sleep(0.05)
            assert srv.connections_closed == 0
        await srv.wait_for_closed(1)


@pytest.mark.anyio
async def test_expect_100_continue_and_chunked_request_body() -> None:
    async with MockServer() as srv, connect(srv) as stream:
        srv.enqueue(Reply.json({"a": 1}), Reply.json({"b": 2}))
        await stream.send(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await read_until(stream, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 ")
        assert srv.requests == []
        await stream.send(b"hello")
        assert (await read_until(stream, b'{"a":1}')).startswith(b"HTTP/1.1 200 ")
        assert srv.requests[0].body == b"hello"

        await stream.send(
            b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        )
        await read_until(stream, b'{"b":2}')
        assert srv.requests[1].body == b"abcdefg"
        assert srv.requests[1].headers["transfer-encoding"] == "chunked"
        assert srv.requests[1].connection_id == srv.requests[0].connection_id


@pytest.mark.anyio
async def test_request_size_is_capped() -> None:
    async with MockServer(max_request_bytes=10) as srv:
        async with connect(srv) as stream:  # declared too large: refused before the body
            await stream.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            raw, _ = await read_all(stream)
            assert split_head(raw)[0] == 413
        async with connect(srv) as stream:  # chunked, grows past the cap
            await stream.send(
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"8\r\n12345678\r\n8\r\n12345678\r\n"
            )
            raw, _ = await read_all(stream)
            status, _, body = split_head(raw)
            assert status == 413
            assert b"larger than 10 bytes" in body
        assert srv.requests == []
        await srv.wait_for_closed(2)
        assert srv.errors == []


@pytest.mark.anyio
async def test_malformed_request_gets_400() -> None:
    async with MockServer() as srv, connect(srv) as stream:
        await stream.send(b"NOT AN HTTP REQUEST\r\n\r\n")
        raw, how = await read_all(stream)
        assert split_head(raw)[0] == 400
        assert how == "eof"
        assert srv.requests == []
        assert srv.errors == []


# -- handler ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_queue_first_then_handler_then_default_500() -> None:
    seen: list[str] = []

    def handler(req: RecordedRequest) -> Reply:
        seen.append(req.path)
        return Reply.json({"echo": req.json()})

    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        r = await pool.request("POST", srv.base_url + "/v1/messages")
        assert r.status == 500
        assert r.content == (
            b'{"error":{"message":"mock server: no scripted reply for POST /v1/messages",'
            b'"type":"server_error"}}'
        )
        srv.handler = handler
        srv.enqueue(Reply.json({"scripted": True}))
        r = await pool.request("POST", srv.base_url + "/one", content=b"[1]")
        assert r.content == b'{"scripted":true}'
        r = await pool.request("POST", srv.base_url + "/two", content=b"[2]")
        assert r.content == b'{"echo":[2]}'
        assert seen == ["/two"]
        assert len(srv.requests) == 3


@pytest.mark.anyio
async def test_async_handler() -> None:
    async def handler(req: RecordedRequest) -> Reply:
        await anyio.sleep(0.01)
        return Reply.json({"path": req.path})

    async with MockServer(handler) as srv, httpcore.AsyncConnectionPool() as pool:
        r = await pool.request("GET", srv.base_url + "/x?y=1")
        assert r.content == b'{"path":"/x?y=1"}'


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (lambda req: 1 / 0, b"handler raised ZeroDivisionError"),
        (lambda req: {"not": "a reply"}, b"handler raised TypeError: handler returned dict"),
    ],
)
async def test_handler_failure_becomes_500(
    handler: Callable[[RecordedRequest], Reply], message: bytes
) -> None:
    async with MockServer(handler) as srv, httpcore.AsyncConnectionPool() as pool:
        for _ in range(2):  # the server (and the connection) survive
            r = await pool.request("GET", srv.base_url + "/")
            assert r.status == 500
            assert message in r.content
        assert len(srv.errors) == 2
        assert [q.connection_id for q in srv.requests] == [1, 1]


# -- disconnects and shutdown ----------------------------------------------------------


@pytest.mark.anyio
async def test_client_cancel_during_slow_sse_is_detected() -> None:
    chunks = [b"data: %d\n\n" % i for i in range(100)]
    async with MockServer() as srv, httpcore.AsyncConnectionPool() as pool:
        srv.enqueue(Reply.sse(chunks, delay=0.05))  # 5 s if read to the end
        received: list[bytes] = []
        start = time.perf_counter()
        with anyio.move_on_after(0.2) as scope:
            await collect(pool, "POST", srv.base_url + "/v1/chat", received)
        assert scope.cancelled_caught
        await srv.wait_for_client_disconnects(1, timeout=2)
        await srv.wait_for_closed(1, timeout=2)
        assert time.perf_counter() - start < 1.5
        assert received[0] == b"data: 0\n\n"
        assert 1 <= len(received) < 10
        assert srv.client_disconnects == 1
        assert srv.open_connections == 0


@pytest.mark.anyio
async def test_client_close_during_slow_sse_is_detected() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.sse([b"data: x\n\n"] * 100, delay=0.05), Reply.json({}))
        async with connect(srv) as stream:
            await stream.send(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
            await read_until(stream, b"data: x")
        start = time.perf_counter()
        await srv.wait_for_client_disconnects(1, timeout=2)
        await srv.wait_for_closed(1, timeout=2)
        assert time.perf_counter() - start < 0.5  # noticed at once, not at the next write
        assert srv.client_disconnects == 1
        # the server still serves new connections
        async with httpcore.AsyncConnectionPool() as pool:
            assert (await pool.request("GET", srv.base_url + "/")).status == 200


@pytest.mark.anyio
async def test_wait_for_closed_times_out() -> None:
    async with MockServer() as srv, connect(srv) as stream:
        srv.enqueue(Reply.json({}))
        await H11Client(stream).request("GET", "/")  # the connection stays open (keep-alive)
        with pytest.raises(TimeoutError, match="closed connections"):
            await srv.wait_for_closed(1, timeout=0.05)
        assert srv.open_connections == 1


@pytest.mark.anyio
async def test_wait_for_closed_sees_client_close() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json({}))
        async with connect(srv) as stream:
            await H11Client(stream).request("GET", "/")
            assert srv.connections_closed == 0
        await srv.wait_for_closed(1)
        assert srv.connections_closed == 1
        assert srv.client_disconnects == 0  # closed while idle, not mid-response


@pytest.mark.anyio
async def test_shutdown_with_open_connections_does_not_hang() -> None:
    streams: list[anyio.abc.SocketStream] = []
    try:
        with anyio.fail_after(3):
            async with MockServer() as srv:
                srv.enqueue(
                    Reply.stall(), Reply.sse([b"data: x\n\n"] * 100, delay=0.05), Reply.json({})
                )
                port = srv.port
                for _ in range(3):
                    streams.append(await anyio.connect_tcp("127.0.0.1", port))
                await streams[0].send(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
                await streams[1].send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                await read_until(streams[1], b"data: x")
                await H11Client(streams[2]).request("GET", "/idle")  # then idle, kept alive
                await srv.wait_for_requests(3)
                assert srv.connections_opened == 3
                start = time.perf_counter()
            assert time.perf_counter() - start < 0.5
        assert srv.connections_closed == 3
        assert srv.open_connections == 0
        for stream in streams:  # every client sees its connection end
            _, how = await read_all(stream)
            assert how in ("eof", "reset")
        with pytest.raises(OSError, match="connection attempts failed"):  # nothing listens
            await anyio.connect_tcp("127.0.0.1", port)
    finally:
        for stream in streams:
            await anyio.aclose_forcefully(stream)


@pytest.mark.anyio
async def test_body_exception_propagates_unwrapped() -> None:
    with pytest.raises(KeyError, match="boom"):
        async with MockServer():
            raise KeyError("boom")


@pytest.mark.anyio
async def test_serve_forever_reports_port_and_serves() -> None:
    ports: list[int] = []
    ready = anyio.Event()

    def on_ready(port: int) -> None:
        ports.append(port)
        ready.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: serve_forever(handler=lambda req: Reply.json({"p": req.path}), ready=on_ready)
        )
        await ready.wait()
        async with httpcore.AsyncConnectionPool() as pool:
            r = await pool.request("GET", f"http://127.0.0.1:{ports[0]}/hi")
            assert r.content == b'{"p":"/hi"}'
        tg.cancel_scope.cancel()


# -- reply objects (no I/O) ------------------------------------------------------------


def test_reply_validation() -> None:
    with pytest.raises(ValueError, match="3 chunks"):
        Reply.sse(SSE_CHUNKS, delay=[0.1])
    with pytest.raises(ValueError, match="negative"):
        Reply.sse(SSE_CHUNKS, delay=-1)
    with pytest.raises(ValueError, match="header"):
        Reply.json({}, headers={"x-bad": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="status"):
        Reply.raw(100, None, b"")
    with pytest.raises(ValueError, match="cannot carry a body"):
        Reply.raw(204, None, b"x")
    with pytest.raises(TypeError):
        Reply.sse(b"data: not a list\n\n")
    reply = Reply.sse(["data: é\n\n"])
    assert reply.chunks == ("data: é\n\n".encode(),)
    assert ("content-type", "text/event-stream") in reply.headers
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.status = 500  # type: ignore[misc]
    assert reply.kind == "stream"
    assert "stream" in repr(reply)
    assert Reply.stall().kind == "stall"
    srv = MockServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = srv.base_url
    with pytest.raises(TypeError):
        srv.enqueue({"a": 1})  # type: ignore[arg-type]
