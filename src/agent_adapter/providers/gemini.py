"""Google Gemini Developer API (``generativelanguage.googleapis.com``), sans-IO.

Requests go to ``/v1beta/models/{model}:generateContent`` (or
``:streamGenerateContent?alt=sse``) with the key in ``x-goog-api-key``.
Differences from OpenAI's shape that this module absorbs:

* roles are ``user``/``model``; system messages become ``systemInstruction``;
  tool results are ``functionResponse`` parts in a ``user`` turn, matched by
  function *name* (looked up from the conversation by ``tool_call_id``);
* tool calls carry no id on this API: ids are generated, stable and
  deterministic (``gcall_<responseId>_<n>``, or a digest of the call when the
  response has no id), and never sent back; ids the server did send are kept
  and echoed;
* the thought signature of a model turn rides on its first ``functionCall``
  part (else its last text part) and is sent back there; for Gemini 3 models
  a tool-calling turn without one gets Google's documented
  ``skip_thought_signature_validator`` placeholder;
* tool and response schemas are converted to Gemini's OpenAPI subset
  (``gemini_schema``); with ``options={"json_schema": True}`` they are sent
  unchanged as ``parametersJsonSchema``/``responseJsonSchema`` instead;
* a stream is SSE whose events are whole ``GenerateContentResponse``s with
  only the new parts; it ends after the chunk that carries ``finishReason``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from ..errors import (
    AdapterError,
    ContentFilterError,
    ServerError,
    StreamError,
    ValidationError,
)
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
    Capabilities,
    ErrorKind,
    Headers,
    HttpRequest,
    b64,
    classify,
    decode_json,
    json_encode,
    looks_like_context_overflow,
    split_data_url,
)
from .gemini_schema import to_gemini_schema

__all__ = ["GeminiAdapter", "GeminiStreamDecoder"]

#: Prefix of the tool-call ids this adapter invents (they are never sent back).
GENERATED_ID_PREFIX = "gcall_"
#: Google's documented placeholder for a function-call turn whose signature was lost.
SKIP_SIGNATURE = "skip_thought_signature_validator"
#: Bounds for one SSE line / event. Every Gemini event is a whole JSON response on one
#: ``data:`` line, and image-generating models put base64 images in it, so these are
#: larger than the parser's defaults (still bounded).
MAX_EVENT_BYTES = 32 << 20

# ---------------------------------------------------------------------------
# Wire types: request (encoded)
# ---------------------------------------------------------------------------


class _Blob(msgspec.Struct, rename="camel"):
    mime_type: str
    data: str


class _FileData(msgspec.Struct, rename="camel", omit_defaults=True):
    file_uri: str
    mime_type: str | None = None


class _FunctionCallOut(msgspec.Struct, omit_defaults=True):
    name: str
    args: dict[str, Any]
    id: str | None = None


class _FunctionResponseOut(msgspec.Struct, omit_defaults=True):
    name: str
    response: dict[str, Any]
    id: str | None = None


class _PartOut(msgspec.Struct, rename="camel", omit_defaults=True):
    text: str | None = None
    inline_data: _Blob | None = None
    file_data: _FileData | None = None
    function_call: _FunctionCallOut | None = None
    function_response: _FunctionResponseOut | None = None
    thought_signature: str | None = None


class _ContentOut(msgspec.Struct, omit_defaults=True):
    parts: list[_PartOut]
    role: str | None = None


class _FunctionDeclaration(msgspec.Struct, rename="camel", omit_defaults=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    parameters_json_schema: dict[str, Any] | None = None


class _ToolOut(msgspec.Struct, rename="camel"):
    function_declarations: list[_FunctionDeclaration]


class _FunctionCallingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    mode: str
    allowed_function_names: list[str] | None = None


class _ToolConfig(msgspec.Struct, rename="camel"):
    function_calling_config: _FunctionCallingConfig


class _ThinkingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    thinking_budget: int | None = None
    thinking_level: str | None = None
    include_thoughts: bool | None = None


class _GenerationConfig(msgspec.Struct, rename="camel", omit_defaults=True):
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
    thinking_config: _ThinkingConfig | None = None


class _GenerateRequest(msgspec.Struct, rename="camel", omit_defaults=True):
    contents: list[_ContentOut]
    system_instruction: _ContentOut | None = None
    tools: list[_ToolOut] | None = None
    tool_config: _ToolConfig | None = None
    generation_config: _GenerationConfig | None = None


class _TextPartOut(msgspec.Struct):
    text: str


class _EmbedContent(msgspec.Struct):
    parts: list[_TextPartOut]


class _EmbedItem(msgspec.Struct, rename="camel", omit_defaults=True):
    model: str
    content: _EmbedContent
    output_dimensionality: int | None = None


class _BatchEmbedRequest(msgspec.Struct):
    requests: list[_EmbedItem]


# ---------------------------------------------------------------------------
# Wire types: response (decoded; unknown fields ignored, absent ones None)
# ---------------------------------------------------------------------------


class _FunctionCallIn(msgspec.Struct, gc=False):
    name: str | None = None
    args: msgspec.Raw = msgspec.Raw(b"")
    id: str | None = None


class _PartIn(msgspec.Struct, rename="camel"):
    text: str | None = None
    thought: bool | None = None
    thought_signature: str | None = None
    function_call: _FunctionCallIn | None = None


class _ContentIn(msgspec.Struct):
    parts: list[_PartIn] | None = None
    role: str | None = None


class _Candidate(msgspec.Struct, rename="camel"):
    content: _ContentIn | None = None
    finish_reason: str | None = None
    index: int | None = None


class _UsageIn(msgspec.Struct, rename="camel", gc=False):
    prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    thoughts_token_count: int | None = None
    cached_content_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    total_token_count: int | None = None


class _PromptFeedback(msgspec.Struct, rename="camel"):
    block_reason: str | None = None
    block_reason_message: str | None = None


class _ErrorIn(msgspec.Struct):
    code: int | None = None
    message: str | None = None
    status: str | None = None
    details: list[Any] | None = None


class _ResponseIn(msgspec.Struct, rename="camel"):
    candidates: list[_Candidate] | None = None
    prompt_feedback: _PromptFeedback | None = None
    usage_metadata: _UsageIn | None = None
    model_version: str | None = None
    response_id: str | None = None
    error: _ErrorIn | None = None


class _Values(msgspec.Struct):
    values: list[float] = msgspec.field(default_factory=list)


class _BatchEmbedResponse(msgspec.Struct):
    embeddings: list[_Values] | None = None
    error: _ErrorIn | None = None


_response_decoder = msgspec.json.Decoder(_ResponseIn)
_embed_decoder = msgspec.json.Decoder(_BatchEmbedResponse)
_args_decoder = msgspec.json.Decoder()

# ---------------------------------------------------------------------------
# Small tables
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

# Effort → thinking budget (tokens) for budget-based models (Gemini 2.5), as
# Google's OpenAI-compatibility layer maps low/medium/high.
_EFFORT_BUDGET = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 24576,
    "max": 24576,
}
# Effort → thinkingLevel for level-based models (Gemini 3 and later).
_EFFORT_LEVEL = {
    "none": "MINIMAL",
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "HIGH",
    "max": "HIGH",
}

_TOOL_CHOICE = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}

_EXT_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "csv": "text/csv",
    "json": "application/json",
    "mp3": "audio/mp3",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "aac": "audio/aac",
    "aiff": "audio/aiff",
    "mp4": "video/mp4",
    "mov": "video/mov",
    "webm": "video/webm",
}

_AUDIO_MIME = {"mp3": "audio/mp3", "mpeg": "audio/mpeg", "wav": "audio/wav", "pcm16": "audio/pcm"}

_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(?:/[A-Za-z0-9._\-]+)*$")
_MAJOR_RE = re.compile(r"gemini-(\d+)")


def _resource(model: str) -> str:
    """``models/<id>`` for a bare id; ``models/...``/``tunedModels/...`` stay as given."""
    if not model or not _MODEL_RE.match(model):
        raise ValidationError(f"not a valid Gemini model name: {model!r}", field="model")
    if model.startswith(("models/", "tunedModels/")):
        return model
    if "/" in model:
        raise ValidationError(f"not a valid Gemini model name: {model!r}", field="model")
    return "models/" + model


def _uses_levels(model: str) -> bool:
    """Whether the model takes ``thinkingLevel`` (Gemini 3+) rather than a budget."""
    match = _MAJOR_RE.search(model)
    return match is not None and int(match.group(1)) >= 3


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _ext_mime(name: str | None) -> str | None:
    if not name:
        return None
    base = name.split("?", 1)[0].split("#", 1)[0]
    _, dot, ext = base.rpartition(".")
    return _EXT_MIME.get(ext.lower()) if dot else None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, merging nested objects (so ``generationConfig`` keys add up)."""
    for key, value in extra.items():
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            base[key] = _merge(dict(current), value)
        else:
            base[key] = value
    return base


