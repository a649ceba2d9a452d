"""Request encoding: our OpenAI-shaped ``ChatRequest`` as a ``GenerateContentRequest``.

Roles become ``user``/``model``; system messages become
``systemInstruction``; tool results become ``functionResponse`` parts in a
``user`` turn, matched by function *name* (looked up from the conversation by
``tool_call_id``), a failed one (``is_error``) as ``{"error": ...}``, the key
the API reads for error details (``FunctionResponse.response`` in
https://googleapis.github.io/python-genai/genai.html#genai.types.FunctionResponse).
Thought signatures go back on the part they came on
(https://ai.google.dev/gemini-api/docs/thought-signatures): each call's on
its ``functionCall`` part, the turn's other one on its last text part. Tool
and response schemas are converted to Gemini's subset (``schema.py``) unless
``native``.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ...errors import ValidationError
from ...types import (
    AudioPart,
    ChatRequest,
    ContentPart,
    EmbedRequest,
    FilePart,
    ImagePart,
    Message,
    TextPart,
)
from ..base import b64, decode_json, json_encode, split_data_url
from .schema import to_gemini_schema
from .wire import (
    GENERATED_ID_PREFIX,
    BatchEmbedRequest,
    Blob,
    ContentOut,
    CountRequest,
    EmbedContent,
    EmbedItem,
    FileData,
    FunctionCallingConfig,
    FunctionCallOut,
    FunctionDeclaration,
    FunctionResponseOut,
    GenerateRequest,
    GenerationConfig,
    PartOut,
    TextPartOut,
    ThinkingConfig,
    ToolConfig,
    ToolOut,
)

__all__ = ["SKIP_SIGNATURE", "count_body", "embed_body", "request_body", "resource_name"]

#: Google's documented placeholder for a function-call turn whose signature was lost.
SKIP_SIGNATURE = "skip_thought_signature_validator"

_args_decoder = msgspec.json.Decoder()

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


def resource_name(model: str) -> str:
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


def _wire_id(call_id: str | None) -> str | None:
    """The id to send back: the server's own ids only, never ours."""
    if not call_id or call_id.startswith(GENERATED_ID_PREFIX):
        return None
    return call_id


def request_body(
    request: ChatRequest, *, version: str, native: bool, model: str | None = None
) -> bytes:
    """The ``generateContent`` body; ``native`` sends JSON Schemas unconverted.

    ``version`` is the API version, for the URI of a Files API file; ``model``
    (``models/<id>``) is set only for the copy a ``countTokens`` body wraps.
    """
    system, contents = _contents(request.messages, request.model, version)
    payload = GenerateRequest(
        contents=contents,
        system_instruction=system,
        tools=_tools(request, native),
        tool_config=_tool_config(request),
        generation_config=_generation_config(request, native),
        model=model,
    )
    if not request.extra:
        return json_encode(payload)
    merged = _merge(msgspec.to_builtins(payload), request.extra)
    return json_encode(merged)


def count_body(request: ChatRequest, *, version: str, native: bool) -> bytes:
    """The ``countTokens`` body: ``{"generateContentRequest": <the generateContent body>}``.

    The wrapped request is ``request_body``'s, with its ``model``, so the
    count covers the system instruction, tools and config a call would send;
    https://ai.google.dev/api/tokens#method:-models.counttokens
    """
    resource = resource_name(request.model)
    inner = request_body(request, version=version, native=native, model=resource)
    return json_encode(CountRequest(msgspec.Raw(inner)))


def _contents(
    messages: list[Message], model: str, version: str
) -> tuple[ContentOut | None, list[ContentOut]]:
    system: list[PartOut] = []
    contents: list[ContentOut] = []
    names: dict[str, str] = {}  # tool_call_id -> function name, latest wins
    levels = _uses_levels(model)

    def add(role: str, parts: list[PartOut]) -> None:
        if not parts:
            return
        if contents and contents[-1].role == role:
            contents[-1].parts.extend(parts)
        else:
            contents.append(ContentOut(parts=parts, role=role))

    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if m.role in ("system", "developer"):
            system.extend(_system_parts(m, where))
        elif m.role == "user":
            parts = _parts(m.content, where, version)
            if not parts:
                raise ValidationError("a user message needs content", field=f"{where}.content")
            add("user", parts)
        elif m.role == "assistant":
            add("model", _model_parts(m, where, names, levels, version))
        elif m.role == "tool":
            add("user", _tool_parts(m, where, names, version))
        else:  # pragma: no cover - Role is a Literal, msgspec enforces it
            raise ValidationError(f"unknown role {m.role!r}", field=f"{where}.role")
    if not contents:
        raise ValidationError("at least one user message is required", field="messages")
    return (ContentOut(parts=system) if system else None), contents


