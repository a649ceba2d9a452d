"""The only module that touches the network: HTTP/1.1 over h11, on httpcore's network streams.

httpcore supplies the sockets (its anyio backend: connect with a timeout,
TLS, per-read timeouts, a cheap "has the server closed this idle socket?"
check). We drive h11 ourselves and keep a plain per-origin stack of idle
connections: httpcore's pool scans every connection under a lock on each
request (encode/httpcore#1035), and its nested body generators cannot be
closed deterministically when a stream is abandoned, which trio reports as
leaked async generators. Here, taking and returning a connection is a list
pop and append, and closing a response closes its socket at once.

A connection goes back to the pool only when its response was read to the
end; a response closed early (cancelled, abandoned, errored, ``break``)
closes its connection, so a half-read stream can never be reused.

HTTP proxies come from ``proxy=`` or from ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``ALL_PROXY`` honouring ``NO_PROXY``: plain-HTTP targets are forwarded,
HTTPS targets tunnelled with ``CONNECT``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import select
import socket
import ssl
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import anyio
import h11
import httpcore

from .errors import AdapterError, APIConnectionError, StreamError, TimeoutError, ValidationError

if TYPE_CHECKING:
    from .providers.base import HttpRequest
    from .resilience import Timeouts

__all__ = ["Response", "Transport"]

MAX_BODY_BYTES = 64 << 20
"""Largest non-streamed body we read; a bigger one is an error, not unbounded memory."""

READ_SIZE = 64 << 10
CLOSE_SECONDS = 2.0

_Origin = tuple[str, str, int]  # scheme, host, port


class _Connection:
    """One HTTP/1.1 connection: an h11 state machine over an httpcore network stream."""

    __slots__ = ("connect_time", "expires", "h11", "key", "sock", "stream")

    def __init__(
        self, stream: httpcore.AsyncNetworkStream, key: tuple[Any, ...], connect_time: float = 0.0
    ) -> None:
        self.stream = stream
        self.key = key
        self.sock: socket.socket | None = stream.get_extra_info("socket")
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=256 << 10)
        self.expires = 0.0  # set when pooled: a connection with expires > 0 has been used
        self.connect_time = connect_time  # seconds its TCP + TLS + proxy setup took

    def stale(self) -> bool:
        """Whether an idle connection may no longer be used (expired, or closed by the server).

        An idle HTTP/1.1 socket with something to read can only be about to
        say EOF (or hold garbage): either way it must not be reused.
        """
        return time.monotonic() > self.expires or _readable(self.sock)

    async def send(self, *events: h11.Event, timeout: float | None) -> None:  # noqa: ASYNC109 - httpcore's streams take per-call timeouts
        try:
            send = self.h11.send
            data = b"".join([send(event) or b"" for event in events])
            await self.stream.write(data, timeout=timeout)
        except _WIRE_ERRORS as exc:
            raise _translate(exc) from exc

    async def next_event(self, timeout: float | None) -> Any:  # noqa: ASYNC109 - per-read timeout, as httpcore's streams take it
        try:
            while True:
                event = self.h11.next_event()
                if event is not h11.NEED_DATA:
                    return event
                self.h11.receive_data(await self.stream.read(READ_SIZE, timeout=timeout))
        except _WIRE_ERRORS as exc:
            raise _translate(exc) from exc

    def abort(self) -> None:
        """Shut the socket down without awaiting (for abandoned streams, from ``__del__``).

        The peer sees the connection end at once; the descriptor itself is
        freed when the stream object is collected.
        """
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    async def aclose(self) -> None:
        # Shielded so a cancelled caller still closes; bounded so a dead peer cannot hang it;
        # a broken socket raising on close leaves nothing to save.
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(CLOSE_SECONDS),
            contextlib.suppress(Exception),
        ):
            await self.stream.aclose()


class Response:
    """A response whose body is read incrementally.

    ``next_chunk()`` returns every body byte that has arrived (waiting for
    the network only when none has), ``b""`` at the end. ``aclose()``
    (idempotent, cancel-safe) hands the connection back to the pool if the
    body was read to the end and closes it otherwise.

    ``connect`` is the seconds a new connection took to set up (TCP, TLS,
    proxy; 0 for a pooled one, then ``reused`` is true) and ``ttfb`` the
    seconds from the request written to the response head.
    """

    __slots__ = (
        "_conn",
        "_finished",
        "_pool",
        "_read_timeout",
        "connect",
        "headers",
        "reused",
        "status",
        "ttfb",
    )

    def __init__(
        self,
        conn: _Connection,
        status: int,
        headers: list[tuple[bytes, bytes]],
        read_timeout: float | None,
        pool: Transport,
        *,
        reused: bool = False,
        ttfb: float = 0.0,
    ) -> None:
        self.status = status
        self.headers = headers
        self.reused = reused
        self.connect = 0.0 if reused else conn.connect_time
        self.ttfb = ttfb
        self._conn = conn
        self._read_timeout = read_timeout
        self._pool: Transport | None = pool  # None once released
        self._finished = False

    async def next_chunk(self) -> bytes:
        """The next piece of body, ``b""`` at the end."""
        if self._finished:
            return b""
        conn = self._conn
        event = await conn.next_event(self._read_timeout)
        parts: list[bytes] = []
        while True:
            if type(event) is h11.Data:
                parts.append(event.data)
            elif type(event) is h11.EndOfMessage or type(event) is h11.ConnectionClosed:
                self._finished = True
                break
            try:
                event = conn.h11.next_event()  # drain what is already buffered, no waiting
            except h11.ProtocolError as exc:
                raise _translate(exc) from exc
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
        if len(parts) == 1:
            return bytes(parts[0])
        return b"".join(parts)

    async def read(self, limit: int = MAX_BODY_BYTES) -> bytes:
        """The rest of the body (at most ``limit`` bytes, else ``StreamError``)."""
        parts: list[bytes] = []
        size = 0
        while chunk := await self.next_chunk():
            size += len(chunk)
            if size > limit:
                raise StreamError(f"response body exceeds {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    @property
    def finished(self) -> bool:
        """Whether the body was read to its end (the connection can be reused)."""
        return self._finished

    async def aclose(self) -> None:
        """Release the connection: back to the pool if finished, closed otherwise."""
        pool, self._pool = self._pool, None
        if pool is not None and not pool.repool(self._conn, self._finished):
            await self._conn.aclose()  # shielded and bounded

    def abort(self) -> bool:
        """Drop an unreleased connection synchronously; True if there was one to drop."""
        pool, self._pool = self._pool, None
        if pool is None:
            return False
        self._conn.abort()
        pool.forget(self._conn)
        return True


class Transport:
    """A pool of HTTP/1.1 connections, one idle stack per origin.

    ``max_connections`` bounds connections in use at once (further requests
    wait); ``max_idle_per_origin`` bounds the idle ones kept for reuse;
    ``keepalive_expiry`` drops idle connections after that many seconds.
    """

    def __init__(
        self,
        *,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 256,
        max_idle_per_origin: int = 64,
        keepalive_expiry: float = 30.0,
        trust_env: bool = True,
    ) -> None:
        self._ssl_context = ssl_context
        self._backend = httpcore.AnyIOBackend()
        self._idle: dict[tuple[Any, ...], list[_Connection]] = {}
        self._in_use: set[_Connection] = set()
        self._aborted: list[_Connection] = []
        # fast_acquire: a free slot is taken without a task switch (the request's own network
        # I/O follows at once and is the checkpoint); a full pool still waits in FIFO order.
        self._slots = anyio.Semaphore(max_connections, fast_acquire=True)
        self._max_idle = max_idle_per_origin
        self._keepalive_expiry = keepalive_expiry
        self._proxy = _proxy_origin(proxy) if proxy else None
        self._env_proxies = _proxy_env() if trust_env and proxy is None else {}
        self._origins: dict[str, _Origin] = {}
        self._hosts: dict[_Origin, bytes] = {}  # the Host header of each origin, encoded once
        self._closed = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context: the system's defaults (created on first HTTPS use)."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    @property
    def idle_connections(self) -> int:
        """How many connections sit in the pool ready for reuse."""
        return sum(len(stack) for stack in self._idle.values())

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> Response:
        """Send ``request`` and return once the status and headers arrived.

        The caller must ``aclose()`` the response (``ChatStream`` and
        ``Client.chat`` do, in ``finally`` blocks). A pooled connection that
        turns out to be dead before any response byte is replaced by a fresh
        one, once.
        """
        if self._closed:
            raise APIConnectionError("the client is closed")
        while self._aborted:
            await self._aborted.pop().aclose()
        origin, target = self._target(request.url)
        proxy = self._proxy_for(origin)
        if proxy is not None and origin[0] == "http":
            target = request.url.encode("ascii")  # forwarding proxy: absolute form
        host = self._hosts.get(origin)
        if host is None:
            host = self._hosts[origin] = _host_header(origin)
        headers = [
            (b"host", host),
            (b"content-length", str(len(request.body)).encode("ascii")),
            *request.headers,
        ]
        if proxy is not None and origin[0] == "http" and proxy[1]:
            headers.append((b"proxy-authorization", proxy[1]))
        head = h11.Request(method=request.method, target=target, headers=headers)
        body = h11.Data(data=request.body) if request.body else None
        key = (origin, proxy[0] if proxy else None)
        await self._slots.acquire()
        try:
            for attempt in range(2):
                conn = await self._acquire(key, origin, proxy, timeouts, fresh=attempt > 0)
                reused = conn.h11.their_state is h11.IDLE and conn.expires > 0
                self._in_use.add(conn)
                try:
                    events = (
                        (head, body, h11.EndOfMessage()) if body else (head, h11.EndOfMessage())
                    )
                    await conn.send(*events, timeout=timeouts.read)
                    written = time.perf_counter()
                    event = await conn.next_event(timeouts.read)
                    while type(event) is h11.InformationalResponse:
                        event = await conn.next_event(timeouts.read)
                    ttfb = time.perf_counter() - written
                    break
                except APIConnectionError as error:
                    self._in_use.discard(conn)
                    await conn.aclose()
                    if not reused or isinstance(error, TimeoutError):
                        raise
                except BaseException:
                    self._in_use.discard(conn)
                    await conn.aclose()
                    raise
        except BaseException:
            self._slots.release()
            raise
        if not isinstance(event, h11.Response):
            await self.release(conn, False)
            raise APIConnectionError(f"unexpected response event {type(event).__name__}")
        return Response(
            conn,
            event.status_code,
            list(event.headers),
            timeouts.read,
            self,
            reused=reused,
            ttfb=ttfb,
        )

    def forget(self, conn: _Connection) -> None:
        """Free an aborted connection's slot; its socket is closed on the next call or aclose."""
        if conn in self._in_use:
            self._in_use.discard(conn)
            self._slots.release()
            self._aborted.append(conn)

    async def release(self, conn: _Connection, finished: bool) -> None:
        """Take back a connection: pooled if its exchange finished cleanly, else closed."""
        if not self.repool(conn, finished):
            await conn.aclose()

    def repool(self, conn: _Connection, finished: bool) -> bool:
        """Free ``conn``'s slot and pool it if its exchange finished cleanly; False: close it.

        Synchronous, so the common release (back to the pool) needs no await
        and no shielded scope; only a connection to close is awaited.
        """
        self._in_use.discard(conn)
        self._slots.release()
        if finished and not self._closed and conn.h11.our_state is h11.DONE:
            try:
                conn.h11.start_next_cycle()
            except h11.LocalProtocolError:  # the server asked to close
                return False
            stack = self._idle.get(conn.key)
            if stack is None:
                stack = self._idle[conn.key] = []
            if len(stack) < self._max_idle:
                conn.expires = time.monotonic() + self._keepalive_expiry
                stack.append(conn)
                return True
        return False

    async def _acquire(
        self,
        key: tuple[Any, ...],
        origin: _Origin,
        proxy: tuple[_Origin, bytes | None] | None,
        timeouts: Timeouts,
        *,
        fresh: bool,
    ) -> _Connection:
        stack = self._idle.get(key)
        while stack and not fresh:
            conn = stack.pop()
            if not conn.stale():
                return conn
            await conn.aclose()
        return await self._connect(key, origin, proxy, timeouts)

    async def _connect(
        self,
        key: tuple[Any, ...],
        origin: _Origin,
        proxy: tuple[_Origin, bytes | None] | None,
        timeouts: Timeouts,
    ) -> _Connection:
        scheme, host, port = proxy[0] if proxy else origin
        began = time.perf_counter()
        try:
            stream = await self._backend.connect_tcp(host, port, timeout=timeouts.connect)
            try:
                if scheme == "https":
                    stream = await stream.start_tls(
                        self.ssl_context, server_hostname=host, timeout=timeouts.connect
                    )
                if proxy is not None and origin[0] == "https":
                    await _tunnel(stream, origin, proxy[1], timeouts)
                    stream = await stream.start_tls(
                        self.ssl_context, server_hostname=origin[1], timeout=timeouts.connect
                    )
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                raise
        except _WIRE_ERRORS as exc:
            raise _translate(exc) from exc
        return _Connection(stream, key, time.perf_counter() - began)

    def _target(self, url: str) -> tuple[_Origin, bytes]:
        """(scheme, host, port) and request target of ``url``; origins cached per prefix."""
        cut = url.find("/", url.find("//") + 2)
        prefix = url if cut < 0 else url[:cut]
        origin = self._origins.get(prefix)
        if origin is None:
            origin = _parse_origin(prefix, field="base_url")
            self._origins[prefix] = origin
        target = url[len(prefix) :] if cut >= 0 else "/"
        if not target.isascii():
            target = urllib.parse.quote(target, safe="/?&=:%+,;@!$'()*~")
        return origin, target.encode("ascii")

    def _proxy_for(self, origin: _Origin) -> tuple[_Origin, bytes | None] | None:
        if self._proxy is not None:
            return self._proxy
        if not self._env_proxies or _bypassed(origin[1], self._env_proxies.get("no", "")):
            return None
        url = self._env_proxies.get(origin[0]) or self._env_proxies.get("all")
        return _proxy_origin(url) if url else None

    async def aclose(self) -> None:
        """Close every connection, idle or in use."""
        self._closed = True
        connections = [c for stack in self._idle.values() for c in stack]
        connections.extend(self._in_use)
        connections.extend(self._aborted)
        self._idle.clear()
        self._in_use.clear()
        self._aborted.clear()
        for conn in connections:
            await conn.aclose()


