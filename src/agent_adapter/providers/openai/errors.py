"""How an OpenAI-compatible error body is classified: body markers first, then the status.

Markers: ``context_length_exceeded``, ``insufficient_quota``, Azure
``ResponsibleAIPolicyViolation``, DashScope ``data_inspection_failed``,
DeepSeek "Content Exists Risk", OpenRouter 403 moderation, xAI's 400 for a bad
key. HTTP 402 (DeepSeek "Insufficient Balance", OpenRouter out of credits) is
treated like ``insufficient_quota``: a ``RateLimitError`` with
``retryable=False``, since waiting will not bring credit back.

An error reported inside a 200 body or stream (a top-level ``error``, Groq's
``x_groq.error``, an ``event: error``) is a retryable ``ServerError`` unless
its body says more (rate limit, context length, content filter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ...errors import AdapterError
from ..base import ErrorKind, Headers, classify, decode_json, looks_like_context_overflow
from .wire import ErrorObject

_OVERLOAD_CODES = frozenset({"server_is_overloaded", "slow_down", "overloaded", "overloaded_error"})
_FILTER_CODES = frozenset({"content_filter", "data_inspection_failed", "content_policy_violation"})
_RATE_CODES = frozenset({"rate_limit_exceeded", "rate_limit_error", "tokens", "requests"})


class ErrorFacts:
    """What an error says, read off its body: the facts ``kind`` classifies by.

    Built from an ``error`` value (``of``: a non-2xx body's, a 200 body's or a
    stream chunk's) or from a whole decoded body of any shape (``of_body``).
    It is never a wire type (that is ``wire.ErrorObject``). ``status`` is the
    HTTP status the body itself states (OpenRouter's numeric ``code``,
    Azure's ``status``), not the status of the response that carried it.
    """

    __slots__ = ("code", "inner", "message", "moderation", "status", "type")

    def __init__(self) -> None:
        self.message = ""
        self.code: str | None = None
        self.type: str | None = None
        self.inner: str | None = None
        self.moderation = False
        self.status: int | None = None

    @classmethod
    def of(cls, error: ErrorObject | str) -> ErrorFacts:
        """From an ``error`` value: an object (OpenAI, OpenRouter, Azure) or a string."""
        info = cls()
        if isinstance(error, ErrorObject):
            info.message = error.message or ""
            info.type = error.type
            if isinstance(error.code, int):
                info.status = error.code  # OpenRouter: the HTTP status as a number
            info.code = None if error.code is None else str(error.code)
            info.status = error.status or info.status
            if error.innererror is not None:
                inner = error.innererror.get("code")
                info.inner = inner if isinstance(inner, str) else None
            meta = error.metadata or {}
            info.moderation = "reasons" in meta or "flagged_input" in meta
        elif isinstance(error, str):
            info.message = error
        return info

    @classmethod
    def of_body(cls, data: Any) -> ErrorFacts:
        """From a whole decoded error body, whatever its shape."""
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, str):  # a bare JSON string
            return cls.of(data)
        if not isinstance(data, dict):
            return cls()
        error = data.get("error")
        if isinstance(error, dict):
            try:
                return cls.of(msgspec.convert(error, ErrorObject, strict=False))
            except msgspec.ValidationError:
                return cls.of(str(error.get("message", "")))
        info = cls.of(error if isinstance(error, str) else "")
        if not info.message:  # Cohere/FastAPI-style bodies: {"message": ...} / {"detail": ...}
            text = data.get("message") or data.get("detail") or data.get("msg") or ""
            info.message = text if isinstance(text, str) else str(text)
        code = data.get("code")  # xAI: a string code next to a string error
        if info.code is None and isinstance(code, str | int) and code != 0:
            info.code = str(code)
        if info.type is None and isinstance(data.get("type"), str):
            info.type = data["type"]
        return info

    def kind(self, status: int | None, default: ErrorKind | None) -> ErrorKind | None:
        """Body markers first; ``default`` (or the status, when None) decides the rest."""
        code = (self.code or "").lower()
        etype = (self.type or "").lower()
        low = self.message.lower()
        if code == "context_length_exceeded":
            return "context_length"
        if code == "insufficient_quota" or etype == "insufficient_quota" or status == 402:
            return "quota"
        if (
            code in _FILTER_CODES
            or self.inner == "ResponsibleAIPolicyViolation"
            or "content exists risk" in low  # DeepSeek
            or (status == 403 and self.moderation)  # OpenRouter moderation
        ):
            return "content_filter"
        if code == "invalid_api_key" or (
            status in (None, 400) and ("incorrect api key" in low or "invalid api key" in low)
        ):
            return "auth"  # xAI answers a bad key with 400
        if status in (None, 400, 413, 422) and looks_like_context_overflow(low):
            return "context_length"
        if (status is None or status >= 500) and (
            code in _OVERLOAD_CODES or etype in _OVERLOAD_CODES or "overloaded" in low
        ):
            return "overloaded"
        if status is None:
            if code in _RATE_CODES or etype in _RATE_CODES:
                return "rate_limit"
            if etype == "invalid_request_error":
                return "bad_request"
        return default


def error_response(provider: str, status: int, headers: Headers, body: bytes) -> AdapterError:
    """The error for a non-2xx response: body markers first, then the status."""
    data = decode_json(body)
    info = ErrorFacts.of_body(data)
    message = info.message
    if data is None:
        snippet = body[:200].decode("utf-8", "replace").strip()
        message = f"non-JSON error body: {snippet}" if snippet else ""
    return classify(
        provider=provider,
        status=status,
        headers=headers,
        message=message,
        body=body,
        kind=info.kind(status, None),
        code=info.code,
    )


def inband_error(provider: str, info: ErrorFacts, headers: Headers, body: bytes) -> AdapterError:
    """An error reported inside a 200 body or stream: a server failure unless it says more."""
    status = info.status if info.status is not None and 400 <= info.status <= 599 else None
    kind = info.kind(status, None if status is not None else "server")
    return classify(
        provider=provider,
        status=status,
        headers=headers,
        message=info.message or "the provider reported an error",
        body=body,
        kind=kind,
        code=info.code,
    )


# Builds the exception for the ``error`` value of a stream chunk: (provider, error, chunk).
ErrorFactory = Callable[[str, ErrorObject | str, bytes], AdapterError]


def stream_error(provider: str, error: ErrorObject | str, payload: bytes) -> AdapterError:
    """OpenAI's reading of an in-stream error: a server failure unless its body says more."""
    return inband_error(provider, ErrorFacts.of(error), (), payload)
