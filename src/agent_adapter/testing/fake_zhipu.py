"""A canned but plausible Zhipu GLM / Z.ai API: ``reply(request) -> Reply``.

Used by ``agent-adapter mock`` and the examples so that a client pointed at the
mock server gets answers shaped like GLM's: ``reasoning_content`` when
thinking is on (GLM-4.5+ think by default), a tool call when tools are offered
and the user has just spoken (a text answer once tool results are back), and
with ``"stream": true`` OpenAI-style SSE chunks ending in ``data: [DONE]``,
usage on the last chunk, and tool-call arguments in fragments only when
``tool_stream`` is set. Missing auth or bad input get Zhipu's business-code
error bodies. ``/embeddings`` returns deterministic vectors.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import msgspec

from .replies import RecordedRequest, Reply

__all__ = ["reply"]

_encode = msgspec.json.Encoder().encode
_CREATED = 1755761730


def reply(request: RecordedRequest, *, delay: float = 0.0) -> Reply:
    """The reply Zhipu would plausibly give to ``request`` (``delay``: pause between chunks)."""
    route = request.path.partition("?")[0].rstrip("/")
    if request.method != "POST" or not route.endswith(("/chat/completions", "/embeddings")):
        return _error(404, "1222", "API 不存在")
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
        return _error(401, "1001", "Header中未收到Authorization参数，无法进行身份验证。")
    try:
        body = request.json()
    except (msgspec.DecodeError, UnicodeDecodeError):
        return _error(400, "1210", "API 调用参数有误，请检查文档。")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return _error(400, "1213", "未正常接收到model参数")
    if route.endswith("/embeddings"):
        return _embeddings(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "1213", "未正常接收到messages参数")
    return _chat(body, messages, len(request.body), delay)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply.error(status, {"error": {"code": code, "message": message}})


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _tokens(text: str) -> int:
    return max(1, len(text.encode()) // 3)


def _arguments(tool: dict[str, Any], user_text: str) -> dict[str, Any]:
    """Arguments that satisfy the tool's required properties, drawn from the user's words."""
    params = tool.get("parameters") or {}
    props = params.get("properties") or {}
    out: dict[str, Any] = {}
    for name in params.get("required") or list(props)[:1]:
        kind = (props.get(name) or {}).get("type")
        enum = (props.get(name) or {}).get("enum")
        if enum:
            out[name] = enum[0]
        elif kind in ("integer", "number"):
            out[name] = 1
        elif kind == "boolean":
            out[name] = True
        else:
            out[name] = user_text[:40] or "北京"
    return out


def _chat(body: dict[str, Any], messages: list[Any], size: int, delay: float) -> Reply:
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    thinking = body.get("thinking")
    think = not (isinstance(thinking, dict) and thinking.get("type") == "disabled")
    tools = [
        t["function"]
        for t in body.get("tools") or ()
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    user_text = _text(last.get("content"))
    call: dict[str, Any] | None = None
    if tools and last.get("role") == "user":
        tool = tools[0]
        call = {
            "id": f"call_{hashlib.sha256(user_text.encode()).hexdigest()[:20]}",
            "type": "function",
            "function": {
                "name": str(tool.get("name", "tool")),
                "arguments": _encode(_arguments(tool, user_text)).decode(),
            },
        }
        reasoning = f"用户的问题需要调用 {call['function']['name']} 工具。"
        content = ""
        finish = "tool_calls"
    elif last.get("role") == "tool":
        reasoning = "工具已经返回结果，可以直接回答。"
        content = f"根据工具结果：{_text(last.get('content'))}"
        finish = "stop"
    else:
        reasoning = "用户打了招呼，简短回应即可。"
        content = f"你好！这是模拟的 GLM 回答：{user_text[:60]}"
        finish = "stop"
    if not think:
        reasoning = ""
    prompt_tokens = max(1, size // 4)
    completion_tokens = _tokens(reasoning + content) + (12 if call else 0)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": _tokens(reasoning) if reasoning else 0},
    }
    response_id = hashlib.sha256(_encode(messages)).hexdigest()[:30]
    model = body["model"]
    if body.get("stream"):
        chunks = _stream(response_id, model, reasoning, content, call, finish, usage, body)
        return Reply.sse(chunks, delay=delay)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    if call:
        message["tool_calls"] = [call]
    return Reply.json(
        {
            "id": response_id,
            "request_id": body.get("request_id") or response_id,
            "created": _CREATED,
            "model": model,
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": usage,
        }
    )


def _stream(
    response_id: str,
    model: str,
    reasoning: str,
    content: str,
    call: dict[str, Any] | None,
    finish: str,
    usage: dict[str, Any],
    body: dict[str, Any],
) -> list[bytes]:
    def event(delta: dict[str, Any], finish: str | None = None, **top: Any) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", **delta}}
        if finish is not None:
            choice["finish_reason"] = finish
        payload = {"id": response_id, "created": _CREATED, "model": model, "choices": [choice]}
        return b"data: " + _encode({**payload, **top}) + b"\n\n"

    out: list[bytes] = []
    for piece in _pieces(reasoning):
        out.append(event({"reasoning_content": piece}))
    for piece in _pieces(content):
        out.append(event({"content": piece}))
    final: dict[str, Any] = {"content": ""}
    if call is not None:
        fn = call["function"]
        head = {"index": 0, "id": call["id"], "type": "function"}
        if body.get("tool_stream"):
            out.append(event({"tool_calls": [{**head, "function": {"name": fn["name"]}}]}))
            for piece in _pieces(fn["arguments"]):
                out.append(event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            final = {"tool_calls": [{**head, "function": fn}]}
    out.append(event(final, finish, usage=usage))
    out.append(b"data: [DONE]\n\n")
    return out


def _pieces(text: str, size: int = 4) -> list[str]:
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


def _embeddings(body: dict[str, Any]) -> Reply:
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        return _error(400, "1214", "input 参数非法")
    dims = body.get("dimensions") or 16
    if not isinstance(dims, int) or not 1 <= dims <= 2048:
        return _error(400, "1214", "dimensions 参数非法")
    tokens = sum(_tokens(text) for text in inputs)
    return Reply.json(
        {
            "object": "list",
            "model": body["model"],
            "data": [
                {"object": "embedding", "index": i, "embedding": _vector(text, dims)}
                for i, text in enumerate(inputs)
            ],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }
    )
