"""``/v1/ws``: chat completions over one WebSocket, many at once, each cancellable.

The key goes on the upgrade request (``Authorization: Bearer <key>``) and is
checked before the socket is accepted. A missing or wrong key (or another
path) is refused with an ordinary HTTP answer: 401 (or 404) with OpenAI's
error body, through the ASGI ``websocket.http.response`` extension, which
hypercorn implements. Clients that can send the header (SDKs, servers,
``websockets``, ``wsproto``) see the status and body as on HTTP and do not
mistake a refused key for a dropped connection worth retrying; a browser
sees a failed handshake either way (it can read neither the status nor a
close reason, and cannot set the header in the first place). Servers
without the extension get a close before accept, which they answer 403.
See https://asgi.readthedocs.io/en/latest/extensions.html#websocket-denial-response

Then every message is one JSON text (or binary) message. In::

    {"type": "chat", "id": "r1", "body": {...}}  # an OpenAI chat completions body
    {"type": "cancel", "id": "r1"}

Out::

    {"type": "chunk", "id": "r1", "chunk": {...}}     # a chat.completion.chunk (stream: true)
    {"type": "done", "id": "r1", "response": {...}}   # the chat.completion
    {"type": "error", "id": "r1", "error": {"message", "type", "param", "code"}}

A streamed request gets its ``chunk`` messages (exactly the objects
``/v1/chat/completions`` streams as SSE, finishing chunk and usage chunk
included) and then ``done`` with the whole ``chat.completion``; one that is
not gets just ``done``. Each accepted chat ends with exactly one ``done`` or
``error``: a cancelled one with ``error`` of type ``cancelled_error``, code
``cancelled``. A ``cancel`` for an id not in flight is ignored (it has just
ended, or never started). Errors carry ``retry_after`` (seconds) when
HTTP would send ``Retry-After``.

A message that is refused outright gets an ``error`` of its own and the
socket stays open: not JSON, not an object, or no string ``id`` (``id``
null); an unknown ``type``; a ``chat`` whose ``id`` is already in flight
(code ``duplicate_id``: the running request goes on) or beyond
``MAX_REQUESTS_PER_SOCKET`` (``rate_limit_error``). A message larger than
``max_body_bytes`` closes the socket with 1009. Each chat meets exactly what
an HTTP request meets (``chat_call``, ``Gateway.in_flight``, the key's model
list and rpm/tpm/max_streams through ``relay.settled``), in its own task in
the socket's task group: when the socket closes, every request still in
flight is cancelled and its upstream connection closed.

What one socket can hold: at most ``MAX_REQUESTS_PER_SOCKET`` requests, each
with at most one message waiting to be sent (sends are taken in turn, and a
stream is not read further while its message waits, so the upstream's TCP
window holds the rest); the server reads at most its queue of whole
messages ahead (hypercorn's ``max_app_queue_size``, 10), each below
``max_body_bytes``. A send that takes ``SEND_TIMEOUT`` closes the socket, and
a socket with nothing in flight for ``IDLE_TIMEOUT`` is closed (1000).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import msgspec

from ..errors import AdapterError
from ..openai_format import ChunkEncoder, chat_completion
from . import errors
from .http import JSON, Problem, Receive, Scope, Send
from .openai_routes import chat_call
from .relay import settled

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ..types import ChatResponse, Usage
    from .app import Gateway
    from .limits import Ticket
    from .settings import KeySettings

__all__ = [
    "CANCELLED",
    "IDLE_TIMEOUT",
    "MAX_ID_LENGTH",
    "MAX_REQUESTS_PER_SOCKET",
    "PATH",
    "SEND_TIMEOUT",
    "serve",
]

PATH = "/v1/ws"
MAX_REQUESTS_PER_SOCKET = 64
"""Chat requests in flight on one socket; beyond it a ``chat`` is refused (rate_limit_error)."""
MAX_ID_LENGTH = 256
"""Characters in a request ``id``: it is echoed in every message of its request."""
SEND_TIMEOUT = 30.0
"""Seconds one message may take to go out; a client that stops reading loses its socket."""
IDLE_TIMEOUT = 300.0
"""Seconds a socket with nothing in flight stays open (closed with 1000 by twice that)."""
_NOT_STREAMED = contextlib.nullcontext()
CANCELLED = Problem(499, "the request was cancelled", type="cancelled_error", code="cancelled")
"""What a cancelled request's last message says (499: nginx's "client closed request")."""

log = logging.getLogger("agent_adapter.gateway")
_decode = msgspec.json.Decoder().decode
_json = msgspec.json.Encoder().encode


async def serve(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """One WebSocket connection: authenticate the upgrade, accept, serve until it closes."""
    if (await receive())["type"] != "websocket.connect":
        return
    try:
        if scope["path"] != PATH:
            raise Problem(
                404,
                f"Unknown WebSocket URL: {scope['path']} (the endpoint is {PATH})",
                type="not_found_error",
                code="unknown_url",
            )
        key = None
        if gateway.keys.required:
            authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            key = gateway.authenticate(authorization, protocol="openai")
    except Problem as problem:
        await _deny(scope, send, problem)
        return
    await send({"type": "websocket.accept"})
    await _Socket(gateway, key, receive, send).run()


async def _deny(scope: Scope, send: Send, problem: Problem) -> None:
    """Refuse the handshake: an HTTP answer if the server can send one, else close (403)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    body = errors.render(problem, "openai")
    head = [(b"content-type", JSON), (b"content-length", b"%d" % len(body))]
    if problem.status == 401:
        head.append((b"www-authenticate", b"Bearer"))
    await send({"type": "websocket.http.response.start", "status": problem.status, "headers": head})
    await send({"type": "websocket.http.response.body", "body": body})


