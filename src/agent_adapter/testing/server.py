"""A real HTTP/1.1 mock provider server on h11 and anyio sockets.

The server listens on loopback, answers each request with the next scripted
:class:`~agent_adapter.testing.Reply` (or asks a handler), records every request, and
can misbehave at the wire level on demand. It runs on asyncio and trio alike (anyio
only) and its ``async with`` exit closes every socket and cancels every task.
"""

from __future__ import annotations

import inspect
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeAlias

import anyio
import anyio.abc
import anyio.streams.stapled
import h11
from anyio.abc import SocketAttribute

from .replies import RecordedRequest, Reply, _Kind

__all__ = ["Handler", "MockServer", "serve_forever"]

Handler: TypeAlias = Callable[[RecordedRequest], Reply | Awaitable[Reply]]
"""A request handler: gets the :class:`RecordedRequest`, returns a :class:`Reply`
(sync, or a coroutine for an ``async def`` handler)."""

_RECV_SIZE = 65536
_MAX_HEADER_BYTES = 256 * 1024
_LINGER_SECONDS = 60.0  # longest wait for the client to close after our FIN
# Network failures that end a connection quietly (the peer went away).
_NET_ERRORS = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    OSError,
)


class _Closed(Exception):
    """Internal: the exchange ended the connection."""