def _system_parts(m: Message, where: str) -> list[PartOut]:
    if isinstance(m.content, list):
        for j, part in enumerate(m.content):
            if not isinstance(part, TextPart):
                raise ValidationError(
                    "system messages may only contain text", field=f"{where}.content[{j}]"
                )
    text = m.text()
    return [PartOut(text=text)] if text else []


def _parts(content: str | list[ContentPart] | None, where: str, version: str) -> list[PartOut]:
    if content is None:
        return []
    if isinstance(content, str):
        return [PartOut(text=content)] if content else []
    out: list[PartOut] = []
    for j, part in enumerate(content):
        field = f"{where}.content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                out.append(PartOut(text=part.text))
        elif isinstance(part, ImagePart):
            out.append(_image(part, field))
        elif isinstance(part, AudioPart):
            fmt = part.format.lower()
            mime = fmt if "/" in fmt else _AUDIO_MIME.get(fmt, f"audio/{fmt}")
            out.append(PartOut(inline_data=Blob(mime_type=mime, data=b64(part.data))))
        elif isinstance(part, FilePart):
            out.append(_file(part, field, version))
    return out


def _image(part: ImagePart, field: str) -> PartOut:
    if part.data is not None:
        mime = part.media_type or _sniff_image(part.data)
        if mime is None:
            raise ValidationError(
                "image bytes need a media_type (not a PNG/JPEG/GIF/WebP)", field=field
            )
        return PartOut(inline_data=Blob(mime_type=mime, data=b64(part.data)))
    if part.url:
        return _by_url(part.url, part.media_type, field)
    raise ValidationError("an image needs data or a url", field=field)


def _file(part: FilePart, field: str, version: str) -> PartOut:
    if part.data is not None:
        mime = part.media_type or _ext_mime(part.filename)
        if mime is None:
            raise ValidationError("file bytes need a media_type", field=field)
        return PartOut(inline_data=Blob(mime_type=mime, data=b64(part.data)))
    if part.url:
        return _by_url(part.url, part.media_type or _ext_mime(part.filename), field)
    if part.file_id:
        uri = part.file_id
        if "://" not in uri:
            # A Files API name ("files/abc123") → the URI the API itself returns for it.
            name = uri if uri.startswith("files/") else f"files/{uri}"
            uri = f"https://generativelanguage.googleapis.com/{version}/{name}"
        return PartOut(file_data=FileData(file_uri=uri, mime_type=part.media_type))
    raise ValidationError("a file needs data, a url or a file_id", field=field)


def _by_url(url: str, media_type: str | None, field: str) -> PartOut:
    if url.startswith("data:"):
        inline = split_data_url(url)
        if inline is None:
            raise ValidationError("not a base64 data: URL", field=field)
        mime, data = inline
        return PartOut(inline_data=Blob(mime_type=media_type or mime, data=b64(data)))
    if url.startswith(("https://", "http://", "gs://")):
        return PartOut(file_data=FileData(file_uri=url, mime_type=media_type or _ext_mime(url)))
    raise ValidationError("URLs must be https://, http://, gs:// or data:", field=field)


def _model_parts(
    m: Message, where: str, names: dict[str, str], levels: bool, version: str
) -> list[PartOut]:
    parts = _parts(m.content, where, version)
    calls: list[PartOut] = []
    for j, call in enumerate(m.tool_calls or ()):
        field = f"{where}.tool_calls[{j}].arguments"
        try:
            args = _args_decoder.decode(call.arguments) if call.arguments.strip() else {}
        except msgspec.DecodeError:
            raise ValidationError("tool call arguments are not valid JSON", field=field) from None
        if not isinstance(args, dict):
            raise ValidationError("tool call arguments must be a JSON object", field=field)
        names[call.id] = call.name
        function_call = FunctionCallOut(name=call.name, args=args, id=_wire_id(call.id))
        calls.append(PartOut(function_call=function_call, thought_signature=call.signature))
    signature = m.reasoning_signature
    if calls and all(c.signature is None for c in m.tool_calls or ()):
        # A turn read before signatures were kept per call (or a text part's
        # signature in a turn whose calls had none): on the first call, as
        # Gemini 3 requires; a lost one gets the documented placeholder.
        calls[0].thought_signature = signature or (SKIP_SIGNATURE if levels else None)
    elif signature is not None and parts:
        parts[-1].thought_signature = signature
    elif calls and calls[0].thought_signature is None and levels:
        calls[0].thought_signature = SKIP_SIGNATURE
    return parts + calls


