"""Scripted replies and recorded requests for :class:`~agent_adapter.testing.MockServer`.

A :class:`Reply` says what the mock server does with one request: answer with a body,
stream chunks (SSE, NDJSON), or misbehave on the wire (reset, truncate, stall, trickle).
Replies are immutable and reusable: a handler may return the same object for every
request, and everything that can be encoded ahead of time is encoded once, when the
reply is built.

A :class:`RecordedRequest` is what the server saw: method, path, headers and body.
"""

from __future__ import annotations

import enum
import http
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import h11
import msgspec

__all__ = ["HeadersLike", "RecordedRequest", "Reply"]

HeadersLike: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
"""Response headers: a mapping or an iterable of ``(name, value)`` pairs."""

_JSON_ENCODER = msgspec.json.Encoder()
_JSON_DECODER = msgspec.json.Decoder()

# Headers whose value the server decides (framing); users' values are dropped.
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})


class _Kind(enum.StrEnum):
    BODY = "body"
    STREAM = "stream"
    RESET_BEFORE_HEADERS = "reset_before_headers"
    RESET_MID_BODY = "reset_mid_body"
    TRUNCATED_CHUNKED = "truncated_chunked"
    STALL = "stall"
    TRICKLE = "trickle"


@dataclass(frozen=True, slots=True, eq=False)
class RecordedRequest:
    """One request as the mock server received it.

    ``method`` is e.g. ``"POST"``; ``path`` is the request target including the
    query string; ``headers`` maps lower-case names to values (repeated headers are
    joined with ``", "``); ``header_list`` keeps every header in arrival order with
    its original spelling; ``body`` is the complete body (chunked request bodies are
    de-chunked); ``connection_id`` numbers the connection that carried the request
    (1 for the first connection the server accepted, and so on), so two requests with
    the same ``connection_id`` were sent over one kept-alive connection.
    """

    method: str
    path: str
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    body: bytes
    connection_id: int
    http_version: str = "1.1"

    def json(self) -> Any:
        """Decode the body as JSON (``msgspec.json.decode``); raises on invalid JSON."""
        return _JSON_DECODER.decode(self.body)

    def __repr__(self) -> str:
        return (
            f"RecordedRequest({self.method} {self.path}, {len(self.body)} body bytes, "
            f"connection_id={self.connection_id})"
        )


def _encode_chunk(chunk: bytes | str) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    return bytes(chunk)


def _chunks(chunks: Iterable[bytes | str]) -> tuple[bytes, ...]:
    if isinstance(chunks, bytes | str):
        raise TypeError("chunks must be an iterable of bytes (or str), not a single value")
    return tuple(_encode_chunk(c) for c in chunks)


def _delays(delay: float | Sequence[float], n: int) -> tuple[float, ...]:
    """Per-chunk pause before each chunk: a float pauses *between* chunks."""
    if isinstance(delay, int | float):
        d = float(delay)
        if d < 0:
            raise ValueError("delay must not be negative")
        return (0.0,) + (d,) * (n - 1) if n else ()
    out = tuple(float(x) for x in delay)
    if len(out) != n:
        raise ValueError(f"delay list has {len(out)} entries for {n} chunks")
    if any(x < 0 for x in out):
        raise ValueError("delays must not be negative")
    return out


def _header_items(
    content_type: str | None, headers: HeadersLike | None
) -> list[tuple[bytes, bytes]]:
    items: list[tuple[bytes, bytes]] = []
    if headers is not None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in pairs:
            n = name.encode("ascii").lower() if isinstance(name, str) else bytes(name).lower()
            v = value.encode("latin-1") if isinstance(value, str) else bytes(value)
            if n not in _FRAMING:
                items.append((n, v))
    if content_type is not None and not any(n == b"content-type" for n, _ in items):
        items.insert(0, (b"content-type", content_type.encode("latin-1")))
    return items


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _response(status: int, items: list[tuple[bytes, bytes]]) -> h11.Response:
    if not 200 <= status <= 999:
        raise ValueError(f"status must be a final status code (200-999), got {status}")
    # Building the h11 event validates names and values (no CR/LF smuggling) once.
    try:
        return h11.Response(status_code=status, headers=items, reason=_reason(status))
    except h11.LocalProtocolError as exc:
        raise ValueError(f"invalid response header: {exc}") from None


