"""OpenAI's Chat Completions shapes, both ways, for whatever speaks OpenAI's format to callers.

The batch files (``agent-adapter batch``) and the gateway take OpenAI chat
request bodies and answer with OpenAI objects, whichever provider served
them: ``chat_params`` turns a body into ``chat()`` keywords (refusing what it
cannot honour rather than dropping it), ``chat_completion`` renders a
``ChatResponse`` as a ``chat.completion`` object, ``ChunkEncoder`` a stream
of ``StreamChunk``s as ``chat.completion.chunk`` events, ``embedding_list``
an ``EmbedResponse``, and ``error_body`` / ``error_status`` render an
``AdapterError`` as OpenAI's error body.
"""

from __future__ import annotations

import base64
import re
import secrets
import struct
import time
from collections.abc import Mapping
from typing import Any

import msgspec

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
from .types import ChatResponse, EmbedResponse, StreamChunk, Usage

__all__ = [
    "BODY_FIELDS",
    "ChunkEncoder",
    "chat_completion",
    "chat_params",
    "embedding_list",
    "error_body",
    "error_code",
    "error_object",
    "error_status",
    "error_type",
]

_json = msgspec.json.Encoder().encode

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
    are checked later, by ``chat()`` itself. ``where=""`` names fields bare
    (``logprobs``), as an HTTP API's ``param`` does.
    """
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise ValidationError(
            "is not supported (supported: " + ", ".join(sorted(BODY_FIELDS - {"stream"})) + ")",
            field=_at(where, unknown[0]),
        )
    for key in ("model", "messages"):
        if key not in body:
            raise ValidationError("is missing", field=_at(where, key))
    if not isinstance(body["model"], str) or not body["model"]:
        raise ValidationError("must be a non-empty string", field=_at(where, "model"))
    if body.get("stream"):
        raise ValidationError("streaming is not supported here", field=_at(where, "stream"))
    if body.get("n", 1) != 1:
        raise ValidationError("only n = 1 is supported", field=_at(where, "n"))
    params = {key: body[key] for key in _SAME if body.get(key) is not None}
    limits = {body.get(k) for k in ("max_tokens", "max_completion_tokens")} - {None}
    if len(limits) > 1:
        raise ValidationError(
            "disagrees with max_tokens: give one of them", field=_at(where, "max_completion_tokens")
        )
    if limits:
        params["max_tokens"] = limits.pop()
    fmt = body.get("response_format")
    if fmt is not None and not (isinstance(fmt, Mapping) and fmt.get("type") == "text"):
        params["response_format"] = fmt
    if body.get("reasoning_effort") is not None:
        params["reasoning"] = body["reasoning_effort"]
    return params


def _at(where: str, key: str) -> str:
    """``key``'s path in ``where`` (``body.n``); bare when ``where`` is ``""``."""
    return f"{where}.{key}" if where else key


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
    if response.usage is not None:
        completion["usage"] = _usage(response.usage)
    return completion


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


