"""Request encoding: our ``ChatRequest`` and ``EmbedRequest`` as the preset's JSON bodies.

What differs between the compatible services (field names, roles, reasoning
switches, which content kinds go through) comes from their ``Quirks``
(``presets.py``); validation against those quirks happens before, in
``OpenAIAdapter.check``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from ...errors import ValidationError
from ...types import (
    AudioPart,
    ChatRequest,
    ContentPart,
    EmbedRequest,
    ImagePart,
    Message,
    TextPart,
)
from ..base import b64, data_url, json_encode
from .presets import Quirks
from .wire import (
    AudioData,
    AudioOut,
    CallOut,
    ChatBody,
    EmbedBody,
    FileOut,
    FileRef,
    FunctionDef,
    FunctionOut,
    ImageOut,
    ImageURL,
    JSONSchema,
    MessageOut,
    PartOut,
    ResponseFormat,
    StreamOptions,
    TextOut,
    ToolOut,
)

__all__ = ["chat_body", "embed_body", "image_type"]


def chat_body(request: ChatRequest, quirks: Quirks) -> bytes:
    """The ``/chat/completions`` body: only the fields the caller set, named as the preset wants."""
    body = ChatBody(
        model=request.model,
        messages=[_message(m, quirks) for m in request.messages],
    )
    if request.stream:
        body.stream = True
        if quirks.stream_usage:
            body.stream_options = StreamOptions()
    if request.temperature is not None:
        body.temperature = request.temperature
    if request.top_p is not None:
        body.top_p = request.top_p
    if request.top_k is not None:
        body.top_k = request.top_k
    if request.max_tokens is not None:
        setattr(body, quirks.max_tokens_field, request.max_tokens)
    if request.stop:
        body.stop = request.stop
    if request.seed is not None:
        setattr(body, quirks.seed_field, request.seed)
    if request.presence_penalty is not None:
        body.presence_penalty = request.presence_penalty
    if request.frequency_penalty is not None:
        body.frequency_penalty = request.frequency_penalty
    if request.tools:
        body.tools = [
            ToolOut(
                function=FunctionDef(
                    name=t.name,
                    description=UNSET if t.description is None else t.description,
                    parameters=t.parameters,
                    strict=UNSET if t.strict is None else t.strict,
                )
            )
            for t in request.tools
        ]
    choice = request.tool_choice
    if choice is not None:
        body.tool_choice = quirks.tool_choice_required if choice == "required" else choice
    if request.parallel_tool_calls is not None:
        body.parallel_tool_calls = request.parallel_tool_calls
    fmt = request.response_format
    if fmt is not None:
        if fmt.type == "json_object":
            body.response_format = ResponseFormat(type="json_object")
        elif fmt.schema is None:
            raise ValidationError("json_schema needs a schema", field="response_format")
        else:
            body.response_format = ResponseFormat(
                type="json_schema",
                json_schema=JSONSchema(name=fmt.name, schema=fmt.schema, strict=fmt.strict),
            )
    if request.reasoning is not None:
        _reasoning(body, request.reasoning, quirks)
    if request.user is not None:
        body.user = request.user
    if request.prompt_cache_key is not None and quirks.prompt_cache_key:
        body.prompt_cache_key = request.prompt_cache_key
    if request.extra:
        merged = msgspec.to_builtins(body)
        merged.update(request.extra)
        return json_encode(merged)
    return json_encode(body)


def embed_body(request: EmbedRequest, quirks: Quirks) -> bytes:
    """The ``/embeddings`` body, asking for float vectors where the preset takes the field."""
    body = EmbedBody(model=request.model, input=request.input)
    if quirks.embed_encoding_format:
        body.encoding_format = "float"
    if request.dimensions is not None:
        setattr(body, quirks.dimensions_field, request.dimensions)
    if request.extra:
        merged = msgspec.to_builtins(body)
        merged.update(request.extra)
        return json_encode(merged)
    return json_encode(body)


def _reasoning(body: ChatBody, reasoning: str | dict[str, Any], quirks: Quirks) -> None:
    if isinstance(reasoning, str):
        effort: str | None = reasoning
        budget: int | None = None
    else:
        effort = reasoning.get("effort")
        budget = reasoning.get("budget_tokens") if quirks.reasoning_budget else None
    off = effort == "none" or budget == 0
    mode = quirks.reasoning_mode
    if mode == "effort":
        if effort is not None:
            body.reasoning_effort = effort
    elif mode in ("deepseek", "thinking"):
        body.thinking = {"type": "disabled" if off else "enabled"}
        if mode == "deepseek" and effort is not None and not off:
            body.reasoning_effort = effort
    elif mode == "qwen":
        body.enable_thinking = not off
        if budget and not off:
            body.thinking_budget = budget
    elif mode == "openrouter":
        if budget is not None and budget > 0:
            body.reasoning = {"max_tokens": budget}
        else:
            body.reasoning = {"effort": "none" if off else effort}


def _message(m: Message, quirks: Quirks) -> MessageOut:
    role = "system" if m.role == "developer" and not quirks.developer_role else m.role
    out = MessageOut(role=role)
    if m.name:
        out.name = m.name
    content = m.content
    if isinstance(content, list):
        if content:
            out.content = [_part(p) for p in content]
    elif content:
        out.content = content
    if m.role == "assistant":
        if m.tool_calls:
            out.tool_calls = [
                CallOut(id=c.id, function=FunctionOut(name=c.name, arguments=c.arguments))
                for c in m.tool_calls
            ]
            if quirks.reasoning_echo and m.reasoning:
                out.reasoning_content = m.reasoning
        if m.refusal:
            if quirks.native:
                out.refusal = m.refusal
            elif out.content is UNSET:
                out.content = m.refusal
        if out.content is UNSET:
            out.content = None  # null, as the spec wants beside tool calls
    elif m.role == "tool" and m.tool_call_id:
        out.tool_call_id = m.tool_call_id
    return out


def _part(part: ContentPart) -> PartOut:
    if isinstance(part, TextPart):
        return TextOut(part.text)
    if isinstance(part, ImagePart):
        return ImageOut(ImageURL(image_url(part), UNSET if part.detail is None else part.detail))
    if isinstance(part, AudioPart):
        return AudioOut(AudioData(b64(part.data), part.format))
    ref = FileRef()
    if part.file_id:
        ref.file_id = part.file_id
    if part.filename:
        ref.filename = part.filename
    if part.data is not None:
        media_type = part.media_type or "application/pdf"
        ref.file_data = data_url(media_type, part.data)
        if ref.filename is UNSET:
            ref.filename = "file." + media_type.rpartition("/")[2].split("+")[0]
    return FileOut(ref)


_IMAGE_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


def image_url(part: ImagePart) -> str:
    """The URL OpenAI's APIs take for an image: its own, or a data URL of its bytes."""
    if part.data is not None:
        return data_url(part.media_type or image_type(part.data), part.data)
    return part.url or ""


def image_type(data: bytes) -> str:
    """The media type of image bytes given without one (PNG when unknown)."""
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    return "image/png"
