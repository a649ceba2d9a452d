"""OpenAI Chat Completions, and every service that speaks it (see ``openai_presets``).

Sans-IO: ``encode`` builds the request bytes from msgspec Structs (fields left
``UNSET`` are never sent, so only what the caller set goes on the wire);
``decode`` and the stream decoder read typed Structs straight from the bytes
with decoders built once at import. Responses are decoded tolerantly
(``strict=False``: integral floats and numeric strings are accepted where
counts are expected, unknown fields are ignored) because compatible servers
vary; anything that still does not fit is an ``AdapterError``, never a
msgspec exception.

Stream rules (see ``shared/wire/openai.md`` section 7): the stream ends with
``data: [DONE]``; ``end()`` is ``False`` without it, even when a finish reason
and the usage chunk already arrived, because the usage chunk is documented to
be lost on interruption and we cannot tell a complete stream from a cut one
otherwise. A chunk with a top-level ``error`` (or Groq's ``x_groq.error``, or an
``event: error``) raises the classified error: a retryable ``ServerError``
unless its body says more (rate limit, context length, content filter).

Errors: body markers first (``context_length_exceeded``, ``insufficient_quota``,
Azure ``ResponsibleAIPolicyViolation``, DashScope ``data_inspection_failed``,
DeepSeek "Content Exists Risk", OpenRouter 403 moderation, xAI's 400 for a bad
key), then the status. HTTP 402 (DeepSeek "Insufficient Balance", OpenRouter
out of credits) is treated like ``insufficient_quota``: a ``RateLimitError``
with ``retryable=False``, since waiting will not bring credit back.

``zhipu.py`` speaks the same wire format and reuses the wire Structs,
``_chat_response``, ``_embeddings`` and ``OpenAIStreamDecoder`` (with its own
finish reasons and error classifier): a change here changes Zhipu too.
"""

from __future__ import annotations

import array
import base64
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec
from msgspec import UNSET, UnsetType

