"""Anthropic's Messages API shapes, both ways, for the gateway's ``/v1/messages``: sans-IO.

``messages_params`` turns a Messages request body into ``chat()`` keywords:
``system`` becomes a system message; ``tool_use`` blocks become tool calls and
``tool_result`` blocks tool messages (before the turn's other content, as
Anthropic orders them); ``thinking`` and ``redacted_thinking`` blocks become
``reasoning_items`` in their places, so a Claude upstream gets them back
verbatim; images and documents become content parts; ``cache_control``
becomes ``cache``. Whatever cannot be honoured (server tools, citations'
search results, ...) is a ``ValidationError`` naming it, never dropped.

``message_object`` renders a ``ChatResponse`` as a ``message``, and
``EventEncoder`` a stream of ``StreamChunk``s as Anthropic's event protocol
(``message_start``, ``content_block_start``/``_delta``/``_stop``,
``message_delta``, ``message_stop``), which the official SDK accumulates.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

import msgspec

from ..errors import ValidationError
from ..types import ChatResponse, ReasoningItem, StreamChunk, ToolCall, Usage

__all__ = ["EventEncoder", "message_object", "messages_params", "stop_reason", "usage_object"]

_json = msgspec.json.Encoder().encode
_object = msgspec.json.Decoder(dict[str, Any]).decode

_FIELDS = frozenset(
    (
        "model", "max_tokens", "messages", "system", "stop_sequences", "stream", "temperature",
        "top_p", "top_k", "tools", "tool_choice", "metadata", "thinking", "output_config",
    )
)  # fmt: skip
_COUNT_FIELDS = frozenset(("model", "messages", "system", "tools", "tool_choice", "thinking"))
_STOP_REASONS = frozenset(
    ("end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal")
)
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_STOP.update(content_filter="refusal", error="end_turn")


def messages_params(body: Mapping[str, Any], *, count: bool = False) -> dict[str, Any]:
    """``chat()`` keywords (``model`` included) for a Messages API request body.

    ``count`` reads a ``count_tokens`` body, which has no ``max_tokens``.
    """
    allowed = _COUNT_FIELDS | {"output_config"} if count else _FIELDS
    for key, value in body.items():
        if key not in allowed and value is not None:
            raise ValidationError(
                f"is not supported (supported: {', '.join(sorted(allowed - {'stream'}))})",
                field=key,
            )
    required = ("model", "messages") if count else ("model", "max_tokens", "messages")
    for key in required:
        if body.get(key) is None:
            raise ValidationError("Field required", field=key)
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValidationError("must be a non-empty list of messages", field="messages")
    history: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None:
        history.append({"role": "system", "content": _system(system)})
    for i, message in enumerate(messages):
        history.extend(_turn(message, f"messages[{i}]"))
    params: dict[str, Any] = {"model": body["model"], "messages": history}
    if not count:
        params["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            params[key] = body[key]
    if body.get("stop_sequences") is not None:
        params["stop"] = body["stop_sequences"]
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("user_id") is not None:
        params["user"] = metadata["user_id"]
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise ValidationError("must be a list of tools", field="tools")
        params["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(tools)]
    if body.get("tool_choice") is not None:
        params.update(_tool_choice(body["tool_choice"]))
    params.update(_reasoning_and_format(body.get("thinking"), body.get("output_config")))
    return params


def _system(raw: Any) -> Any:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise ValidationError("must be a string or a list of text blocks", field="system")
    parts = []
    for j, block in enumerate(raw):
        where = f"system[{j}]"
        if not isinstance(block, Mapping) or block.get("type") != "text":
            raise ValidationError("must be a text block", field=where)
        parts.append(_text_part(block, where))
    return parts


def _turn(raw: Any, where: str) -> list[dict[str, Any]]:
    """One Messages API turn as our messages (a user turn with tool results gives several)."""
    if not isinstance(raw, Mapping):
        raise ValidationError("must be an object with role and content", field=where)
    role, content = raw.get("role"), raw.get("content")
    if role not in ("user", "assistant"):
        raise ValidationError("must be user or assistant", field=f"{where}.role")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise ValidationError("must be a string or a list of blocks", field=f"{where}.content")
    if role == "assistant":
        return [_assistant(content, where)]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "tool_result":
            out.append(_tool_result(block, at))
        else:
            parts.append(_user_part(block, at))
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant(content: list[Any], where: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            parts.append(_text_part(block, at))
        elif kind == "tool_use":
            name, call_id = block.get("name"), block.get("id")
            if not isinstance(name, str) or not isinstance(call_id, str):
                raise ValidationError("needs an id and a name", field=at)
            arguments = _json(block.get("input") or {}).decode()
            function = {"name": name, "arguments": arguments}
            calls.append({"id": call_id, "type": "function", "function": function})
        elif kind == "thinking":
            items.append(
                {
                    "type": "thinking",
                    "text": _string(block, "thinking", at),
                    "signature": _string(block, "signature", at),
                    "index": j,
                }
            )
        elif kind == "redacted_thinking":
            items.append(
                {"type": "redacted_thinking", "data": _string(block, "data", at), "index": j}
            )
        else:
            raise ValidationError(f"assistant blocks of type {kind!r} are not supported", field=at)
    message: dict[str, Any] = {"role": "assistant"}
    if parts:
        message["content"] = parts
    if calls:
        message["tool_calls"] = calls
    if items:
        message["reasoning_items"] = items
        text = "".join(i["text"] for i in items if i["type"] == "thinking")
        if text:
            message["reasoning"] = text  # for an upstream that wants its thinking text back
    return message


def _tool_result(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise ValidationError("is missing", field=f"{where}.tool_use_id")
    content = block.get("content", "")
    if isinstance(content, list):
        parts = []
        for k, part in enumerate(content):
            at = f"{where}.content[{k}]"
            if not isinstance(part, Mapping) or part.get("type") != "text":
                raise ValidationError("only text is supported in tool results", field=at)
            parts.append(_text_part(part, at))
        content = parts
    elif not isinstance(content, str):
        raise ValidationError("must be a string or a list of text blocks", field=f"{where}.content")
    message: dict[str, Any] = {"role": "tool", "tool_call_id": call_id, "content": content or " "}
    if block.get("is_error"):
        message["is_error"] = True
    if block.get("cache_control") is not None:
        message["cache"] = block["cache_control"]
    return message


def _user_part(block: Any, where: str) -> dict[str, Any]:
    kind = block.get("type") if isinstance(block, Mapping) else None
    if kind == "text":
        return _text_part(block, where)
    if kind == "image":
        source = _source(block, where)
        url: Any
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        elif source.get("type") == "url":
            url = source.get("url")
        else:
            raise ValidationError("must be a base64 or url source", field=f"{where}.source")
        part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    elif kind == "document":
        part = {"type": "file", "file": _document(block, where)}
    else:
        raise ValidationError(f"user blocks of type {kind!r} are not supported", field=where)
    if block.get("cache_control") is not None:
        part["cache"] = block["cache_control"]
    return part


def _document(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = _source(block, where)
    kind = source.get("type")
    out: dict[str, Any] = {}
    if kind == "base64":
        out["file_data"] = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif kind == "text":
        data = _string(source, "data", f"{where}.source").encode("utf-8")
        out["file_data"] = "data:text/plain;base64," + base64.b64encode(data).decode("ascii")
    elif kind == "url":
        out["url"] = source.get("url")
    elif kind == "file":
        out["file_id"] = source.get("file_id")
    else:
        raise ValidationError("must be a base64, text, url or file source", field=f"{where}.source")
    if isinstance(block.get("title"), str):
        out["filename"] = block["title"]
    return out


def _source(block: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    source = block.get("source")
    if not isinstance(source, Mapping):
        raise ValidationError("is missing", field=f"{where}.source")
    return source


def _text_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "text", "text": _string(block, "text", where)}
    if block.get("cache_control") is not None:
        part["cache"] = block["cache_control"]
    return part


def _string(block: Mapping[str, Any], key: str, where: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise ValidationError("must be a string", field=f"{where}.{key}")
    return value


def _tool(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationError("must be a tool object", field=where)
    if raw.get("type", "custom") != "custom":
        raise ValidationError(
            f"server tools ({raw.get('type')}) are not supported here", field=f"{where}.type"
        )
    function: dict[str, Any] = {"name": raw.get("name")}
    if raw.get("description") is not None:
        function["description"] = raw["description"]
    function["parameters"] = raw.get("input_schema", {"type": "object", "properties": {}})
    tool: dict[str, Any] = {"type": "function", "function": function}
    if raw.get("cache_control") is not None:
        tool["cache"] = raw["cache_control"]
    return tool


def _tool_choice(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationError("must be an object", field="tool_choice")
    kind = raw.get("type")
    out: dict[str, Any] = {}
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": raw.get("name")}}
    else:
        raise ValidationError("must be auto, any, tool or none", field="tool_choice.type")
    if raw.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def _reasoning_and_format(thinking: Any, config: Any) -> dict[str, Any]:
    """``reasoning`` from ``thinking`` and ``output_config.effort``; ``response_format``."""
    out: dict[str, Any] = {}
    if config is not None and not isinstance(config, Mapping):
        raise ValidationError("must be an object", field="output_config")
    config = config or {}
    unknown = sorted(set(config) - {"effort", "format"})
    if unknown:
        raise ValidationError("is not supported", field=f"output_config.{unknown[0]}")
    effort = config.get("effort")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, Mapping) else None
        if kind == "enabled":
            out["reasoning"] = {"budget_tokens": thinking.get("budget_tokens")}
        elif kind == "disabled":
            out["reasoning"] = "none"
        elif kind == "adaptive":
            out["reasoning"] = effort or "medium"
        else:
            raise ValidationError("must be enabled, adaptive or disabled", field="thinking.type")
    elif effort is not None:
        out["reasoning"] = effort
    fmt = config.get("format")
    if fmt is not None:
        if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
            raise ValidationError("must be a json_schema format", field="output_config.format")
        spec = {"name": "response", "schema": fmt.get("schema")}
        out["response_format"] = {"type": "json_schema", "json_schema": spec}
    return out


# -- answers ----------------------------------------------------------------------------


def stop_reason(response: ChatResponse) -> str:
    """Anthropic's stop reason: Claude's own when it answered, else ours mapped."""
    raw = response.raw_finish_reason
    if raw in _STOP_REASONS and response.finish_reason != "tool_calls":
        return raw
    return _STOP.get(response.finish_reason or "stop", "end_turn")


def usage_object(usage: Usage | None) -> dict[str, int]:
    """Anthropic's usage: ``input_tokens`` excludes the cache reads and writes, as Claude's."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    cached, written = usage.cached_tokens, usage.cache_creation_tokens
    return {
        "input_tokens": max(usage.prompt_tokens - cached - written, 0),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def message_object(response: ChatResponse, *, model: str) -> dict[str, Any]:
    """``response`` as a Messages API ``message`` (thinking blocks back in their places)."""
    blocks: list[dict[str, Any]] = []
    if response.content:
        blocks.append({"type": "text", "text": response.content})
    blocks.extend(_tool_use(call) for call in response.tool_calls)
    kinds = ("thinking", "redacted_thinking")
    items = [i for i in response.reasoning_items or () if i.type in kinds]
    # Each block back at its place in the turn (positions fill in ascending order); blocks
    # with no recorded place go first, in order.
    placed = sorted(items, key=lambda i: -1 if i.index is None else i.index)
    for n, item in enumerate(placed):
        at = n if item.index is None else min(item.index, len(blocks))
        blocks.insert(at, _thinking_block(item))
    if not items and response.reasoning:
        signature = response.reasoning_signature or ""
        blocks.insert(
            0, {"type": "thinking", "thinking": response.reasoning, "signature": signature}
        )
    return {
        "id": _message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model or model,
        "content": blocks,
        "stop_reason": stop_reason(response),
        "stop_sequence": None,
        "usage": usage_object(response.usage),
    }


def _tool_use(call: ToolCall) -> dict[str, Any]:
    try:
        arguments = _object(call.arguments) if call.arguments.strip() else {}
    except (msgspec.DecodeError, msgspec.ValidationError):
        arguments = {}  # a model's broken JSON: Anthropic's input is always an object
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


def _thinking_block(item: ReasoningItem) -> dict[str, Any]:
    if item.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": item.data or ""}
    return {"type": "thinking", "thinking": item.text or "", "signature": item.signature or ""}


def _message_id(upstream: str | None) -> str:
    if upstream and upstream.startswith("msg_"):
        return upstream
    return "msg_" + secrets.token_hex(12)


def _event(name: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + _json(data) + b"\n\n"


class EventEncoder:
    """A stream of ``StreamChunk``s as Anthropic's SSE events, block by block, sans-IO.

    Text, thinking and each tool call become content blocks in the order
    they arrive; a new kind closes the open block. A thinking block ends
    when its completed ``ReasoningItem`` arrives (a redacted one is sent
    whole then). The first chunk's id and model open the ``message_start``;
    the usage comes at the end, in ``message_delta``, as cumulative totals.
    """

    __slots__ = ("_index", "_model", "_open", "_started")

    def __init__(self, *, model: str) -> None:
        self._model = model
        self._started = False
        self._open: tuple[str, int] | None = None  # (kind, tool index) of the open block
        self._index = -1

    def _start(self, chunk: StreamChunk | None) -> bytes:
        self._started = True
        message: dict[str, Any] = {
            "id": _message_id(chunk.id if chunk is not None else None),
            "type": "message",
            "role": "assistant",
            "model": (chunk.model if chunk is not None else None) or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event(b"message_start", {"type": "message_start", "message": message})

    def _close(self, out: list[bytes]) -> None:
        if self._open is not None:
            self._open = None
            stop = {"type": "content_block_stop", "index": self._index}
            out.append(_event(b"content_block_stop", stop))

    def _block(self, out: list[bytes], kind: str, block: dict[str, Any], tool: int = -1) -> None:
        """Make ``kind`` the open block, starting ``block`` unless it is open already."""
        if self._open == (kind, tool):
            return
        self._close(out)
        self._index += 1
        self._open = (kind, tool)
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        out.append(_event(b"content_block_start", start))

    def _delta(self, out: list[bytes], delta: dict[str, Any]) -> None:
        body = {"type": "content_block_delta", "index": self._index, "delta": delta}
        out.append(_event(b"content_block_delta", body))

    def chunk(self, chunk: StreamChunk) -> bytes:
        """The events for one chunk."""
        out = [] if self._started else [self._start(chunk)]
        if chunk.reasoning:
            self._block(out, "thinking", {"type": "thinking", "thinking": "", "signature": ""})
            self._delta(out, {"type": "thinking_delta", "thinking": chunk.reasoning})
        if chunk.reasoning_signature:
            self._block(out, "thinking", {"type": "thinking", "thinking": "", "signature": ""})
            self._delta(out, {"type": "signature_delta", "signature": chunk.reasoning_signature})
        for item in chunk.reasoning_items or ():
            if item.type == "redacted_thinking":
                self._close(out)
                self._block(out, "redacted", {"type": "redacted_thinking", "data": item.data or ""})
            if self._open is not None and self._open[0] in ("thinking", "redacted"):
                self._close(out)  # the block is complete
        text = chunk.delta + chunk.refusal
        if text:
            self._block(out, "text", {"type": "text", "text": ""})
            self._delta(out, {"type": "text_delta", "text": text})
        for part in chunk.tool_calls or ():
            if self._open != ("tool", part.index):
                call_id = part.id or "toolu_" + secrets.token_hex(12)
                block = {"type": "tool_use", "id": call_id, "name": part.name or "", "input": {}}
                self._block(out, "tool", block, part.index)
            if part.arguments:
                self._delta(out, {"type": "input_json_delta", "partial_json": part.arguments})
        return b"".join(out)

    def end(self, response: ChatResponse) -> bytes:
        """Close the open block; the stop reason and usage; ``message_stop``."""
        out = [] if self._started else [self._start(None)]
        self._close(out)
        delta = {"stop_reason": stop_reason(response), "stop_sequence": None}
        body = {"type": "message_delta", "delta": delta, "usage": usage_object(response.usage)}
        out.append(_event(b"message_delta", body))
        out.append(_event(b"message_stop", {"type": "message_stop"}))
        return b"".join(out)
