"""The error hierarchy: every failure a caller can see is one of these.

All errors carry the same attributes so that an agent loop can branch on them
without knowing which provider raised them. They never carry an API key: the
adapters build them from response bodies and our own messages only.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "APIConnectionError",
    "AdapterError",
    "AllProvidersFailedError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ContentFilterError",
    "ContextLengthError",
    "NotFoundError",
    "PermissionDeniedError",
    "QueueFullError",
    "RateLimitError",
    "ServerError",
    "StreamError",
    "StructuredOutputError",
    "TimeoutError",
    "ValidationError",
]


class AdapterError(Exception):
    """Base of every error this library raises.

    ``provider`` names the provider that failed (``None`` before one was
    chosen), ``status`` is the HTTP status when there was one, ``retryable``
    says whether trying again may succeed, ``request_id`` is the provider's
    id for the request (quote it to their support), ``body`` the raw error
    body as text, ``retry_after`` the server's requested delay in seconds.
    ``deployment`` names the router deployment that failed (``None`` outside
    a router).
    """

    retryable_default = False
    partial: Any = None
    """The response assembled before a streamed call failed (``ChatResponse``), if any."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        request_id: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        deployment: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.retryable = self.retryable_default if retryable is None else retryable
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after
        self.code = code
        self.deployment = deployment

    def __str__(self) -> str:
        where = []
        if self.provider:
            where.append(self.provider)
        if self.status is not None:
            where.append(str(self.status))
        prefix = f"[{' '.join(where)}] " if where else ""
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{prefix}{self.message}{suffix}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.message!r}, provider={self.provider!r}, status={self.status!r})"


class ValidationError(AdapterError, ValueError):
    """Bad input, raised before any I/O; ``field`` names the offending field."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(f"{field}: {message}" if field else message, **kwargs)
        self.field = field


class AuthenticationError(AdapterError):
    """The key is missing, invalid or revoked (HTTP 401, or a provider's equivalent)."""


class PermissionDeniedError(AdapterError):
    """The key is valid but may not do this (HTTP 403)."""


class NotFoundError(AdapterError):
    """Unknown model or endpoint (HTTP 404)."""


class BadRequestError(AdapterError):
    """Another 4xx: the provider rejected the request as sent."""


class ContextLengthError(BadRequestError):
    """The prompt (plus the requested output) exceeds the model's context window."""


class ContentFilterError(BadRequestError):
    """The provider's safety system blocked the prompt or the answer."""


class RateLimitError(AdapterError):
    """HTTP 429. ``retry_after`` holds the server's requested delay when it gave one.

    Quota exhaustion (no credit left) is a ``RateLimitError`` with
    ``retryable=False``: waiting will not help. ``local`` is true when our own
    rate limit refused the call before any I/O (the wait it needed is in
    ``retry_after``; it is not retried, it already waited what it could): a
    router moves on to another deployment, and nothing counts against health.
    """

    retryable_default = True

    def __init__(self, message: str, *, local: bool = False, **kwargs: Any) -> None:
        if local:
            kwargs.setdefault("retryable", False)
        super().__init__(message, **kwargs)
        self.local = local


class QueueFullError(RateLimitError):
    """The client's concurrency queue is full (``max_queue`` callers already wait).

    Always ``local``, raised at once without I/O; ``retry_after`` is a hint
    from how long slots have lately been held.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("local", True)
        super().__init__(message, **kwargs)


class ServerError(AdapterError):
    """5xx, 529 and "overloaded" errors, including those inside a 200 stream.

    Also a 2xx reply that cannot be read, with ``retryable=False`` (see
    ``Adapter.malformed``).
    """

    retryable_default = True


class APIConnectionError(AdapterError):
    """The connection failed: refused, reset, DNS, TLS, proxy."""

    retryable_default = True


class TimeoutError(APIConnectionError, builtins.TimeoutError):
    """A deadline fired; ``which`` is one of connect, read, total, first_token, idle."""

    def __init__(self, message: str, *, which: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.which = which


class StreamError(AdapterError):
    """A stream that was malformed, oversized or cut short.

    ``partial`` holds the response assembled so far (a ``ChatResponse``) when
    there is one; ``cause`` (also ``__cause__``) the provider error that ended
    the stream, if any; ``truncated`` is true when the body ended before the
    protocol's terminator.
    """

    def __init__(
        self,
        message: str,
        *,
        partial: Any = None,
        cause: AdapterError | None = None,
        truncated: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.partial = partial
        self.cause = cause
        self.truncated = truncated


class StructuredOutputError(AdapterError):
    """The reply does not validate against the requested ``response_format``.

    ``raw`` holds the reply's text; ``partial`` the whole response.
    """

    def __init__(self, message: str, *, raw: str, partial: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.raw = raw
        self.partial = partial


class CircuitOpenError(AdapterError):
    """The circuit breaker for this deployment is open; the call was not attempted.

    ``retry_after`` is the seconds until the breaker lets a probe through
    (0 while it is half-open and its probes are under way). Not retryable: the
    same deployment would refuse again; a router tries another one.
    """


class AllProvidersFailedError(AdapterError):
    """Every provider of a fallback chain failed; ``errors`` lists the causes in order."""

    def __init__(self, message: str, *, errors: list[AdapterError], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors
