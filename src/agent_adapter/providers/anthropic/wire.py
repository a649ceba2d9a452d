"""The Anthropic Messages wire format as read: response and stream-event Structs, decoders.

Unknown fields are ignored; content blocks are one loose Struct so unknown
block types (server tools, ...) pass. The functions at the bottom turn what
was read into our types; the adapter's ``decode`` and the stream decoder
share them.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from ...types import FinishReason, ReasoningItem, Usage

STRUCTURED_TOOL_PREFIX: Final = "structured_output__"
"""Name prefix of the forced tool that carries structured output."""
PACKED_PREFIX: Final = "anthropic-thinking-blocks:"
"""Prefix of a signature that holds several thinking blocks, packed: what versions before
``reasoning_items`` produced. The encoder still reads it, so such histories keep working."""

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# ---------------------------------------------------------------------------
# Wire types (responses and stream events)
# ---------------------------------------------------------------------------


class OutputDetails(msgspec.Struct):
    thinking_tokens: int | None = None


class UsageIn(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: OutputDetails | None = None


class Block(msgspec.Struct):
    type: str
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()


class StopDetails(msgspec.Struct):
    category: str | None = None
    explanation: str | None = None


class ErrorObject(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class MessageIn(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    model: str | None = None
    content: list[Block] = []
    stop_reason: str | None = None
    stop_details: StopDetails | None = None
    usage: UsageIn | None = None
    error: ErrorObject | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorObject | str | None = None
    request_id: str | None = None


class Delta(msgspec.Struct):
    type: str = ""
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None


class MessageDeltaBody(msgspec.Struct):
    stop_reason: str | None = None
    stop_details: StopDetails | None = None


class MessageStart(msgspec.Struct, tag="message_start", tag_field="type"):
    message: MessageIn


class BlockStart(msgspec.Struct, tag="content_block_start", tag_field="type"):
    content_block: Block
    index: int = 0


class BlockDelta(msgspec.Struct, tag="content_block_delta", tag_field="type"):
    delta: Delta
    index: int = 0


class BlockStop(msgspec.Struct, tag="content_block_stop", tag_field="type"):
    index: int = 0


class MessageDelta(msgspec.Struct, tag="message_delta", tag_field="type"):
    delta: MessageDeltaBody = msgspec.field(default_factory=MessageDeltaBody)
    usage: UsageIn | None = None


class MessageStop(msgspec.Struct, tag="message_stop", tag_field="type"):
    pass


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


class ErrorEvent(msgspec.Struct, tag="error", tag_field="type"):
    error: ErrorObject | None = None
    request_id: str | None = None


class TypeOnly(msgspec.Struct):
    type: str = ""


class ThinkingWire(msgspec.Struct, omit_defaults=True):
    """A thinking or redacted_thinking block, as older versions packed it into a signature."""

    type: Literal["thinking", "redacted_thinking"]
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None


Event = (
    MessageStart | BlockStart | BlockDelta | BlockStop | MessageDelta | MessageStop
    | Ping | ErrorEvent
)  # fmt: skip
EVENT_NAMES = frozenset(
    {"message_start", "content_block_start", "content_block_delta", "content_block_stop",
     "message_delta", "message_stop", "ping", "error", "message"}
)  # fmt: skip


class CountIn(msgspec.Struct):
    """The ``count_tokens`` reply: ``{"input_tokens": N}``."""

    input_tokens: int


MESSAGE_DECODER = msgspec.json.Decoder(MessageIn)
COUNT_DECODER = msgspec.json.Decoder(CountIn)
EVENT_DECODER = msgspec.json.Decoder(Event)
TYPE_DECODER = msgspec.json.Decoder(TypeOnly)
ERROR_DECODER = msgspec.json.Decoder(ErrorBody)

# ---------------------------------------------------------------------------
# What was read, as our types
# ---------------------------------------------------------------------------


def to_finish(stop_reason: str | None, has_calls: bool) -> FinishReason | None:
    if stop_reason is None:
        return None
    finish = _FINISH.get(stop_reason, "stop")
    if finish == "tool_calls" and not has_calls:
        return "stop"  # only the structured-output tool was used: that is the answer
    return finish


def to_usage(usage: UsageIn) -> Usage:
    inp = usage.input_tokens or 0
    read = usage.cache_read_input_tokens or 0
    created = usage.cache_creation_input_tokens or 0
    out = usage.output_tokens or 0
    details = usage.output_tokens_details
    prompt = inp + read + created
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=out,
        total_tokens=prompt + out,
        cached_tokens=read,
        cache_creation_tokens=created,
        reasoning_tokens=(details.thinking_tokens or 0) if details else 0,
    )


def thinking_item(index: int, thinking: str, signature: str | None) -> ReasoningItem:
    """A ``thinking`` block at position ``index`` of its turn, as a ``ReasoningItem``."""
    return ReasoningItem(type="thinking", text=thinking, signature=signature or None, index=index)


def redacted_item(index: int, data: str) -> ReasoningItem:
    """A ``redacted_thinking`` block (``data`` is opaque) at position ``index``."""
    return ReasoningItem(type="redacted_thinking", data=data, index=index)


def first_signature(items: list[ReasoningItem]) -> str | None:
    """The first thinking block's signature: the one value older callers read."""
    for item in items:
        if item.type == "thinking" and item.signature:
            return item.signature
    return None
