"""Zhipu GLM (BigModel, ``open.bigmodel.cn``) and Z.ai (``api.z.ai``): one wire format.

The API is OpenAI-shaped, but differs where it matters: thinking is switched
with ``thinking: {"type": ...}`` and comes back as ``reasoning_content``;
streamed tool-call arguments need ``tool_stream: true``; finish reasons include
``sensitive`` and ``network_error``; errors carry a numeric *business code*
that says more than the HTTP status; images are sent as raw base64 (the
official SDKs strip the ``data:`` prefix); sampling ranges are narrower. This
module owns its own small wire Structs rather than borrowing OpenAI's, so a
change on one side cannot silently break the other.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import AdapterError, ServerError, StreamError, ValidationError
from ..sse import SSEParser
from ..types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
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
    json_encode,
    looks_like_context_overflow,
)

__all__ = ["ZhipuAdapter"]

# ---------------------------------------------------------------------------
# Wire Structs (request side)
# ---------------------------------------------------------------------------


class _ImageURL(msgspec.Struct):
    url: str


class _TextContent(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class _ImageContent(msgspec.Struct, tag="image_url", tag_field="type"):
    image_url: _ImageURL


class _OutFunction(msgspec.Struct):
    name: str
    arguments: str


class _OutToolCall(msgspec.Struct):
    id: str
    function: _OutFunction
    type: str = "function"


class _OutMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    role: str
    content: str | list[_TextContent | _ImageContent] | None = None
    reasoning_content: str | None = None
    tool_calls: list[_OutToolCall] | None = None
    tool_call_id: str | None = None


class _FunctionDef(msgspec.Struct, omit_defaults=True):
    name: str
    parameters: dict[str, Any]
    description: str | None = None


class _ToolDef(msgspec.Struct):
    function: _FunctionDef
    type: str = "function"


# ---------------------------------------------------------------------------
# Wire Structs (response side): everything optional, unknown fields ignored
# ---------------------------------------------------------------------------


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class _ToolCall(msgspec.Struct):
    index: int | None = None
    id: str | None = None
    function: _Function | None = None


class _Message(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    index: int = 0
    finish_reason: str | None = None
    message: _Message | None = None
    delta: _Message | None = None


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None


class _Error(msgspec.Struct):
    code: str | int | None = None
    message: str | None = None


class _Completion(msgspec.Struct):
    """A whole response, a stream chunk, or an error body: they share one shape."""

    id: str | None = None
    model: str | None = None
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: _Error | str | None = None


class _Embedding(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _EmbeddingList(msgspec.Struct):
    data: list[_Embedding]
    model: str | None = None
    usage: _Usage | None = None


_completion_decoder = msgspec.json.Decoder(_Completion)
_embedding_decoder = msgspec.json.Decoder(_EmbeddingList)
_args_encoder = msgspec.json.Encoder()
# msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)

# ---------------------------------------------------------------------------
# Normalisation tables
# ---------------------------------------------------------------------------

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "sensitive": "content_filter",
    "network_error": "error",
    "model_context_window_exceeded": "length",
}


# Zhipu's own wording of 1261 ("Prompt exceeds max length" / "Prompt 超长"), for bodies
# whose code is missing (proxies) or renumbered.
_CONTEXT_MARKERS = ("exceeds max length", "超长")


def _finish(raw: str | None) -> FinishReason | None:
    """Our finish reason for Zhipu's; an unknown value is a normal ``stop`` (raw kept)."""
    if raw is None:
        return None
    return _FINISH.get(raw, "stop")


def _code_kind(code: int) -> ErrorKind | None:
    """The error kind a documented business code means (``None``: go by HTTP status)."""
    if 1000 <= code <= 1005:
        return "auth"
    if code in (1110, 1111, 1112, 1121, 1220, 1309, 1311):
        return "permission"
    if code in (1211, 1221, 1222):
        return "not_found"
    if code in (1113, 1304, 1308, 1310, 1313):
        return "quota"
    if code in (1302, 1303):
        return "rate_limit"
    if code in (1305, 1312):
        return "overloaded"
    if code == 1261:
        return "context_length"
    if code in (1300, 1301):
        return "content_filter"
    if code in (500, 1120, 1200, 1234):
        return "server"
    if 1210 <= code <= 1215 or code in (1230, 1231):
        return "bad_request"
    return None


def _usage(raw: _Usage) -> Usage:
    prompt = raw.prompt_tokens or 0
    completion = raw.completion_tokens or 0
    details_in, details_out = raw.prompt_tokens_details, raw.completion_tokens_details
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=(details_in.cached_tokens or 0) if details_in else 0,
        reasoning_tokens=(details_out.reasoning_tokens or 0) if details_out else 0,
    )


