"""The typed values every provider adapter speaks: messages in, responses out.

These are msgspec Structs so that requests encode and responses decode without
an intermediate dict. They describe *our* unified shapes; each adapter owns
its own wire Structs and maps between the two.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "AudioPart",
    "CacheControl",
    "ChatRequest",
    "ChatResponse",
    "ContentPart",
    "EmbedRequest",
    "EmbedResponse",
    "FilePart",
    "FinishReason",
    "ImagePart",
    "Message",
    "Metrics",
    "ReasoningItem",
    "ResponseFormat",
    "Role",
    "StreamChunk",
    "TextPart",
    "TokenCount",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


class CacheControl(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A prompt-cache breakpoint: the prompt up to and including the marked block may be cached.

    Anthropic caches only where it is told to and sends this as the block's
    ``cache_control`` (``ttl`` ``"5m"``, the default, or ``"1h"``); providers
    that cache on their own (OpenAI, DeepSeek, Gemini, Zhipu, Ollama) ignore it.
    """

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = None


class TextPart(msgspec.Struct, tag="text", tag_field="type", frozen=True):
    """A piece of text inside a message's content list; ``cache`` marks a cache breakpoint."""

    text: str
    cache: CacheControl | None = None


class ImagePart(msgspec.Struct, tag="image", tag_field="type", frozen=True, kw_only=True):
    """An image given by URL (``url``) or by bytes (``data`` with ``media_type``).

    ``detail`` is OpenAI's ``low``/``high``/``auto`` hint; other providers
    ignore it.
    """

    url: str | None = None
    data: bytes | None = None
    media_type: str | None = None
    detail: str | None = None
    cache: CacheControl | None = None


class AudioPart(msgspec.Struct, tag="audio", tag_field="type", frozen=True, kw_only=True):
    """Audio bytes; ``format`` is ``wav``, ``mp3``, ... as the provider names it."""

    data: bytes
    format: str
    cache: CacheControl | None = None


class FilePart(msgspec.Struct, tag="file", tag_field="type", frozen=True, kw_only=True):
    """A document (PDF, ...) given by bytes, by URL or by a provider file id."""

    data: bytes | None = None
    url: str | None = None
    file_id: str | None = None
    media_type: str | None = None
    filename: str | None = None
    cache: CacheControl | None = None


ContentPart = TextPart | ImagePart | AudioPart | FilePart


class ToolCall(msgspec.Struct, frozen=True):
    """A complete tool call: ``arguments`` is the JSON text of the arguments.

    ``id`` is what the tool result answers. ``signature`` is the opaque thought
    signature the provider attached to this very call (Gemini's
    ``thoughtSignature`` on its ``functionCall`` part), sent back on the same
    call. ``item_id`` is the provider's own id for the call item where it has a
    second one (OpenAI Responses ``fc_...`` beside the ``call_...`` id): the call
    goes back under it next to the reasoning item it belongs to, which the
    provider pairs by that id.
    """

    id: str
    name: str
    arguments: str
    signature: str | None = None
    item_id: str | None = None


class ToolCallDelta(msgspec.Struct, gc=False, kw_only=True):
    """A fragment of a streamed tool call; fragments with one ``index`` form one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    signature: str | None = None
    item_id: str | None = None


class ReasoningItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One reasoning block exactly as the provider sent it, to be sent back unchanged.

    Reasoning models want their earlier thinking back on the next turn, each
    block in its place. ``type`` is the provider's kind: Anthropic
    ``thinking`` (``text`` and ``signature``) or ``redacted_thinking``
    (``data``, opaque); OpenAI Responses ``reasoning`` (``id``, the encrypted
    content in ``data``, the summary text in ``text``). ``index`` is the
    block's position among the turn's content blocks, so thinking interleaved
    with tool use keeps its place.
    """

    type: str
    text: str | None = None
    signature: str | None = None
    data: str | None = None
    id: str | None = None
    index: int | None = None


