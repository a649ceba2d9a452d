"""Every failure as an answer in the caller's protocol: which status, which body, which event.

``problem_of`` decides what a library error means to a gateway caller. The
caller's own mistakes (a ``ValidationError``, a request the provider refused
as sent, a prompt too long) are 400s; anything else the Router gives back
after its fallbacks is the upstream's failure: 429 when every upstream was
rate limited, 503 when their circuits were open or they were overloaded, 504
on a timeout, 502 otherwise, with the upstream error's class as ``type``
(``timeout_error``, ``server_error``, ...). An upstream's refusal of *our*
provider key is a 502 with a fixed message: the caller's key is fine, and
the provider's message could quote ours. Known secrets are scrubbed from
every upstream message all the same.

``render`` and ``event`` give the body or the in-stream event: OpenAI's
``{"error": {...}}``, Anthropic's ``{"type": "error", "error": {...}}``, and
for the Responses API an ``error`` event with the fields both at the top, as
the API reference documents them, and nested in ``error``, as the API sends
them and the openai SDK raises them
(https://platform.openai.com/docs/api-reference/responses-streaming/error).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import msgspec

from ..errors import (
    AdapterError,
    AllProvidersFailedError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ContentFilterError,
    ContextLengthError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    TimeoutError,
    ValidationError,
)
from ..openai_format import error_object, error_type
from .http import Exchange, Problem, Protocol

__all__ = ["Scrubber", "event", "headers", "last_events", "problem_of", "render"]

_json = msgspec.json.Encoder().encode

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


class Scrubber:
    """Removes known secrets (the provider keys this gateway holds) from text it passes on."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a key that contains another is removed whole; short ones never
        # (they would mangle ordinary words and are not keys).
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text


def problem_of(error: AdapterError, scrub: Scrubber) -> Problem:
    """What ``error``, raised by a routed call, is to the gateway's caller."""
    if isinstance(error, ValidationError):
        return Problem(400, scrub(error.message), param=error.field)
    tried = len(error.errors) if isinstance(error, AllProvidersFailedError) else 1
    cause = (
        error.errors[-1] if isinstance(error, AllProvidersFailedError) and error.errors else error
    )
    if isinstance(cause, StreamError) and isinstance(cause.cause, AdapterError):
        cause = cause.cause  # what ended the stream says more than "the stream failed"
    kind = error_type(cause)
    if isinstance(cause, ContextLengthError):
        return Problem(400, scrub(cause.message), code=cause.code or "context_length_exceeded")
    if isinstance(cause, ContentFilterError):
        return Problem(400, scrub(cause.message), code=cause.code or "content_filter")
    if isinstance(cause, BadRequestError):  # the provider refused the request as sent
        return Problem(400, scrub(cause.message), code=cause.code)
    provider = cause.provider or "the provider"
    if isinstance(cause, AuthenticationError | PermissionDeniedError):
        message = f"{provider} refused this gateway's credentials for the model"
    else:
        message = f"{provider}: {scrub(cause.message)}"
    if tried > 1:
        message += f" ({tried} deployments tried)"
    status, retry_after = 502, None
    if isinstance(cause, RateLimitError):
        status, retry_after = 429, error.retry_after or cause.retry_after
    elif isinstance(cause, CircuitOpenError):
        status, retry_after = 503, error.retry_after or cause.retry_after
    elif isinstance(cause, TimeoutError):
        status = 504
    elif isinstance(cause, ServerError) and cause.status in (503, 529):
        status, retry_after = 503, cause.retry_after
    # Everything else is a 502: connection failures, other 5xx, malformed streams, and an
    # upstream 404 (our model name) or 401/403 (our key): none is the caller's to fix.
    return Problem(
        status,
        message,
        type=kind,
        code=cause.code if cause.code and cause.code != kind else None,
        retry_after=retry_after,
        upstream=True,
    )


def body_of(problem: Problem, protocol: Protocol) -> dict[str, Any]:
    """The error body as a dict, in ``protocol``'s shape."""
    if protocol == "anthropic":
        kind = problem.type if problem.upstream else _anthropic_type(problem.status)
        return {"type": "error", "error": {"type": kind, "message": problem.message}}
    return error_object(problem.message, problem.type, param=problem.param, code=problem.code)


def render(problem: Problem, protocol: Protocol) -> bytes:
    """The error body, encoded."""
    return _json(body_of(problem, protocol))


def event(problem: Problem, protocol: Protocol, *, sequence: int = 0) -> bytes:
    """The error as the last event of a stream that already started.

    ``sequence`` is the event's ``sequence_number`` in a Responses stream.
    """
    body = body_of(problem, protocol)
    if protocol == "responses":
        error = body["error"]
        head = {"type": "error", "code": problem.code or problem.type, "message": problem.message}
        body = {**head, "param": problem.param, "sequence_number": sequence, "error": error}
        return b"event: error\ndata: " + _json(body) + b"\n\n"
    if protocol == "anthropic":
        return b"event: error\ndata: " + _json(body) + b"\n\n"
    return b"data: " + _json(body) + b"\n\n"


def last_events(problem: Problem, exchange: Exchange) -> bytes:
    """What ends ``exchange``'s started stream on ``problem``: the stream's own ending
    (``Exchange.ending``, for a protocol whose events carry state), else its error event."""
    if exchange.ending is not None:
        return exchange.ending(problem)
    return event(problem, exchange.protocol)


def headers(problem: Problem) -> list[tuple[bytes, bytes]]:
    """``Retry-After`` (whole seconds, and milliseconds as the OpenAI SDKs read) and ``close``."""
    out: list[tuple[bytes, bytes]] = []
    if problem.retry_after is not None:
        seconds = max(problem.retry_after, 0.0)
        out.append((b"retry-after", b"%d" % max(1, math.ceil(seconds))))
        out.append((b"retry-after-ms", b"%d" % max(1, math.ceil(seconds * 1000))))
    if problem.close:
        out.append((b"connection", b"close"))
    return out


def _anthropic_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
