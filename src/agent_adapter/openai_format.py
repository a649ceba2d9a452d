"""OpenAI's Chat Completions shapes, both ways, for whatever speaks OpenAI's format to callers.

The batch files (``agent-adapter batch``) and the gateway take OpenAI chat
request bodies and answer with OpenAI objects, whichever provider served
them: ``chat_params`` turns a body into ``chat()`` keywords (refusing what it
cannot honour rather than dropping it), ``chat_completion`` renders a
``ChatResponse`` as a ``chat.completion`` object, and ``error_body`` /
``error_status`` render an ``AdapterError`` as OpenAI's error body.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from .errors import (
    AdapterError,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TimeoutError,
    ValidationError,
)
from .types import ChatResponse

__all__ = [
    "BODY_FIELDS",
    "chat_completion",
    "chat_params",
    "error_body",
    "error_code",
    "error_status",
]

_SAME = (
    "model", "messages", "tools", "tool_choice", "temperature", "top_p", "top_k", "stop", "seed",
    "presence_penalty", "frequency_penalty", "parallel_tool_calls", "user", "prompt_cache_key",
)  # fmt: skip
BODY_FIELDS = frozenset(
    (
        *_SAME,
        "max_tokens",
        "max_completion_tokens",
        "response_format",
        "reasoning_effort",
        "n",
        "stream",
    )
)
"""The chat request body fields ``chat_params`` accepts (``top_k`` as vLLM and others take it)."""


def chat_params(body: Mapping[str, Any], *, where: str = "body") -> dict[str, Any]:
    """``chat()`` keywords for an OpenAI chat request body.

    A field we would otherwise drop silently (``logprobs``, ``n`` above 1,
    ``stream``, ...) is a ``ValidationError`` naming it (``body.logprobs``),
    so an answer never pretends to honour what it ignored. The fields' values
    are checked later, by ``chat()`` itself.
    """
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise ValidationError(
            "is not supported (supported: " + ", ".join(sorted(BODY_FIELDS - {"stream"})) + ")",
            field=f"{where}.{unknown[0]}",
        )
    for key in ("model", "messages"):
        if key not in body:
            raise ValidationError("is missing", field=f"{where}.{key}")
    if not isinstance(body["model"], str) or not body["model"]:
        raise ValidationError("must be a non-empty string", field=f"{where}.model")
    if body.get("stream"):
        raise ValidationError("streaming is not supported here", field=f"{where}.stream")
    if body.get("n", 1) != 1:
        raise ValidationError("only n = 1 is supported", field=f"{where}.n")
    params = {key: body[key] for key in _SAME if body.get(key) is not None}
    limits = {body.get(k) for k in ("max_tokens", "max_completion_tokens")} - {None}
    if len(limits) > 1:
        raise ValidationError(
            "disagrees with max_tokens: give one of them", field=f"{where}.max_completion_tokens"
        )
    if limits:
        params["max_tokens"] = limits.pop()
    fmt = body.get("response_format")
    if fmt is not None and not (isinstance(fmt, Mapping) and fmt.get("type") == "text"):
        params["response_format"] = fmt
    if body.get("reasoning_effort") is not None:
        params["reasoning"] = body["reasoning_effort"]
    return params


def chat_completion(
    response: ChatResponse, *, model: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """``response`` as an OpenAI ``chat.completion`` object (a dict ready to encode).

    ``model`` stands in when the provider named none. Reasoning text, which
    Chat Completions has no field for, goes in ``message.reasoning_content``
    as DeepSeek and vLLM send it; ``finish_reason`` is ours (``stop``,
    ``length``, ``tool_calls``, ``content_filter``, or ``error`` for an
    ending OpenAI has no name for).
    """
    message: dict[str, Any] = {
        "role": "assistant",
        "content": response.content or (None if response.tool_calls or response.refusal else ""),
        "refusal": response.refusal,
    }
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls
        ]
    if response.reasoning:
        message["reasoning_content"] = response.reasoning
    completion: dict[str, Any] = {
        "id": response.id or f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": response.model or model or "",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": response.finish_reason or "stop",
            }
        ],
    }
    usage = response.usage
    if usage is not None:
        completion["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        }
    return completion


_STATUS: tuple[tuple[type[AdapterError], int, str], ...] = (
    (ValidationError, 400, "invalid_request_error"),
    (AuthenticationError, 401, "authentication_error"),
    (PermissionDeniedError, 403, "permission_error"),
    (NotFoundError, 404, "invalid_request_error"),
    (BadRequestError, 400, "invalid_request_error"),
    (RateLimitError, 429, "rate_limit_error"),
    (CircuitOpenError, 503, "server_error"),
    (TimeoutError, 504, "timeout_error"),
    (APIConnectionError, 502, "api_connection_error"),
)


def error_status(error: AdapterError) -> int:
    """The HTTP status to answer ``error`` with: the provider's, else the closest one."""
    if error.status is not None:
        return error.status
    return next((status for cls, status, _ in _STATUS if isinstance(error, cls)), 500)


def error_body(error: AdapterError) -> dict[str, Any]:
    """OpenAI's error body for ``error``: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = next((kind for cls, _, kind in _STATUS if isinstance(error, cls)), "server_error")
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "param": getattr(error, "field", None),
            "code": error.code,
        }
    }


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def error_code(error: AdapterError) -> str:
    """A machine-readable code: the provider's, else the class as snake case (``timeout_error``)."""
    return error.code or _CAMEL.sub("_", type(error).__name__).lower().replace("a_p_i", "api")
