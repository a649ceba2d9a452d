"""Our OpenAI-shaped history as Messages API ``system`` and turns.

Our history is OpenAI-shaped; Anthropic's is not. This module lifts system
and developer messages into the top-level ``system``, turns assistant tool
calls into ``tool_use`` blocks and tool messages into ``tool_result`` blocks
(merged into one user turn, before any text), merges consecutive turns of one
role, and sends every ``thinking`` and ``redacted_thinking`` block back
unchanged, in its own place among the turn's text and ``tool_use`` blocks, as
extended thinking with tool use requires
(https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
Content parts become ``text``, ``image`` and ``document`` blocks
(https://docs.anthropic.com/en/api/messages).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...errors import ValidationError
from ...types import CacheControl, FilePart, ImagePart, Message, ReasoningItem, TextPart
from ..base import b64, split_data_url
from ..placement import interleave
from .wire import PACKED_PREFIX, ThinkingWire

__all__ = ["MAX_BREAKPOINTS", "History", "encode_history", "mark"]

MAX_BREAKPOINTS = 4
"""Blocks with ``cache_control`` one request may hold
(https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching)."""
_THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

_object_decoder = msgspec.json.Decoder(dict[str, Any])
_packed_decoder = msgspec.json.Decoder(list[ThinkingWire])


class History:
    """What the history becomes: ``system``, the turns, the files beta, the cache breakpoints.

    ``breakpoints`` names, in order, every field whose ``cache`` marker became
    a ``cache_control`` (the request may hold at most ``MAX_BREAKPOINTS``).
    """

    __slots__ = ("breakpoints", "files", "system", "turns")

    def __init__(self) -> None:
        self.system: str | list[dict[str, Any]] | None = None
        self.turns: list[dict[str, Any]] = []
        self.files = False
        self.breakpoints: list[str] = []


def encode_history(messages: list[Message]) -> History:
    """The Messages API form of an OpenAI-shaped history."""
    out = History()
    system: list[dict[str, Any]] = []
    turns = out.turns
    marks = out.breakpoints
    for i, message in enumerate(messages):
        role = message.role
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            system.extend(_system_blocks(message, where, marks))
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
                blocks, used = _encode_parts(message.content, where, marks)
                out.files |= used
                result["content"] = blocks
            if message.is_error:
                result["is_error"] = True
            mark(result, message.cache, f"{where}.cache", marks)
            _append(turns, "user", [result])
        elif role == "user":
            content = message.content
            if content is None or content == "" or content == []:
                raise ValidationError("a user message needs content", field=f"{where}.content")
            if isinstance(content, str):
                blocks = [{"type": "text", "text": content}]
            else:
                blocks, used = _encode_parts(content, where, marks)
                out.files |= used
            mark(blocks[-1], message.cache, f"{where}.cache", marks)
            _append(turns, "user", blocks)
        elif role == "assistant":
            blocks = _assistant_blocks(message, where, marks)
            if blocks:
                _append(turns, "assistant", blocks)
        else:  # pragma: no cover - Role is a Literal; msgspec rejects others earlier
            raise ValidationError(f"unknown role {role!r}", field=f"{where}.role")
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and _plain_text(blocks[0]):
            turn["content"] = blocks[0]["text"]
    if len(system) == 1 and _plain_text(system[0]):
        out.system = system[0]["text"]
    elif system:
        out.system = system
    return out


def mark(block: dict[str, Any], cache: CacheControl | None, field: str, marks: list[str]) -> None:
    """Make ``block`` a cache breakpoint (once: a part's own marker wins over its message's)."""
    if cache is None or "cache_control" in block:
        return
    control: dict[str, str] = {"type": cache.type}
    if cache.ttl is not None:
        control["ttl"] = cache.ttl
    block["cache_control"] = control
    marks.append(field)


def _plain_text(block: dict[str, Any]) -> bool:
    """A text block with nothing else (no cache_control): it may be sent as a bare string."""
    return block.get("type") == "text" and len(block) == 2


def _assistant_blocks(message: Message, where: str, marks: list[str]) -> list[dict[str, Any]]:
    """An assistant message's blocks: text and tool_use, each thinking block back in its place.

    The message's cache marker goes on its last block that is not thinking
    (thinking blocks cannot be breakpoints).
    """
    blocks: list[dict[str, Any]] = []
    content = message.content
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    elif content:
        for j, part in enumerate(content):
            if not isinstance(part, TextPart):
                raise ValidationError(
                    "assistant messages may only hold text", field=f"{where}.content[{j}]"
                )
            if part.text:
                block = {"type": "text", "text": part.text}
                mark(block, part.cache, f"{where}.content[{j}].cache", marks)
                blocks.append(block)
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
        mark(blocks[-1], message.cache, f"{where}.cache", marks)
    return interleave(_thinking_blocks(message, where), blocks)


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


def _system_blocks(message: Message, where: str, marks: list[str]) -> list[dict[str, Any]]:
    """A system message as text blocks: one, or one per text part when parts carry a cache."""
    content = message.content
    if isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, TextPart):
                raise ValidationError(
                    "system messages may only hold text", field=f"{where}.content[{j}]"
                )
    blocks: list[dict[str, Any]] = []
    if isinstance(content, list) and any(p.cache is not None for p in content):
        for j, part in enumerate(content):
            if isinstance(part, TextPart) and part.text:
                block = {"type": "text", "text": part.text}
                mark(block, part.cache, f"{where}.content[{j}].cache", marks)
                blocks.append(block)
    else:
        blocks.append({"type": "text", "text": message.text()})
    if blocks:
        mark(blocks[-1], message.cache, f"{where}.cache", marks)
    return blocks


def _thinking_blocks(message: Message, where: str) -> list[tuple[int | None, dict[str, Any]]]:
    """The turn's thinking blocks to send back unchanged, each with its position if known.

    ``reasoning_items`` of Anthropic's kinds come first; a history from
    before them carries one signature (with ``reasoning``) or the blocks
    packed into the signature, and is read as it always was. Reasoning
    without a signature (from another provider, say) cannot be verified by
    Anthropic and is not sent.
    """
    items = [i for i in message.reasoning_items or () if i.type in _THINKING_TYPES]
    if items:
        return [(item.index, _item_block(item)) for item in items]
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
        return [(None, _thinking_dict(block)) for block in packed]
    block = {"type": "thinking", "thinking": message.reasoning or "", "signature": signature}
    return [(None, block)]


def _item_block(item: ReasoningItem) -> dict[str, Any]:
    if item.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": item.data or ""}
    return {"type": "thinking", "thinking": item.text or "", "signature": item.signature or ""}


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


def _encode_parts(
    parts: list[Any], where: str, marks: list[str]
) -> tuple[list[dict[str, Any]], bool]:
    """Content parts as Anthropic blocks; also whether a file id (a beta feature) was used."""
    blocks: list[dict[str, Any]] = []
    files = False
    for j, part in enumerate(parts):
        field = f"{where}.content[{j}]"
        if isinstance(part, TextPart):
            if not part.text:
                continue  # an empty text block is refused (and cannot be cached)
            block = {"type": "text", "text": part.text}
        elif isinstance(part, ImagePart):
            block = _image(part.url, part.data, part.media_type, field)
        elif isinstance(part, FilePart):
            block, used = _document(part, field)
            files |= used
        else:
            raise ValidationError("Anthropic does not accept this content", field=field)
        mark(block, part.cache, f"{field}.cache", marks)
        blocks.append(block)
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