def _tool_parts(m: Message, where: str, names: dict[str, str], version: str) -> list[PartOut]:
    name = m.tool_name or (names.get(m.tool_call_id) if m.tool_call_id else None)
    if not name:
        raise ValidationError(
            "cannot find the function this tool result answers: no earlier assistant "
            "tool call has this tool_call_id (set tool_name)",
            field=f"{where}.tool_call_id",
        )
    extra: list[PartOut] = []
    if isinstance(m.content, list):
        text = "".join(p.text for p in m.content if isinstance(p, TextPart))
        media: list[ContentPart] = [p for p in m.content if not isinstance(p, TextPart)]
        if media:
            extra = _parts(media, where, version)
    else:
        text = m.content or ""
    value = decode_json(text) if text.strip() else None
    response: dict[str, Any]
    if m.is_error:  # the documented shape for a failure: the details under "error"
        response = {"error": text if value is None else value}
    else:
        result = text if value is None else value
        response = value if isinstance(value, dict) else {"result": result}
    part = PartOut(
        function_response=FunctionResponseOut(
            name=name, response=response, id=_wire_id(m.tool_call_id)
        )
    )
    return [part, *extra]


def _tools(request: ChatRequest, native: bool) -> list[ToolOut] | None:
    if not request.tools:
        return None
    decls: list[FunctionDeclaration] = []
    for i, tool in enumerate(request.tools):
        field = f"tools[{i}].parameters"
        decl = FunctionDeclaration(name=tool.name, description=tool.description)
        if native:
            decl.parameters_json_schema = tool.parameters
        else:
            params = to_gemini_schema(tool.parameters, field=field)
            if params.get("type", "OBJECT") != "OBJECT":
                raise ValidationError("tool parameters must be an object schema", field=field)
            if params.get("properties") or params.get("anyOf"):
                decl.parameters = params
        decls.append(decl)
    return [ToolOut(function_declarations=decls)]


def _tool_config(request: ChatRequest) -> ToolConfig | None:
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
        return ToolConfig(FunctionCallingConfig(mode=mode))
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else choice.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError("tool_choice must name a function", field="tool_choice")
    if name not in {t.name for t in request.tools or ()}:
        raise ValidationError(f"tool_choice names an unknown tool {name!r}", field="tool_choice")
    return ToolConfig(FunctionCallingConfig(mode="ANY", allowed_function_names=[name]))


def _generation_config(request: ChatRequest, native: bool) -> GenerationConfig | None:
    cfg = GenerationConfig(
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        max_output_tokens=request.max_tokens,
        stop_sequences=request.stop or None,
        seed=request.seed,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        thinking_config=_thinking(request),
    )
    fmt = request.response_format
    if fmt is not None:
        cfg.response_mime_type = "application/json"
        if fmt.type == "json_schema" and fmt.schema is not None:
            if native:
                cfg.response_json_schema = fmt.schema
            else:
                cfg.response_schema = to_gemini_schema(fmt.schema, field="response_format.schema")
    if cfg == GenerationConfig():
        return None
    return cfg


def _thinking(request: ChatRequest) -> ThinkingConfig | None:
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
            return ThinkingConfig(thinking_budget=budget, include_thoughts=include or None)
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
        return ThinkingConfig(thinking_level=_EFFORT_LEVEL[effort], include_thoughts=include)
    return ThinkingConfig(thinking_budget=_EFFORT_BUDGET[effort], include_thoughts=include)


def embed_body(request: EmbedRequest, resource: str) -> bytes:
    """The ``batchEmbedContents`` body: one request per input; ``extra`` is merged into each."""
    if not request.input:
        raise ValidationError("input must not be empty", field="input")
    items = [
        EmbedItem(
            model=resource,
            content=EmbedContent(parts=[TextPartOut(text)]),
            output_dimensionality=request.dimensions,
        )
        for text in request.input
    ]
    if request.extra:
        return json_encode(
            {"requests": [_merge(msgspec.to_builtins(i), request.extra) for i in items]}
        )
    return json_encode(BatchEmbedRequest(items))
