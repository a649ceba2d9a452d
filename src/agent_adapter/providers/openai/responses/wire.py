"""The Responses API wire format: request and response Structs, their decoders, our types.

Shapes follow the API reference (https://platform.openai.com/docs/api-reference/responses/create
and https://platform.openai.com/docs/api-reference/responses/object) and the
types the official SDK generates from the same spec. Fields left ``UNSET`` are
never sent. Replies are decoded tolerantly (``strict=False``, unknown fields
ignored); output items are kept as raw JSON until their ``type`` is known, so
an item type we do not read (web search, MCP, ...) can never make a reply
unreadable.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from ....types import ChatResponse, FinishReason, ReasoningItem, ToolCall, Usage
from ..wire import DECODE_ERRORS, arguments_text

__all__ = [
    "DECODE_ERRORS",
    "EVENT_DECODER",
    "RESPONSE_DECODER",
    "TYPE_DECODER",
    "Body",
    "ErrorIn",
    "Event",
    "ItemIn",
    "ResponseHead",
    "ResponseIn",
    "chat_response",
    "finish_of",
    "item_of",
    "reasoning_items",
    "to_usage",
]

# ---------------------------------------------------------------------------
# Request wire types (encode only)
# ---------------------------------------------------------------------------


class InputText(msgspec.Struct, tag="input_text", tag_field="type"):
    text: str


class InputImage(msgspec.Struct, tag="input_image", tag_field="type", kw_only=True):
    detail: str = "auto"  # the SDK's param type requires it; the API's default is "auto"
    image_url: str | UnsetType = UNSET
    file_id: str | UnsetType = UNSET


class InputFile(msgspec.Struct, tag="input_file", tag_field="type", kw_only=True):
    filename: str | UnsetType = UNSET
    file_data: str | UnsetType = UNSET
    file_id: str | UnsetType = UNSET
    file_url: str | UnsetType = UNSET


InputPart = InputText | InputImage | InputFile


class MessageItem(msgspec.Struct, tag="message", tag_field="type", kw_only=True):
    role: str
    content: str | list[InputPart]


class FunctionCallItem(msgspec.Struct, tag="function_call", tag_field="type", kw_only=True):
    call_id: str
    name: str
    arguments: str
    id: str | UnsetType = UNSET  # fc_..., sent only beside the reasoning item it pairs with


class FunctionCallOutputItem(
    msgspec.Struct, tag="function_call_output", tag_field="type", kw_only=True
):
    call_id: str
    output: str


class SummaryText(msgspec.Struct, tag="summary_text", tag_field="type"):
    text: str


class ReasoningOut(msgspec.Struct, tag="reasoning", tag_field="type", kw_only=True):
    id: str
    summary: list[SummaryText]
    encrypted_content: str | UnsetType = UNSET


InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningOut


class FunctionTool(msgspec.Struct, tag="function", tag_field="type", kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: dict[str, Any]
    strict: bool


class TextFormat(msgspec.Struct, kw_only=True):
    type: str
    name: str | UnsetType = UNSET
    schema: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class TextConfig(msgspec.Struct):
    format: TextFormat


class ReasoningConfig(msgspec.Struct, kw_only=True):
    effort: str | UnsetType = UNSET
    summary: str | UnsetType = UNSET


class Body(msgspec.Struct, kw_only=True):
    model: str
    instructions: str | UnsetType = UNSET
    input: list[InputItem]
    stream: bool | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    max_output_tokens: int | UnsetType = UNSET
    tools: list[FunctionTool] | UnsetType = UNSET
    tool_choice: str | dict[str, Any] | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET
    text: TextConfig | UnsetType = UNSET
    reasoning: ReasoningConfig | UnsetType = UNSET
    include: list[str] | UnsetType = UNSET
    user: str | UnsetType = UNSET
    prompt_cache_key: str | UnsetType = UNSET


# ---------------------------------------------------------------------------
# Response wire types (decode only). Every field optional: servers vary.
# ---------------------------------------------------------------------------


class PartIn(msgspec.Struct):
    """A message content part (``output_text``, ``refusal``) or a reasoning summary part."""

    type: str = ""
    text: str | None = None
    refusal: str | None = None


class ItemIn(msgspec.Struct):
    """The fields of the output items we read: ``message``, ``function_call``, ``reasoning``."""

    type: str = ""
    id: str | None = None
    status: str | None = None
    content: list[PartIn] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: Any = None  # a JSON string; tolerate an object
    summary: list[PartIn] | None = None
    encrypted_content: str | None = None


class InputDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class OutputDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class UsageIn(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_tokens_details: InputDetails | None = None
    output_tokens_details: OutputDetails | None = None


class Incomplete(msgspec.Struct):
    reason: str | None = None


class ErrorIn(msgspec.Struct):
    """``response.error`` (``code``, ``message``) or the object of an ``error`` event."""

    code: str | None = None
    message: str | None = None
    type: str | None = None
    param: str | None = None


class ResponseHead(msgspec.Struct):
    """A ``response`` object without its output: what a stream's lifecycle events carry."""

    id: str | None = None
    object: str | None = None
    model: str | None = None
    status: str | None = None
    usage: UsageIn | None = None
    incomplete_details: Incomplete | None = None
    error: ErrorIn | None = None


class ResponseIn(ResponseHead):
    """A whole ``response`` object; each output item stays raw until its type is read."""

    output: list[msgspec.Raw] | None = None