class _Socket:
    """One accepted socket: its reader, its requests in flight (by id), its sends in turn."""

    __slots__ = ("_group", "_key", "_limit", "_lock", "_receive", "_send", "gateway", "requests")

    def __init__(self, gateway: Gateway, key: KeySettings | None, receive: Receive, send: Send):
        self.gateway = gateway
        self.requests: dict[str, anyio.CancelScope] = {}
        self._key = key
        self._receive = receive
        self._send = send
        self._lock = anyio.Lock()  # one message at a time, in the order they were made
        self._limit = gateway.settings.max_body_bytes
        self._group: TaskGroup | None = None

    async def run(self) -> None:
        """Read messages until the socket closes; then cancel whatever is still in flight."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                await self._read()
            finally:
                group.cancel_scope.cancel()

    async def _read(self) -> None:
        while True:
            with anyio.move_on_after(IDLE_TIMEOUT) as waited:
                message = await self._receive()
            if waited.cancelled_caught:
                if self.requests:
                    continue
                await self._close(1000, "idle")
                return
            kind = message["type"]
            if kind == "websocket.disconnect":
                return
            if kind != "websocket.receive":
                continue
            text: str | None = message.get("text")
            raw: str | bytes = text if text is not None else message.get("bytes") or b""
            size = len(raw) if isinstance(raw, bytes) or raw.isascii() else len(raw.encode())
            if size > self._limit:
                await self._close(1009, f"message larger than {self._limit} bytes")
                return
            await self._handle(raw)

    async def _handle(self, raw: str | bytes) -> None:
        """Start a chat, cancel one, or answer with an error: never waits for a request."""
        try:
            message = _decode(raw)
        except msgspec.DecodeError as exc:
            await self._refuse(None, f"the message is not valid JSON: {exc}", code="invalid_json")
            return
        if not isinstance(message, dict):
            await self._refuse(None, "a message must be a JSON object", code="invalid_message")
            return
        rid = message.get("id")
        if not isinstance(rid, str) or not rid or len(rid) > MAX_ID_LENGTH:
            rid = None
        kind = message.get("type")
        if kind not in ("chat", "cancel"):
            await self._refuse(
                rid, "type: must be chat or cancel", param="type", code="unknown_type"
            )
        elif rid is None:
            await self._refuse(
                None, f"id: must be a string of 1 to {MAX_ID_LENGTH} characters", param="id"
            )
        elif kind == "cancel":
            scope = self.requests.get(rid)
            if scope is not None:
                scope.cancel()
        elif kind == "chat":
            body = message.get("body")
            if not isinstance(body, dict):
                await self._refuse(rid, "body: must be a chat completions body", param="body")
            elif rid in self.requests:
                await self._refuse(rid, "id: a request with it is in flight", code="duplicate_id")
            elif len(self.requests) >= MAX_REQUESTS_PER_SOCKET:
                await self._send_message(
                    _error(
                        rid,
                        Problem(
                            429,
                            f"{MAX_REQUESTS_PER_SOCKET} requests are in flight on this socket",
                            type="rate_limit_error",
                            code="too_many_requests",
                        ),
                    )
                )
            else:
                assert self._group is not None
                self.requests[rid] = scope = anyio.CancelScope()
                self._group.start_soon(self._chat, rid, body, scope)

    async def _chat(self, rid: str, body: dict[str, Any], scope: anyio.CancelScope) -> None:
        """One request, to its one last message (unless the socket closed first)."""
        noted = _Noted()
        started = time.perf_counter()
        try:
            last: bytes | None = None
            with scope:
                last = await self._answer(rid, body, noted)
            if scope.cancelled_caught:
                noted.disconnected = True  # counted as the client's leaving (499)
                last = _error(rid, CANCELLED)
        finally:
            del self.requests[rid]  # before the last message: the id may be reused at once
        if last is not None:
            await self._send_message(last)
            noted.done = not noted.disconnected
        gateway = self.gateway
        gateway.metrics.observe(noted, self._key, started, anonymous=not gateway.keys.required)

    async def _answer(self, rid: str, body: dict[str, Any], noted: _Noted) -> bytes:
        """The request's ``done`` (its chunks sent on the way) or ``error`` message."""
        gateway = self.gateway
        try:
            slot = await gateway.in_flight()
            try:
                return await self._routed(rid, body, noted)
            finally:
                if slot is not None:
                    slot.settle()
        except Problem as problem:
            return noted.failed(rid, problem)
        except AdapterError as error:
            return noted.failed(rid, gateway.problem(error))
        except Exception:
            log.exception("%s chat: unexpected error", PATH)
            return noted.failed(rid, Problem(500, "internal error", type="server_error"))

    async def _routed(self, rid: str, body: dict[str, Any], noted: _Noted) -> bytes:
        gateway, key = self.gateway, self._key
        model, params, stream, include_usage = chat_call(gateway, body, key)
        noted.model = model
        ident = _json(rid)

        async def whole(ticket: Ticket) -> ChatResponse:
            return await gateway.router.chat(model=model, **params)

        failed: Problem | None = None

        async def streamed(ticket: Ticket) -> ChatResponse:
            nonlocal failed
            head = b'{"type":"chunk","id":' + ident + b',"chunk":'
            encoder = ChunkEncoder(model=model, include_usage=include_usage, frame=(head, b"}\n"))
            async with gateway.router.stream(model=model, **params) as routed:
                ticket.stream = routed  # charged at its end, also when cut short
                try:
                    async for chunk in routed:
                        data = encoder.chunk(chunk)
                        if data:
                            if not noted.first_event:
                                noted.first_event = time.perf_counter()
                            await self._send_lines(data)
                except AdapterError as error:
                    failed = gateway.problem(error)
                    log.warning(
                        "%s: stream failed after content: %d %s", PATH, failed.status, failed.type
                    )
                    return routed.response
                response = routed.response
                await self._send_lines(encoder.finish(response))
                return response

        with gateway.metrics.streaming(noted, key) if stream else _NOT_STREAMED:
            ticket = gateway.ticket(key, model, params)
            response = await settled(
                gateway, key, ticket, stream=stream, answer=streamed if stream else whole
            )
        noted.usage = response.usage
        if failed is not None:
            return noted.failed(rid, failed)
        noted.status = 200
        done = _json(chat_completion(response, model=model))
        return b'{"type":"done","id":' + ident + b',"response":' + done + b"}"

    # -- sending ---------------------------------------------------------------------

    async def _send_lines(self, data: bytes) -> None:
        """The messages in ``data``, one per line (a ``ChunkEncoder``'s, framed for us)."""
        for line in data.split(b"\n"):
            if line:
                await self._send_message(line)

    async def _send_message(self, message: bytes) -> None:
        await self._out({"type": "websocket.send", "text": message.decode()})

    async def _refuse(
        self, rid: str | None, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        await self._send_message(_error(rid, Problem(400, message, param=param, code=code)))

    async def _close(self, code: int, reason: str) -> None:
        await self._out({"type": "websocket.close", "code": code, "reason": reason})

    async def _out(self, event: dict[str, Any]) -> None:
        """Send one event, whole: never cut by a cancel (a cut frame breaks the socket).

        Waits its turn and at most ``SEND_TIMEOUT`` in all; after that the
        client is not reading, and the socket is given up.
        """
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(SEND_TIMEOUT) as waited:
                async with self._lock:
                    await self._send(event)
        if waited.cancelled_caught:
            log.warning("%s: a send took over %g s; closing the socket", PATH, SEND_TIMEOUT)
            if self._group is not None:
                self._group.cancel_scope.cancel()
            await anyio.lowlevel.checkpoint()


class _Noted:
    """What the metrics read of one request on the socket (``metrics.Observed``)."""

    __slots__ = ("disconnected", "done", "error", "first_event", "model", "status", "usage")

    path = PATH

    def __init__(self) -> None:
        self.status = 0  # what an HTTP answer's status would have been
        self.done = False
        self.disconnected = False
        self.model: str | None = None
        self.usage: Usage | None = None
        self.error: str | None = None
        self.first_event = 0.0

    def failed(self, rid: str, problem: Problem) -> bytes:
        """The ``error`` message for ``problem``, noted."""
        self.status, self.error = problem.status, problem.type
        return _error(rid, problem)


def _error(rid: str | None, problem: Problem) -> bytes:
    """An ``error`` message: OpenAI's error object, and ``retry_after`` when there is one."""
    message: dict[str, Any] = {
        "type": "error",
        "id": rid,
        "error": errors.body_of(problem, "openai")["error"],
    }
    if problem.retry_after is not None:
        message["retry_after"] = max(math.ceil(problem.retry_after), 1)
    return _json(message)
