"""A canned but plausible Ollama native API: ``reply(request) -> Reply``.

Used by ``agent-adapter mock`` and the examples so that a client pointed at the
mock server gets answers shaped like a local Ollama's: ``/api/chat`` streams
NDJSON **unless** ``"stream": false`` (Ollama's default is to stream), ending
with a ``"done": true`` line that carries ``done_reason`` and the eval counts;
``message.thinking`` when ``think`` is on; a whole tool call (arguments as a
JSON object) when tools are offered and the user has just spoken; JSON that
follows ``format`` when it is a schema (any object for ``"json"``).
``/api/embed`` returns deterministic vectors. Errors are ``{"error": "..."}``.
No key is needed, as with a local server.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from . import _fake_common as common
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
    return _chat(body, model, messages, request.body, delay)


def _chat(body: dict[str, Any], model: str, messages: list[Any], raw: bytes, delay: float) -> Reply:
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
    last = common.obj(messages[-1])
    user_text = common.text_of(last.get("content"))
    function = common.pick_tool(common.functions(body.get("tools")))
    think = body.get("think")
    calls: list[dict[str, Any]] = []
    if function is not None and last.get("role") == "user":
        name = function["name"]
        args = common.arguments(function.get("parameters"), user_text[:40] or "Toronto")
        calls.append(
            {
                "id": "call_" + hashlib.sha256(user_text.encode()).hexdigest()[:8],
                "function": {"index": 0, "name": name, "arguments": args},
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
    fmt = body.get("format")
    if not calls and (fmt == "json" or isinstance(fmt, dict)):
        content = common.json_answer(fmt, content)
    if not think:
        thinking = ""
    done_reason = "stop"
    limit = common.obj(body.get("options")).get("num_predict")
    if isinstance(limit, int) and 0 < limit < common.tokens(content) and not calls:
        content = content[: limit * 4]
        done_reason = "length"
    metrics = {
        "total_duration": 482210375,
        "load_duration": 21337917,
        "prompt_eval_count": common.tokens(raw),
        "prompt_eval_duration": 61200000,
        "eval_count": common.tokens(thinking + content) + 10 * len(calls),
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

    out = [line({"thinking": piece}) for piece in common.pieces(thinking, 6)]
    out += [line({"content": piece}) for piece in common.pieces(content, 6)]
    if calls:
        out.append(line({"tool_calls": calls}))
    out.append(line({}, done=True, done_reason=done_reason, **metrics))
    return out


def _embed(body: dict[str, Any], model: str) -> Reply:
    inputs = common.inputs(body.get("input"))
    if inputs is None:
        return Reply.error(400, {"error": "invalid input type"})
    dims = body.get("dimensions") or 8
    if not isinstance(dims, int) or dims < 1 or dims > 4096:
        return Reply.error(400, {"error": "dimensions must be a positive integer"})
    return Reply.json(
        {
            "model": model,
            "embeddings": [common.vector(text, dims) for text in inputs],
            "total_duration": 14143917,
            "load_duration": 1019500,
            "prompt_eval_count": sum(common.tokens(text) for text in inputs),
        }
    )