class ChunkEncoder:
    """A stream of ``StreamChunk``s as OpenAI ``chat.completion.chunk`` SSE events, sans-IO.

    ``chunk(c)`` gives the bytes for one of our chunks (the first one is
    preceded by the role header OpenAI sends), ``end(response)`` the
    finishing chunk, the usage chunk when ``include_usage`` (then every chunk
    carries ``"usage": null``, as OpenAI's do) and ``data: [DONE]``;
    ``error(body)`` an in-stream error event, which the OpenAI SDKs raise.
    Reasoning text goes in ``delta.reasoning_content``, as ``chat_completion``
    puts it. The finish reason is the assembled response's (``tool_calls``
    whenever calls were made). Each event's constant part is encoded once.

    ``frame`` is what goes before and after each chunk object: SSE's
    ``data: `` and blank line by default. Another transport (the gateway's
    WebSocket) passes its own, ending in ``\n``, and splits the bytes on
    it: the JSON itself never holds a raw newline. ``finish`` is ``end``
    without SSE's ``[DONE]``.
    """

    __slots__ = ("_created", "_head", "_include_usage", "_model", "_prefix", "_suffix", "_tail")

    def __init__(
        self,
        *,
        model: str,
        include_usage: bool = False,
        created: int | None = None,
        frame: tuple[bytes, bytes] = (b"data: ", b"\n\n"),
    ):
        self._model = model
        self._include_usage = include_usage
        self._created = int(time.time()) if created is None else created
        self._prefix, self._suffix = frame
        self._head = b""  # made from the first chunk's id and model
        self._tail = (
            b',"logprobs":null,"finish_reason":null}]'
            + (b',"usage":null}' if include_usage else b"}")
            + self._suffix
        )

    def _start(self, chunk: StreamChunk | None) -> bytes:
        cid = (chunk.id if chunk is not None else None) or f"chatcmpl-{secrets.token_hex(12)}"
        model = (chunk.model if chunk is not None else None) or self._model
        self._model = model
        self._head = (
            self._prefix
            + b'{"id":%s,"object":"chat.completion.chunk","created":%d,'
            % (
                _json(cid),
                self._created,
            )
            + b'"model":%s,"choices":[{"index":0,"delta":' % _json(model)
        )
        return self._head + b'{"role":"assistant","content":""}' + self._tail

    def chunk(self, chunk: StreamChunk) -> bytes:
        """The events for one chunk (``b""`` when it carries nothing a client sees)."""
        lead = b"" if self._head else self._start(chunk)
        delta: dict[str, Any] = {}
        if chunk.reasoning:
            delta["reasoning_content"] = chunk.reasoning
        if chunk.delta:
            delta["content"] = chunk.delta
        if chunk.refusal:
            delta["refusal"] = chunk.refusal
        if chunk.tool_calls:
            calls = []
            for part in chunk.tool_calls:
                call: dict[str, Any] = {"index": part.index}
                function: dict[str, Any] = {"arguments": part.arguments}
                if part.id is not None:
                    call["id"], call["type"] = part.id, "function"
                if part.name is not None:
                    function["name"] = part.name
                call["function"] = function
                calls.append(call)
            delta["tool_calls"] = calls
        if not delta:
            return lead
        return lead + self._head + _json(delta) + self._tail

    def finish(self, response: ChatResponse) -> bytes:
        """The finishing chunk and the usage chunk (if asked for), framed as the others."""
        lead = b"" if self._head else self._start(None)
        reason = response.finish_reason or "stop"
        out = (
            lead
            + self._head
            + b"{}"
            + self._tail.replace(b'"finish_reason":null', b'"finish_reason":' + _json(reason), 1)
        )
        if self._include_usage:
            usage = _usage(response.usage) if response.usage is not None else None
            head = self._head[: self._head.index(b'"choices":')]
            out += head + b'"choices":[],"usage":' + _json(usage) + b"}" + self._suffix
        return out

    def end(self, response: ChatResponse) -> bytes:
        """The finishing chunk, the usage chunk (if asked for) and ``[DONE]``."""
        return self.finish(response) + b"data: [DONE]\n\n"

    @staticmethod
    def error(body: Mapping[str, Any]) -> bytes:
        """An error event ending the stream (no ``[DONE]`` after it: the stream did not finish)."""
        return b"data: " + _json(body) + b"\n\n"


def embedding_list(
    response: EmbedResponse, *, model: str, encoding_format: str = "float"
) -> dict[str, Any]:
    """``response`` as OpenAI's embeddings ``list``; ``base64`` packs little-endian float32s.

    The openai SDKs ask for ``base64`` by default (and unpack it themselves).
    """
    if encoding_format == "base64":
        data: list[Any] = [
            base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode("ascii")
            for v in response.vectors
        ]
    else:
        data = response.vectors
    usage = response.usage
    prompt = usage.prompt_tokens if usage is not None else 0
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": vector}
            for i, vector in enumerate(data)
        ],
        "model": response.model or model,
        "usage": {"prompt_tokens": prompt, "total_tokens": usage.total_tokens if usage else 0},
    }


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
    return error_object(error.message, kind, param=getattr(error, "field", None), code=error.code)


def error_object(
    message: str, type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error body from its parts, for an error that is no ``AdapterError``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def error_code(error: AdapterError) -> str:
    """A machine-readable code: the provider's, else the class as snake case (``timeout_error``)."""
    return error.code or error_type(error)


def error_type(error: AdapterError) -> str:
    """The error's class as snake case: ``timeout_error``, ``api_connection_error``."""
    return _CAMEL.sub("_", type(error).__name__).lower().replace("a_p_i", "api")