def _usage(u: _UsageIn) -> Usage:
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


def _finish(raw: str, has_calls: bool) -> FinishReason:
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


def _wire_id(call_id: str | None) -> str | None:
    """The id to send back: the server's own ids only, never ours."""
    if not call_id or call_id.startswith(GENERATED_ID_PREFIX):
        return None
    return call_id


class _Parts:
    """What the parts of one response (or one stream chunk) said, in order."""

    __slots__ = ("calls", "fc_signature", "reasoning", "signature", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[ToolCall] = []
        self.fc_signature: str | None = None  # on the first signed functionCall part
        self.signature: str | None = None  # the last signature seen anywhere

    def read(
        self, parts: list[_PartIn], response_id: str | None, first_index: int, provider: str
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
                    )
                )
                if part.thought_signature and self.fc_signature is None:
                    self.fc_signature = part.thought_signature
            elif part.text:
                (self.reasoning if part.thought else self.text).append(part.text)
            if part.thought_signature:
                self.signature = part.thought_signature


def _first_candidate(candidates: list[_Candidate] | None) -> _Candidate | None:
    for cand in candidates or ():
        if not cand.index:
            return cand
    return None


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def _error_object(data: Any) -> dict[str, Any] | None:
    """The ``error`` object of a Gemini error body (also inside a one-element array)."""
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return err
        if isinstance(err, str):
            return {"message": err}
    return None