async def _tunnel(
    stream: httpcore.AsyncNetworkStream, origin: _Origin, auth: bytes | None, timeouts: Timeouts
) -> None:
    """Ask an HTTP proxy for a ``CONNECT`` tunnel to ``origin``."""
    authority = f"{origin[1]}:{origin[2]}".encode()
    headers = [(b"host", authority)] + ([(b"proxy-authorization", auth)] if auth else [])
    conn = _Connection(stream, ())
    await conn.send(
        h11.Request(method="CONNECT", target=authority, headers=headers), timeout=timeouts.connect
    )
    event = await conn.next_event(timeouts.connect)
    if not isinstance(event, h11.Response) or not 200 <= event.status_code < 300:
        status = getattr(event, "status_code", None)
        raise APIConnectionError(f"the proxy refused the tunnel (status {status})", status=status)


def _parse_origin(url: str, *, field: str) -> _Origin:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"unsupported URL {url!r} (need http:// or https://)", field=field)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError(f"bad port in {url!r}", field=field) from None
    return parts.scheme, parts.hostname, port


def _proxy_origin(url: str) -> tuple[_Origin, bytes | None]:
    """The proxy's origin and its ``Proxy-Authorization`` value (from user:password@)."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https"):
        raise ValidationError(
            f"unsupported proxy scheme {parts.scheme!r} (http and https proxies are)", field="proxy"
        )
    auth = None
    if parts.username is not None:
        raw = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        auth = b"Basic " + base64.b64encode(raw.encode())
    netloc = parts.netloc.rpartition("@")[2]
    return _parse_origin(f"{parts.scheme}://{netloc}", field="proxy"), auth


def _host_header(origin: _Origin) -> bytes:
    scheme, host, port = origin
    default = 443 if scheme == "https" else 80
    return host.encode("idna") if port == default else f"{host}:{port}".encode("idna")


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether NO_PROXY (hosts or domain suffixes, comma-separated; ``*`` = all) covers ``host``."""
    host = host.lower()
    for raw in no_proxy.lower().split(","):
        entry = raw.strip().lstrip(".")
        if entry.count(":") == 1:
            entry = entry.partition(":")[0]  # "host:port": ports are not distinguished
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


