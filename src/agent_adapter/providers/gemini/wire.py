"""The Gemini ``generateContent`` wire format: request and response Structs, their decoders.

Field names are camelCase on the wire (``rename="camel"``). Responses are
decoded with unknown fields ignored and absent ones ``None``. The functions
at the bottom turn what was read into our types; the adapter's ``decode``
and the stream decoder share them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from ...errors import StreamError
from ...types import FinishReason, ToolCall, Usage

#: Prefix of the tool-call ids this adapter invents (they are never sent back).
GENERATED_ID_PREFIX = "gcall_"

# ---------------------------------------------------------------------------
# Wire types: request (encoded)
# ---------------------------------------------------------------------------


class Blob(msgspec.Struct, rename="camel"):
    mime_type: str
    data: str


class FileData(msgspec.Struct, rename="camel", omit_defaults=True):
    file_uri: str
    mime_type: str | None = None


class FunctionCallOut(msgspec.Struct, omit_defaults=True):
    name: str
    args: dict[str, Any]
    id: str | None = None


class FunctionResponseOut(msgspec.Struct, omit_defaults=True):
    name: str
    response: dict[str, Any]
    id: str | None = None


class PartOut(msgspec.Struct, rename="camel", omit_defaults=True):
    text: str | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    function_call: FunctionCallOut | None = None
    function_response: FunctionResponseOut | None = None
    thought_signature: str | None = None


class ContentOut(msgspec.Struct, omit_defaults=True):
    parts: list[PartOut]
    role: str | None = None


class FunctionDeclaration(msgspec.Struct, rename="camel", omit_defaults=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    parameters_json_schema: dict[str, Any] | None = None


class ToolOut(msgspec.Struct, rename="camel"):
    function_declarations: list[FunctionDeclaration]


class FunctionCallingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    mode: str
    allowed_function_names: list[str] | None = None


class ToolConfig(msgspec.Struct, rename="camel"):
    function_calling_config: FunctionCallingConfig


class ThinkingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    thinking_budget: int | None = None
    thinking_level: str | None = None
    include_thoughts: bool | None = None


class GenerationConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    stop_sequences: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | None = None
    response_json_schema: dict[str, Any] | None = None
    thinking_config: ThinkingConfig | None = None


class GenerateRequest(msgspec.Struct, rename="camel", omit_defaults=True):
    contents: list[ContentOut]
    system_instruction: ContentOut | None = None
    tools: list[ToolOut] | None = None
    tool_config: ToolConfig | None = None
    generation_config: GenerationConfig | None = None
    model: str | None = None  # set only inside a countTokens request, which requires it


class CountRequest(msgspec.Struct, rename="camel"):
    """A ``countTokens`` body: the whole ``generateContent`` request, already encoded."""

    generate_content_request: msgspec.Raw


class TextPartOut(msgspec.Struct):
    text: str


class EmbedContent(msgspec.Struct):
    parts: list[TextPartOut]


class EmbedItem(msgspec.Struct, rename="camel", omit_defaults=True):
    model: str
    content: EmbedContent
    output_dimensionality: int | None = None


class BatchEmbedRequest(msgspec.Struct):
    requests: list[EmbedItem]


# ---------------------------------------------------------------------------
# Wire types: response (decoded; unknown fields ignored, absent ones None)
# ---------------------------------------------------------------------------


class FunctionCallIn(msgspec.Struct, gc=False):
    name: str | None = None
    args: msgspec.Raw = msgspec.Raw(b"")
    id: str | None = None


class PartIn(msgspec.Struct, rename="camel"):
    text: str | None = None
    thought: bool | None = None
    thought_signature: str | None = None
    function_call: FunctionCallIn | None = None


class ContentIn(msgspec.Struct):
    parts: list[PartIn] | None = None
    role: str | None = None


class Candidate(msgspec.Struct, rename="camel"):
    content: ContentIn | None = None
    finish_reason: str | None = None
    index: int | None = None


class UsageIn(msgspec.Struct, rename="camel", gc=False):
    prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    thoughts_token_count: int | None = None
    cached_content_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    total_token_count: int | None = None


class PromptFeedback(msgspec.Struct, rename="camel"):
    block_reason: str | None = None
    block_reason_message: str | None = None


class ErrorIn(msgspec.Struct):
    code: int | None = None
    message: str | None = None
    status: str | None = None
    details: list[Any] | None = None


class ResponseIn(msgspec.Struct, rename="camel"):
    candidates: list[Candidate] | None = None
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageIn | None = None
    model_version: str | None = None
    response_id: str | None = None
    error: ErrorIn | None = None


class Values(msgspec.Struct):
    values: list[float] = msgspec.field(default_factory=list)


class BatchEmbedResponse(msgspec.Struct):
    embeddings: list[Values] | None = None
    error: ErrorIn | None = None


class CountIn(msgspec.Struct, rename="camel"):
    """The ``countTokens`` reply's total (its per-modality details are not read)."""

    total_tokens: int


RESPONSE_DECODER = msgspec.json.Decoder(ResponseIn)
COUNT_DECODER = msgspec.json.Decoder(CountIn)
EMBED_DECODER = msgspec.json.Decoder(BatchEmbedResponse)

# ---------------------------------------------------------------------------
# What was read, as our types
# ---------------------------------------------------------------------------

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}


def to_usage(u: UsageIn) -> Usage:
    prompt = (u.prompt_token_count or 0) + (u.tool_use_prompt_token_count or 0)
    thoughts = u.thoughts_token_count or 0
    completion = (u.candidates_token_count or 0) + thoughts
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=u.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


def to_finish(raw: str, has_calls: bool) -> FinishReason:
    if has_calls:
        return "tool_calls"
    return _FINISH.get(raw, "error")


def _call_id(response_id: str | None, index: int, name: str, args: str) -> str:
    """A stable id for the ``index``-th call of a response (the same streamed or not)."""
    if response_id:
        return f"{GENERATED_ID_PREFIX}{response_id}_{index}"
    digest = hashlib.blake2b(f"{index}\0{name}\0{args}".encode(), digest_size=8).hexdigest()
    return f"{GENERATED_ID_PREFIX}{digest}"


def _args_text(raw: msgspec.Raw) -> str:
    """The arguments' JSON text as the server wrote it (absent or null → ``{}``)."""
    text = bytes(raw).decode()
    return "{}" if not text or text == "null" else text


class Parts:
    """What the parts of one response (or one stream chunk) said, in order.

    A ``functionCall`` part's thought signature belongs to that call (its
    ``ToolCall.signature``); ``signature`` is the last one found on any other
    part (a text part's, in a turn without calls), which the turn keeps.
    """

    __slots__ = ("calls", "reasoning", "signature", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[ToolCall] = []
        self.signature: str | None = None

    def read(
        self, parts: list[PartIn], response_id: str | None, first_index: int, provider: str
    ) -> None:
        for part in parts:
            call = part.function_call
            if call is not None:
                if not call.name:
                    raise StreamError(
                        "Gemini sent a functionCall without a name", provider=provider
                    )
                args = _args_text(call.args)
                index = first_index + len(self.calls)
                self.calls.append(
                    ToolCall(
                        id=call.id or _call_id(response_id, index, call.name, args),
                        name=call.name,
                        arguments=args,
                        signature=part.thought_signature or None,
                    )
                )
                continue
            if part.text:
                (self.reasoning if part.thought else self.text).append(part.text)
            if part.thought_signature:
                self.signature = part.thought_signature


def first_candidate(candidates: list[Candidate] | None) -> Candidate | None:
    for cand in candidates or ():
        if not cand.index:
            return cand
    return None