from ..errors import AdapterError, StreamError, ValidationError
from ..sse import SSEParser
from ..types import (
    AudioPart,
    ChatRequest,
    ChatResponse,
    ContentPart,
    EmbedRequest,
    EmbedResponse,
    FilePart,
    FinishReason,
    ImagePart,
    Message,
    StreamChunk,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .base import (
    Adapter,
    ErrorKind,
    Headers,
    HttpRequest,
    b64,
    classify,
    data_url,
    decode_json,
    looks_like_context_overflow,
)
from .openai_presets import Quirks, quirks_for

__all__ = ["DEFAULT_AZURE_API_VERSION", "OpenAIAdapter", "OpenAIStreamDecoder"]

#: Azure OpenAI data-plane inference GA version used when none is configured
#: (learn.microsoft.com "Azure OpenAI REST API reference": latest GA 2024-10-21).
DEFAULT_AZURE_API_VERSION = "2024-10-21"

# ---------------------------------------------------------------------------
# Request wire types (encode only). UNSET fields are omitted; None is sent as null.
# ---------------------------------------------------------------------------


class _Text(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class _ImageURL(msgspec.Struct):
    url: str
    detail: str | UnsetType = UNSET


class _Image(msgspec.Struct, tag="image_url", tag_field="type"):
    image_url: _ImageURL


class _AudioData(msgspec.Struct):
    data: str
    format: str


class _Audio(msgspec.Struct, tag="input_audio", tag_field="type"):
    input_audio: _AudioData


class _FileRef(msgspec.Struct, kw_only=True):
    filename: str | UnsetType = UNSET
    file_data: str | UnsetType = UNSET
    file_id: str | UnsetType = UNSET


class _File(msgspec.Struct, tag="file", tag_field="type"):
    file: _FileRef


_PartOut = _Text | _Image | _Audio | _File


class _FunctionOut(msgspec.Struct):
    name: str
    arguments: str


class _CallOut(msgspec.Struct, kw_only=True):
    id: str
    type: str = "function"
    function: _FunctionOut


class _MessageOut(msgspec.Struct, kw_only=True):
    role: str
    content: str | list[_PartOut] | UnsetType | None = UNSET
    name: str | UnsetType = UNSET
    tool_calls: list[_CallOut] | UnsetType = UNSET
    tool_call_id: str | UnsetType = UNSET
    refusal: str | UnsetType = UNSET
    reasoning_content: str | UnsetType = UNSET


class _FunctionDef(msgspec.Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class _ToolOut(msgspec.Struct, kw_only=True):
    type: str = "function"
    function: _FunctionDef


class _JSONSchema(msgspec.Struct):
    name: str
    schema: dict[str, Any]
    strict: bool


class _ResponseFormat(msgspec.Struct, kw_only=True):
    type: str
    json_schema: _JSONSchema | UnsetType = UNSET


class _StreamOptions(msgspec.Struct):
    include_usage: bool = True


class _Body(msgspec.Struct, kw_only=True):
    model: str
    messages: list[_MessageOut]
    stream: bool | UnsetType = UNSET
    stream_options: _StreamOptions | UnsetType = UNSET
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
    tools: list[_ToolOut] | UnsetType = UNSET
    tool_choice: str | dict[str, Any] | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET
    response_format: _ResponseFormat | UnsetType = UNSET
    reasoning_effort: str | UnsetType = UNSET
    thinking: dict[str, str] | UnsetType = UNSET
    enable_thinking: bool | UnsetType = UNSET
    thinking_budget: int | UnsetType = UNSET
    reasoning: dict[str, Any] | UnsetType = UNSET
    user: str | UnsetType = UNSET


class _EmbedBody(msgspec.Struct, kw_only=True):
    model: str
    input: list[str]
    encoding_format: str | UnsetType = UNSET
    dimensions: int | UnsetType = UNSET
    output_dimension: int | UnsetType = UNSET


# ---------------------------------------------------------------------------
# Response wire types (decode only). Every field optional: servers vary.
# ---------------------------------------------------------------------------


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek
    cached_tokens: int | None = None  # Moonshot


class _Part(msgspec.Struct):
    """A content part in a reply (Mistral sends arrays with ``thinking`` parts)."""

    type: str = ""
    text: str | None = None
    thinking: list[_Part] | str | None = None


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: Any = None  # a JSON string; some servers send an object


class _CallIn(msgspec.Struct):
    index: int | None = None
    id: str | None = None
    function: _Function | None = None


class _ErrorBody(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    status: int | None = None
    metadata: dict[str, Any] | None = None
    innererror: dict[str, Any] | None = None


class _Message(msgspec.Struct):
    content: str | list[_Part] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[_CallIn] | None = None
    function_call: _Function | None = None


class _Choice(msgspec.Struct):
    index: int | None = None
    message: _Message | None = None
    finish_reason: str | None = None
    usage: _Usage | None = None


class _Response(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: _ErrorBody | str | None = None


class _Delta(msgspec.Struct):
    content: str | list[_Part] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[_CallIn] | None = None


class _StreamChoice(msgspec.Struct):
    index: int | None = None
    delta: _Delta | None = None
    finish_reason: str | None = None
    usage: _Usage | None = None  # Moonshot puts the stream's usage here


class _XGroq(msgspec.Struct):
    usage: _Usage | None = None
    error: _ErrorBody | str | None = None


class _Chunk(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[_StreamChoice] | None = None
    usage: _Usage | None = None
    error: _ErrorBody | str | None = None
    x_groq: _XGroq | None = None


class _Embedding(msgspec.Struct):
    embedding: list[float] | str  # a missing vector is a malformed reply, not an empty one
    index: int = 0


class _EmbedResponse(msgspec.Struct):
    data: list[_Embedding]
    model: str | None = None
    usage: _Usage | None = None


_encode = msgspec.json.Encoder().encode
_RESPONSE = msgspec.json.Decoder(_Response, strict=False)
_CHUNK = msgspec.json.Decoder(_Chunk, strict=False)
_EMBEDDINGS = msgspec.json.Decoder(_EmbedResponse, strict=False)
# msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)

# Unknown finish reasons (``eos``, ...) count as a normal stop; the raw value is kept.
_FINISH: dict[str, FinishReason] = {
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


_NO_PROMPT_DETAILS = _PromptDetails()
_NO_COMPLETION_DETAILS = _CompletionDetails()


def _usage(u: _Usage | None) -> Usage | None:
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


_AnyChoice = TypeVar("_AnyChoice", _Choice, _StreamChoice)


def _first_choice(choices: list[_AnyChoice] | None) -> _AnyChoice | None:
    """The choice with index 0 (replies with ``n`` > 1 interleave choices).

    A plain loop, not ``next()`` over a generator: this runs once per stream chunk.
    """
    for choice in choices or ():
        if not choice.index:
            return choice
    return None


def _split_parts(parts: list[_Part]) -> tuple[str, str]:
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


def _arguments(raw: Any) -> str:
    """Tool-call arguments as JSON text (a few servers send an object)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return _encode(raw).decode()


_IMAGE_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


def _image_type(data: bytes) -> str:
    """The media type of image bytes given without one (PNG when unknown)."""
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    return "image/png"


# ---------------------------------------------------------------------------
# Error bodies
# ---------------------------------------------------------------------------

_OVERLOAD_CODES = frozenset({"server_is_overloaded", "slow_down", "overloaded", "overloaded_error"})
_FILTER_CODES = frozenset({"content_filter", "data_inspection_failed", "content_policy_violation"})
_RATE_CODES = frozenset({"rate_limit_exceeded", "rate_limit_error", "tokens", "requests"})


class _ErrorInfo:
    """The parts of an error body that classification looks at."""

    __slots__ = ("code", "inner", "message", "moderation", "status", "type")

    def __init__(self) -> None:
        self.message = ""
        self.code: str | None = None
        self.type: str | None = None
        self.inner: str | None = None
        self.moderation = False
        self.status: int | None = None

    @classmethod
    def of(cls, error: _ErrorBody | str) -> _ErrorInfo:
        """From an ``error`` value: an object (OpenAI, OpenRouter, Azure) or a string."""
        info = cls()
        if isinstance(error, _ErrorBody):
            info.message = error.message or ""
            info.type = error.type
            if isinstance(error.code, int):
                info.status = error.code  # OpenRouter: the HTTP status as a number
            info.code = None if error.code is None else str(error.code)
            info.status = error.status or info.status
            if error.innererror is not None:
                inner = error.innererror.get("code")
                info.inner = inner if isinstance(inner, str) else None
            meta = error.metadata or {}
            info.moderation = "reasons" in meta or "flagged_input" in meta
        elif isinstance(error, str):
            info.message = error
        return info

    @classmethod
    def of_body(cls, data: Any) -> _ErrorInfo:
        """From a whole decoded error body, whatever its shape."""
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, str):  # a bare JSON string
            return cls.of(data)
        if not isinstance(data, dict):
            return cls()
        error = data.get("error")
        if isinstance(error, dict):
            try:
                return cls.of(msgspec.convert(error, _ErrorBody, strict=False))
            except msgspec.ValidationError:
                return cls.of(str(error.get("message", "")))
        info = cls.of(error if isinstance(error, str) else "")
        if not info.message:  # Cohere/FastAPI-style bodies: {"message": ...} / {"detail": ...}
            text = data.get("message") or data.get("detail") or data.get("msg") or ""
            info.message = text if isinstance(text, str) else str(text)
        code = data.get("code")  # xAI: a string code next to a string error
        if info.code is None and isinstance(code, str | int) and code != 0:
            info.code = str(code)
        if info.type is None and isinstance(data.get("type"), str):
            info.type = data["type"]
        return info

    def kind(self, status: int | None, default: ErrorKind | None) -> ErrorKind | None:
        """Body markers first; ``default`` (or the status, when None) decides the rest."""
        code = (self.code or "").lower()
        etype = (self.type or "").lower()
        low = self.message.lower()
        if code == "context_length_exceeded":
            return "context_length"
        if code == "insufficient_quota" or etype == "insufficient_quota" or status == 402:
            return "quota"
        if (
            code in _FILTER_CODES
            or self.inner == "ResponsibleAIPolicyViolation"
            or "content exists risk" in low  # DeepSeek
            or (status == 403 and self.moderation)  # OpenRouter moderation
        ):
            return "content_filter"
        if code == "invalid_api_key" or (
            status in (None, 400) and ("incorrect api key" in low or "invalid api key" in low)
        ):
            return "auth"  # xAI answers a bad key with 400
        if status in (None, 400, 413, 422) and looks_like_context_overflow(low):
            return "context_length"
        if (status is None or status >= 500) and (
            code in _OVERLOAD_CODES or etype in _OVERLOAD_CODES or "overloaded" in low
        ):
            return "overloaded"
        if status is None:
            if code in _RATE_CODES or etype in _RATE_CODES:
                return "rate_limit"
            if etype == "invalid_request_error":
                return "bad_request"
        return default


# ---------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------


_OPTION_HEADERS = (("organization", b"openai-organization"), ("project", b"openai-project"))


class OpenAIAdapter(Adapter):
    """Chat Completions and embeddings for OpenAI and every compatible preset.

    ``name`` selects the preset's quirks (``openai_presets.QUIRKS``); options
    with a quirk's name override it. Other options: ``organization`` and
    ``project`` (OpenAI headers); for Azure, ``api_version`` and
    ``deployment`` (default: the request's model).
    """

    family = "openai"

    def __init__(
        self,
        *,
        name: str = "openai",
        base_url: str,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            name=name, base_url=base_url, api_key=api_key, headers=headers, options=options
        )
        self.quirks: Quirks = quirks_for(name, self.options)
        self.capabilities = self.quirks.capabilities
        prefix = self.quirks.path_prefix
        if prefix and not self.base_url.endswith(prefix):
            self.base_url += prefix
        for option, header_name in _OPTION_HEADERS:
            value = self.options.get(option)
            if value:
                self.extra_headers.append((header_name, str(value).encode("latin-1")))
        # Azure: ``{endpoint}/openai`` + ``/deployments/{name}{path}?api-version=...``;
        # a base URL that already names a deployment, or the newer ``/openai/v1``
        # API (no deployment, no api-version; unverified), is used as given.
        self._api_version = str(self.options.get("api_version") or DEFAULT_AZURE_API_VERSION)
        self._deployment: str | None = self.options.get("deployment")
        self._azure_plain = self.quirks.azure and self.base_url.endswith("/openai/v1")
        self._azure_fixed = self.quirks.azure and "/deployments/" in self.base_url
        if (
            self.quirks.azure
            and not (self._azure_plain or self._azure_fixed)
            and not self.base_url.endswith("/openai")
        ):
            self.base_url += "/openai"

    # -- requests --------------------------------------------------------------------

    def auth_headers(self) -> list[tuple[bytes, bytes]]:
        """Bearer auth; Azure uses an ``api-key`` header instead."""
        if self.quirks.azure and self.api_key is not None:
            return [(b"api-key", self.api_key.reveal().encode("latin-1"))]
        return super().auth_headers()

    def _path(self, path: str, model: str) -> str:
        if not self.quirks.azure or self._azure_plain:
            return path
        if not self._azure_fixed:
            path = f"/deployments/{quote(self._deployment or model, safe='')}{path}"
        return f"{path}?api-version={quote(self._api_version, safe='')}"

    def check(self, request: ChatRequest) -> None:
        """Capabilities, plus the preset's field and content rules."""
        super().check(request)
        q = self.quirks
        for name in q.unsupported:
            if getattr(request, name, None) is not None:
                raise ValidationError(f"{self.name} does not accept {name}", field=name)
        reasoning = request.reasoning
        if (
            isinstance(reasoning, dict)
            and reasoning.get("budget_tokens") is not None
            and reasoning.get("effort") is None
            and not q.reasoning_budget
        ):
            raise ValidationError(
                f"{self.name} takes a reasoning effort ('low', 'medium', 'high'), "
                "not a token budget",
                field="reasoning",
            )
        for i, message in enumerate(request.messages):
            if not isinstance(message.content, list):
                continue
            for j, part in enumerate(message.content):
                where = f"messages[{i}].content[{j}]"
                if isinstance(part, ImagePart):
                    if part.data is None and not part.url:
                        raise ValidationError("an image needs a url or data", field=where)
                    if part.data is None and not q.image_urls:
                        raise ValidationError(
                            f"{self.name} fetches no image URLs; pass the image bytes",
                            field=where,
                        )
                elif isinstance(part, FilePart) and part.data is None and not part.file_id:
                    raise ValidationError(
                        "Chat Completions takes files as data or a file_id, not a URL",
                        field=where,
                    )

    def encode(self, request: ChatRequest) -> HttpRequest:
        """``POST {base}/chat/completions`` with only the fields the caller set."""
        self.check(request)
        q = self.quirks
        body = _Body(
            model=request.model,
            messages=[self._message(m) for m in request.messages],
        )
        if request.stream:
            body.stream = True
            if q.stream_usage:
                body.stream_options = _StreamOptions()
        if request.temperature is not None:
            body.temperature = request.temperature
        if request.top_p is not None:
            body.top_p = request.top_p
        if request.top_k is not None:
            body.top_k = request.top_k
        if request.max_tokens is not None:
            setattr(body, q.max_tokens_field, request.max_tokens)
        if request.stop:
            body.stop = request.stop
        if request.seed is not None:
            setattr(body, q.seed_field, request.seed)
        if request.presence_penalty is not None:
            body.presence_penalty = request.presence_penalty
        if request.frequency_penalty is not None:
            body.frequency_penalty = request.frequency_penalty
        if request.tools:
            body.tools = [
                _ToolOut(
                    function=_FunctionDef(
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
            body.tool_choice = q.tool_choice_required if choice == "required" else choice
        if request.parallel_tool_calls is not None:
            body.parallel_tool_calls = request.parallel_tool_calls
        fmt = request.response_format
        if fmt is not None:
            if fmt.type == "json_object":
                body.response_format = _ResponseFormat(type="json_object")
            elif fmt.schema is None:
                raise ValidationError("json_schema needs a schema", field="response_format")
            else:
                body.response_format = _ResponseFormat(
                    type="json_schema",
                    json_schema=_JSONSchema(name=fmt.name, schema=fmt.schema, strict=fmt.strict),
                )
        if request.reasoning is not None:
            self._reasoning(body, request.reasoning)
        if request.user is not None:
            body.user = request.user
        if request.extra:
            merged = msgspec.to_builtins(body)
            merged.update(request.extra)
            payload = _encode(merged)
        else:
            payload = _encode(body)
        return self.request("POST", self._path("/chat/completions", request.model), payload)

    def _reasoning(self, body: _Body, reasoning: str | dict[str, Any]) -> None:
        if isinstance(reasoning, str):
            effort: str | None = reasoning
            budget: int | None = None
        else:
            effort = reasoning.get("effort")
            budget = reasoning.get("budget_tokens") if self.quirks.reasoning_budget else None
        off = effort == "none" or budget == 0
        mode = self.quirks.reasoning_mode
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

    def _message(self, m: Message) -> _MessageOut:
        q = self.quirks
        role = "system" if m.role == "developer" and not q.developer_role else m.role
        out = _MessageOut(role=role)
        if m.name:
            out.name = m.name
        content = m.content
        if isinstance(content, list):
            if content:
                out.content = [self._part(p) for p in content]
        elif content:
            out.content = content
        if m.role == "assistant":
            if m.tool_calls:
                out.tool_calls = [
                    _CallOut(id=c.id, function=_FunctionOut(name=c.name, arguments=c.arguments))
                    for c in m.tool_calls
                ]
                if q.reasoning_echo and m.reasoning:
                    out.reasoning_content = m.reasoning
            if m.refusal:
                if q.native:
                    out.refusal = m.refusal
                elif out.content is UNSET:
                    out.content = m.refusal
            if out.content is UNSET:
                out.content = None  # null, as the spec wants beside tool calls
        elif m.role == "tool" and m.tool_call_id:
            out.tool_call_id = m.tool_call_id
        return out

    def _part(self, part: ContentPart) -> _PartOut:
        if isinstance(part, TextPart):
            return _Text(part.text)
        if isinstance(part, ImagePart):
            if part.data is not None:
                url = data_url(part.media_type or _image_type(part.data), part.data)
            else:
                url = part.url or ""
            return _Image(_ImageURL(url, UNSET if part.detail is None else part.detail))
        if isinstance(part, AudioPart):
            return _Audio(_AudioData(b64(part.data), part.format))
        ref = _FileRef()
        if part.file_id:
            ref.file_id = part.file_id
        if part.filename:
            ref.filename = part.filename
        if part.data is not None:
            media_type = part.media_type or "application/pdf"
            ref.file_data = data_url(media_type, part.data)
            if ref.filename is UNSET:
                ref.filename = "file." + media_type.rpartition("/")[2].split("+")[0]
        return _File(ref)

    # -- responses -------------------------------------------------------------------

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A complete ``chat.completion`` (leading blank lines, as DeepSeek sends, are fine)."""
        try:
            resp = _RESPONSE.decode(body)
        except _DECODE_ERRORS as exc:
            raise self._malformed(
                headers, body, f"response is not a chat completion: {exc}"
            ) from None
        if resp.error:
            raise _inband_error(self.name, _ErrorInfo.of(resp.error), headers, body)
        response = _chat_response(resp, self.name, _FINISH)
        if response is None:
            raise self._malformed(headers, body, "response has no choices")
        return response

    def stream_decoder(self, request: ChatRequest) -> OpenAIStreamDecoder:
        """A fresh decoder for one streamed response."""
        return OpenAIStreamDecoder(self.name, parser=self.sse_parser())

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """Classify an error response: body markers first, then the status."""
        data = decode_json(body)
        info = _ErrorInfo.of_body(data)
        message = info.message
        if data is None:
            snippet = body[:200].decode("utf-8", "replace").strip()
            message = f"non-JSON error body: {snippet}" if snippet else ""
        return classify(
            provider=self.name,
            status=status,
            headers=headers,
            message=message,
            body=body,
            kind=info.kind(status, None),
            code=info.code,
        )

    def _malformed(self, headers: Headers, body: bytes, why: str) -> AdapterError:
        return classify(
            provider=self.name, status=None, headers=headers, message=why, body=body, kind="server"
        )

    # -- embeddings ------------------------------------------------------------------

    def encode_embed(self, request: EmbedRequest) -> HttpRequest:
        """``POST {base}/embeddings`` asking for float vectors."""
        if not self.capabilities.embeddings:
            return super().encode_embed(request)
        q = self.quirks
        body = _EmbedBody(model=request.model, input=request.input)
        if q.embed_encoding_format:
            body.encoding_format = "float"
        if request.dimensions is not None:
            setattr(body, q.dimensions_field, request.dimensions)
        if request.extra:
            merged = msgspec.to_builtins(body)
            merged.update(request.extra)
            payload = _encode(merged)
        else:
            payload = _encode(body)
        return self.request("POST", self._path("/embeddings", request.model), payload)

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """Vectors in input order (by ``index``); base64 vectors are unpacked too."""
        try:
            resp = _EMBEDDINGS.decode(body)
        except _DECODE_ERRORS as exc:
            raise self._malformed(
                headers, body, f"response is not an embeddings list: {exc}"
            ) from None
        return _embeddings(resp, self.name)


def _chat_response(
    resp: _Response, provider: str, finish_reasons: Mapping[str, FinishReason]
) -> ChatResponse | None:
    """The first choice of a completion as a ``ChatResponse`` (None: it has no message)."""
    choice = _first_choice(resp.choices)
    if choice is None or choice.message is None:
        return None
    msg = choice.message
    text, thinking = (
        _split_parts(msg.content) if isinstance(msg.content, list) else (msg.content or "", "")
    )
    calls = [
        ToolCall(
            id=c.id or f"call_{n}",
            name=(c.function.name if c.function else None) or "",
            arguments=_arguments(c.function.arguments if c.function else None) or "{}",
        )
        for n, c in enumerate(msg.tool_calls or ())
    ]
    if msg.function_call is not None and not calls:
        fc = msg.function_call
        calls.append(ToolCall("call_0", fc.name or "", _arguments(fc.arguments) or "{}"))
    raw = choice.finish_reason
    finish: FinishReason | None = finish_reasons.get(raw, "stop") if raw else None
    if calls:
        finish = "tool_calls"
    return ChatResponse(
        content=text,
        tool_calls=calls,
        finish_reason=finish,
        raw_finish_reason=raw,
        usage=_usage(resp.usage or choice.usage),
        reasoning=msg.reasoning_content or msg.reasoning or thinking or None,
        refusal=msg.refusal or None,
        id=resp.id,
        model=resp.model,
        provider=provider,
    )


def _embeddings(resp: _EmbedResponse, provider: str) -> EmbedResponse:
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


def _inband_error(provider: str, info: _ErrorInfo, headers: Headers, body: bytes) -> AdapterError:
    """An error reported inside a 200 body or stream: a server failure unless it says more."""
    status = info.status if info.status is not None and 400 <= info.status <= 599 else None
    kind = info.kind(status, None if status is not None else "server")
    return classify(
        provider=provider,
        status=status,
        headers=headers,
        message=info.message or "the provider reported an error",
        body=body,
        kind=kind,
        code=info.code,
    )


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------

# Builds the exception for the ``error`` value of a stream chunk: (provider, error, chunk).
_ErrorFactory = Callable[[str, _ErrorBody | str, bytes], AdapterError]


def _stream_error(provider: str, error: _ErrorBody | str, payload: bytes) -> AdapterError:
    """OpenAI's reading of an in-stream error: a server failure unless its body says more."""
    return _inband_error(provider, _ErrorInfo.of(error), (), payload)


class OpenAIStreamDecoder:
    """Sans-IO decoder of a ``chat.completion.chunk`` SSE stream (see the module docstring).

    Tool-call fragments are renumbered 0, 1, 2 ... in call order: fragments
    are routed by the provider's ``index``, then by ``id`` (servers that number
    every call 0, or repeat the id on each fragment, or send no index at all).

    OpenAI-shaped providers with their own finish reasons and error codes
    (Zhipu) pass ``finish_reasons`` (unknown values mean ``stop``) and
    ``error`` (builds the exception for a chunk's ``error`` value).
    """

    __slots__ = (
        "_by_id",
        "_by_index",
        "_calls",
        "_done",
        "_error",
        "_finish",
        "_last",
        "_provider",
        "_sse",
    )

    def __init__(
        self,
        provider: str = "openai",
        *,
        finish_reasons: Mapping[str, FinishReason] = _FINISH,
        error: _ErrorFactory = _stream_error,
        parser: SSEParser | None = None,
    ) -> None:
        self._provider = provider
        self._finish = finish_reasons
        self._error = error
        self._sse = parser or SSEParser()
        self._done = False
        self._by_index: dict[int, tuple[int, str | None]] = {}  # provider index -> ours, id
        self._by_id: dict[str, int] = {}
        self._last: int | None = None
        self._calls = 0

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was seen."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Feed body bytes; return the chunks they completed."""
        out: list[StreamChunk] = []
        decode = _CHUNK.decode
        for event, payload in self._sse.feed_raw(data):
            if self._done:
                break  # nothing after [DONE] counts
            try:
                c = decode(payload)
            except _DECODE_ERRORS as exc:
                stripped = payload.strip()
                if stripped == b"[DONE]":
                    self._done = True
                    continue
                if not stripped:
                    continue
                raise StreamError(
                    f"malformed stream chunk: {exc}",
                    provider=self._provider,
                    body=payload[:2000].decode("utf-8", "replace"),
                ) from None
            # The common chunk, inline: one choice carrying a piece of answer text, nothing else.
            choices = c.choices
            if choices and len(choices) == 1 and c.usage is None and c.x_groq is None:
                only = choices[0]
                d = only.delta
                if (
                    d is not None
                    and type(d.content) is str
                    and only.finish_reason is None
                    and not (only.index or only.usage or c.error or event != "message")
                    and not (d.reasoning_content or d.reasoning or d.refusal or d.tool_calls)
                ):
                    if d.content:
                        out.append(StreamChunk(delta=d.content, id=c.id, model=c.model))
                    continue
            chunk = self._chunk(event, c, payload)
            if chunk is not None:
                out.append(chunk)
        return out

    def flush(self) -> list[StreamChunk]:
        """Nothing completes at end of body: an SSE event needs its blank line."""
        return []

    def end(self) -> bool:
        """End of body: True only if ``[DONE]`` was seen (anything else is a truncation)."""
        self._sse.end()
        return self._done

    def _chunk(self, event: str, c: _Chunk, payload: bytes) -> StreamChunk | None:
        """Every other chunk: tool calls, reasoning, finish, usage, in-band errors."""
        error = c.error or (c.x_groq.error if c.x_groq is not None else None)
        if error:
            raise self._error(self._provider, error, payload)
        if event == "error":  # an ``event: error`` whose data is the error body itself
            info = _ErrorInfo.of_body(decode_json(payload))
            raise _inband_error(self._provider, info, (), payload)
        usage = c.usage or (c.x_groq.usage if c.x_groq is not None else None)
        choice = _first_choice(c.choices)
        text = thinking = refusal = ""
        calls: list[ToolCallDelta] | None = None
        finish: FinishReason | None = None
        raw: str | None = None
        if choice is not None:
            d = choice.delta
            if d is not None:
                if isinstance(d.content, list):
                    text, thinking = _split_parts(d.content)
                elif d.content:
                    text = d.content
                thinking = d.reasoning_content or d.reasoning or thinking
                refusal = d.refusal or ""
                if d.tool_calls:
                    calls = [self._fragment(tc) for tc in d.tool_calls]
            raw = choice.finish_reason
            if raw:
                finish = self._finish.get(raw, "stop")
            usage = usage or choice.usage
        if not (text or thinking or refusal or calls or raw or usage):
            return None  # role-only header, Azure prompt-filter results, keep-alive data
        return StreamChunk(
            delta=text,
            reasoning=thinking,
            tool_calls=calls,
            refusal=refusal,
            finish_reason=finish,
            raw_finish_reason=raw,
            usage=_usage(usage),
            id=c.id or None,
            model=c.model or None,
        )

    def _fragment(self, tc: _CallIn) -> ToolCallDelta:
        fn = tc.function
        return ToolCallDelta(
            index=self._route(tc.index, tc.id),
            id=tc.id,
            name=fn.name if fn else None,
            arguments=_arguments(fn.arguments) if fn else "",
        )

    def _route(self, index: int | None, call_id: str | None) -> int:
        """Our call number for a fragment (see the class docstring)."""
        if call_id and call_id in self._by_id:
            ours = self._by_id[call_id]
        elif index is not None:
            known = self._by_index.get(index)
            if known is not None and (not call_id or known[1] is None or known[1] == call_id):
                ours = known[0]
                if call_id and known[1] is None:
                    self._by_index[index] = (ours, call_id)
            else:  # a new index, or a new id reusing an index: a new call
                ours = self._new()
                self._by_index[index] = (ours, call_id)
        elif call_id or self._last is None:
            ours = self._new()
        else:
            ours = self._last
        if call_id:
            self._by_id[call_id] = ours
        self._last = ours
        return ours

    def _new(self) -> int:
        ours = self._calls
        self._calls += 1
        return ours
