"""The OpenAI Chat Completions wire format: request and response Structs, their decoders.

Shared with Zhipu (``providers/zhipu.py``), whose API is OpenAI-shaped: it
builds its requests from these Structs and reads replies, embeddings and
streams with the decoders and functions below (with its own finish reasons
and error classifier). These names are public for that reason; a change here
changes Zhipu too, and ``tests/test_zhipu_*.py`` say whether it still holds.

Fields left ``UNSET`` are never sent, so only what the caller set goes on the
wire. Responses are decoded tolerantly (``strict=False``: integral floats and
numeric strings are accepted where counts are expected, unknown fields are
ignored) because compatible servers vary; whatever still does not fit raises
one of ``DECODE_ERRORS``, which the callers turn into an ``AdapterError``.
"""

from __future__ import annotations

import array
import base64
import sys
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from ...types import ChatResponse, EmbedResponse, FinishReason, ToolCall, Usage
from ..base import json_encode

# ---------------------------------------------------------------------------
# Request wire types (encode only). UNSET fields are omitted; None is sent as null.
# ---------------------------------------------------------------------------


class TextOut(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class ImageURL(msgspec.Struct):
    url: str
    detail: str | UnsetType = UNSET


class ImageOut(msgspec.Struct, tag="image_url", tag_field="type"):
    image_url: ImageURL


class AudioData(msgspec.Struct):
    data: str
    format: str


class AudioOut(msgspec.Struct, tag="input_audio", tag_field="type"):
    input_audio: AudioData


class FileRef(msgspec.Struct, kw_only=True):
    filename: str | UnsetType = UNSET
    file_data: str | UnsetType = UNSET
    file_id: str | UnsetType = UNSET


class FileOut(msgspec.Struct, tag="file", tag_field="type"):
    file: FileRef


PartOut = TextOut | ImageOut | AudioOut | FileOut


class FunctionOut(msgspec.Struct):
    name: str
    arguments: str


class CallOut(msgspec.Struct, kw_only=True):
    id: str
    type: str = "function"
    function: FunctionOut


class MessageOut(msgspec.Struct, kw_only=True):
    role: str
    content: str | list[PartOut] | UnsetType | None = UNSET
    name: str | UnsetType = UNSET
    tool_calls: list[CallOut] | UnsetType = UNSET
    tool_call_id: str | UnsetType = UNSET
    refusal: str | UnsetType = UNSET
    reasoning_content: str | UnsetType = UNSET


class FunctionDef(msgspec.Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class ToolOut(msgspec.Struct, kw_only=True):
    type: str = "function"
    function: FunctionDef


class JSONSchema(msgspec.Struct):
    name: str
    schema: dict[str, Any]
    strict: bool


class ResponseFormat(msgspec.Struct, kw_only=True):
    type: str
    json_schema: JSONSchema | UnsetType = UNSET


class StreamOptions(msgspec.Struct):
    include_usage: bool = True


class ChatBody(msgspec.Struct, kw_only=True):
    model: str
    messages: list[MessageOut]
    stream: bool | UnsetType = UNSET
    stream_options: StreamOptions | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    top_k: int | UnsetType = UNSET
    max_completion_tokens: int | UnsetType = UNSET
    max_tokens: int | UnsetType = UNSET
    stop: list[str] | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    random_seed: int | UnsetType = UNSET
    presence_penalty: float | UnsetType = UNSET
    frequency_penalty: float | UnsetType = UNSET
    tools: list[ToolOut] | UnsetType = UNSET
    tool_choice: str | dict[str, Any] | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET
    response_format: ResponseFormat | UnsetType = UNSET
    reasoning_effort: str | UnsetType = UNSET
    thinking: dict[str, str] | UnsetType = UNSET
    enable_thinking: bool | UnsetType = UNSET
    thinking_budget: int | UnsetType = UNSET
    reasoning: dict[str, Any] | UnsetType = UNSET
    user: str | UnsetType = UNSET
    prompt_cache_key: str | UnsetType = UNSET


class EmbedBody(msgspec.Struct, kw_only=True):
    model: str
    input: list[str]
    encoding_format: str | UnsetType = UNSET
    dimensions: int | UnsetType = UNSET
    output_dimension: int | UnsetType = UNSET


# ---------------------------------------------------------------------------
# Response wire types (decode only). Every field optional: servers vary.
# ---------------------------------------------------------------------------


class PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class UsageIn(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek
    cached_tokens: int | None = None  # Moonshot


class PartIn(msgspec.Struct):
    """A content part in a reply (Mistral sends arrays with ``thinking`` parts)."""

    type: str = ""
    text: str | None = None
    thinking: list[PartIn] | str | None = None


class FunctionIn(msgspec.Struct):
    name: str | None = None
    arguments: Any = None  # a JSON string; some servers send an object


class CallIn(msgspec.Struct):
    index: int | None = None
    id: str | None = None
    function: FunctionIn | None = None


class ErrorObject(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    status: int | None = None
    metadata: dict[str, Any] | None = None
    innererror: dict[str, Any] | None = None


class MessageIn(msgspec.Struct):
    content: str | list[PartIn] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[CallIn] | None = None
    function_call: FunctionIn | None = None


class Choice(msgspec.Struct):
    index: int | None = None
    message: MessageIn | None = None
    finish_reason: str | None = None
    usage: UsageIn | None = None


class Completion(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[Choice] | None = None
    usage: UsageIn | None = None
    error: ErrorObject | str | None = None


class Delta(msgspec.Struct):
    content: str | list[PartIn] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[CallIn] | None = None


class StreamChoice(msgspec.Struct):
    index: int | None = None
    delta: Delta | None = None
    finish_reason: str | None = None
    usage: UsageIn | None = None  # Moonshot puts the stream's usage here


class XGroq(msgspec.Struct):
    usage: UsageIn | None = None
    error: ErrorObject | str | None = None


class CompletionChunk(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[StreamChoice] | None = None
    usage: UsageIn | None = None
    error: ErrorObject | str | None = None
    x_groq: XGroq | None = None


class Embedding(msgspec.Struct):
    embedding: list[float] | str  # a missing vector is a malformed reply, not an empty one
    index: int = 0


class EmbeddingList(msgspec.Struct):
    data: list[Embedding]
    model: str | None = None
    usage: UsageIn | None = None


COMPLETION_DECODER = msgspec.json.Decoder(Completion, strict=False)
CHUNK_DECODER = msgspec.json.Decoder(CompletionChunk, strict=False)
EMBEDDINGS_DECODER = msgspec.json.Decoder(EmbeddingList, strict=False)
# msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)

# Unknown finish reasons (``eos``, ...) count as a normal stop; the raw value is kept.
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "model_length": "length",  # Mistral
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",  # deprecated OpenAI value
    "content_filter": "content_filter",
    "sensitive": "content_filter",
    "error": "error",  # OpenRouter, Mistral
    "insufficient_system_resource": "error",  # DeepSeek
    "network_error": "error",
}

# ---------------------------------------------------------------------------
# What was read, as our types
# ---------------------------------------------------------------------------

_NO_PROMPT_DETAILS = PromptDetails()
_NO_COMPLETION_DETAILS = CompletionDetails()


def to_usage(u: UsageIn | None) -> Usage | None:
    if u is None:
        return None
    prompt = u.prompt_tokens or 0
    completion = u.completion_tokens or 0
    details = u.prompt_tokens_details or _NO_PROMPT_DETAILS
    out = u.completion_tokens_details or _NO_COMPLETION_DETAILS
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        # OpenAI's detail, DeepSeek's prompt_cache_hit_tokens or Moonshot's cached_tokens
        cached_tokens=details.cached_tokens or u.prompt_cache_hit_tokens or u.cached_tokens or 0,
        cache_creation_tokens=details.cache_write_tokens or 0,
        reasoning_tokens=out.reasoning_tokens or 0,
    )


_AnyChoice = TypeVar("_AnyChoice", Choice, StreamChoice)


def first_choice(choices: list[_AnyChoice] | None) -> _AnyChoice | None:
    """The choice with index 0 (replies with ``n`` > 1 interleave choices).

    A plain loop, not ``next()`` over a generator: this runs once per stream chunk.
    """
    for choice in choices or ():
        if not choice.index:
            return choice
    return None


def split_parts(parts: list[PartIn]) -> tuple[str, str]:
    """(text, thinking) of a content array; Mistral nests thinking text in parts."""
    text: list[str] = []
    thinking: list[str] = []
    for part in parts:
        if part.type == "thinking":
            inner = part.thinking
            if isinstance(inner, str):
                thinking.append(inner)
            elif inner:
                thinking.extend(p.text for p in inner if p.text)
        elif part.text:
            text.append(part.text)
    return "".join(text), "".join(thinking)


def arguments_text(raw: Any) -> str:
    """Tool-call arguments as JSON text (a few servers send an object)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return json_encode(raw).decode()


def chat_response(
    resp: Completion, provider: str, finish_reasons: Mapping[str, FinishReason]
) -> ChatResponse | None:
    """The first choice of a completion as a ``ChatResponse`` (None: it has no message)."""
    choice = first_choice(resp.choices)
    if choice is None or choice.message is None:
        return None
    msg = choice.message
    text, thinking = (
        split_parts(msg.content) if isinstance(msg.content, list) else (msg.content or "", "")
    )
    calls = [
        ToolCall(
            id=c.id or f"call_{n}",
            name=(c.function.name if c.function else None) or "",
            arguments=arguments_text(c.function.arguments if c.function else None) or "{}",
        )
        for n, c in enumerate(msg.tool_calls or ())
    ]
    if msg.function_call is not None and not calls:
        fc = msg.function_call
        calls.append(ToolCall("call_0", fc.name or "", arguments_text(fc.arguments) or "{}"))
    raw = choice.finish_reason
    finish: FinishReason | None = finish_reasons.get(raw, "stop") if raw else None
    if calls:
        finish = "tool_calls"
    return ChatResponse(
        content=text,
        tool_calls=calls,
        finish_reason=finish,
        raw_finish_reason=raw,
        usage=to_usage(resp.usage or choice.usage),
        reasoning=msg.reasoning_content or msg.reasoning or thinking or None,
        refusal=msg.refusal or None,
        id=resp.id,
        model=resp.model,
        provider=provider,
    )


def embed_response(resp: EmbeddingList, provider: str) -> EmbedResponse:
    """Vectors in input order (by ``index``); base64 vectors are unpacked too."""
    items = sorted(resp.data, key=lambda d: d.index)
    usage = None
    if resp.usage is not None:
        prompt = resp.usage.prompt_tokens or resp.usage.total_tokens or 0
        usage = Usage(prompt_tokens=prompt, total_tokens=prompt)
    return EmbedResponse(
        vectors=[_vector(d.embedding) for d in items],
        model=resp.model,
        usage=usage,
        provider=provider,
    )


def _vector(embedding: list[float] | str) -> list[float]:
    """A float vector, unpacking OpenAI's base64 form (little-endian float32)."""
    if isinstance(embedding, list):
        return embedding
    values = array.array("f", base64.b64decode(embedding))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()
