"""Zhipu GLM (BigModel, ``open.bigmodel.cn``) and Z.ai (``api.z.ai``): one wire format.

The API is OpenAI-shaped, so the wire Structs, the reply and usage decoding
(``openai.wire``, public for this reason) and the SSE stream decoder
(``openai.stream``) are OpenAI's; this module keeps only where Zhipu
differs: thinking is switched with ``thinking: {"type": ...}`` and comes
back as ``reasoning_content``; streamed tool-call arguments need
``tool_stream: true``; finish reasons include ``sensitive`` and
``network_error``; errors carry a numeric *business code* that says more than
the HTTP status; images are sent as raw base64 (the official SDKs strip the
``data:`` prefix); sampling ranges are narrower. Context caching is implicit
(https://docs.bigmodel.cn/cn/guide/capabilities/cache), so ``cache`` markers and
``prompt_cache_key`` are not sent; cache hits come back as
``usage.prompt_tokens_details.cached_tokens``, read as ``Usage.cached_tokens``.
Models served without ``reasoning_content`` (GLM-Z1) write their thinking as
a leading ``<think>...</think>`` in the content: it becomes ``reasoning`` and
the content is left clean, streamed or not (``think.py``).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from ..errors import AdapterError, ValidationError
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
from .openai.stream import OpenAIStreamDecoder
from .openai.wire import (
    COMPLETION_DECODER,
    DECODE_ERRORS,
    EMBEDDINGS_DECODER,
    CallOut,
    ErrorObject,
    FunctionDef,
    FunctionOut,
    ImageOut,
    ImageURL,
    MessageOut,
    PartOut,
    TextOut,
    ToolOut,
    chat_response,
    embed_response,
)
from .think import OPEN, ThinkSplitter, split_think

__all__ = ["ZhipuAdapter", "ZhipuStreamDecoder"]

# Unknown finish reasons count as a normal ``stop`` (the raw value is kept).
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
                ToolOut(
                    function=FunctionDef(
                        name=t.name,
                        description=UNSET if t.description is None else t.description,
                        parameters=t.parameters,
                    )
                )
                for t in request.tools
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
        return self.embed_request("/embeddings", request)

    # -- responses --------------------------------------------------------------

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A non-streaming completion; an ``error`` object in a 2xx body is raised."""
        try:
            raw = COMPLETION_DECODER.decode(body)
        except DECODE_ERRORS as exc:
            raise self.malformed(status, body, f"malformed response: {exc}", headers) from None
        if raw.error is not None and not raw.choices:
            raise _classify_error(self.name, raw.error, status=status, headers=headers, body=body)
        response = chat_response(raw, self.name, _FINISH)
        if response is None:
            raise self.malformed(status, body, "response has no choices", headers)
        if response.content.lstrip().startswith(OPEN):
            thinking, response.content = split_think(response.content)
            response.reasoning = (response.reasoning or "") + thinking or None
        return response

    def stream_decoder(self, request: ChatRequest) -> ZhipuStreamDecoder:
        """A fresh decoder for one streamed response."""
        return ZhipuStreamDecoder(self.name, parser=self.sse_parser())

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """OpenAI-shaped vectors, put back in input order by ``index``."""
        try:
            raw = EMBEDDINGS_DECODER.decode(body)
        except DECODE_ERRORS as exc:
            raise self.malformed(
                status, body, f"malformed embeddings response: {exc}", headers
            ) from None
        return embed_response(raw, self.name)

    # -- errors -----------------------------------------------------------------

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """Business code first (``error.code``), HTTP status second."""
        try:
            raw = COMPLETION_DECODER.decode(body)
        except DECODE_ERRORS:
            raw = None
        if raw is None or raw.error is None:
            text = body.decode("utf-8", "replace").strip()
            return classify(
                provider=self.name, status=status, headers=headers, message=text[:500], body=body
            )
        return _classify_error(self.name, raw.error, status=status, headers=headers, body=body)


