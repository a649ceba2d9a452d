"""A canned but plausible OpenAI Chat Completions / embeddings server: ``reply(request) -> Reply``.

``POST .../responses`` goes to ``fake_openai_responses`` (the Responses API).

Used by ``agent-adapter mock`` / ``demo`` and the examples, so any client of an
OpenAI-compatible preset pointed at the mock server gets answers shaped like
OpenAI's: one tool call when tools are offered and the user has just spoken,
a short echo otherwise (a summary once a tool result is back), JSON that
follows the schema when ``response_format`` asks for ``json_schema`` (any
object for ``json_object``), ``finish_reason: "length"`` when the token limit
is tiny, and with ``"stream": true`` the chunk sequence OpenAI sends (role
header, content pieces, tool-call fragments, the finishing chunk, the
usage-only chunk when ``stream_options.include_usage`` is set, then
``data: [DONE]``). Embeddings are small deterministic unit vectors.
Everything is deterministic: the same request gets the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from . import _fake_common as common, fake_openai_responses
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
    if route.endswith("/responses"):
        return fake_openai_responses.reply(body, request.body, delay)
    return _error(404, "invalid_request_error", f"Unknown request URL: POST {route}", 404)


def _error(status: int, type: str, message: str, code: Any = None, param: Any = None) -> Reply:
    return Reply.error(
        status, {"error": {"message": message, "type": type, "param": param, "code": code}}
    )


def _pick_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function to call, or None when the model should answer in text."""
    messages = body.get("messages") or []
    choice = body.get("tool_choice")
    if choice == "none" or not messages or messages[-1].get("role") != "user":
        return None
    wanted = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    return common.pick_tool(
        common.functions(body.get("tools")), allowed=(wanted,) if wanted else None
    )


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
    prompt_tokens = sum(common.tokens(common.text_of(m.get("content"))) + 4 for m in messages)
    tool = _pick_tool(body)
    text = ""
    call: dict[str, Any] | None = None
    finish = "stop"
    if tool is not None:
        args = _encode(common.arguments(tool.get("parameters"), "example")).decode()
        call = {"id": "call_mock" + cid[-16:], "name": tool["name"], "arguments": args}
        finish = "tool_calls"
        completion_tokens = common.tokens(args) + 5
    else:
        last = messages[-1]
        said = " ".join(common.text_of(last.get("content")).split())
        said = said[:60] + ("..." if len(said) > 60 else "")
        if last.get("role") == "tool":
            text = f"Here is what the tool returned: {said}"
        else:
            text = f"You said: {said}" if said else "Hello! How can I help?"
        fmt = common.obj(body.get("response_format"))
        if fmt.get("type") in ("json_schema", "json_object"):
            text = common.json_answer(common.obj(fmt.get("json_schema")).get("schema"), text)
        words = text.split(" ")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < len(words):
            text, finish = " ".join(words[:limit]), "length"
        completion_tokens = common.tokens(text)
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
        events += [event({"content": piece}) for piece in common.pieces(text, 8)]
    if include_usage:
        events.append(event({}, finish))
        events.append(event(None, usage=usage))
    else:  # as Mistral and Together do: usage on the finishing chunk
        events.append(event({}, finish, usage=usage))
    events.append(b"data: [DONE]\n\n")
    return events


def _embeddings(body: dict[str, Any]) -> Reply:
    texts = common.inputs(body.get("input"))
    if not texts:
        return _error(
            400, "invalid_request_error", "'input' must be a string or an array of strings"
        )
    size = body.get("dimensions") or body.get("output_dimension") or 8
    if not isinstance(size, int) or not 1 <= size <= 4096:
        return _error(400, "invalid_request_error", "'dimensions' must be between 1 and 4096")
    data = [
        {"object": "embedding", "index": i, "embedding": common.vector(text, size)}
        for i, text in enumerate(texts)
    ]
    used = sum(common.tokens(t) for t in texts)
    return Reply.json(
        {
            "object": "list",
            "data": data,
            "model": str(body.get("model") or "text-embedding-3-small"),
            "usage": {"prompt_tokens": used, "total_tokens": used},
        }
    )
