"""A canned but plausible Zhipu GLM / Z.ai API: ``reply(request) -> Reply``.

Used by ``agent-adapter mock`` and the examples so that a client pointed at the
mock server gets answers shaped like GLM's: ``reasoning_content`` when
thinking is on (GLM-4.5+ think by default), a tool call when tools are offered
and the user has just spoken (a text answer once tool results are back), a
JSON object for ``response_format: json_object`` (following the schema the
adapter writes into the system message, when there is one), and with
``"stream": true`` OpenAI-style SSE chunks ending in ``data: [DONE]``, usage
on the last chunk, and tool-call arguments in fragments only when
``tool_stream`` is set. Missing auth or bad input get Zhipu's business-code
error bodies. ``/embeddings`` returns deterministic vectors.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from . import _fake_common as common
from .replies import RecordedRequest, Reply

__all__ = ["reply"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
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
    return _chat(body, messages, request.body, delay)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply.error(status, {"error": {"code": code, "message": message}})


def _schema_in_words(messages: list[Any]) -> Any:
    """The JSON Schema the Zhipu adapter writes into the system message, or None.

    Zhipu's API takes only ``response_format: json_object``, so the adapter gives
    the model the schema in words: an instruction naming "JSON Schema" followed
    by the schema itself, at the end of the system message.
    """
    for message in map(common.obj, messages):
        if message.get("role") != "system":
            continue
        text = common.text_of(message.get("content"))
        at = text.find("JSON Schema")
        start = text.find("{", at) if at >= 0 else -1
        if start >= 0:
            try:
                return _decode(text[start:])
            except msgspec.DecodeError:
                continue
    return None


def _chat(body: dict[str, Any], messages: list[Any], raw: bytes, delay: float) -> Reply:
    last = common.obj(messages[-1])
    think = common.obj(body.get("thinking")).get("type") != "disabled"
    tool = common.pick_tool(common.functions(body.get("tools")))
    user_text = common.text_of(last.get("content"))
    call: dict[str, Any] | None = None
    if tool is not None and last.get("role") == "user":
        args = common.arguments(tool.get("parameters"), user_text[:40] or "北京")
        call = {
            "id": f"call_{hashlib.sha256(user_text.encode()).hexdigest()[:20]}",
            "type": "function",
            "function": {"name": tool["name"], "arguments": _encode(args).decode()},
        }
        reasoning = f"用户的问题需要调用 {call['function']['name']} 工具。"
        content = ""
        finish = "tool_calls"
    elif last.get("role") == "tool":
        reasoning = "工具已经返回结果，可以直接回答。"
        content = f"根据工具结果：{common.text_of(last.get('content'))}"
        finish = "stop"
    else:
        reasoning = "用户打了招呼，简短回应即可。"
        content = f"你好！这是模拟的 GLM 回答：{user_text[:60]}"
        finish = "stop"
    if call is None and common.obj(body.get("response_format")).get("type") == "json_object":
        content = common.json_answer(_schema_in_words(messages), content)
    if not think:
        reasoning = ""
    prompt_tokens = common.tokens(raw)
    completion_tokens = common.tokens(reasoning + content) + (12 if call else 0)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": common.tokens(reasoning) if reasoning else 0
        },
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
    out += [event({"reasoning_content": piece}) for piece in common.pieces(reasoning, 4)]
    out += [event({"content": piece}) for piece in common.pieces(content, 4)]
    final: dict[str, Any] = {"content": ""}
    if call is not None:
        fn = call["function"]
        head = {"index": 0, "id": call["id"], "type": "function"}
        if body.get("tool_stream"):
            out.append(event({"tool_calls": [{**head, "function": {"name": fn["name"]}}]}))
            for piece in common.pieces(fn["arguments"], 4):
                out.append(event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            final = {"tool_calls": [{**head, "function": fn}]}
    out.append(event(final, finish, usage=usage))
    out.append(b"data: [DONE]\n\n")
    return out


def _embeddings(body: dict[str, Any]) -> Reply:
    inputs = common.inputs(body.get("input"))
    if not inputs:
        return _error(400, "1214", "input 参数非法")
    dims = body.get("dimensions") or 16
    if not isinstance(dims, int) or not 1 <= dims <= 2048:
        return _error(400, "1214", "dimensions 参数非法")
    used = sum(common.tokens(text) for text in inputs)
    return Reply.json(
        {
            "object": "list",
            "model": body["model"],
            "data": [
                {"object": "embedding", "index": i, "embedding": common.vector(text, dims)}
                for i, text in enumerate(inputs)
            ],
            "usage": {"prompt_tokens": used, "completion_tokens": 0, "total_tokens": used},
        }
    )