def _duration(value: Any) -> float | None:
    """A protobuf Duration string (``"17s"``, ``"3.700s"``) in seconds."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        seconds = float(value[:-1])
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _classify_error(
    provider: str, status: int | None, headers: Headers, body: bytes, err: dict[str, Any] | None
) -> AdapterError:
    err = err or {}
    raw_message = err.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    grpc = err.get("status") if isinstance(err.get("status"), str) else None
    if status is None and isinstance(err.get("code"), int):
        status = err["code"]
    details = [d for d in err.get("details") or () if isinstance(d, dict)]
    reasons: list[str] = []
    quota_ids: list[str] = []
    quota_values: list[str] = []
    delay: float | None = None
    for d in details:
        kind_of = str(d.get("@type", ""))
        if kind_of.endswith("ErrorInfo") and isinstance(d.get("reason"), str):
            reasons.append(d["reason"])
        elif kind_of.endswith("QuotaFailure"):
            for v in d.get("violations") or ():
                if isinstance(v, dict):
                    quota_ids.append(str(v.get("quotaId", "")))
                    quota_values.append(str(v.get("quotaValue", "")))
        elif kind_of.endswith("RetryInfo"):
            delay = _duration(d.get("retryDelay"))

    lowered = message.lower()
    kind: ErrorKind | None = None
    if "API_KEY_INVALID" in reasons or grpc == "UNAUTHENTICATED" or "api key not valid" in lowered:
        kind = "auth"
    elif grpc == "PERMISSION_DENIED" or status == 403:
        kind = "permission"
    elif grpc == "NOT_FOUND" or status == 404:
        kind = "not_found"
    elif grpc == "RESOURCE_EXHAUSTED" or status == 429:
        per_day = any("perday" in q.lower().replace("_", "") for q in quota_ids)
        kind = "quota" if per_day or "0" in quota_values else "rate_limit"
    elif (status is None or status < 500) and looks_like_context_overflow(message):
        kind = "context_length"
    elif grpc == "UNAVAILABLE" or status == 503:
        kind = "overloaded"
    elif grpc in ("INTERNAL", "DEADLINE_EXCEEDED", "UNKNOWN") or (status or 0) >= 500:
        kind = "server"
    elif status is None:
        kind = "server"  # an error event inside a stream, with nothing more to go on
    code = reasons[0] if reasons else grpc
    error = classify(
        provider=provider,
        status=status,
        headers=headers,
        message=message or (f"HTTP {status}" if status else "Gemini error"),
        body=body,
        kind=kind,
        code=code,
    )
    if error.retry_after is None and delay is not None:
        error.retry_after = delay
    return error


def _blocked(provider: str, feedback: _PromptFeedback, body: bytes) -> ContentFilterError:
    reason = feedback.block_reason or "BLOCKED"
    text = f"the prompt was blocked ({reason})"
    if feedback.block_reason_message:
        text += f": {feedback.block_reason_message}"
    return ContentFilterError(
        text, provider=provider, status=200, code=reason, body=body.decode("utf-8", "replace")
    )


# ---------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------


class GeminiAdapter(Adapter):
    """Gemini Developer API: ``generateContent``, SSE streaming, ``batchEmbedContents``.

    Options: ``api_version`` (default ``"v1beta"``); ``json_schema`` (send tool
    and response schemas unchanged as ``parametersJsonSchema`` /
    ``responseJsonSchema`` instead of converting them to Gemini's subset).
    """

    family = "gemini"
    capabilities = Capabilities(
        tools=True,
        images=True,
        audio=True,
        files=True,
        reasoning=True,
        structured_output=True,
        embeddings=True,
    )

    def auth_headers(self) -> list[tuple[bytes, bytes]]:
        """Gemini takes the key in ``x-goog-api-key`` (never ``?key=``: URLs get logged)."""
        if self.api_key is None:
            return []
        return [(b"x-goog-api-key", self.api_key.reveal().encode("latin-1"))]

    @property
    def _version(self) -> str:
        return str(self.options.get("api_version", "v1beta"))

    # -- chat -------------------------------------------------------------

    def check(self, request: ChatRequest) -> None:
        """Capability checks, plus: every tool needs a name (the rest is checked in encode)."""
        super().check(request)
        for i, tool in enumerate(request.tools or ()):
            if not tool.name:
                raise ValidationError("a tool needs a name", field=f"tools[{i}].name")

    def encode(self, request: ChatRequest) -> HttpRequest:
        """The ``generateContent`` (or ``streamGenerateContent?alt=sse``) request."""
        self.check(request)
        resource = _resource(request.model)
        body = self._body(request)
        if request.stream:
            path = f"/{self._version}/{resource}:streamGenerateContent?alt=sse"
        else:
            path = f"/{self._version}/{resource}:generateContent"
        return self.request("POST", path, body)

    def _body(self, request: ChatRequest) -> bytes:
        native = bool(self.options.get("json_schema"))
        system, contents = self._contents(request.messages, request.model)
        payload = _GenerateRequest(
            contents=contents,
            system_instruction=system,
            tools=self._tools(request, native),
            tool_config=self._tool_config(request),
            generation_config=self._generation_config(request, native),
        )
        if not request.extra:
            return json_encode(payload)
        merged = _merge(msgspec.to_builtins(payload), request.extra)
        return json_encode(merged)

    def _contents(
        self, messages: list[Message], model: str
    ) -> tuple[_ContentOut | None, list[_ContentOut]]:
        system: list[_PartOut] = []
        contents: list[_ContentOut] = []
        names: dict[str, str] = {}  # tool_call_id -> function name, latest wins
        levels = _uses_levels(model)

        def add(role: str, parts: list[_PartOut]) -> None:
            if not parts:
                return
            if contents and contents[-1].role == role:
                contents[-1].parts.extend(parts)
            else:
                contents.append(_ContentOut(parts=parts, role=role))

        for i, m in enumerate(messages):
            where = f"messages[{i}]"
            if m.role in ("system", "developer"):
                system.extend(self._system_parts(m, where))
            elif m.role == "user":
                parts = self._parts(m.content, where)
                if not parts:
                    raise ValidationError("a user message needs content", field=f"{where}.content")
                add("user", parts)
            elif m.role == "assistant":
                add("model", self._model_parts(m, where, names, levels))
            elif m.role == "tool":
                add("user", self._tool_parts(m, where, names))
            else:  # pragma: no cover - Role is a Literal, msgspec enforces it
                raise ValidationError(f"unknown role {m.role!r}", field=f"{where}.role")
        if not contents:
            raise ValidationError("at least one user message is required", field="messages")
        return (_ContentOut(parts=system) if system else None), contents

    def _system_parts(self, m: Message, where: str) -> list[_PartOut]:
        if isinstance(m.content, list):
            for j, part in enumerate(m.content):
                if not isinstance(part, TextPart):
                    raise ValidationError(
                        "system messages may only contain text", field=f"{where}.content[{j}]"
                    )
        text = m.text()
        return [_PartOut(text=text)] if text else []

    def _parts(self, content: str | list[ContentPart] | None, where: str) -> list[_PartOut]:
        if content is None:
            return []
        if isinstance(content, str):
            return [_PartOut(text=content)] if content else []
        out: list[_PartOut] = []
        for j, part in enumerate(content):
            field = f"{where}.content[{j}]"
            if isinstance(part, TextPart):
                if part.text:
                    out.append(_PartOut(text=part.text))
            elif isinstance(part, ImagePart):
                out.append(self._image(part, field))
            elif isinstance(part, AudioPart):
                fmt = part.format.lower()
                mime = fmt if "/" in fmt else _AUDIO_MIME.get(fmt, f"audio/{fmt}")
                out.append(_PartOut(inline_data=_Blob(mime_type=mime, data=b64(part.data))))
            elif isinstance(part, FilePart):
                out.append(self._file(part, field))
        return out

    def _image(self, part: ImagePart, field: str) -> _PartOut:
        if part.data is not None:
            mime = part.media_type or _sniff_image(part.data)
            if mime is None:
                raise ValidationError(
                    "image bytes need a media_type (not a PNG/JPEG/GIF/WebP)", field=field
                )
            return _PartOut(inline_data=_Blob(mime_type=mime, data=b64(part.data)))
        if part.url:
            return self._by_url(part.url, part.media_type, field)
        raise ValidationError("an image needs data or a url", field=field)

    def _file(self, part: FilePart, field: str) -> _PartOut:
        if part.data is not None:
            mime = part.media_type or _ext_mime(part.filename)
            if mime is None:
                raise ValidationError("file bytes need a media_type", field=field)
            return _PartOut(inline_data=_Blob(mime_type=mime, data=b64(part.data)))
        if part.url:
            return self._by_url(part.url, part.media_type or _ext_mime(part.filename), field)
        if part.file_id:
            uri = part.file_id
            if "://" not in uri:
                # A Files API name ("files/abc123") → the URI the API itself returns for it.
                name = uri if uri.startswith("files/") else f"files/{uri}"
                uri = f"https://generativelanguage.googleapis.com/{self._version}/{name}"
            return _PartOut(file_data=_FileData(file_uri=uri, mime_type=part.media_type))
        raise ValidationError("a file needs data, a url or a file_id", field=field)

    def _by_url(self, url: str, media_type: str | None, field: str) -> _PartOut:
        if url.startswith("data:"):
            inline = split_data_url(url)
            if inline is None:
                raise ValidationError("not a base64 data: URL", field=field)
            mime, data = inline
            return _PartOut(inline_data=_Blob(mime_type=media_type or mime, data=b64(data)))
        if url.startswith(("https://", "http://", "gs://")):
            return _PartOut(
                file_data=_FileData(file_uri=url, mime_type=media_type or _ext_mime(url))
            )
        raise ValidationError("URLs must be https://, http://, gs:// or data:", field=field)

    def _model_parts(
        self, m: Message, where: str, names: dict[str, str], levels: bool
    ) -> list[_PartOut]:
        parts = self._parts(m.content, where)
        calls: list[_PartOut] = []
        for j, call in enumerate(m.tool_calls or ()):
            field = f"{where}.tool_calls[{j}].arguments"
            try:
                args = _args_decoder.decode(call.arguments) if call.arguments.strip() else {}
            except msgspec.DecodeError:
                raise ValidationError(
                    "tool call arguments are not valid JSON", field=field
                ) from None
            if not isinstance(args, dict):
                raise ValidationError("tool call arguments must be a JSON object", field=field)
            names[call.id] = call.name
            calls.append(
                _PartOut(
                    function_call=_FunctionCallOut(name=call.name, args=args, id=_wire_id(call.id))
                )
            )
        signature = m.reasoning_signature
        if calls:
            if signature is None and levels:
                signature = SKIP_SIGNATURE
            if signature is not None:
                calls[0].thought_signature = signature
        elif signature is not None and parts:
            parts[-1].thought_signature = signature
        return parts + calls

    def _tool_parts(self, m: Message, where: str, names: dict[str, str]) -> list[_PartOut]:
        name = m.tool_name or (names.get(m.tool_call_id) if m.tool_call_id else None)
        if not name:
            raise ValidationError(
                "cannot find the function this tool result answers: no earlier assistant "
                "tool call has this tool_call_id (set tool_name)",
                field=f"{where}.tool_call_id",
            )
        extra: list[_PartOut] = []
        if isinstance(m.content, list):
            text = "".join(p.text for p in m.content if isinstance(p, TextPart))
            media: list[ContentPart] = [p for p in m.content if not isinstance(p, TextPart)]
            if media:
                extra = self._parts(media, where)
        else:
            text = m.content or ""
        value = decode_json(text) if text.strip() else None
        response = (
            value if isinstance(value, dict) else {"result": text if value is None else value}
        )
        part = _PartOut(
            function_response=_FunctionResponseOut(
                name=name, response=response, id=_wire_id(m.tool_call_id)
            )
        )
        return [part, *extra]

    def _tools(self, request: ChatRequest, native: bool) -> list[_ToolOut] | None:
        if not request.tools:
            return None
        decls: list[_FunctionDeclaration] = []
        for i, tool in enumerate(request.tools):
            field = f"tools[{i}].parameters"
            decl = _FunctionDeclaration(name=tool.name, description=tool.description)
            if native:
                decl.parameters_json_schema = tool.parameters
            else:
                params = to_gemini_schema(tool.parameters, field=field)
                if params.get("type", "OBJECT") != "OBJECT":
                    raise ValidationError("tool parameters must be an object schema", field=field)
                if params.get("properties") or params.get("anyOf"):
                    decl.parameters = params
            decls.append(decl)
        return [_ToolOut(function_declarations=decls)]

    def _tool_config(self, request: ChatRequest) -> _ToolConfig | None:
        choice = request.tool_choice
        if choice is None:
            return None
        if isinstance(choice, str):
            mode = _TOOL_CHOICE.get(choice)
            if mode is None:
                raise ValidationError(
                    "tool_choice must be auto, none, required or a function", field="tool_choice"
                )
            if mode == "ANY" and not request.tools:
                raise ValidationError("tool_choice requires tools", field="tool_choice")
            return _ToolConfig(_FunctionCallingConfig(mode=mode))
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        if not isinstance(name, str) or not name:
            raise ValidationError("tool_choice must name a function", field="tool_choice")
        if name not in {t.name for t in request.tools or ()}:
            raise ValidationError(
                f"tool_choice names an unknown tool {name!r}", field="tool_choice"
            )
        return _ToolConfig(_FunctionCallingConfig(mode="ANY", allowed_function_names=[name]))

    def _generation_config(self, request: ChatRequest, native: bool) -> _GenerationConfig | None:
        cfg = _GenerationConfig(
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            max_output_tokens=request.max_tokens,
            stop_sequences=request.stop or None,
            seed=request.seed,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
            thinking_config=self._thinking(request),
        )
        fmt = request.response_format
        if fmt is not None:
            cfg.response_mime_type = "application/json"
            if fmt.type == "json_schema" and fmt.schema is not None:
                if native:
                    cfg.response_json_schema = fmt.schema
                else:
                    cfg.response_schema = to_gemini_schema(
                        fmt.schema, field="response_format.schema"
                    )
        if cfg == _GenerationConfig():
            return None
        return cfg

    def _thinking(self, request: ChatRequest) -> _ThinkingConfig | None:
        reasoning = request.reasoning
        if reasoning is None:
            return None
        if isinstance(reasoning, dict):
            budget = reasoning.get("budget_tokens")
            effort = reasoning.get("effort")
            if budget is not None:
                if not isinstance(budget, int) or isinstance(budget, bool) or budget < -1:
                    raise ValidationError(
                        "budget_tokens must be an integer >= -1", field="reasoning.budget_tokens"
                    )
                include = reasoning.get("include_thoughts", budget != 0)
                return _ThinkingConfig(thinking_budget=budget, include_thoughts=include or None)
            if not isinstance(effort, str):
                raise ValidationError(
                    "reasoning must be an effort or {'budget_tokens': N}", field="reasoning"
                )
            reasoning = effort
        effort = reasoning.lower()
        if effort not in _EFFORT_BUDGET:
            raise ValidationError(
                f"unknown reasoning effort {reasoning!r} (none, minimal, low, medium, high)",
                field="reasoning",
            )
        include = None if effort == "none" else True
        if _uses_levels(request.model):
            return _ThinkingConfig(thinking_level=_EFFORT_LEVEL[effort], include_thoughts=include)
        return _ThinkingConfig(thinking_budget=_EFFORT_BUDGET[effort], include_thoughts=include)

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A complete ``GenerateContentResponse``: parts → content, reasoning, tool calls."""
        try:
            resp = _response_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise ServerError(
                f"malformed Gemini response: {exc}", provider=self.name, status=status,
                retryable=False, body=body.decode("utf-8", "replace"),
            ) from None  # fmt: skip
        if resp.error is not None:
            raise _classify_error(
                self.name, status if status >= 400 else None, headers, body,
                msgspec.to_builtins(resp.error),
            )  # fmt: skip
        cand = _first_candidate(resp.candidates)
        if cand is None:
            if resp.prompt_feedback is not None and resp.prompt_feedback.block_reason:
                raise _blocked(self.name, resp.prompt_feedback, body)
            raise ServerError(
                "Gemini returned no candidates", provider=self.name, status=status,
                retryable=False, body=body.decode("utf-8", "replace"),
            )  # fmt: skip
        parts = _Parts()
        if cand.content is not None and cand.content.parts:
            try:
                parts.read(cand.content.parts, resp.response_id, 0, self.name)
            except StreamError as exc:
                raise ServerError(exc.message, provider=self.name, status=status) from None
        raw = cand.finish_reason
        return ChatResponse(
            content="".join(parts.text),
            tool_calls=parts.calls,
            finish_reason=_finish(raw, bool(parts.calls)) if raw else None,
            raw_finish_reason=raw,
            usage=_usage(resp.usage_metadata) if resp.usage_metadata is not None else None,
            reasoning="".join(parts.reasoning) or None,
            reasoning_signature=parts.fc_signature or parts.signature,
            id=resp.response_id,
            model=resp.model_version,
            provider=self.name,
        )

    def stream_decoder(self, request: ChatRequest) -> GeminiStreamDecoder:
        """A fresh decoder for an ``alt=sse`` body."""
        parser = self.sse_parser(max_line_bytes=MAX_EVENT_BYTES, max_event_bytes=MAX_EVENT_BYTES)
        return GeminiStreamDecoder(self.name, parser)

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """``{"error": {code, message, status, details}}`` → the matching error class."""
        return _classify_error(self.name, status, headers, body, _error_object(decode_json(body)))

    # -- embeddings -------------------------------------------------------

    def encode_embed(self, request: EmbedRequest) -> HttpRequest:
        """``batchEmbedContents``: one request per input; ``extra`` is merged into each."""
        resource = _resource(request.model)
        if not request.input:
            raise ValidationError("input must not be empty", field="input")
        items = [
            _EmbedItem(
                model=resource,
                content=_EmbedContent(parts=[_TextPartOut(text)]),
                output_dimensionality=request.dimensions,
            )
            for text in request.input
        ]
        if request.extra:
            body = json_encode(
                {"requests": [_merge(msgspec.to_builtins(i), request.extra) for i in items]}
            )
        else:
            body = json_encode(_BatchEmbedRequest(items))
        return self.request("POST", f"/{self._version}/{resource}:batchEmbedContents", body)

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """The vectors in input order; Gemini reports no token usage for embeddings."""
        try:
            resp = _embed_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise ServerError(
                f"malformed Gemini embeddings response: {exc}", provider=self.name,
                status=status, retryable=False, body=body.decode("utf-8", "replace"),
            ) from None  # fmt: skip
        if resp.error is not None:
            raise _classify_error(self.name, None, headers, body, msgspec.to_builtins(resp.error))
        if resp.embeddings is None:
            raise ServerError(
                "Gemini embeddings response has no 'embeddings'", provider=self.name,
                status=status, retryable=False, body=body.decode("utf-8", "replace"),
            )  # fmt: skip
        return EmbedResponse(
            vectors=[e.values for e in resp.embeddings], usage=None, provider=self.name
        )


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


class GeminiStreamDecoder:
    """``alt=sse`` body → ``StreamChunk``s, one per event.

    Every event is a whole ``GenerateContentResponse`` holding only the new
    parts. Function calls arrive whole, so each becomes one ``ToolCallDelta``
    with the next index. The stream is over after the chunk that carries
    ``finishReason``; ``end()`` is true only if one was seen.
    """

    __slots__ = ("_calls", "_done", "_fc_signed", "_provider", "_sse")

    def __init__(self, provider: str = "gemini", parser: SSEParser | None = None) -> None:
        self._provider = provider
        self._sse = parser or SSEParser(
            max_line_bytes=MAX_EVENT_BYTES, max_event_bytes=MAX_EVENT_BYTES
        )
        self._done = False
        self._calls = 0
        self._fc_signed = False

    @property
    def done(self) -> bool:
        """True once a chunk with ``finishReason`` was decoded."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Decode the events ``data`` completes; events after the final one are ignored."""
        if self._done:
            return []
        out: list[StreamChunk] = []
        for _event, payload in self._sse.feed_raw(data):
            if self._done:
                break
            if not payload or payload.isspace():
                continue
            chunk = self._chunk(payload)
            if chunk is not None:
                out.append(chunk)
        return out

    def flush(self) -> list[StreamChunk]:
        """Nothing completes at end of body: an SSE event needs its blank line."""
        return []

    def end(self) -> bool:
        """End of body: true iff the final chunk (with ``finishReason``) arrived."""
        self._sse.end()
        return self._done

    def _chunk(self, payload: bytes) -> StreamChunk | None:
        try:
            resp = _response_decoder.decode(payload)
        except msgspec.DecodeError as exc:
            raise StreamError(
                f"malformed Gemini stream chunk: {exc}", provider=self._provider
            ) from None
        if resp.error is not None:
            raise _classify_error(
                self._provider, None, (), payload, msgspec.to_builtins(resp.error)
            )
        usage = _usage(resp.usage_metadata) if resp.usage_metadata is not None else None
        cand = _first_candidate(resp.candidates)
        if cand is None:
            feedback = resp.prompt_feedback
            if feedback is not None and feedback.block_reason:
                raise _blocked(self._provider, feedback, payload)
            if usage is None:
                return None
            return StreamChunk(usage=usage, id=resp.response_id, model=resp.model_version)

        parts = _Parts()
        if cand.content is not None and cand.content.parts:
            parts.read(cand.content.parts, resp.response_id, self._calls, self._provider)
        deltas: list[ToolCallDelta] | None = None
        if parts.calls:
            deltas = [
                ToolCallDelta(index=self._calls + n, id=c.id, name=c.name, arguments=c.arguments)
                for n, c in enumerate(parts.calls)
            ]
            self._calls += len(parts.calls)
        # The turn's signature: the first function call's, else the last one seen (as decode()).
        signature: str | None = None
        if not self._fc_signed:
            if parts.fc_signature is not None:
                signature, self._fc_signed = parts.fc_signature, True
            else:
                signature = parts.signature
        finish: FinishReason | None = None
        raw = cand.finish_reason
        if raw:
            finish = _finish(raw, self._calls > 0)
            self._done = True
        return StreamChunk(
            delta="".join(parts.text),
            reasoning="".join(parts.reasoning),
            reasoning_signature=signature,
            tool_calls=deltas,
            finish_reason=finish,
            raw_finish_reason=raw,
            usage=usage,
            id=resp.response_id,
            model=resp.model_version,
        )