class Event(msgspec.Struct):
    """One stream event: the union of the fields of the events we read.

    https://platform.openai.com/docs/api-reference/responses-streaming. ``item``
    stays raw until its type is known; an event whose other fields do not fit
    (an event type added later) is read again by its ``type`` alone.
    """

    type: str = ""
    response: ResponseHead | None = None
    item: msgspec.Raw = msgspec.Raw()
    output_index: int | None = None
    content_index: int | None = None
    summary_index: int | None = None
    delta: str | None = None
    text: str | None = None
    arguments: str | None = None
    refusal: str | None = None
    name: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    error: ErrorIn | str | None = None


class Typed(msgspec.Struct):
    """Only the ``type`` of an event or an item."""

    type: str = ""


RESPONSE_DECODER = msgspec.json.Decoder(ResponseIn, strict=False)
EVENT_DECODER = msgspec.json.Decoder(Event, strict=False)
TYPE_DECODER = msgspec.json.Decoder(Typed, strict=False)
_ITEM_DECODER = msgspec.json.Decoder(ItemIn, strict=False)
_READ_ITEMS = frozenset(("message", "function_call", "reasoning"))

# incomplete_details.reason; an unknown reason counts as a stop (the raw value is kept).
_INCOMPLETE: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}

# ---------------------------------------------------------------------------
# What was read, as our types
# ---------------------------------------------------------------------------


def item_of(raw: msgspec.Raw | bytes) -> ItemIn | None:
    """The output item in ``raw`` if it is one we read, else None (raises on a malformed one)."""
    if TYPE_DECODER.decode(raw).type not in _READ_ITEMS:
        return None
    return _ITEM_DECODER.decode(raw)


def to_usage(u: UsageIn | None) -> Usage | None:
    """Our usage: input tokens count every prompt token (cached included), output every
    generated one (reasoning included), as the Responses usage object already does."""
    if u is None:
        return None
    prompt = u.input_tokens or 0
    completion = u.output_tokens or 0
    details = u.input_tokens_details or InputDetails()
    out = u.output_tokens_details or OutputDetails()
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=details.cached_tokens or 0,
        cache_creation_tokens=details.cache_write_tokens or 0,
        reasoning_tokens=out.reasoning_tokens or 0,
    )


def finish_of(head: ResponseHead, tool_calls: bool) -> tuple[FinishReason | None, str | None]:
    """(finish reason, raw value) of a response: its status, or why it is incomplete."""
    status = head.status
    if status == "incomplete":
        reason = head.incomplete_details.reason if head.incomplete_details else None
        return _INCOMPLETE.get(reason or "", "stop"), reason or status
    if status == "completed":
        return ("tool_calls" if tool_calls else "stop"), status
    if status == "cancelled":
        return "error", status
    return None, status  # in_progress / queued: a background response, not finished


def reasoning_items(item: ItemIn, index: int | None) -> list[ReasoningItem]:
    """A ``reasoning`` output item as ours: one ``ReasoningItem`` per summary part.

    Every entry has the item's ``id`` and ``index``: its position among the
    turn's items that go back next time (reasoning items, the assistant
    message, the calls; a built-in tool call does not count), which is where
    ``encode`` puts it back. The encrypted content is on the first only.
    Consecutive entries with one ``id`` are one item again on the way back, so
    every summary part returns exactly as it came.
    """
    parts = item.summary or []
    texts: list[str | None] = [p.text or "" for p in parts] or [None]
    return [
        ReasoningItem(
            type="reasoning",
            id=item.id,
            data=item.encrypted_content if n == 0 else None,
            text=text,
            index=index,
        )
        for n, text in enumerate(texts)
    ]


def chat_response(resp: ResponseIn, provider: str) -> ChatResponse:
    """A complete ``response`` object as a ``ChatResponse`` (``DECODE_ERRORS`` if malformed).

    Text is every ``output_text`` part in order, reasoning the summary parts
    joined by a blank line (as the stream decoder joins them).
    """
    text: list[str] = []
    refusal: list[str] = []
    summary: list[str] = []
    calls: list[ToolCall] = []
    items: list[ReasoningItem] = []
    position = 0  # among the items that go back next turn (see ``reasoning_items``)
    message_placed = False
    for raw in resp.output or ():
        item = item_of(raw)
        if item is None:
            continue
        if item.type == "message":
            position += not message_placed  # all the turn's messages go back as one
            message_placed = True
            for part in item.content or ():
                if part.type == "output_text" and part.text:
                    text.append(part.text)
                elif part.type == "refusal" and part.refusal:
                    refusal.append(part.refusal)
        elif item.type == "function_call":
            position += 1
            calls.append(
                ToolCall(
                    id=item.call_id or item.id or f"call_{len(calls)}",
                    name=item.name or "",
                    arguments=arguments_text(item.arguments) or "{}",
                    item_id=item.id,
                )
            )
        else:
            found = reasoning_items(item, position)
            position += 1
            items.extend(found)
            summary.extend(r.text for r in found if r.text is not None)
    finish, raw_finish = finish_of(resp, bool(calls))
    return ChatResponse(
        content="".join(text),
        tool_calls=calls,
        finish_reason=finish,
        raw_finish_reason=raw_finish,
        usage=to_usage(resp.usage),
        reasoning="\n\n".join(summary) or None,
        reasoning_items=items or None,
        refusal="".join(refusal) or None,
        id=resp.id,
        model=resp.model,
        provider=provider,
    )