def _arguments(raw: str | dict[str, Any] | None) -> str:
    """Tool-call arguments as JSON text (some gateways send an object instead of a string)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return _args_encoder.encode(raw).decode()


# ---------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------


class ZhipuAdapter(Adapter):
    """Zhipu GLM and Z.ai chat completions and embeddings (Bearer API key)."""

    family = "zhipu"
    capabilities = Capabilities(
        tools=True,
        images=True,  # vision models only (glm-4.5v, ...); others reject them server-side
        audio=False,
        files=False,
        reasoning=True,
        structured_output=True,
        embeddings=True,
    )

    # -- requests ---------------------------------------------------------------

    def check(self, request: ChatRequest) -> None:
        """The base checks plus Zhipu's documented limits (sampling ranges, one stop word)."""
        super().check(request)
        if request.temperature is not None and not 0.0 <= request.temperature <= 1.0:
            raise ValidationError("zhipu accepts temperature in [0, 1]", field="temperature")
        if request.top_p is not None and not 0.0 <= request.top_p <= 1.0:
            raise ValidationError("zhipu accepts top_p in [0.01, 1]", field="top_p")
        if request.max_tokens is not None and request.max_tokens < 1:
            raise ValidationError("must be at least 1", field="max_tokens")
        if request.stop and len(request.stop) > 1:
            raise ValidationError("zhipu honours a single stop sequence", field="stop")
        for name in ("top_k", "presence_penalty", "frequency_penalty"):
            if getattr(request, name) is not None:
                raise ValidationError(f"zhipu has no {name} parameter", field=name)
        if request.user is not None and not 6 <= len(request.user) <= 128:
            raise ValidationError("zhipu user ids are 6 to 128 characters", field="user")
        choice = request.tool_choice
        if choice is not None and choice not in ("auto", "none"):
            raise ValidationError(
                "zhipu supports only tool_choice 'auto' (or 'none', sent as no tools)",
                field="tool_choice",
            )

    def encode(self, request: ChatRequest) -> HttpRequest:
        """``POST {base}/chat/completions`` with Zhipu's field names and ranges."""
        self.check(request)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": _messages(request),
            "stream": request.stream,
        }
        if request.tools and request.tool_choice != "none":
            body["tools"] = [
                _ToolDef(_FunctionDef(t.name, t.parameters, t.description)) for t in request.tools
            ]
            body["tool_choice"] = "auto"
            if request.stream:
                body["tool_stream"] = True  # else calls arrive whole, only at the end
        if request.temperature is not None:
            if request.temperature <= 0.0:
                body["do_sample"] = False  # greedy: what temperature 0 means elsewhere
            else:
                body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = max(request.top_p, 0.01)
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = request.stop
        if request.seed is not None:
            body["seed"] = request.seed
        if request.user is not None:
            body["user_id"] = request.user
        if request.reasoning is not None:
            body["thinking"] = {"type": _thinking_type(request.reasoning)}
        fmt = request.response_format
        if fmt is not None:
            # Zhipu documents only json_object; a schema is given to the model in words.
            body["response_format"] = {"type": "json_object"}
            if fmt.type == "json_schema" and fmt.schema is not None:
                _add_schema_instruction(body["messages"], fmt.name, fmt.schema)
        if request.extra:
            body.update(request.extra)
        return self.request("POST", "/chat/completions", json_encode(body))

    def encode_embed(self, request: EmbedRequest) -> HttpRequest:
        """``POST {base}/embeddings`` (``embedding-3`` takes ``dimensions``)."""
        if not request.input:
            raise ValidationError("nothing to embed", field="input")
        body: dict[str, Any] = {"model": request.model, "input": request.input}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.extra:
            body.update(request.extra)
        return self.request("POST", "/embeddings", json_encode(body))

    # -- responses --------------------------------------------------------------

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A non-streaming completion; an ``error`` object in a 2xx body is raised."""
        raw = self._decode_body(status, headers, body)
        if raw.error is not None and not raw.choices:
            raise self._error_from(raw.error, status=status, headers=headers, body=body)
        if not raw.choices or raw.choices[0].message is None:
            raise self._malformed(status, body, "response has no choices")
        choice = raw.choices[0]
        message = choice.message
        assert message is not None
        calls = [
            ToolCall(
                id=tc.id or f"call_{n}",
                name=(tc.function.name if tc.function else None) or "",
                arguments=_arguments(tc.function.arguments if tc.function else None) or "{}",
            )
            for n, tc in enumerate(message.tool_calls or ())
        ]
        finish = _finish(choice.finish_reason)
        if calls:
            finish = "tool_calls"
        return ChatResponse(
            content=message.content or "",
            tool_calls=calls,
            finish_reason=finish,
            raw_finish_reason=choice.finish_reason,
            usage=_usage(raw.usage) if raw.usage is not None else None,
            reasoning=message.reasoning_content or None,
            id=raw.id,
            model=raw.model,
            provider=self.name,
        )

    def stream_decoder(self, request: ChatRequest) -> ZhipuStreamDecoder:
        """A fresh decoder for an SSE body ending with ``data: [DONE]``."""
        return ZhipuStreamDecoder(self.name)

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """OpenAI-shaped vectors, put back in input order by ``index``."""
        try:
            raw = _embedding_decoder.decode(body)
        except _DECODE_ERRORS as exc:
            raise self._malformed(status, body, f"malformed embeddings response: {exc}") from None
        data = sorted(raw.data, key=lambda d: d.index)
        usage = None
        if raw.usage is not None:
            prompt = raw.usage.prompt_tokens or 0
            usage = Usage(prompt_tokens=prompt, total_tokens=prompt)
        return EmbedResponse(
            vectors=[d.embedding for d in data], model=raw.model, usage=usage, provider=self.name
        )

    # -- errors -----------------------------------------------------------------

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """Business code first (``error.code``), HTTP status second."""
        try:
            raw = _completion_decoder.decode(body)
        except _DECODE_ERRORS:
            raw = None
        if raw is None or raw.error is None:
            text = body.decode("utf-8", "replace").strip()
            return classify(
                provider=self.name, status=status, headers=headers, message=text[:500], body=body
            )
        return self._error_from(raw.error, status=status, headers=headers, body=body)

    def _error_from(
        self, error: _Error | str, *, status: int | None, headers: Headers, body: bytes
    ) -> AdapterError:
        return _classify_error(self.name, error, status=status, headers=headers, body=body)

    def _decode_body(self, status: int, headers: Headers, body: bytes) -> _Completion:
        try:
            return _completion_decoder.decode(body)
        except _DECODE_ERRORS as exc:
            raise self._malformed(status, body, f"malformed response: {exc}") from None

    def _malformed(self, status: int, body: bytes, message: str) -> ServerError:
        return ServerError(
            message,
            provider=self.name,
            status=status,
            retryable=False,
            body=body[:2000].decode("utf-8", "replace"),
        )


def _classify_error(
    provider: str,
    error: _Error | str,
    *,
    status: int | None,
    headers: Headers,
    body: bytes,
    default: ErrorKind | None = None,
) -> AdapterError:
    """The error class for a Zhipu error object, from its business code and message."""
    if isinstance(error, str):
        code, message = None, error
    else:
        code = str(error.code) if error.code is not None else None
        message = error.message or ""
    kind: ErrorKind | None = None
    if code is not None and code.isascii() and code.isdigit():
        kind = _code_kind(int(code))
    if kind is None and (
        looks_like_context_overflow(message) or any(m in message for m in _CONTEXT_MARKERS)
    ):
        kind = "context_length"
    if kind is None:
        kind = default  # an unknown code outside a stream: the HTTP status decides
    return classify(
        provider=provider,
        status=status,
        headers=headers,
        message=message or (f"error {code}" if code else ""),
        body=body,
        kind=kind,
        code=code,
    )


def _thinking_type(reasoning: str | dict[str, Any]) -> str:
    """``enabled`` or ``disabled``: GLM thinking is a switch, not an effort level."""
    if isinstance(reasoning, str):
        off = reasoning.lower() in ("none", "off", "disabled", "disable", "false")
        return "disabled" if off else "enabled"
    kind = reasoning.get("type")
    if kind in ("enabled", "disabled"):
        return str(kind)
    budget = reasoning.get("budget_tokens")
    if budget is not None and not budget:
        return "disabled"
    return "enabled"


def _add_schema_instruction(messages: list[_OutMessage], name: str, schema: dict[str, Any]) -> None:
    """Tell the model the schema: appended to the leading system message, or as a new one."""
    text = (
        f"Reply with a single JSON object ({name}) that conforms to this JSON Schema, "
        f"and nothing else:\n{json_encode(schema).decode()}"
    )
    first = messages[0] if messages else None
    if first is not None and first.role == "system" and isinstance(first.content, str):
        first.content = f"{first.content}\n\n{text}" if first.content else text
    else:
        messages.insert(0, _OutMessage(role="system", content=text))


def _image_url(part: ImagePart, field: str) -> str:
    """An image as Zhipu takes it: a URL, or raw base64 without the ``data:`` prefix."""
    if part.data is not None:
        return b64(part.data)
    if part.url is None:
        raise ValidationError("image has neither url nor data", field=field)
    if part.url.startswith("data:"):
        _head, sep, payload = part.url.partition("base64,")
        if not sep:
            raise ValidationError("only base64 data URLs are supported", field=field)
        return payload
    return part.url


def _content(message: Message, i: int) -> str | list[_TextContent | _ImageContent] | None:
    """Plain text as a string (text models accept only that); parts only with images."""
    content = message.content
    if content is None or isinstance(content, str):
        return content
    if not any(isinstance(p, ImagePart) for p in content):
        return "".join(p.text for p in content if isinstance(p, TextPart))
    parts: list[_TextContent | _ImageContent] = []
    for j, part in enumerate(content):
        if isinstance(part, TextPart):
            parts.append(_TextContent(part.text))
        elif isinstance(part, ImagePart):
            url = _image_url(part, f"messages[{i}].content[{j}]")
            parts.append(_ImageContent(_ImageURL(url)))
    return parts


def _messages(request: ChatRequest) -> list[_OutMessage]:
    out: list[_OutMessage] = []
    for i, m in enumerate(request.messages):
        role = "system" if m.role == "developer" else m.role
        if role == "tool":
            if not m.tool_call_id:
                raise ValidationError(
                    "a tool message needs tool_call_id", field=f"messages[{i}].tool_call_id"
                )
            out.append(_OutMessage(role="tool", content=m.text(), tool_call_id=m.tool_call_id))
        elif role == "assistant":
            calls = None
            if m.tool_calls:
                calls = [
                    _OutToolCall(tc.id, _OutFunction(tc.name, tc.arguments or "{}"))
                    for tc in m.tool_calls
                ]
            out.append(
                _OutMessage(
                    role="assistant",
                    content=m.text(),
                    reasoning_content=m.reasoning or None,
                    tool_calls=calls,
                )
            )
        else:
            out.append(_OutMessage(role=role, content=_content(m, i)))
    return out


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


class ZhipuStreamDecoder:
    """SSE chunks → ``StreamChunk``s; ``data: [DONE]`` is the terminator.

    Tool-call fragments are keyed by Zhipu's ``index`` (``tool_stream``) or
    arrive whole; either way they leave here numbered 0, 1, 2 ... in call order.
    """

    __slots__ = ("_by_index", "_calls", "_done", "_parser", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._parser = SSEParser()
        self._done = False
        self._by_index: dict[int, tuple[int, str | None]] = {}
        self._calls = 0

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was seen."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Feed body bytes; return the chunks they completed."""
        if self._done:
            return []
        out: list[StreamChunk] = []
        for _event, payload in self._parser.feed_raw(data):
            if payload.startswith(b"[DONE]"):
                self._done = True
                break
            chunk = self._chunk(payload)
            if chunk is not None:
                out.append(chunk)
        return out

    def end(self) -> bool:
        """End of body: True iff ``[DONE]`` was seen."""
        self._parser.end()
        return self._done

    def _chunk(self, payload: bytes) -> StreamChunk | None:
        try:
            raw = _completion_decoder.decode(payload)
        except _DECODE_ERRORS as exc:
            raise StreamError(
                f"malformed zhipu stream chunk: {exc}", provider=self._provider
            ) from None
        if raw.error is not None:
            raise _classify_error(
                self._provider, raw.error, status=None, headers=(), body=payload, default="server"
            )
        text = thinking = ""
        calls: list[ToolCallDelta] | None = None
        raw_finish: str | None = None
        if raw.choices:
            choice = raw.choices[0]
            delta = choice.delta or choice.message
            if delta is not None:
                text = delta.content or ""
                thinking = delta.reasoning_content or ""
                if delta.tool_calls:
                    calls = [self._fragment(tc) for tc in delta.tool_calls]
            raw_finish = choice.finish_reason
        if not (text or thinking or calls or raw_finish or raw.usage):
            return None  # the role-only first chunk, or keep-alive data
        return StreamChunk(
            delta=text,
            reasoning=thinking,
            tool_calls=calls,
            finish_reason=_finish(raw_finish),
            raw_finish_reason=raw_finish,
            usage=_usage(raw.usage) if raw.usage is not None else None,
            id=raw.id,
            model=raw.model,
        )

    def _fragment(self, tc: _ToolCall) -> ToolCallDelta:
        fn = tc.function
        return ToolCallDelta(
            index=self._route(tc.index, tc.id),
            id=tc.id,
            name=fn.name if fn else None,
            arguments=_arguments(fn.arguments) if fn else "",
        )

    def _route(self, index: int | None, call_id: str | None) -> int:
        """Our call number: by Zhipu's ``index``; a new id under a known index is a new call."""
        if index is None:  # not documented; continue the latest call unless an id says otherwise
            if call_id is None and self._calls:
                return self._calls - 1
            known = None
        else:
            known = self._by_index.get(index)
        if known is None or (call_id and known[1] and call_id != known[1]):
            ours = self._calls
            self._calls += 1
            if index is not None:
                self._by_index[index] = (ours, call_id)
            return ours
        if call_id and not known[1] and index is not None:
            self._by_index[index] = (known[0], call_id)
        return known[0]
