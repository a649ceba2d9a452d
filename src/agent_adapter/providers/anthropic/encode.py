"""Request encoding: an OpenAI-shaped ``ChatRequest`` as a Messages API body.

Our history is OpenAI-shaped; Anthropic's is not. The encoder lifts system
and developer messages into the top-level ``system``, turns assistant tool
calls into ``tool_use`` blocks and tool messages into ``tool_result`` blocks
(merged into one user turn, before any text), merges consecutive turns of one
role, and sends thinking back as ``thinking`` blocks placed first in their
turn, text and signature unchanged. The choices behind ``max_tokens``,
reasoning and structured output are listed in the package docstring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

import msgspec

from ...errors import ValidationError
from ...types import ChatRequest, FilePart, ImagePart, Message, TextPart
from ..base import b64, json_encode, split_data_url
from .wire import PACKED_PREFIX, STRUCTURED_TOOL_PREFIX, ThinkingWire

__all__ = ["DEFAULT_MAX_TOKENS", "finish_headers", "request_body", "thinking_style"]

API_VERSION: Final = b"2023-06-01"
DEFAULT_MAX_TOKENS: Final = 4096
"""``max_tokens`` sent when the caller gives none (the API requires one)."""
ADAPTIVE_MAX_TOKENS: Final = 16384
"""Default ``max_tokens`` with adaptive thinking: thinking counts against it."""
_FILES_BETA: Final = b"files-api-2025-04-14"

_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh", "max": "max"}  # fmt: skip
_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384,
           "xhigh": 24576, "max": 24576}  # fmt: skip
_OFF = frozenset({"none", "off", "disabled"})

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_VERSION = re.compile(r"claude-(?:[a-z]+-)*(\d+)(?:[-.](\d{1,2})(?!\d))?")

ThinkingStyle = Literal["budget", "adaptive", "adaptive_only"]

_object_decoder = msgspec.json.Decoder(dict[str, Any])
_packed_decoder = msgspec.json.Decoder(list[ThinkingWire])


def request_body(request: ChatRequest, options: Mapping[str, Any]) -> tuple[bytes, bool]:
    """The ``/v1/messages`` body for ``request``, and whether it uses the files beta.

    ``options`` are the adapter's: ``thinking``, ``structured_output``, ``max_tokens``.
    """
    system, turns, needs_files_beta = _encode_history(request.messages)
    if not turns:
        raise ValidationError("no user or assistant message to send", field="messages")
    body: dict[str, Any] = {"model": request.model}
    thinking, effort, budget = _thinking(request, options)
    body["max_tokens"] = _max_tokens(request, thinking, budget, options)
    if system is not None:
        body["system"] = system
    body["messages"] = turns
    output_config: dict[str, Any] = {}
    if effort is not None:
        output_config["effort"] = effort
    tools = [_encode_tool(tool) for tool in request.tools or ()]
    choice = _encode_tool_choice(request) if tools else None
    thinking_on = thinking is not None and thinking["type"] != "disabled"
    fmt = request.response_format
    if fmt is not None:
        native = thinking_on or options.get("structured_output") == "native"
        schema = fmt.schema if fmt.type == "json_schema" and fmt.schema else {"type": "object"}
        if native:
            output_config["format"] = {"type": "json_schema", "schema": schema}
        else:
            name = STRUCTURED_TOOL_PREFIX + _tool_safe(fmt.name)
            tools.append(
                {
                    "name": name,
                    "description": "Give your final answer by calling this tool; "
                    "its input is the answer, matching the schema.",
                    "input_schema": schema,
                }
            )
            if choice is None or choice["type"] == "none":
                choice = {"type": "tool", "name": name}
            elif choice["type"] == "auto":  # call a real tool or answer, but call one
                choice = {**choice, "type": "any"}
    if thinking_on:
        if choice is not None and choice["type"] in ("any", "tool"):
            raise ValidationError(
                "forced tool use is not compatible with extended thinking", field="tool_choice"
            )
        if request.temperature is not None and request.temperature != 1:
            raise ValidationError(
                "temperature cannot be changed while thinking is on", field="temperature"
            )
        if request.top_k is not None:
            raise ValidationError("top_k cannot be set while thinking is on", field="top_k")
    if tools:
        body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
    if thinking is not None:
        body["thinking"] = thinking
    if output_config:
        body["output_config"] = output_config
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.stream:
        body["stream"] = True
    if request.extra:
        body.update(request.extra)
    return json_encode(body), needs_files_beta


def finish_headers(headers: list[tuple[bytes, bytes]], *, stream: bool, files_beta: bool) -> None:
    """Add ``anthropic-version`` (unless given), SSE ``accept`` and the files beta, in place."""
    names = {name for name, _ in headers}
    if b"anthropic-version" not in names:
        headers.append((b"anthropic-version", API_VERSION))
    if stream:
        headers[:] = [(n, b"text/event-stream" if n == b"accept" else v) for n, v in headers]
    if files_beta:
        for i, (name, value) in enumerate(headers):
            if name == b"anthropic-beta":
                if _FILES_BETA not in value:
                    headers[i] = (name, value + b"," + _FILES_BETA)
                break
        else:
            headers.append((b"anthropic-beta", _FILES_BETA))


def thinking_style(model: str, forced: object = None) -> ThinkingStyle:
    """How ``model`` takes thinking: a budget, adaptive, or adaptive only.

    Claude 4.6 accepts both; 4.7 and later reject budgets; 4.5 and earlier
    know only budgets. A name we cannot date counts as new. ``forced`` (the
    ``thinking`` option), ``"budget"`` or ``"adaptive"``, overrides the guess.
    """
    if forced == "budget":
        return "budget"
    if forced == "adaptive":
        return "adaptive_only"
    match = _VERSION.search(model)
    if match is None:
        return "adaptive_only"
    version = (int(match.group(1)), int(match.group(2) or 0))
    if version >= (4, 7):
        return "adaptive_only"
    if version >= (4, 6):
        return "adaptive"
    return "budget"


def _thinking(
    request: ChatRequest, options: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None, int | None]:
    """``(thinking config, output_config effort, budget)`` for ``request.reasoning``."""
    reasoning = request.reasoning
    if reasoning is None:
        return None, None, None
    level: str | None = None
    budget: int | None = None
    if isinstance(reasoning, str):
        level = reasoning.lower()
    elif isinstance(reasoning, dict):
        raw_budget = reasoning.get("budget_tokens")
        raw_effort = reasoning.get("effort")
        if raw_budget is not None:
            if isinstance(raw_budget, bool) or not isinstance(raw_budget, int):
                raise ValidationError("must be an integer", field="reasoning.budget_tokens")
            budget = raw_budget
        elif isinstance(raw_effort, str):
            level = raw_effort.lower()
        else:
            raise ValidationError(
                "expected an effort level or {'budget_tokens': N}", field="reasoning"
            )
    if level is not None and level in _OFF:
        return {"type": "disabled"}, None, None
    if level is not None and level not in _EFFORT:
        raise ValidationError(f"unknown effort level {level!r}", field="reasoning")
    style = thinking_style(request.model, options.get("thinking"))
    if budget is not None:
        if budget == 0:
            return {"type": "disabled"}, None, None
        if style != "adaptive_only":
            if budget < 1024:
                raise ValidationError(
                    "Anthropic needs a thinking budget of at least 1024 tokens",
                    field="reasoning.budget_tokens",
                )
            return {"type": "enabled", "budget_tokens": budget}, None, budget
        level = "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"
    assert level is not None
    if style == "budget":
        budget = _BUDGET[level]
        limit = request.max_tokens
        if limit is not None and budget >= limit:
            budget = max(1024, limit // 2)
            if budget >= limit:
                raise ValidationError(
                    "too small for thinking (the budget needs at least 1024 tokens "
                    "below max_tokens)",
                    field="max_tokens",
                )
        return {"type": "enabled", "budget_tokens": budget}, None, budget
    return {"type": "adaptive"}, _EFFORT[level], None


def _max_tokens(
    request: ChatRequest,
    thinking: dict[str, Any] | None,
    budget: int | None,
    options: Mapping[str, Any],
) -> int:
    if request.max_tokens is not None:
        if budget is not None and request.max_tokens <= budget:
            raise ValidationError(
                f"must exceed the thinking budget ({budget} tokens)", field="max_tokens"
            )
        return request.max_tokens
    default = int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)
    if budget is not None:
        return max(default, budget + DEFAULT_MAX_TOKENS)
    if thinking is not None and thinking.get("type") == "adaptive":
        return max(default, ADAPTIVE_MAX_TOKENS)
    return default


def _encode_history(
    messages: list[Message],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]], bool]:
    """``(system, turns, uses file ids)`` for an OpenAI-shaped history."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    files = False
    for i, message in enumerate(messages):
        role = message.role
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            system.append(_system_text(message, where))
            continue
        if role == "tool":
            if not message.tool_call_id:
                raise ValidationError(
                    "a tool message needs tool_call_id", field=f"{where}.tool_call_id"
                )
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
            if isinstance(message.content, str):
                if message.content:
                    result["content"] = message.content
            elif message.content:
                blocks, used = _encode_parts(message.content, where)
                files |= used
                result["content"] = blocks
            _append(turns, "user", [result])
        elif role == "user":
            content = message.content
            if content is None or content == "" or content == []:
                raise ValidationError("a user message needs content", field=f"{where}.content")
            if isinstance(content, str):
                _append(turns, "user", [{"type": "text", "text": content}])
            else:
                blocks, used = _encode_parts(content, where)
                files |= used
                _append(turns, "user", blocks)
        elif role == "assistant":
            blocks = _thinking_blocks(message, where)
            content = message.content
            if isinstance(content, str):
                if content:
                    blocks.append({"type": "text", "text": content})
            elif content:
                for j, part in enumerate(content):
                    if not isinstance(part, TextPart):
                        raise ValidationError(
                            "assistant messages may only hold text",
                            field=f"{where}.content[{j}]",
                        )
                    if part.text:
                        blocks.append({"type": "text", "text": part.text})
            for j, call in enumerate(message.tool_calls or ()):
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": _arguments(call.arguments, f"{where}.tool_calls[{j}].arguments"),
                    }
                )
            if blocks:
                _append(turns, "assistant", blocks)
        else:  # pragma: no cover - Role is a Literal; msgspec rejects others earlier
            raise ValidationError(f"unknown role {role!r}", field=f"{where}.role")
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and blocks[0].get("type") == "text":
            turn["content"] = blocks[0]["text"]
    sys: str | list[dict[str, Any]] | None = None
    if len(system) == 1:
        sys = system[0]
    elif system:
        sys = [{"type": "text", "text": text} for text in system]
    return sys, turns, files


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Add blocks as a turn, merged into the previous turn when it has the same role.

    In a user turn ``tool_result`` blocks go first, as the API requires.
    """
    if turns and turns[-1]["role"] == role:
        merged: list[dict[str, Any]] = turns[-1]["content"]
        merged.extend(blocks)
    else:
        merged = list(blocks)
        turns.append({"role": role, "content": merged})
    if role == "user" and len(merged) > 1:
        results = [b for b in merged if b.get("type") == "tool_result"]
        if results and len(results) < len(merged):
            merged[:] = results + [b for b in merged if b.get("type") != "tool_result"]


def _system_text(message: Message, where: str) -> str:
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise ValidationError(
                "system messages may only hold text", field=f"{where}.content[{j}]"
            )
    return message.text()


def _thinking_blocks(message: Message, where: str) -> list[dict[str, Any]]:
    """The thinking blocks to send back first in an assistant turn, unchanged.

    Reasoning without a signature (from another provider, say) cannot be
    verified by Anthropic and is not sent.
    """
    signature = message.reasoning_signature
    if not signature:
        return []
    if signature.startswith(PACKED_PREFIX):
        try:
            packed = _packed_decoder.decode(signature[len(PACKED_PREFIX) :])
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise ValidationError(
                "not a signature this adapter produced", field=f"{where}.reasoning_signature"
            ) from None
        return [_thinking_dict(block) for block in packed]
    return [{"type": "thinking", "thinking": message.reasoning or "", "signature": signature}]


def _thinking_dict(block: ThinkingWire) -> dict[str, Any]:
    if block.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data or ""}
    return {
        "type": "thinking",
        "thinking": block.thinking or "",
        "signature": block.signature or "",
    }


def _arguments(arguments: str, field: str) -> Any:
    """A tool call's JSON arguments as the ``input`` object (empty means ``{}``)."""
    if not arguments.strip():
        return {}
    try:
        return _object_decoder.decode(arguments)
    except msgspec.ValidationError:
        raise ValidationError("tool arguments must be a JSON object", field=field) from None
    except msgspec.DecodeError:
        raise ValidationError("tool arguments are not valid JSON", field=field) from None