class MockServer:
    """A scripted HTTP/1.1 server on ``127.0.0.1`` and a free port, for tests.

    Use it as an async context manager::

        async with MockServer() as srv:
            srv.enqueue(Reply.json({"ok": True}))
            ...  # point a client at srv.base_url
            assert srv.requests[0].path == "/v1/chat/completions"

    Each request gets the next reply from the FIFO script (:meth:`enqueue`); when
    the script is empty, ``handler(request)`` is asked; without a handler the
    server answers 500 with a JSON error saying no reply was scripted. A handler
    that raises produces a 500 reply (its exception is kept in :attr:`errors`).
    Connections are kept alive across requests (HTTP/1.1 keep-alive, pipelining,
    ``Expect: 100-continue`` and chunked request bodies are handled by h11).
    Request bodies above ``max_request_bytes`` get a 413 reply.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_request_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.handler: Handler | None = handler
        """Called for a request when the script is empty (may be replaced at any time)."""
        self.requests: list[RecordedRequest] = []
        """Every complete request received, in arrival order."""
        self.errors: list[BaseException] = []
        """Exceptions raised by the handler (each answered with a 500) or, should it
        ever happen, by the server itself while serving a connection."""
        self.connections_opened = 0
        """Number of connections accepted so far."""
        self.connections_closed = 0
        """Number of connections that have ended (closed by either side)."""
        self.client_disconnects = 0
        """Times the client went away while the server was still sending a body or
        stalling (counted before the connection is counted as closed)."""
        self._host = host
        self._requested_port = port
        self._max_request_bytes = max_request_bytes
        self._queue: deque[Reply] = deque()
        self._port: int | None = None
        self._listener: anyio.streams.stapled.MultiListener[anyio.abc.SocketStream] | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._changed: anyio.Event | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> MockServer:
        if self._task_group is not None:
            raise RuntimeError("MockServer is already running")
        listener = await anyio.create_tcp_listener(
            local_host=self._host, local_port=self._requested_port
        )
        try:
            self._port = listener.extra(SocketAttribute.local_port)
            task_group = anyio.create_task_group()
            await task_group.__aenter__()
        except BaseException:
            await anyio.aclose_forcefully(listener)
            raise
        self._listener = listener
        self._task_group = task_group
        for sub in listener.listeners:
            task_group.start_soon(self._accept_loop, sub, task_group)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task_group, listener = self._task_group, self._listener
        self._task_group = self._listener = None
        if task_group is None or listener is None:
            return
        try:
            task_group.cancel_scope.cancel()
            # Exit without the body's exception: the connection tasks never raise, so
            # the body's own exception (if any) propagates unchanged, not in a group.
            await task_group.__aexit__(None, None, None)
        finally:
            await anyio.aclose_forcefully(listener)

    # -- public helpers -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only while running)."""
        if self._port is None:
            raise RuntimeError("MockServer is not running: use `async with MockServer()`")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (only while running)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """Number of connections currently open."""
        return self.connections_opened - self.connections_closed

    @property
    def pending(self) -> int:
        """Number of scripted replies not used yet."""
        return len(self._queue)

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the script; each request consumes the oldest one."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"expected a Reply, got {type(reply).__name__}")
        self._queue.extend(replies)

    async def wait_for_closed(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a default keeps tests short
        """Wait until at least ``n`` connections have closed (``TimeoutError`` if not)."""
        await self._wait(lambda: self.connections_closed >= n, timeout, f"{n} closed connections")

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a default keeps tests short
        """Wait until at least ``n`` requests were received (``TimeoutError`` if not)."""
        await self._wait(lambda: len(self.requests) >= n, timeout, f"{n} requests")

    async def wait_for_client_disconnects(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a default keeps tests short
        """Wait until ``client_disconnects >= n`` (``TimeoutError`` if not)."""
        await self._wait(lambda: self.client_disconnects >= n, timeout, f"{n} client disconnects")

    async def _wait(self, done: Callable[[], bool], seconds: float, what: str) -> None:
        try:
            with anyio.fail_after(seconds):
                while not done():
                    if self._changed is None:
                        self._changed = anyio.Event()
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"mock server: no {what} after {seconds}s (requests={len(self.requests)}, "
                f"opened={self.connections_opened}, closed={self.connections_closed}, "
                f"client_disconnects={self.client_disconnects})"
            ) from None

    def _notify(self) -> None:
        event = self._changed
        if event is not None:
            self._changed = None
            event.set()

    # -- serving --------------------------------------------------------------------

    async def _accept_loop(
        self,
        listener: anyio.abc.Listener[anyio.abc.SocketStream],
        task_group: anyio.abc.TaskGroup,
    ) -> None:
        assert isinstance(listener, anyio.abc.SocketListener)
        while True:
            try:
                stream = await listener.accept()
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            except OSError:  # e.g. out of file descriptors: back off, keep serving
                await anyio.sleep(0.01)
                continue
            self.connections_opened += 1
            task_group.start_soon(self._serve_connection, stream, self.connections_opened)
            self._notify()

    async def _serve_connection(self, stream: anyio.abc.SocketStream, connection_id: int) -> None:
        try:
            await _Connection(self, stream, connection_id).run()
        except (*_NET_ERRORS, h11.ProtocolError, _Closed):
            pass
        except Exception as exc:  # a bug: keep serving other connections, keep the trace
            self.errors.append(exc)
        finally:
            try:
                await anyio.aclose_forcefully(stream)
            finally:
                self.connections_closed += 1
                self._notify()

    async def _reply_for(self, request: RecordedRequest) -> Reply:
        if self._queue:
            return self._queue.popleft()
        handler = self.handler
        if handler is None:
            return _server_error(
                f"mock server: no scripted reply for {request.method} {request.path}"
            )
        try:
            reply = handler(request)
            if inspect.isawaitable(reply):
                reply = await reply
            if not isinstance(reply, Reply):
                raise TypeError(f"handler returned {type(reply).__name__}, not a Reply")
        except Exception as exc:
            self.errors.append(exc)
            return _server_error(f"mock server: handler raised {type(exc).__name__}: {exc}")
        return reply


def _server_error(message: str, status: int = 500) -> Reply:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return Reply.error(status, {"error": {"message": message, "type": kind}})


class _Connection:
    """One accepted connection: read requests, write replies, until either side ends."""

    __slots__ = ("conn", "head", "id", "server", "stream")

    def __init__(self, server: MockServer, stream: anyio.abc.SocketStream, cid: int) -> None:
        self.server = server
        self.stream = stream
        self.id = cid
        self.conn = self._new_h11()
        self.head = False

    @staticmethod
    def _new_h11() -> h11.Connection:
        return h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEADER_BYTES)

    async def run(self) -> None:
        server = self.server
        while True:
            request, keep_alive = await self._read_request()
            if request is None:
                return
            server.requests.append(request)
            server._notify()
            reply = await server._reply_for(request)
            self.head = request.method == "HEAD"
            if keep_alive and not self.head and reply._wire is not None:
                # Fast path: the whole response was encoded when the reply was built.
                await self._send_or_disconnect(reply._wire)
            else:
                await self._send_reply(reply)
                if self.conn.our_state is not h11.DONE:
                    await self._close_gracefully()
                    return
            # Next request: a fresh h11 state machine fed with whatever was pipelined.
            data, closed = self.conn.trailing_data
            self.conn = self._new_h11()
            if data:
                self.conn.receive_data(data)
            if closed:
                self.conn.receive_data(b"")

    # -- reading --------------------------------------------------------------------

    async def _read_request(self) -> tuple[RecordedRequest | None, bool]:
        conn = self.conn
        limit = self.server._max_request_bytes
        request: h11.Request | None = None
        body: list[bytes] = []
        size = 0
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    if conn.they_are_waiting_for_100_continue:
                        await self.stream.send(
                            conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                        )
                    try:
                        data = await self.stream.receive(_RECV_SIZE)
                    except anyio.EndOfStream:
                        data = b""
                    conn.receive_data(data)
                elif isinstance(event, h11.Request):
                    request = event
                    declared = _content_length(event.headers)
                    if declared is not None and declared > limit:
                        await self._refuse_too_large(limit)
                elif isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > limit:
                        await self._refuse_too_large(limit)
                    body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    assert request is not None
                    return self._record(request, b"".join(body)), _keep_alive(request)
                elif isinstance(event, h11.ConnectionClosed):
                    return None, False
                else:  # PAUSED cannot happen before the request is complete
                    raise _Closed
        except h11.RemoteProtocolError as exc:
            # Malformed request (or EOF mid-request): answer if we still can, then close.
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and conn.their_state is h11.ERROR:
                status = exc.error_status_hint
                await self._send_plain(
                    _server_error(f"mock server: bad request: {exc}", status=status)
                )
                await self._close_gracefully()
            raise _Closed from None

    async def _refuse_too_large(self, limit: int) -> None:
        msg = f"mock server: request body larger than {limit} bytes"
        await self._send_plain(_server_error(msg, status=413))
        await self._close_gracefully()
        raise _Closed

    def _record(self, request: h11.Request, body: bytes) -> RecordedRequest:
        header_list = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw_items()
        ]
        headers: dict[str, str] = {}
        for name, value in header_list:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return RecordedRequest(
            method=request.method.decode("ascii"),
            path=request.target.decode("latin-1"),
            headers=headers,
            header_list=header_list,
            body=body,
            connection_id=self.id,
            http_version=request.http_version.decode("ascii"),
        )

    # -- writing --------------------------------------------------------------------

    def _bytes(self, *events: h11.Event | None) -> bytes:
        conn = self.conn
        out: list[bytes] = []
        for event in events:
            assert event is not None
            if isinstance(event, h11.Data) and self.head:
                continue
            data = conn.send(event)
            if data:
                out.append(data)
        return b"".join(out)

    async def _send_or_disconnect(self, data: bytes) -> None:
        """Send; if the peer is gone, count a client disconnect and end the connection."""
        try:
            await self.stream.send(data)
        except _NET_ERRORS:
            self.server.client_disconnects += 1
            self.server._notify()
            raise _Closed from None

    async def _send_plain(self, reply: Reply) -> None:
        assert reply._response is not None
        try:
            await self.stream.send(
                self._bytes(reply._response, h11.Data(data=reply.body), h11.EndOfMessage())
            )
        except _NET_ERRORS:
            raise _Closed from None

    async def _send_reply(self, reply: Reply) -> None:
        kind = reply.kind
        response = reply._response
        if kind is _Kind.BODY:
            assert response is not None
            await self._send_or_disconnect(
                self._bytes(response, h11.Data(data=reply.body), h11.EndOfMessage())
            )
        elif kind is _Kind.STREAM:
            if reply.coalesce and not any(reply.delays):
                joined = b"".join(reply.chunks)
                await self._send_or_disconnect(
                    self._bytes(response, h11.Data(data=joined), h11.EndOfMessage())
                )
            elif not any(reply.delays):
                await self._send_or_disconnect(self._bytes(response))
                for chunk in reply.chunks:
                    await self._send_or_disconnect(self._bytes(h11.Data(data=chunk)))
                await self._send_or_disconnect(self._bytes(h11.EndOfMessage()))
            else:
                await self._guarded(self._write_paced, reply)
        elif kind is _Kind.RESET_BEFORE_HEADERS:
            await self._abort()
        elif kind is _Kind.RESET_MID_BODY:
            await self._send_or_disconnect(self._bytes(response))
            for chunk in reply.chunks[: reply.after]:
                await self._send_or_disconnect(self._bytes(h11.Data(data=chunk)))
            await self._abort()
        elif kind is _Kind.TRUNCATED_CHUNKED:
            data = [h11.Data(data=chunk) for chunk in reply.chunks]
            await self._send_or_disconnect(self._bytes(response, *data))
            await self._close_gracefully()
            raise _Closed
        elif kind is _Kind.STALL:
            await self._guarded(self._write_stall, reply)
            await self._close_gracefully()
            raise _Closed
        elif kind is _Kind.TRICKLE:
            await self._guarded(self._write_trickle, reply)
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(kind)

    async def _write_paced(self, reply: Reply) -> None:
        stream = self.stream
        await stream.send(self._bytes(reply._response))
        for pause, chunk in zip(reply.delays, reply.chunks, strict=True):
            if pause:
                await anyio.sleep(pause)
            data = self._bytes(h11.Data(data=chunk))
            if data:
                await stream.send(data)
        await stream.send(self._bytes(h11.EndOfMessage()))

    async def _write_stall(self, reply: Reply) -> None:
        if reply.headers_first:
            await self.stream.send(self._bytes(reply._response))
        if reply.seconds is None:
            await anyio.sleep_forever()
        else:
            await anyio.sleep(reply.seconds)

    async def _write_trickle(self, reply: Reply) -> None:
        stream = self.stream
        await stream.send(self._bytes(reply._response))
        body, size = reply.body, reply.size
        if not self.head:
            for start in range(0, len(body), size):
                await anyio.sleep(reply.every)
                await stream.send(self._bytes(h11.Data(data=body[start : start + size])))
        end = self._bytes(h11.EndOfMessage())
        if end:
            await stream.send(end)

    async def _guarded(self, write: Callable[[Reply], Awaitable[None]], reply: Reply) -> None:
        """Run a slow write while watching the socket for the client going away.

        Bytes that arrive meanwhile (a pipelined request) are kept for later; an end
        of stream or an error means the client left: the write is abandoned, the
        disconnect counted, and the connection ends.
        """
        gone = False
        conn = self.conn
        limit = self.server._max_request_bytes

        async def watch() -> None:
            nonlocal gone
            try:
                while True:
                    data = await self.stream.receive(_RECV_SIZE)
                    conn.receive_data(data)
                    if len(conn.trailing_data[0]) > limit:
                        await anyio.sleep_forever()  # enough buffered: stop reading
            except _NET_ERRORS:
                gone = True
                task_group.cancel_scope.cancel()

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(watch)
            try:
                await write(reply)
            except _NET_ERRORS:
                gone = True
            task_group.cancel_scope.cancel()
        if gone:
            self.server.client_disconnects += 1
            self.server._notify()
            raise _Closed

    # -- closing --------------------------------------------------------------------

    async def _abort(self) -> None:
        """Close abortively: SO_LINGER 0 makes the kernel send a reset (RST)."""
        try:
            raw = self.stream.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except (OSError, anyio.TypedAttributeLookupError):
            pass  # fall back to a plain close
        await anyio.aclose_forcefully(self.stream)
        raise _Closed

    async def _close_gracefully(self) -> None:
        """Send FIN, then drain the socket until the client closes too (bounded).

        Waiting for the client's end of stream guarantees every byte sent before was
        delivered (anyio's asyncio close discards unsent data) and avoids a reset
        caused by unread request bytes.
        """
        stream = self.stream
        try:
            await stream.send_eof()
            with anyio.move_on_after(_LINGER_SECONDS):
                while True:
                    await stream.receive(_RECV_SIZE)
        except _NET_ERRORS:
            pass


def _content_length(headers: Any) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _keep_alive(request: h11.Request) -> bool:
    """True if this HTTP/1.1 request allows the connection to be reused."""
    if request.http_version != b"1.1":
        return False
    for name, value in request.headers:
        if name == b"connection" and b"close" in value.lower():
            return False
    return True


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    handler: Handler | None = None,
    ready: Callable[[int], None] | None = None,
    *,
    max_request_bytes: int = 64 * 1024 * 1024,
) -> None:
    """Run a :class:`MockServer` until cancelled (e.g. Ctrl-C in ``anyio.run``).

    ``ready(port)`` is called once the server is listening (``port`` 0 picks a free
    one); ``handler`` answers every request (without one every request gets a 500).
    """
    async with MockServer(
        handler, host=host, port=port, max_request_bytes=max_request_bytes
    ) as server:
        if ready is not None:
            ready(server.port)
        await anyio.sleep_forever()