def _head_bytes(status: int, reason: bytes, items: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    lines.extend(n + b": " + v + b"\r\n" for n, v in items)
    lines.append(b"\r\n")
    return b"".join(lines)


def _no_body_status(status: int) -> bool:
    return status in (204, 304)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Reply:
    """What the mock server does with one request. Build one with a class method.

    Replies are immutable and may be reused for any number of requests. The normal
    ones are :meth:`json`, :meth:`error`, :meth:`raw`, :meth:`sse` and
    :meth:`stream`; the wire faults are :meth:`reset_before_headers`,
    :meth:`reset_mid_body`, :meth:`truncated_chunked`, :meth:`stall` and
    :meth:`trickle`. The server decides the framing headers (``content-length``,
    ``transfer-encoding``); values for them given in ``headers`` are dropped.

    The attributes are read-only: ``kind`` (a string: ``"body"``, ``"stream"``,
    ``"reset_before_headers"``, ``"reset_mid_body"``, ``"truncated_chunked"``,
    ``"stall"``, ``"trickle"``), ``status``, ``body``, ``chunks``, ``delays`` (the
    pause before each chunk), ``coalesce``, ``after``, ``seconds``,
    ``headers_first``, ``every``, ``size``, and :attr:`headers`.
    """

    kind: _Kind
    status: int = 200
    body: bytes = b""
    chunks: tuple[bytes, ...] = ()
    delays: tuple[float, ...] = ()
    coalesce: bool = True
    after: int = 0
    seconds: float | None = None
    headers_first: bool = False
    every: float = 0.0
    size: int = 1
    # h11 event for the status line and headers (validated once), None for resets.
    _response: h11.Response | None = field(default=None)
    # The whole response, pre-encoded, for a keep-alive HTTP/1.1 exchange.
    _wire: bytes | None = field(default=None)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The response headers this reply sends (lower-case names), without framing."""
        if self._response is None:
            return []
        return [(n.decode("ascii"), v.decode("latin-1")) for n, v in self._response.headers]

    def __repr__(self) -> str:
        parts = [self.kind.value, f"status={self.status}"]
        if self.body:
            parts.append(f"{len(self.body)} body bytes")
        if self.chunks:
            parts.append(f"{len(self.chunks)} chunks")
        return f"Reply({', '.join(parts)})"

    # -- normal replies -------------------------------------------------------------

    @classmethod
    def raw(cls, status: int, headers: HeadersLike | None, body: bytes) -> Reply:
        """Answer with exactly ``body`` and a ``Content-Length`` header.

        No content type is added: pass it in ``headers`` if you want one.
        """
        return cls._raw(status, _header_items(None, headers), bytes(body))

    @classmethod
    def _raw(cls, status: int, items: list[tuple[bytes, bytes]], body: bytes) -> Reply:
        if _no_body_status(status) and body:
            raise ValueError(f"status {status} cannot carry a body")
        if not _no_body_status(status):
            items.append((b"content-length", str(len(body)).encode("ascii")))
        response = _response(status, items)
        wire = _head_bytes(status, response.reason, items) + body
        return cls(_Kind.BODY, status=status, body=body, _response=response, _wire=wire)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: HeadersLike | None = None) -> Reply:
        """Answer with ``data`` encoded as JSON (``content-type: application/json``)."""
        body = _JSON_ENCODER.encode(data)
        return cls._raw(status, _header_items("application/json", headers), body)

    @classmethod
    def error(cls, status: int, body: Any, headers: HeadersLike | None = None) -> Reply:
        """Answer with an error status and a JSON error body.

        ``body`` is encoded as JSON unless it is already ``bytes``, e.g.
        ``Reply.error(429, {"error": {"message": "slow down"}}, headers={"retry-after":
        "1"})``.
        """
        if isinstance(body, bytes | bytearray | memoryview):
            return cls._raw(status, _header_items("application/json", headers), bytes(body))
        return cls.json(body, status=status, headers=headers)

    @classmethod
    def stream(
        cls,
        chunks: Iterable[bytes | str],
        content_type: str = "application/x-ndjson",
        delay: float | Sequence[float] = 0.0,
        *,
        status: int = 200,
        headers: HeadersLike | None = None,
        coalesce: bool = True,
    ) -> Reply:
        """Stream ``chunks`` as a chunked (``Transfer-Encoding: chunked``) body.

        ``delay`` is either a float, the pause *between* consecutive chunks (the
        first chunk goes out with the headers), or a list with one pause per chunk,
        waited *before* that chunk (so ``[1.0, 0, 0]`` sends the headers, waits a
        second, then sends all three chunks). Headers are always sent at once.
        When no pause is asked for and ``coalesce`` is true (the default), all
        chunks are sent as one chunk in one write; ``coalesce=False`` writes each
        chunk separately (one HTTP chunk each).
        """
        if _no_body_status(status):
            raise ValueError(f"status {status} cannot carry a body")
        data = _chunks(chunks)
        delays = _delays(delay, len(data))
        items = _header_items(content_type, headers)
        response = _response(status, items)
        wire: bytes | None = None
        if coalesce and not any(delays):
            joined = b"".join(data)
            framed = (b"%x\r\n" % len(joined) + joined + b"\r\n") if joined else b""
            wire = (
                _head_bytes(status, response.reason, [*items, (b"transfer-encoding", b"chunked")])
                + framed
                + b"0\r\n\r\n"
            )
        return cls(
            _Kind.STREAM,
            status=status,
            chunks=data,
            delays=delays,
            coalesce=coalesce,
            _response=response,
            _wire=wire,
        )

    @classmethod
    def sse(
        cls,
        chunks: Iterable[bytes | str],
        delay: float | Sequence[float] = 0.0,
        *,
        status: int = 200,
        headers: HeadersLike | None = None,
        coalesce: bool = True,
    ) -> Reply:
        """Stream server-sent events: :meth:`stream` with ``text/event-stream``.

        Each chunk is written as given (include the blank line that ends an event,
        e.g. ``b'data: {"x":1}\\n\\n'``); a chunk may hold part of an event or many.
        """
        return cls.stream(
            chunks,
            content_type="text/event-stream",
            delay=delay,
            status=status,
            headers=headers,
            coalesce=coalesce,
        )

    # -- wire faults ----------------------------------------------------------------

    @classmethod
    def reset_before_headers(cls) -> Reply:
        """Read the request, then drop the connection abruptly without any response.

        The socket is closed with ``SO_LINGER`` 0, so the client sees a reset (or an
        end of stream) where it expected a status line.
        """
        return cls(_Kind.RESET_BEFORE_HEADERS, status=0)

    @classmethod
    def reset_mid_body(
        cls,
        chunks: Iterable[bytes | str],
        after: int,
        *,
        content_type: str = "text/event-stream",
        status: int = 200,
        headers: HeadersLike | None = None,
    ) -> Reply:
        """Send the headers (chunked) and the first ``after`` chunks, then reset."""
        if after < 0:
            raise ValueError("after must not be negative")
        data = _chunks(chunks)
        response = _response(status, _header_items(content_type, headers))
        return cls(
            _Kind.RESET_MID_BODY, status=status, chunks=data, after=after, _response=response
        )

    @classmethod
    def truncated_chunked(
        cls,
        chunks: Iterable[bytes | str],
        *,
        content_type: str = "text/event-stream",
        status: int = 200,
        headers: HeadersLike | None = None,
    ) -> Reply:
        """Send the headers and every chunk, then close without the final 0-length chunk.

        The close is orderly (FIN, not a reset): the client reads all the data and
        then an end of stream in the middle of a chunked body.
        """
        data = _chunks(chunks)
        response = _response(status, _header_items(content_type, headers))
        return cls(_Kind.TRUNCATED_CHUNKED, status=status, chunks=data, _response=response)

    @classmethod
    def stall(
        cls,
        seconds: float | None = None,
        headers_first: bool = False,
        *,
        content_type: str = "text/event-stream",
        status: int = 200,
        headers: HeadersLike | None = None,
    ) -> Reply:
        """Never answer: wait until the client goes away or ``seconds`` pass.

        With ``headers_first`` the status line and headers (chunked) are sent first,
        then nothing. When ``seconds`` pass the server closes the connection (an
        incomplete response). ``None`` waits for as long as the client does.
        """
        if seconds is not None and seconds < 0:
            raise ValueError("seconds must not be negative")
        response = _response(status, _header_items(content_type, headers))
        return cls(
            _Kind.STALL,
            status=status,
            seconds=seconds,
            headers_first=headers_first,
            _response=response,
        )

    @classmethod
    def trickle(
        cls,
        body_bytes: bytes,
        every: float = 0.05,
        size: int = 1,
        *,
        content_type: str = "application/json",
        status: int = 200,
        headers: HeadersLike | None = None,
    ) -> Reply:
        """Send the headers (with ``Content-Length``) at once, then drip the body.

        The body goes out ``size`` bytes at a time with a pause of ``every`` seconds
        before each piece: a response that is slow but never silent for long.
        """
        if size < 1:
            raise ValueError("size must be at least 1")
        if every < 0:
            raise ValueError("every must not be negative")
        body = bytes(body_bytes)
        items = _header_items(content_type, headers)
        items.append((b"content-length", str(len(body)).encode("ascii")))
        response = _response(status, items)
        return cls(
            _Kind.TRICKLE, status=status, body=body, every=every, size=size, _response=response
        )