def _encode_parts(parts: list[Any], where: str) -> tuple[list[dict[str, Any]], bool]:
    """Content parts as Anthropic blocks; also whether a file id (a beta feature) was used."""
    blocks: list[dict[str, Any]] = []
    files = False
    for j, part in enumerate(parts):
        field = f"{where}.content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image(part.url, part.data, part.media_type, field))
        elif isinstance(part, FilePart):
            block, used = _document(part, field)
            files |= used
            blocks.append(block)
        else:
            raise ValidationError("Anthropic does not accept this content", field=field)
    if not blocks:
        raise ValidationError("content is empty", field=f"{where}.content")
    return blocks, files


def _image(
    url: str | None, data: bytes | None, media_type: str | None, field: str
) -> dict[str, Any]:
    if url is not None and data is None:
        inline = split_data_url(url)
        if inline is None:
            if not url.startswith(("http://", "https://")):
                raise ValidationError("image URL must be http(s) or a base64 data URL", field=field)
            return {"type": "image", "source": {"type": "url", "url": url}}
        media_type, data = inline
    if data is None:
        raise ValidationError("image needs a url or data", field=field)
    media_type = media_type or _sniff(data)
    if media_type not in _IMAGE_TYPES:
        raise ValidationError(
            f"Anthropic accepts JPEG, PNG, GIF and WebP images, not {media_type or 'unknown'}",
            field=f"{field}.media_type",
        )
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": b64(data)},
    }


