"""What every provider adapter is: a sans-IO translator between our types and a wire format.

An adapter never touches a socket or a clock. ``encode`` turns a
``ChatRequest`` into an ``HttpRequest``; ``decode`` turns a complete response
body into a ``ChatResponse``; ``stream_decoder`` returns a state machine fed
with body bytes that yields ``StreamChunk``s; ``error`` turns an error
response into the right ``AdapterError``. ``encode_count`` and
``decode_count`` are the optional token-counting pair (``None``: the
provider has no such endpoint). The helpers at the bottom are the pieces
every adapter shares (error classification, Retry-After, data URLs).
"""

from __future__ import annotations

import base64
import email.utils
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec

from ..errors import (
    AdapterError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextLengthError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from ..extras import with_extras
from ..sse import NDJSONDecoder, SSEParser
from ..types import (
    AudioPart,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    FilePart,
    ImagePart,
    StreamChunk,
)

Headers = Sequence[tuple[bytes, bytes]]
"""Response headers as httpcore gives them: (name, value) byte pairs, names any case."""

ErrorKind = Literal[
    "auth", "permission", "not_found", "rate_limit", "quota", "context_length",
    "content_filter", "overloaded", "server", "bad_request",
]  # fmt: skip


class Secret:
    """An API key that never shows itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for building the auth header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP request to send: absolute ``url``, header byte pairs, body bytes.

    Its ``repr`` lists header names only, so an auth header cannot leak
    through a log line or an error message.
    """

    method: str
    url: str
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    def __repr__(self) -> str:
        names = ", ".join(k.decode("latin-1") for k, _ in self.headers)
        return f"HttpRequest({self.method} {self.url}, headers=[{names}], {len(self.body)} bytes)"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider supports; asking for anything else is a ``ValidationError`` before I/O."""

    tools: bool = True
    images: bool = True
    audio: bool = False
    files: bool = False
    reasoning: bool = True
    structured_output: bool = True
    embeddings: bool = False


class StreamDecoder(Protocol):
    """A sans-IO state machine: body bytes in, ``StreamChunk``s out.

    ``feed`` raises ``StreamError`` for malformed or oversized input and the
    matching ``AdapterError`` for an error event inside the stream. ``done``
    turns true when the protocol's terminator was seen (the caller then only
    drains the rest of the body). At the end of the body the caller calls
    ``flush``, which returns what only the end completes (a last NDJSON line
    without its newline), then ``end``, which says whether the stream
    finished properly.
    """

    @property
    def done(self) -> bool: ...

    def feed(self, data: bytes) -> list[StreamChunk]: ...

    def flush(self) -> list[StreamChunk]: ...

    def end(self) -> bool: ...


class Adapter(ABC):
    """Base of every provider adapter: configuration plus the four pure methods."""

    family: str = ""
    capabilities: Capabilities = Capabilities()
    list_headers: frozenset[bytes] = frozenset()
    """Headers whose per-call value is added to the adapter's (comma lists), not swapped in."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = Secret(api_key) if api_key else None
        self.extra_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        self.options: dict[str, Any] = dict(options or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    @abstractmethod
    def encode(self, request: ChatRequest) -> HttpRequest:
        """The HTTP request for ``request`` (streaming or not, as ``request.stream`` says)."""

    @abstractmethod
    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """The response of a successful (2xx) non-streaming call."""

    @abstractmethod
    def stream_decoder(self, request: ChatRequest) -> StreamDecoder:
        """A fresh decoder for the body of a successful streaming call."""

    @abstractmethod
    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """The error for a non-2xx response."""

    def build(self, request: ChatRequest) -> HttpRequest:
        """``encode`` plus the call's ``extra_headers`` and ``extra_query``: what is sent.

        The one place per-call headers and query parameters are applied, so
        every adapter gets them the same way (see ``agent_adapter.extras``).
        """
        http = self.encode(request)
        return with_extras(http, request.extra_headers, request.extra_query, self.list_headers)

    def build_embed(self, request: EmbedRequest) -> HttpRequest:
        """``encode_embed`` plus the call's ``extra_headers`` and ``extra_query``."""
        http = self.encode_embed(request)
        return with_extras(http, request.extra_headers, request.extra_query, self.list_headers)

    def build_count(self, request: ChatRequest) -> HttpRequest | None:
        """``encode_count`` plus the call's ``extra_headers`` and ``extra_query``, or None."""
        http = self.encode_count(request)
        if http is None:
            return None
        return with_extras(http, request.extra_headers, request.extra_query, self.list_headers)

    def encode_count(self, request: ChatRequest) -> HttpRequest | None:
        """The provider's token-counting request for ``request``'s prompt.

        ``None`` (the default) says the provider has no counting endpoint, so
        callers fall back to our estimate instead of failing.
        """
        return None

    def decode_count(self, status: int, headers: Headers, body: bytes) -> int:
        """The input tokens of a successful counting call (only with ``encode_count``)."""
        raise ValidationError(f"{self.name} has no token-counting endpoint", field="model")

    def encode_embed(self, request: EmbedRequest) -> HttpRequest:
        """The HTTP request for an embeddings call."""
        raise ValidationError(f"{self.name} has no embeddings endpoint", field="model")

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """The vectors of a successful embeddings call."""
        raise ValidationError(f"{self.name} has no embeddings endpoint", field="model")

    def embed_request(self, path: str, request: EmbedRequest) -> HttpRequest:
        """``POST {base}{path}`` with ``model``, ``input``, ``dimensions`` and ``extra``.

        The embeddings body shared by the providers whose API takes exactly that.
        """
        if not request.input:
            raise ValidationError("nothing to embed", field="input")
        body: dict[str, Any] = {"model": request.model, "input": request.input}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.extra:
            body.update(request.extra)
        return self.request("POST", path, json_encode(body))

    def malformed(
        self, status: int, body: bytes, message: str, headers: Headers = ()
    ) -> ServerError:
        """The error for a 2xx reply we cannot read: a ``ServerError`` that is not retried.

        Every adapter's ``decode`` and ``decode_embed`` raise this when a
        successful response is not the JSON they expect (not JSON at all,
        or JSON without the shape: no choices, no candidates, no vectors).
        Retrying would not help: the same reply would come back (a wrong base
        URL serving an HTML page, a compatible service whose shape we do not
        read), so a retry would only multiply the cost and the wait. The
        vendor SDKs do the same: they do not retry a 200 they cannot parse.

        The error keeps the status, the provider's request id (from
        ``headers``) and the start of the body (2000 characters), for the
        caller to see what came back. A malformed *stream* is a
        ``StreamError`` from the stream decoder instead.
        """
        return ServerError(
            message,
            provider=self.name,
            status=status,
            retryable=False,
            request_id=request_id(headers),
            body=body[:2000].decode("utf-8", "replace"),
        )

    def check(self, request: ChatRequest) -> None:
        """Raise ``ValidationError`` for what this provider cannot do, before any I/O."""
        caps = self.capabilities
        if request.tools and not caps.tools:
            raise ValidationError(f"{self.name} does not support tools", field="tools")
        if request.reasoning is not None and not caps.reasoning:
            raise ValidationError(f"{self.name} does not support reasoning", field="reasoning")
        if request.response_format is not None and not caps.structured_output:
            raise ValidationError(
                f"{self.name} does not support structured output", field="response_format"
            )
        for i, message in enumerate(request.messages):
            if isinstance(message.content, list):
                for j, part in enumerate(message.content):
                    kind = _UNSUPPORTED_PART.get(type(part))
                    if kind and not getattr(caps, kind):
                        raise ValidationError(
                            f"{self.name} does not accept {kind} content",
                            field=f"messages[{i}].content[{j}]",
                        )

    def sse_parser(
        self, *, max_line_bytes: int = 1 << 20, max_event_bytes: int = 4 << 20
    ) -> SSEParser:
        """An SSE parser bounded by the provider's defaults, or by the ``max_line_bytes`` /
        ``max_event_bytes`` options when the caller set them."""
        return SSEParser(
            max_line_bytes=int(self.options.get("max_line_bytes", max_line_bytes)),
            max_event_bytes=int(self.options.get("max_event_bytes", max_event_bytes)),
        )

    def ndjson_decoder(self) -> NDJSONDecoder:
        """An NDJSON decoder bounded by 4 MiB lines, or by the ``max_line_bytes`` option."""
        return NDJSONDecoder(max_line_bytes=int(self.options.get("max_line_bytes", 4 << 20)))

    def auth_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers that authenticate a request; adapters with another scheme override this."""
        if self.api_key is None:
            return []
        return [(b"authorization", b"Bearer " + self.api_key.reveal().encode("latin-1"))]

    def request(self, method: str, path: str, body: bytes) -> HttpRequest:
        """An ``HttpRequest`` to ``base_url + path`` with auth, JSON and extra headers."""
        headers = [
            (b"content-type", b"application/json"),
            (b"accept", b"application/json"),
            *self.auth_headers(),
            *self.extra_headers,
        ]
        return HttpRequest(method, self.base_url + path, headers, body)


_UNSUPPORTED_PART = {ImagePart: "images", AudioPart: "audio", FilePart: "files"}

# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------

json_encode = msgspec.json.Encoder().encode
_any_decoder = msgspec.json.Decoder()


def decode_json(body: bytes | str) -> Any:
    """Decode any JSON value, or ``None`` when the body is not JSON (proxies send HTML)."""
    try:
        return _any_decoder.decode(body)
    except msgspec.DecodeError:
        return None


def header(headers: Headers, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), or None."""
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


_REQUEST_ID_HEADERS = (b"x-request-id", b"request-id", b"x-goog-request-id", b"x-amzn-requestid")


def request_id(headers: Headers) -> str | None:
    """The provider's request id, from whichever header it uses."""
    for name in _REQUEST_ID_HEADERS:
        value = header(headers, name)
        if value:
            return value
    return None


def retry_after(headers: Headers, *, now: float | None = None) -> float | None:
    """The server's requested delay in seconds: ``retry-after-ms``, then ``retry-after``.

    ``retry-after`` may be seconds (fractions tolerated) or an HTTP-date.
    Negative or unparsable values count as absent.
    """
    ms = header(headers, b"retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = header(headers, b"retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


_STATUS_KIND: dict[int, ErrorKind] = {
    401: "auth",
    403: "permission",
    404: "not_found",
    429: "rate_limit",
    529: "overloaded",
}

_KIND_CLASS: dict[ErrorKind, type[AdapterError]] = {
    "auth": AuthenticationError,
    "permission": PermissionDeniedError,
    "not_found": NotFoundError,
    "rate_limit": RateLimitError,
    "quota": RateLimitError,
    "context_length": ContextLengthError,
    "content_filter": ContentFilterError,
    "overloaded": ServerError,
    "server": ServerError,
    "bad_request": BadRequestError,
}

_CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "prompt is too long",
    "too many tokens",
    "maximum prompt length",
    "exceeded model token limit",
    "token limit",
    "input token count",
    "reduce the length",
    "exceed context limit",
)


def looks_like_context_overflow(message: str) -> bool:
    """Whether an error message says the prompt was too long (providers word it differently)."""
    lowered = message.lower()
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


def classify(
    *,
    provider: str,
    status: int | None,
    headers: Headers,
    message: str,
    body: bytes | str | None = None,
    kind: ErrorKind | None = None,
    code: str | None = None,
    retryable: bool | None = None,
) -> AdapterError:
    """Build the error for a failure, body markers first (``kind``), status second.

    Adapters read their own body shape, decide ``kind`` where the body says
    more than the status (context length, content filter, quota, overload),
    and leave the rest to this function: status mapping, ``Retry-After``,
    ``x-should-retry``, request id.
    """
    if kind is None:
        if status is not None and status in _STATUS_KIND:
            kind = _STATUS_KIND[status]
        elif status is not None and status >= 500:
            kind = "server"
        else:
            kind = "bad_request"
    cls = _KIND_CLASS[kind]
    if retryable is None:
        if kind == "quota":
            retryable = False
        elif kind in ("rate_limit", "overloaded", "server"):
            retryable = True
        else:
            retryable = status in (408, 409, 425)
        should = header(headers, b"x-should-retry")
        if should == "true":
            retryable = kind not in ("quota", "context_length", "content_filter", "auth")
        elif should == "false":
            retryable = False
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return cls(
        message or f"HTTP {status}",
        provider=provider,
        status=status,
        retryable=retryable,
        request_id=request_id(headers),
        body=text,
        retry_after=retry_after(headers),
        code=code,
    )


def data_url(media_type: str | None, data: bytes) -> str:
    """``data:<type>;base64,<...>`` for bytes sent inline."""
    return f"data:{media_type or 'application/octet-stream'};base64,{b64(data)}"


def b64(data: bytes) -> str:
    """Standard base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")


def split_data_url(url: str) -> tuple[str, bytes] | None:
    """``(media_type, bytes)`` of a base64 ``data:`` URL, or None for any other URL."""
    if not url.startswith("data:"):
        return None
    head, sep, payload = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    try:
        return head[: -len(";base64")] or "application/octet-stream", base64.b64decode(payload)
    except ValueError:
        return None
