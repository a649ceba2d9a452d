"""Anthropic error bodies and ``error`` stream events to the right ``AdapterError``.

The body's ``error.type`` decides first (``overloaded_error``,
``billing_error``, ...), the message second (context length, spend limits).
A 429 without ``retry-after`` is the tier's monthly spend cap, which waiting
will not lift: a non-retryable ``RateLimitError`` (unless the server says
``x-should-retry: true``).
"""

from __future__ import annotations

import msgspec

from ...errors import AdapterError
from ..base import ErrorKind, Headers, classify, header, looks_like_context_overflow, retry_after
from .wire import ERROR_DECODER, ErrorBody, ErrorEvent, ErrorObject

__all__ = ["error_response", "stream_error"]

_ERROR_KIND: dict[str, ErrorKind] = {
    "authentication_error": "auth",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limit",
    "billing_error": "quota",
    "request_too_large": "bad_request",
    "invalid_request_error": "bad_request",
    "overloaded_error": "overloaded",
    "api_error": "server",
    "timeout_error": "server",
}
_QUOTA_MARKERS = ("credit balance", "usage limit", "spend limit", "billing")


def error_response(provider: str, status: int, headers: Headers, body: bytes) -> AdapterError:
    """The error for a non-2xx response: ``{"type":"error","error":{"type","message"}}``."""
    try:
        parsed = ERROR_DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        parsed = ErrorBody()
    info = parsed.error
    if isinstance(info, str):
        err_type, message = None, info
    elif info is not None:
        err_type, message = info.type, info.message or ""
    else:
        err_type, message = None, body[:500].decode("utf-8", "replace").strip()
    kind = _error_kind(err_type, message, status, headers)
    error = classify(
        provider=provider,
        status=status,
        headers=headers,
        message=message or f"HTTP {status}",
        body=body,
        kind=kind,
        code=err_type,
    )
    if error.request_id is None:
        error.request_id = parsed.request_id
    return error


def stream_error(provider: str, event: ErrorEvent) -> AdapterError:
    """The error an ``error`` event inside a stream stands for (no HTTP status to go on)."""
    info = event.error or ErrorObject()
    message = info.message or "error event in stream"
    kind = _ERROR_KIND.get(info.type or "", "server")
    if kind in ("bad_request", "server") and looks_like_context_overflow(message):
        kind = "context_length"
    if kind == "rate_limit" and any(m in message.lower() for m in _QUOTA_MARKERS):
        kind = "quota"
    error = classify(
        provider=provider,
        status=None,
        headers=(),
        message=message,
        body=msgspec.json.encode(event),
        kind=kind,
        code=info.type,
    )
    error.request_id = event.request_id
    return error


def _error_kind(
    err_type: str | None, message: str, status: int, headers: Headers
) -> ErrorKind | None:
    kind = _ERROR_KIND.get(err_type or "")
    lowered = message.lower()
    if kind in ("bad_request", None) and looks_like_context_overflow(message):
        return "context_length"
    if kind in ("bad_request", "rate_limit") and any(m in lowered for m in _QUOTA_MARKERS):
        return "quota"
    if (
        kind == "rate_limit"
        and retry_after(headers) is None
        and header(headers, b"x-should-retry") != "true"
    ):
        return "quota"  # the monthly spend cap: a 429 with no retry-after
    if kind is None and status == 413:
        return "bad_request"
    return kind
