"""Gemini error bodies (``{"error": {code, message, status, details}}``) to ``AdapterError``.

The gRPC ``status`` and the ``details`` (``ErrorInfo`` reasons, ``QuotaFailure``
violations, ``RetryInfo`` delays) decide before the HTTP status; a quota that
is per day (or zero) is not worth waiting for. The same object inside a 200
body or a stream event is classified the same way.
"""

from __future__ import annotations

from typing import Any

from ...errors import AdapterError, ContentFilterError
from ..base import ErrorKind, Headers, classify, looks_like_context_overflow
from .wire import PromptFeedback

__all__ = ["blocked", "classify_error", "error_object"]


def error_object(data: Any) -> dict[str, Any] | None:
    """The ``error`` object of a Gemini error body (also inside a one-element array)."""
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return err
        if isinstance(err, str):
            return {"message": err}
    return None


def _duration(value: Any) -> float | None:
    """A protobuf Duration string (``"17s"``, ``"3.700s"``) in seconds."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        seconds = float(value[:-1])
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def classify_error(
    provider: str, status: int | None, headers: Headers, body: bytes, err: dict[str, Any] | None
) -> AdapterError:
    err = err or {}
    raw_message = err.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    grpc = err.get("status") if isinstance(err.get("status"), str) else None
    if status is None and isinstance(err.get("code"), int):
        status = err["code"]
    details = [d for d in err.get("details") or () if isinstance(d, dict)]
    reasons: list[str] = []
    quota_ids: list[str] = []
    quota_values: list[str] = []
    delay: float | None = None
    for d in details:
        kind_of = str(d.get("@type", ""))
        if kind_of.endswith("ErrorInfo") and isinstance(d.get("reason"), str):
            reasons.append(d["reason"])
        elif kind_of.endswith("QuotaFailure"):
            for v in d.get("violations") or ():
                if isinstance(v, dict):
                    quota_ids.append(str(v.get("quotaId", "")))
                    quota_values.append(str(v.get("quotaValue", "")))
        elif kind_of.endswith("RetryInfo"):
            delay = _duration(d.get("retryDelay"))

    lowered = message.lower()
    kind: ErrorKind | None = None
    if "API_KEY_INVALID" in reasons or grpc == "UNAUTHENTICATED" or "api key not valid" in lowered:
        kind = "auth"
    elif grpc == "PERMISSION_DENIED" or status == 403:
        kind = "permission"
    elif grpc == "NOT_FOUND" or status == 404:
        kind = "not_found"
    elif grpc == "RESOURCE_EXHAUSTED" or status == 429:
        per_day = any("perday" in q.lower().replace("_", "") for q in quota_ids)
        kind = "quota" if per_day or "0" in quota_values else "rate_limit"
    elif (status is None or status < 500) and looks_like_context_overflow(message):
        kind = "context_length"
    elif grpc == "UNAVAILABLE" or status == 503:
        kind = "overloaded"
    elif grpc in ("INTERNAL", "DEADLINE_EXCEEDED", "UNKNOWN") or (status or 0) >= 500:
        kind = "server"
    elif status is None:
        kind = "server"  # an error event inside a stream, with nothing more to go on
    code = reasons[0] if reasons else grpc
    error = classify(
        provider=provider,
        status=status,
        headers=headers,
        message=message or (f"HTTP {status}" if status else "Gemini error"),
        body=body,
        kind=kind,
        code=code,
    )
    if error.retry_after is None and delay is not None:
        error.retry_after = delay
    return error


def blocked(provider: str, feedback: PromptFeedback, body: bytes) -> ContentFilterError:
    reason = feedback.block_reason or "BLOCKED"
    text = f"the prompt was blocked ({reason})"
    if feedback.block_reason_message:
        text += f": {feedback.block_reason_message}"
    return ContentFilterError(
        text, provider=provider, status=200, code=reason, body=body.decode("utf-8", "replace")
    )