class Message(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One turn of a conversation, in OpenAI's shape.

    ``reasoning`` and ``reasoning_signature`` carry a model's visible thinking
    (and Anthropic's/Gemini's opaque signature) so the next turn can send them
    back unchanged. ``tool_name`` names the function a ``tool`` message
    answers when the caller knows it (Gemini and Ollama need the name; the
    adapters find it from the conversation when it is missing). ``is_error``
    says a ``tool`` message reports a failure (Anthropic ``tool_result.is_error``,
    Gemini's ``functionResponse`` ``error``; plain content elsewhere). ``cache``
    marks the message's last block as a prompt-cache breakpoint (``CacheControl``).
    """

    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False
    reasoning: str | None = None
    reasoning_signature: str | None = None
    reasoning_items: list[ReasoningItem] | None = None
    refusal: str | None = None
    cache: CacheControl | None = None

    def text(self) -> str:
        """The message's text: the string content, or its text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class Tool(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A function the model may call; ``parameters`` is a JSON Schema object.

    ``cache`` marks a prompt-cache breakpoint after this tool's definition.
    """

    name: str
    description: str | None = None
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    strict: bool | None = None
    cache: CacheControl | None = None


class ResponseFormat(msgspec.Struct, kw_only=True):
    """Structured output: a JSON Schema, named, optionally from a Struct type.

    ``type`` is ``json_schema`` (``schema`` set) or ``json_object`` (any JSON).
    ``struct_type`` is the msgspec type the reply is validated against.
    """

    type: Literal["json_schema", "json_object"] = "json_schema"
    name: str = "response"
    schema: dict[str, Any] | None = None
    strict: bool = True
    struct_type: Any = None


class ChatRequest(msgspec.Struct, kw_only=True):
    """A validated chat request, provider-neutral (OpenAI's names).

    ``reasoning`` is either an effort level (``"low"``, ``"medium"``,
    ``"high"``, ...) or ``{"budget_tokens": N}``; ``extra`` (the caller's
    ``extra_body``) is merged into the provider's request body as-is, for
    options we do not model. ``extra_headers`` (lower-case names) and
    ``extra_query`` (name, value pairs) are added to this call's HTTP request.
    ``prompt_cache_key`` groups requests that share a prefix, for providers
    that route by it (OpenAI); others ignore it.
    """

    model: str
    messages: list[Message]
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning: str | dict[str, Any] | None = None
    user: str | None = None
    prompt_cache_key: str | None = None
    extra: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    extra_query: list[tuple[str, str]] | None = None


class Usage(msgspec.Struct, kw_only=True, gc=False):
    """Token counts, normalised.

    ``prompt_tokens`` counts every input token, cached or not;
    ``completion_tokens`` counts every output token, reasoning included.
    ``cached_tokens`` (read from cache) and ``cache_creation_tokens``
    (written to cache) are parts of ``prompt_tokens``; ``reasoning_tokens`` is
    part of ``completion_tokens``. ``total_tokens`` is their sum.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0


class StreamChunk(msgspec.Struct, kw_only=True, gc=False):
    """One increment of a streamed response.

    ``delta`` is new answer text, ``reasoning`` new thinking text,
    ``tool_calls`` tool-call fragments, ``reasoning_items`` reasoning blocks
    completed by this chunk (whole, to send back). The final chunks carry
    ``finish_reason`` (normalised), ``raw_finish_reason`` and ``usage``.
    """

    delta: str = ""
    reasoning: str = ""
    reasoning_signature: str | None = None
    reasoning_items: list[ReasoningItem] | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str = ""
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None

    def has_content(self) -> bool:
        """True when the chunk carries something the caller asked for (not a bare header)."""
        return bool(
            self.delta
            or self.reasoning
            or self.tool_calls
            or self.refusal
            or self.finish_reason
            or self.reasoning_signature
            or self.reasoning_items
        )


class Metrics(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """Where one call's time went, in seconds: the same numbers on every response.

    ``queued``: waiting in the concurrency gate and rate buckets, all attempts
    together. ``connect``: setting up the answering attempt's connection (TCP,
    TLS, proxy); 0 with ``reused`` when it came from the pool. ``ttfb``: the
    request written to the response head. ``ttft``: the start of the call to
    the first streamed content. ``duration``: the start of the call to the end
    of the response. ``tpot``: time per output token after the first,
    ``(end - first content) / (completion_tokens - 1)``. ``tbt_max`` and
    ``tbt_mean``: the longest and the mean gap between content events, timed
    per network read that carried content (a slow reader lengthens them too).
    ``tokens_per_second``: completion tokens over the time after the first
    content; ``throughput``: completion tokens over the whole ``duration``.
    ``ttft``, ``tpot``, ``tbt_*`` and ``tokens_per_second`` are ``None`` on a
    call that was not streamed; a number that could not be measured is ``None``.
    """

    queued: float = 0.0
    connect: float = 0.0
    reused: bool = False
    ttfb: float | None = None
    ttft: float | None = None
    duration: float | None = None
    tpot: float | None = None
    tbt_max: float | None = None
    tbt_mean: float | None = None
    tokens_per_second: float | None = None
    throughput: float | None = None

    # sagellm-protocol's names (its Metrics: ttft_ms, tbt_ms, tpot_ms, throughput_tps).

    @property
    def ttft_ms(self) -> float | None:
        """``ttft`` in milliseconds."""
        return None if self.ttft is None else self.ttft * 1000.0

    @property
    def tbt_ms(self) -> float | None:
        """``tbt_mean`` in milliseconds (sagellm's tbt is the mean gap between tokens)."""
        return None if self.tbt_mean is None else self.tbt_mean * 1000.0

    @property
    def tpot_ms(self) -> float | None:
        """``tpot`` in milliseconds."""
        return None if self.tpot is None else self.tpot * 1000.0

    @property
    def throughput_tps(self) -> float | None:
        """``throughput``: output tokens per second over the whole call."""
        return self.throughput


NO_METRICS = Metrics()
"""What a response carries until its call measured it (shared: Metrics is frozen)."""


class ChatResponse(msgspec.Struct, kw_only=True):
    """A complete answer, from ``chat()`` or assembled from a stream.

    ``parsed`` holds the validated Struct when ``response_format`` was a
    Struct type. ``reasoning_items`` are the reasoning blocks as sent, each
    with its place in the turn (``reasoning`` is their text joined, for
    reading; ``reasoning_signature`` the first signature, for callers that
    read one). ``request_id`` is the provider's id for the HTTP exchange
    (quote it to their support). ``metrics`` holds the call's timings
    (time to first token, duration, ...). ``deployment`` names the router
    deployment that answered (``None`` from a plain client). ``cost`` is what
    the call cost in USD, from the deployment's or client's ``aa.Price`` or
    the optional genai-prices data; ``None`` when the price is unknown.
    """

    content: str = ""
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    reasoning: str | None = None
    reasoning_signature: str | None = None
    reasoning_items: list[ReasoningItem] | None = None
    refusal: str | None = None
    id: str | None = None
    model: str | None = None
    provider: str | None = None
    request_id: str | None = None
    parsed: Any = None
    metrics: Metrics = NO_METRICS
    deployment: str | None = None
    cost: float | None = None

    @property
    def message(self) -> Message:
        """This answer as an assistant ``Message``, ready to append to the history."""
        return Message(
            role="assistant",
            content=self.content or None,
            tool_calls=list(self.tool_calls) or None,
            reasoning=self.reasoning,
            reasoning_signature=self.reasoning_signature,
            reasoning_items=self.reasoning_items,
            refusal=self.refusal,
        )


class EmbedRequest(msgspec.Struct, kw_only=True):
    """Texts to embed; ``dimensions`` asks for shortened vectors where supported."""

    model: str
    input: list[str]
    dimensions: int | None = None
    extra: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    extra_query: list[tuple[str, str]] | None = None


class EmbedResponse(msgspec.Struct, kw_only=True):
    """One vector per input, in order; ``metrics``, ``deployment``, ``cost`` as on ChatResponse."""

    vectors: list[list[float]]
    model: str | None = None
    usage: Usage | None = None
    provider: str | None = None
    metrics: Metrics = NO_METRICS
    deployment: str | None = None
    cost: float | None = None


class TokenCount(msgspec.Struct, kw_only=True, frozen=True):
    """The input tokens of a prompt: the provider's own count, or our estimate.

    ``estimated`` is true when the provider has no counting endpoint and the
    number is the rate buckets' estimate (``estimate_tokens``, no tokenizer),
    so a caller can tell a count it may budget on from a guess.
    """

    input_tokens: int
    estimated: bool
