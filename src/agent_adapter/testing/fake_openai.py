"""A canned but plausible OpenAI Chat Completions / embeddings server: ``reply(request) -> Reply``.

Used by ``agent-adapter mock`` / ``demo`` and the examples, so any client of an
OpenAI-compatible preset pointed at the mock server gets answers shaped like
OpenAI's: one tool call when tools are offered and the user has just spoken,
a short echo otherwise (a summary once a tool result is back), ``finish_reason:
"length"`` when the token limit is tiny, and with ``"stream": true`` the chunk
sequence OpenAI sends (role header, content pieces, tool-call fragments, the
finishing chunk, the usage-only chunk when ``stream_options.include_usage`` is
set, then ``data: [DONE]``). Embeddings are small deterministic unit vectors.
Everything is deterministic: the same request gets the same bytes.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import msgspec

from .replies import RecordedRequest, Reply

__all__ = ["reply"]

_encode = msgspec.json.Encoder().encode
_CREATED = 1755600000
_FINGERPRINT = "fp_mock0000001"


def reply(request: RecordedRequest, *, delay: float = 0.0) -> Reply:
    """The reply an OpenAI-compatible server would plausibly give to ``request``.

    ``delay`` is the pause between streamed chunks.
    """
    route = request.path.partition("?")[0].rstrip("/")
    if request.method != "POST":
        return _error(405, "invalid_request_error", f"Method {request.method} not allowed")
    try:
        body = request.json()
    except (msgspec.DecodeError, UnicodeDecodeError):
        return _error(400, "invalid_request_error", "We could not parse the JSON body.")
    if not isinstance(body, dict):
        return _error(400, "invalid_request_error", "The request body must be a JSON object.")
    if route.endswith("/embeddings"):
        return _embeddings(body)
    if route.endswith("/chat/completions"):
        return _chat(body, request.body, delay)
    return _error(404, "invalid_request_error", f"Unknown request URL: POST {route}", 404)


def _error(status: int, type: str, message: str, code: Any = None, param: Any = None) -> Reply:
    return Reply.error(
        status, {"error": {"message": message, "type": type, "param": param, "code": code}}
    )


def _tokens(text: str) -> int:
    """A rough token count: about four characters per token."""
    return max(1, (len(text) + 3) // 4)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _sample(schema: Any) -> Any:
    """A plausible value for a JSON Schema (first enum value, else one per type)."""
    if not isinstance(schema, dict):
        return "example"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        required = schema.get("required") or list(props)
        return {name: _sample(props.get(name)) for name in required if name in props}
    if kind == "array":
        return [_sample(schema.get("items"))]
    samples: dict[Any, Any] = {"integer": 1, "number": 1.5, "boolean": True, "null": None}
    return samples.get(kind, "example")


def _pick_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function to call, or None when the model should answer in text."""
    functions = [t.get("function") for t in body.get("tools") or () if isinstance(t, dict)]
    tools: list[dict[str, Any]] = [f for f in functions if isinstance(f, dict) and f.get("name")]
    messages = body.get("messages") or []
    choice = body.get("tool_choice")
    if not tools or choice == "none" or not messages or messages[-1].get("role") != "user":
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t["name"] == wanted), tools[0])
    return tools[0]


def _chat(body: dict[str, Any], raw: bytes, delay: float) -> Reply:
    messages = body.get("messages")
    if not body.get("model"):
        return _error(400, "invalid_request_error", "you must provide a model parameter")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        return _error(
            400, "invalid_request_error", "'messages' must be a non-empty array", param="messages"
        )
    model = str(body["model"])
    cid = "chatcmpl-mock" + hashlib.sha256(raw).hexdigest()[:20]
    prompt_tokens = sum(_tokens(_text_of(m.get("content"))) + 4 for m in messages)
    tool = _pick_tool(body)
    text = ""
    call: dict[str, Any] | None = None
    finish = "stop"
    if tool is not None:
        arguments = _encode(_sample(tool.get("parameters") or {"type": "object"})).decode()
        call = {"id": "call_mock" + cid[-16:], "name": tool["name"], "arguments": arguments}
        finish = "tool_calls"
        completion_tokens = _tokens(arguments) + 5
    else:
        last = messages[-1]
        said = " ".join(_text_of(last.get("content")).split())
        said = said[:60] + ("..." if len(said) > 60 else "")
        if last.get("role") == "tool":
            text = f"Here is what the tool returned: {said}"
        else:
            text = f"You said: {said}" if said else "Hello! How can I help?"
        words = text.split(" ")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < len(words):
            text, finish = " ".join(words[:limit]), "length"
        completion_tokens = _tokens(text)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    if body.get("stream"):
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        events = _stream(cid, model, text, call, finish, usage, include_usage)
        return Reply.sse(events, delay=delay)
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if call is not None:
        message["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
        ]
    return Reply.json(
        {
            "id": cid,
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
        },
        headers={"x-request-id": "req_mock" + cid[-12:]},
    )


def _stream(
    cid: str,
    model: str,
    text: str,
    call: dict[str, Any] | None,
    finish: str,
    usage: dict[str, Any],
    include_usage: bool,
) -> list[bytes]:
    def event(delta: dict[str, Any] | None, reason: str | None = None, **extra: Any) -> bytes:
        choices = (
            []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]
        )
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "system_fingerprint": _FINGERPRINT,
            "choices": choices,
            **extra,
        }
        return b"data: " + _encode(chunk) + b"\n\n"

    events = [event({"role": "assistant", "content": "" if call is None else None})]
    if call is not None:
        head = {"index": 0, "id": call["id"], "type": "function"}
        head["function"] = {"name": call["name"], "arguments": ""}
        events.append(event({"tool_calls": [head]}))
        args = call["arguments"]
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            if piece:
                events.append(
                    event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                )
    else:
        words = text.split(" ")
        for i, word in enumerate(words):
            events.append(event({"content": word if i == 0 else " " + word}))
    if include_usage:
        events.append(event({}, finish))
        events.append(event(None, usage=usage))
    else:  # as Mistral and Together do: usage on the finishing chunk
        events.append(event({}, finish, usage=usage))
    events.append(b"data: [DONE]\n\n")
    return events


def _embeddings(body: dict[str, Any]) -> Reply:
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return _error(
            400, "invalid_request_error", "'input' must be a string or an array of strings"
        )
    size = body.get("dimensions") or body.get("output_dimension") or 8
    if not isinstance(size, int) or not 1 <= size <= 4096:
        return _error(400, "invalid_request_error", "'dimensions' must be between 1 and 4096")
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(text, size)}
        for i, text in enumerate(texts)
    ]
    tokens = sum(_tokens(t) for t in texts)
    return Reply.json(
        {
            "object": "list",
            "data": data,
            "model": str(body.get("model") or "text-embedding-3-small"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _vector(text: str, size: int) -> list[float]:
    """A unit vector derived from the text's hash: equal texts, equal vectors."""
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    while len(seed) < size:
        seed += hashlib.sha256(seed).digest()
    raw = [(b - 127.5) / 127.5 for b in seed[:size]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]
