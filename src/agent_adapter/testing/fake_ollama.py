"""A canned but plausible Ollama native API: ``reply(request) -> Reply``.

Used by ``agent-adapter mock`` and the examples so that a client pointed at the
mock server gets answers shaped like a local Ollama's: ``/api/chat`` streams
NDJSON **unless** ``"stream": false`` (Ollama's default is to stream), ending
with a ``"done": true`` line that carries ``done_reason`` and the eval counts;
``message.thinking`` when ``think`` is on; a whole tool call (arguments as a
JSON object) when tools are offered and the user has just spoken.
``/api/embed`` returns deterministic vectors. Errors are ``{"error": "..."}``.
No key is needed, as with a local server.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import msgspec

from .replies import RecordedRequest, Reply

__all__ = ["reply"]

_encode = msgspec.json.Encoder().encode
_CREATED_AT = "2025-10-26T17:21:20.903412Z"
_DONE_AT = "2025-10-26T17:21:21.219166Z"


def reply(request: RecordedRequest, *, delay: float = 0.0) -> Reply:
    """The reply Ollama would plausibly give to ``request`` (``delay``: pause between lines)."""
    route = request.path.partition("?")[0].rstrip("/")
    if request.method != "POST" or route not in ("/api/chat", "/api/embed"):
        return Reply.error(404, {"error": "404 page not found"})
    try:
        body = request.json()
    except (msgspec.DecodeError, UnicodeDecodeError):
        return Reply.error(400, {"error": "invalid character in request body"})
    if not isinstance(body, dict):
        return Reply.error(400, {"error": "invalid request body"})
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return Reply.error(400, {"error": "model is required"})
    if route == "/api/embed":
        return _embed(body, model)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return Reply.error(400, {"error": "messages is required"})
    return _chat(body, model, messages, len(request.body), delay)


def _tokens(text: str) -> int:
    return max(1, len(text.encode()) // 4)


def _arguments(function: dict[str, Any], user_text: str) -> dict[str, Any]:
    """Arguments that satisfy the tool's required properties, drawn from the user's words."""
    params = function.get("parameters") or {}
    props = params.get("properties") or {}
    out: dict[str, Any] = {}
    for name in params.get("required") or list(props)[:1]:
        spec = props.get(name) or {}
        if spec.get("enum"):
            out[name] = spec["enum"][0]
        elif spec.get("type") in ("integer", "number"):
            out[name] = 1
        elif spec.get("type") == "boolean":
            out[name] = True
        else:
            out[name] = user_text[:40] or "Toronto"
    return out


def _chat(body: dict[str, Any], model: str, messages: list[Any], size: int, delay: float) -> Reply:
    stream = body.get("stream", True) is not False  # Ollama streams by default
    if not messages:  # an empty conversation only loads the model
        done: dict[str, Any] = {
            "model": model,
            "created_at": _DONE_AT,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "load",
        }
        return Reply.stream([_encode(done) + b"\n"]) if stream else Reply.json(done)
    last: dict[str, Any] = messages[-1] if isinstance(messages[-1], dict) else {}
    raw_text = last.get("content")
    user_text = raw_text if isinstance(raw_text, str) else ""
    tools = [
        t["function"]
        for t in body.get("tools") or ()
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    think = body.get("think")
    calls: list[dict[str, Any]] = []
    if tools and last.get("role") == "user":
        function = tools[0]
        name = str(function.get("name", "tool"))
        calls.append(
            {
                "id": "call_" + hashlib.sha256(user_text.encode()).hexdigest()[:8],
                "function": {
                    "index": 0,
                    "name": name,
                    "arguments": _arguments(function, user_text),
                },
            }
        )
        thinking = f"I should call {name} to answer this."
        content = ""
    elif last.get("role") == "tool":
        thinking = "The tool answered; I can reply now."
        content = f"The tool says: {last.get('content', '')}"
    else:
        n_images = len(last.get("images") or ())
        thinking = "A short, friendly answer will do."
        content = f"Hello from the mock Ollama! You said: {user_text[:60]}"
        if n_images:
            content += f" (I see {n_images} image{'s' if n_images > 1 else ''}.)"
    if not think:
        thinking = ""
    raw_options = body.get("options")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
    done_reason = "stop"
    limit = options.get("num_predict")
    if isinstance(limit, int) and 0 < limit < _tokens(content) and not calls:
        content = content[: limit * 4]
        done_reason = "length"
    metrics = {
        "total_duration": 482210375,
        "load_duration": 21337917,
        "prompt_eval_count": max(1, size // 4),
        "prompt_eval_duration": 61200000,
        "eval_count": _tokens(thinking + content) + 10 * len(calls),
        "eval_duration": 383100000,
    }
    if stream:
        return Reply.stream(
            _lines(model, thinking, content, calls, done_reason, metrics),
            content_type="application/x-ndjson",
            delay=delay,
        )
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    return Reply.json(
        {
            "model": model,
            "created_at": _DONE_AT,
            "message": message,
            "done": True,
            "done_reason": done_reason,
            **metrics,
        }
    )


def _lines(
    model: str,
    thinking: str,
    content: str,
    calls: list[dict[str, Any]],
    done_reason: str,
    metrics: dict[str, Any],
) -> list[bytes]:
    def line(message: dict[str, Any], **top: Any) -> bytes:
        payload = {
            "model": model,
            "created_at": _DONE_AT if top.get("done") else _CREATED_AT,
            "message": {"role": "assistant", "content": "", **message},
            "done": False,
            **top,
        }
        return _encode(payload) + b"\n"

    out = [line({"thinking": piece}) for piece in _pieces(thinking)]
    out += [line({"content": piece}) for piece in _pieces(content)]
    if calls:
        out.append(line({"tool_calls": calls}))
    out.append(line({}, done=True, done_reason=done_reason, **metrics))
    return out


def _pieces(text: str, size: int = 6) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for ``text``."""
    raw = b""
    counter = 0
    while len(raw) < dims * 2:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [(int.from_bytes(raw[2 * i : 2 * i + 2], "big") / 32767.5) - 1.0 for i in range(dims)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def _embed(body: dict[str, Any], model: str) -> Reply:
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        return Reply.error(400, {"error": "invalid input type"})
    dims = body.get("dimensions") or 8
    if not isinstance(dims, int) or dims < 1 or dims > 4096:
        return Reply.error(400, {"error": "dimensions must be a positive integer"})
    return Reply.json(
        {
            "model": model,
            "embeddings": [_vector(text, dims) for text in inputs],
            "total_duration": 14143917,
            "load_duration": 1019500,
            "prompt_eval_count": sum(_tokens(text) for text in inputs),
        }
    )