def _classify_error(
    provider: str,
    error: ErrorObject | str,
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


def _stream_error(provider: str, error: ErrorObject | str, payload: bytes) -> AdapterError:
    """An ``error`` inside a stream: by business code, else a retryable server failure."""
    return _classify_error(provider, error, status=None, headers=(), body=payload, default="server")


class ZhipuStreamDecoder(OpenAIStreamDecoder):
    """OpenAI's SSE decoder (``data: [DONE]`` ends it) with Zhipu's finish reasons and codes.

    Answer text goes through a ``ThinkSplitter``: a leading ``<think>`` block
    comes out as ``reasoning``, split wherever the chunks cut the tags; what
    it holds back is released with the finish reason (or at the end of the
    body, for a cut-off stream).
    """

    __slots__ = ("_think",)

    def __init__(self, provider: str = "zhipu", *, parser: SSEParser | None = None) -> None:
        super().__init__(provider, finish_reasons=_FINISH, error=_stream_error, parser=parser)
        self._think = ThinkSplitter()

    def feed(self, data: bytes) -> list[StreamChunk]:
        """OpenAI's chunks, with ``<think>`` text moved from ``delta`` to ``reasoning``."""
        out: list[StreamChunk] = []
        for chunk in super().feed(data):
            if chunk.delta:
                thinking, chunk.delta = self._think.feed(chunk.delta)
                chunk.reasoning += thinking
            if chunk.finish_reason is not None:
                thinking, content = self._think.end()
                chunk.reasoning += thinking
                chunk.delta += content
            if chunk.has_content() or chunk.usage is not None:
                out.append(chunk)  # a chunk whose text is all held back is dropped
        return out

    def flush(self) -> list[StreamChunk]:
        """At the end of the body: whatever the splitter still holds (a cut-off answer)."""
        thinking, content = self._think.end()
        return [StreamChunk(delta=content, reasoning=thinking)] if thinking or content else []


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


def _add_schema_instruction(messages: list[MessageOut], name: str, schema: dict[str, Any]) -> None:
    """Tell the model the schema: appended to the leading system message, or as a new one."""
    text = (
        f"Reply with a single JSON object ({name}) that conforms to this JSON Schema, "
        f"and nothing else:\n{json_encode(schema).decode()}"
    )
    first = messages[0] if messages else None
    if first is not None and first.role == "system" and isinstance(first.content, str):
        first.content = f"{first.content}\n\n{text}" if first.content else text
    else:
        messages.insert(0, MessageOut(role="system", content=text))


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


def _content(message: Message, i: int) -> str | list[PartOut] | None:
    """Plain text as a string (text models accept only that); parts only with images."""
    content = message.content
    if content is None or isinstance(content, str):
        return content
    if not any(isinstance(p, ImagePart) for p in content):
        return "".join(p.text for p in content if isinstance(p, TextPart))
    parts: list[PartOut] = []
    for j, part in enumerate(content):
        if isinstance(part, TextPart):
            parts.append(TextOut(part.text))
        elif isinstance(part, ImagePart):
            url = _image_url(part, f"messages[{i}].content[{j}]")
            parts.append(ImageOut(ImageURL(url)))
    return parts


def _messages(request: ChatRequest) -> list[MessageOut]:
    out: list[MessageOut] = []
    for i, m in enumerate(request.messages):
        role = "system" if m.role == "developer" else m.role
        if role == "tool":
            if not m.tool_call_id:
                raise ValidationError(
                    "a tool message needs tool_call_id", field=f"messages[{i}].tool_call_id"
                )
            out.append(MessageOut(role="tool", content=m.text(), tool_call_id=m.tool_call_id))
        elif role == "assistant":
            message = MessageOut(role="assistant", content=m.text())
            if m.reasoning:
                message.reasoning_content = m.reasoning
            if m.tool_calls:
                message.tool_calls = [
                    CallOut(id=tc.id, function=FunctionOut(tc.name, tc.arguments or "{}"))
                    for tc in m.tool_calls
                ]
            out.append(message)
        else:
            content = _content(m, i)
            out.append(MessageOut(role=role, content=UNSET if content is None else content))
    return out
