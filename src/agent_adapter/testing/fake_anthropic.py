"""A canned but plausible Anthropic Messages API: ``reply(request) -> Reply``.

Used by ``agent-adapter mock`` and the examples so that a client pointed at the
mock server gets answers shaped exactly like Claude's: a ``tool_use`` block
when tools are offered and the user has just spoken (a text answer once tool
results are back), a ``thinking`` block when thinking is on, and with
``"stream": true`` the full event sequence (``message_start`` ... ``ping`` ...
``message_stop``). ``/v1/messages/count_tokens`` answers ``count(body)``.
Missing auth or required fields get Anthropic's error body.
"""

from __future__ import annotations

from typing import Any

import msgspec

from . import _fake_common as common
from .replies import RecordedRequest, Reply

__all__ = ["count", "reply"]

_encode = msgspec.json.Encoder().encode
_MODEL = "claude-sonnet-4-5-20250929"
_SIGNATURE = "EqQBCgIYAhIMfakeSignatureForTheMockServer0123456789abcdef"


def reply(request: RecordedRequest, *, delay: float = 0.0) -> Reply:
    """The reply Anthropic would plausibly give to ``request``.

    ``delay`` is the pause between streamed events, to make streams visible.
    """
    route = request.path.split("?")[0]
    counting = route.endswith("/v1/messages/count_tokens")
    if request.method != "POST" or not (counting or route.endswith("/v1/messages")):
        return _error(404, "not_found_error", f"Not found: {request.path}")
    if not request.headers.get("x-api-key") and not request.headers.get("authorization"):
        return _error(401, "authentication_error", "x-api-key header is required")
    try:
        body = request.json()
    except (msgspec.DecodeError, UnicodeDecodeError):
        return _error(400, "invalid_request_error", "The request body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "invalid_request_error", "The request body must be a JSON object")
    for name in ("model", "messages") if counting else ("model", "max_tokens", "messages"):
        if name not in body:
            return _error(400, "invalid_request_error", f"{name}: Field required")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return _error(400, "invalid_request_error", "messages: at least one message is required")
    if counting:
        return Reply.json({"input_tokens": count(request.body)})
    blocks, stop_reason = _answer(body, messages)
    usage = {
        "input_tokens": common.tokens(request.body),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": common.tokens(_encode(blocks)),
    }
    message_id = f"msg_mock{len(request.body):08d}"
    model = body.get("model") or _MODEL
    if body.get("stream"):
        return Reply.sse(_events(message_id, model, blocks, stop_reason, usage), delay=delay)
    return Reply.json(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        },
        headers={"request-id": f"req_mock{len(request.body):08d}"},
    )


def count(body: bytes) -> int:
    """The fake's ``count_tokens`` answer for a request body: its size, ``tokens`` of the bytes.

    Deterministic, so a test can compute what the fake will say.
    """
    return common.tokens(body)


def _error(status: int, kind: str, message: str) -> Reply:
    return Reply.error(
        status,
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock"},
        headers={"request-id": "req_mock"},
    )


def _answer(body: dict[str, Any], messages: list[Any]) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop reason of the answer."""
    blocks: list[dict[str, Any]] = []
    if common.obj(body.get("thinking")).get("type") in ("enabled", "adaptive"):
        blocks.append(
            {
                "type": "thinking",
                "thinking": "The user wants an answer; let me think briefly.",
                "signature": _SIGNATURE,
            }
        )
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    content = last.get("content")
    has_results = isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )
    tool = _pick_tool(body)
    if tool is not None and last.get("role") == "user" and not has_results:
        name = tool["name"]
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_mock{len(name):04d}",
                "name": name,
                "input": common.arguments(tool.get("input_schema")),
            }
        )
        return blocks, "tool_use"
    if has_results:
        text = "Thanks, I have the tool results. Here is the answer."
    else:
        text = f"Hello! You said: {common.text_of(content)[:200]}"
    fmt = common.obj(common.obj(body.get("output_config")).get("format"))
    if fmt:
        text = common.json_answer(fmt.get("schema"), text)
    blocks.append({"type": "text", "text": text})
    return blocks, "end_turn"


def _pick_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool to use: the one ``tool_choice`` names, else the first; None when it says none."""
    choice = common.obj(body.get("tool_choice"))
    if choice.get("type") == "none":
        return None
    wanted = choice.get("name") if choice.get("type") == "tool" else None
    return common.pick_tool(body.get("tools") or (), allowed=(wanted,) if wanted else None)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _encode(data) + b"\n\n"


def _events(
    message_id: str,
    model: str,
    blocks: list[dict[str, Any]],
    stop_reason: str,
    usage: dict[str, int],
) -> list[bytes]:
    """The SSE events of a streamed answer, one chunk per event."""
    start_usage = dict(usage, output_tokens=1)
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    out = [_event("message_start", {"type": "message_start", "message": message})]
    out.append(_event("ping", {"type": "ping"}))
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "text":
            skeleton: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
        elif kind == "thinking":
            skeleton = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": piece}
                for piece in _pieces(block["thinking"])
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            skeleton = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            text = _encode(block["input"]).decode()
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [{"type": "input_json_delta", "partial_json": p} for p in _pieces(text)]
        out.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": skeleton},
            )
        )
        for delta in deltas:
            out.append(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        out.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    out.append(_event("message_stop", {"type": "message_stop"}))
    return out


def _pieces(text: str) -> list[str]:
    return common.pieces(text, 12) or [""]