def _document(part: FilePart, field: str) -> tuple[dict[str, Any], bool]:
    media_type = part.media_type
    if part.file_id is not None:
        block: dict[str, Any] = {
            "type": "document",
            "source": {"type": "file", "file_id": part.file_id},
        }
        used = True
    elif part.data is not None:
        media_type = media_type or _sniff(part.data)
        if media_type in _IMAGE_TYPES:
            return _image(None, part.data, media_type, field), False
        if media_type == "application/pdf":
            source = {"type": "base64", "media_type": media_type, "data": b64(part.data)}
        elif media_type is not None and media_type.startswith("text/"):
            try:
                text = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError("text document is not UTF-8", field=field) from None
            source = {"type": "text", "media_type": "text/plain", "data": text}
        else:
            raise ValidationError(
                f"Anthropic documents are PDF or plain text, not {media_type or 'unknown'}",
                field=f"{field}.media_type",
            )
        block = {"type": "document", "source": source}
        used = False
    elif part.url is not None:
        inline = split_data_url(part.url)
        if inline is not None:
            return _document(
                FilePart(data=inline[1], media_type=inline[0], filename=part.filename), field
            )
        block = {"type": "document", "source": {"type": "url", "url": part.url}}
        used = False
    else:
        raise ValidationError("file needs data, url or file_id", field=field)
    if part.filename:
        block["title"] = part.filename
    return block, used