def _proxy_env() -> dict[str, str]:
    """``{"https": url, "all": url, "no": "hosts"}`` from the environment, read once."""
    found: dict[str, str] = {}
    for key, value in os.environ.items():
        lower = key.lower()
        if value and lower.endswith("_proxy"):
            found.setdefault(lower[: -len("_proxy")], value)
    return found


_WIRE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    h11.ProtocolError,
    OSError,
)
"""What the network layer raises; ``_translate`` turns each into one of our errors."""


def _translate(exc: BaseException) -> AdapterError:
    """Our error for an httpcore/h11/socket exception, naming which deadline fired."""
    if isinstance(exc, httpcore.ConnectTimeout):
        return TimeoutError("connect timeout", which="connect")
    if isinstance(exc, httpcore.TimeoutException):
        return TimeoutError("read timeout: the server sent nothing in time", which="read")
    if isinstance(exc, h11.LocalProtocolError):
        return ValidationError(f"invalid HTTP request: {exc}", field="headers")
    if isinstance(exc, h11.RemoteProtocolError):
        return APIConnectionError(f"HTTP protocol error: {exc}")
    return APIConnectionError(f"connection error: {exc or type(exc).__name__}")


def _readable(sock: socket.socket | None) -> bool:
    """Whether ``sock`` has something to read right now (a zero-timeout poll)."""
    if sock is None:
        return False
    try:
        if not hasattr(select, "poll"):  # Windows
            return bool(select.select([sock], [], [], 0)[0])
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed or unusable: treat as stale
        return True
