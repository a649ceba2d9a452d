"""One HTTP exchange over raw ASGI: headers, a bounded body, a JSON or SSE answer, disconnects.

Raw ASGI, not a framework, so the few things the gateway must get right are
in plain sight: a body is refused as soon as it is too big (the declared
``Content-Length`` before reading anything, a chunked body at the byte that
crosses the limit), a body that stops arriving times out, and the moment the
client goes away (``http.disconnect``) the upstream call is cancelled.
``Problem`` is any answer that is an error; ``errors.py`` renders it in the
caller's protocol.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

import anyio

if TYPE_CHECKING:
    from ..types import Usage
    from .proxy import TrustedProxies

__all__ = [
    "JSON",
    "Disconnected",
    "Exchange",
    "Problem",
    "Protocol",
    "Receive",
    "Scope",
    "Send",
    "stream_flag",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Protocol = Literal["openai", "anthropic", "responses"]
"""Whose shape the caller speaks: error bodies and stream events follow it (``responses``:
OpenAI's Responses API, OpenAI's error bodies and its own stream events)."""

JSON = b"application/json"
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # a proxy in front must not hold the events back
]


class Problem(Exception):
    """An error answer: HTTP ``status`` and what the body says.

    ``type`` is the OpenAI-style error type (for an upstream failure, the
    upstream error's class, e.g. ``timeout_error``); ``upstream`` says the
    failure was the provider's, not the caller's; ``retry_after`` becomes a
    ``Retry-After`` header; ``close`` asks for the connection to be closed
    (a body left unread).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        upstream: bool = False,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retry_after = retry_after
        self.upstream = upstream
        self.close = close


class Disconnected(Exception):
    """The client went away: there is nobody left to answer."""


def stream_flag(value: object) -> bool:
    """A body's ``stream``: ``true``, ``false`` or absent (``null``); else a 400 naming it."""
    if value is not None and not isinstance(value, bool):
        raise Problem(400, "stream: must be true or false", param="stream")
    return bool(value)


class Exchange:
    """One request and its answer; the handlers read and write through it.

    ``started`` is true once the response head went out (an error after it
    must be an event in the stream); ``done`` once the body ended.
    ``disconnected`` is set when the client left. ``client`` and ``scheme``
    are the caller's address and ``http``/``https``: the connection's, or
    what trusted ``proxies`` forwarded (``proxy.py``). ``ending`` is set by a
    stream whose failure needs its own state (``errors.last_events``).

    What the metrics read when the request is over: ``status`` (0 until a
    head was sent), ``first_event`` (the ``time.perf_counter()`` of a
    stream's first written event, 0 before), and what the handlers note:
    ``model`` (the served name it asked for), ``usage`` (its answer's) and
    ``error`` (the ``type`` of the problem that ended it).
    """

    __slots__ = (
        "_origin",
        "disconnected",
        "done",
        "ending",
        "error",
        "first_event",
        "headers",
        "heard_end",
        "method",
        "model",
        "path",
        "protocol",
        "proxies",
        "receive",
        "request_id",
        "scope",
        "send",
        "started",
        "status",
        "usage",
    )

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, proxies: TrustedProxies | None = None
    ) -> None:
        self.scope = scope
        self.proxies = proxies
        self._origin: tuple[str | None, str] | None = None
        self.receive = receive
        self.send = send
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
        self.protocol: Protocol = "openai"
        self.request_id = "req_" + secrets.token_hex(12)
        self.started = False
        self.done = False
        self.disconnected = False
        self.heard_end = False  # the watcher saw http.disconnect (and has returned)
        self.ending: Callable[[Problem], bytes] | None = None
        self.status = 0
        self.first_event = 0.0
        self.model: str | None = None
        self.usage: Usage | None = None
        self.error: str | None = None

    def header(self, name: bytes) -> bytes | None:
        """The value of header ``name`` (lower case), the first if repeated."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def client(self) -> str | None:
        """The caller's IP address (what the gateway logs), ``None`` when the server gave none."""
        return (self._origin or self._resolve())[0]

    @property
    def scheme(self) -> str:
        """``https`` or ``http``: how the caller reached us (through trusted proxies, if any)."""
        return (self._origin or self._resolve())[1]

    def _resolve(self) -> tuple[str | None, str]:
        peer = self.scope.get("client")
        host: str | None = peer[0] if peer else None
        scheme: str = self.scope.get("scheme", "http")
        if self.proxies is not None:
            forwarded = [v for k, v in self.headers if k == b"x-forwarded-for"]
            protos = [v for k, v in self.headers if k == b"x-forwarded-proto"]
            host, claimed = self.proxies.client(host, forwarded, protos)
            scheme = claimed or scheme
        self._origin = (host, scheme)
        return self._origin

    # -- the request body ---------------------------------------------------------------

    async def body(self, limit: int, seconds: float) -> bytes:
        """The whole body, at most ``limit`` bytes, arrived within ``seconds``.

        413 as soon as the declared or received size passes the limit (the
        rest is never read; the connection is closed after the answer), 408
        when the body stalls, ``Disconnected`` when the client left.
        """
        declared = self.header(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        parts: list[bytes] = []
        size = 0
        with anyio.move_on_after(seconds):
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    self.disconnected = True
                    raise Disconnected
                chunk: bytes = message.get("body", b"")
                more = message.get("more_body", False)
                if not parts and not more:
                    if len(chunk) > limit:
                        raise _too_large(limit)
                    return chunk  # the usual case: the whole body in one message
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                parts.append(chunk)
                if not more:
                    return b"".join(parts)
        raise Problem(
            408,
            f"the request body did not arrive within {seconds:g} s",
            code="request_timeout",
            close=True,
        )

    async def watch(self, scope: anyio.CancelScope) -> None:
        """Cancel ``scope`` when the client disconnects (run beside the upstream call).

        A disconnect after the answer is complete is just the exchange's end
        (hypercorn reports one as soon as the last byte is sent): the watcher
        then returns without cancelling anything.
        """
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.heard_end = True
                if not self.done:
                    self.disconnected = True
                    scope.cancel()
                return

    # -- the answer -----------------------------------------------------------------

    async def respond(
        self,
        status: int,
        body: bytes,
        *,
        content_type: bytes = JSON,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        """A whole answer at once."""
        self.started = True
        self.status = status
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", b"%d" % len(body)),
                    (b"x-request-id", self.request_id.encode()),
                    *headers,
                ],
            }
        )
        self.done = True
        await self.send({"type": "http.response.body", "body": body})

    async def begin_events(self) -> None:
        """Send the head of a 200 server-sent-events answer."""
        self.started = True
        self.status = 200
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_SSE_HEADERS, (b"x-request-id", self.request_id.encode())],
            }
        )

    async def write(self, data: bytes) -> None:
        """Send part of a streamed body (waits while the client reads slowly)."""
        if not self.first_event:
            self.first_event = time.perf_counter()
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        """End a streamed body (idempotent)."""
        if not self.done:
            self.done = True
            if data and not self.first_event:  # the whole stream came in one read
                self.first_event = time.perf_counter()
            await self.send({"type": "http.response.body", "body": data})


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        f"the request body is larger than this gateway accepts ({limit} bytes)",
        code="request_too_large",
        close=True,
    )
