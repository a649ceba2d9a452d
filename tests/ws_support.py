"""A tiny WebSocket client for the gateway tests: wsproto over a raw anyio TCP stream.

No client library: the tests need the refused handshake's status and body,
the close code, and an abrupt TCP close, which wsproto shows as they are.
Every wait is bounded (``WAIT`` seconds).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import msgspec
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from gateway_support import KEY

WAIT = 10.0


class Closed(Exception):
    """The server closed the socket: its close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed: {code} {reason}")
        self.code = code
        self.reason = reason


class Refused(Exception):
    """The server refused the handshake: the HTTP status and body it answered."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"refused: {status}")
        self.status = status
        self.body = body


class WS:
    """One client socket to the gateway's ``/v1/ws``."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.conn = WSConnection(ConnectionType.CLIENT)
        self._text: list[str] = []
        self._pending: deque[Event] = deque()  # read, not handled yet

    @classmethod
    @asynccontextmanager
    async def open(
        cls, base_url: str, *, key: str | None = KEY, path: str = "/v1/ws"
    ) -> AsyncIterator[WS]:
        """Connect and upgrade (``Refused`` if the server says no); TCP-closed on exit."""
        port = int(base_url.rsplit(":", 1)[1])
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            ws = cls(stream)
            headers = [] if key is None else [(b"authorization", f"Bearer {key}".encode())]
            await ws._write(Request(host="gateway", target=path, extra_headers=headers))
            await ws._handshake()
            yield ws

    async def _write(self, event: Event) -> None:
        await self.stream.send(self.conn.send(event))

    async def _event(self) -> Event:
        """The next event, reading from the socket until there is one."""
        with anyio.fail_after(WAIT):
            while not self._pending:
                self._pending.extend(self.conn.events())
                if self._pending:
                    break
                try:
                    data: bytes | None = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    data = None
                self.conn.receive_data(data)
        return self._pending.popleft()

    async def _handshake(self) -> None:
        status, body = 0, b""
        while True:
            event = await self._event()
            if isinstance(event, AcceptConnection):
                return
            if isinstance(event, RejectConnection):
                status = event.status_code
                if not event.has_body:
                    raise Refused(status, b"")
            elif isinstance(event, RejectData):
                body += event.data
                if event.body_finished:
                    raise Refused(status, body)
            elif isinstance(event, CloseConnection):
                raise Refused(status, body)

    async def send(self, message: Any) -> None:
        """A JSON message (a dict), or a text (str) or binary (bytes) message as given."""
        if isinstance(message, bytes):
            await self._write(BytesMessage(data=message))
        else:
            text = message if isinstance(message, str) else msgspec.json.encode(message).decode()
            await self._write(TextMessage(data=text))

    async def receive(self) -> dict[str, Any]:
        """The next message, decoded; ``Closed`` if the server closes instead."""
        while True:
            event = await self._event()
            if isinstance(event, TextMessage):
                self._text.append(event.data)
                if event.message_finished:
                    text, self._text = "".join(self._text), []
                    decoded: dict[str, Any] = msgspec.json.decode(text)
                    return decoded
            elif isinstance(event, CloseConnection):
                if self.conn.state.name == "REMOTE_CLOSING":
                    await self._write(event.response())
                raise Closed(event.code, event.reason)
            elif isinstance(event, Ping):
                await self._write(event.response())

    async def closed(self) -> Closed:
        """Read until the server closes the socket; its code and reason."""
        while True:
            try:
                await self.receive()
            except Closed as closed:
                return closed

    async def close(self, code: int = 1000) -> None:
        """Start a clean close (a close frame); the server's answer is not awaited."""
        await self._write(CloseConnection(code=code))

    async def until_done(self, rid: str) -> list[dict[str, Any]]:
        """Messages up to and including ``rid``'s last one (``done`` or ``error``)."""
        got: list[dict[str, Any]] = []
        while True:
            message = await self.receive()
            got.append(message)
            if message["id"] == rid and message["type"] in ("done", "error"):
                return got


def chat(rid: str, text: str = "hi", *, model: str = "smart", **body: Any) -> dict[str, Any]:
    """A ``chat`` message for ``rid``."""
    messages = [{"role": "user", "content": text}]
    return {"type": "chat", "id": rid, "body": {"model": model, "messages": messages, **body}}


def text_of(messages: list[dict[str, Any]], rid: str) -> str:
    """The streamed text of ``rid``'s chunks, joined."""
    return "".join(
        m["chunk"]["choices"][0]["delta"].get("content") or ""
        for m in messages
        if m["id"] == rid and m["type"] == "chunk" and m["chunk"]["choices"]
    )