def _sniff(data: bytes) -> str | None:
    """The media type of common image and PDF bytes, from their magic numbers."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    return None


def _encode_tool(tool: Any) -> dict[str, Any]:
    schema = tool.parameters
    if "type" not in schema:
        schema = {"type": "object", **schema}
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["input_schema"] = schema
    if tool.strict is not None:
        out["strict"] = tool.strict
    return out


def _encode_tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    out: dict[str, Any]
    if choice is None:
        out = {"type": "auto"}
    elif choice in ("auto", "any", "none"):
        out = {"type": choice}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict):
        kind = choice.get("type")
        function = choice.get("function")
        if kind == "function" and isinstance(function, dict) and function.get("name"):
            out = {"type": "tool", "name": function["name"]}
        elif (kind == "tool" and choice.get("name")) or kind in ("auto", "any", "none"):
            out = dict(choice)
        else:
            raise ValidationError("unrecognised tool_choice", field="tool_choice")
    else:
        raise ValidationError("unrecognised tool_choice", field="tool_choice")
    if request.parallel_tool_calls is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    elif request.tool_choice is None and request.parallel_tool_calls is None:
        return None  # the API's default (auto) needs no field
    return out


def _tool_safe(name: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[: 64 - len(STRUCTURED_TOOL_PREFIX)]
    return cleaned or "response"
