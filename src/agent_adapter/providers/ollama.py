"""Ollama's native API (``/api/chat``, ``/api/embed``): NDJSON streams, no key.

Why native rather than Ollama's ``/v1``: only the native API takes
``options`` (``num_ctx`` above all), ``keep_alive`` and thinking levels. Its
differences from OpenAI that this module translates: streaming is *on by
default* (we always send ``stream`` explicitly); images are raw base64 in
``message.images``, never URLs; tool-call ``arguments`` are JSON *objects*;
tool results name their function (``tool_name``); reasoning is ``think`` out
and ``thinking`` back; usage is ``prompt_eval_count``/``eval_count``; a stream
is NDJSON that ends with a ``"done": true`` line, and errors are
``{"error": "text"}``. The server reuses its own prompt cache, reports no
cached-token count, and takes no cache markers: ``cache`` is ignored.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgspec

from ..errors import AdapterError, StreamError, ValidationError
from ..sse import NDJSONDecoder
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
    split_data_url,
)

__all__ = ["OllamaAdapter", "OllamaStreamDecoder"]

# ---------------------------------------------------------------------------
# Wire Structs (request side)
# ---------------------------------------------------------------------------


class _OutFunction(msgspec.Struct):
    name: str
    arguments: msgspec.Raw  # the caller's JSON object, validated, passed through verbatim


class _OutToolCall(msgspec.Struct, omit_defaults=True):
    function: _OutFunction
    id: str | None = None


class _OutMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    role: str
    content: str
    thinking: str | None = None
    images: list[str] | None = None
    tool_calls: list[_OutToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None


class _FunctionDef(msgspec.Struct, omit_defaults=True):
    name: str
    parameters: dict[str, Any]
    description: str | None = None


class _ToolDef(msgspec.Struct):
    function: _FunctionDef
    type: str = "function"


# ---------------------------------------------------------------------------
# Wire Structs (response side): one shape for a reply, a stream line, an error
# ---------------------------------------------------------------------------


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: msgspec.Raw = msgspec.Raw()  # empty when absent (``Raw | None`` cannot decode)


class _ToolCall(msgspec.Struct):
    id: str | None = None
    function: _Function | None = None


class _Message(msgspec.Struct):
    content: str | None = None
    thinking: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Line(msgspec.Struct):
    """A ``/api/chat`` response object: a whole reply or one NDJSON stream line."""

    model: str | None = None
    created_at: str | None = None
    message: _Message | None = None
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    error: str | dict[str, Any] | None = None
    status: int | None = None


class _Embed(msgspec.Struct):
    embeddings: list[list[float]] | None = None
    model: str | None = None
    prompt_eval_count: int | None = None
    error: str | dict[str, Any] | None = None


_line_decoder = msgspec.json.Decoder(_Line)
_embed_decoder = msgspec.json.Decoder(_Embed)
_any_decoder = msgspec.json.Decoder()
# msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "load": "stop",
    "unload": "stop",
}

_THINK_LEVELS = ("low", "medium", "high", "max")


def _finish(raw: str | None, has_calls: bool) -> FinishReason:
    """Ollama ends tool-calling turns with ``stop``; calls decide ``tool_calls``."""
    if has_calls:
        return "tool_calls"
    return _FINISH.get(raw or "stop", "stop")


def _usage(line: _Line) -> Usage:
    # Metric fields are Go ``omitempty``: a missing count is zero (e.g. a fully cached prompt).
    prompt = line.prompt_eval_count or 0
    completion = line.eval_count or 0
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _call_id(line: _Line, n: int, name: str, arguments: bytes) -> str:
    """A stable id for a call Ollama sent without one (older servers).

    Derived from the bytes of the reply, so decoding the same reply twice
    gives the same id, while calls of different replies (timestamps differ)
    do not collide when a conversation moves on to a provider that needs
    unique ids.
    """
    seed = f"{line.created_at}|{n}|{name}|".encode() + arguments
    return f"call_{zlib.crc32(seed):08x}"


def _error_message(error: str | dict[str, Any]) -> str:
    if isinstance(error, str):
        return error
    message = error.get("message")
    return message if isinstance(message, str) else str(error)


# ---------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------


class OllamaAdapter(Adapter):
    """Ollama's native chat and embeddings API (local: no key; ollama.com: Bearer key)."""

    family = "ollama"
    capabilities = Capabilities(
        tools=True,
        images=True,
        audio=False,
        files=False,
        reasoning=True,
        structured_output=True,
        embeddings=True,
    )

    # -- requests ---------------------------------------------------------------

    def check(self, request: ChatRequest) -> None:
        """The base checks plus what Ollama cannot express (forced tool choice)."""
        super().check(request)
        choice = request.tool_choice
        if choice is not None and choice not in ("auto", "none"):
            raise ValidationError(
                "ollama cannot force a tool call; use 'auto' or 'none'", field="tool_choice"
            )
        if request.max_tokens is not None and request.max_tokens < 1:
            raise ValidationError("must be at least 1", field="max_tokens")

    def encode(self, request: ChatRequest) -> HttpRequest:
        """``POST {base}/api/chat``; ``stream`` always explicit (Ollama streams by default)."""
        self.check(request)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": _messages(request.messages),
            "stream": request.stream,
        }
        if request.tools and request.tool_choice != "none":
            body["tools"] = [
                _ToolDef(_FunctionDef(t.name, t.parameters, t.description)) for t in request.tools
            ]
        if request.reasoning is not None:
            body["think"] = _think(request.reasoning)
        fmt = request.response_format
        if fmt is not None:
            body["format"] = fmt.schema if fmt.type == "json_schema" and fmt.schema else "json"
        options = _options(request)
        extra = request.extra
        if extra:
            extra_options = extra.get("options")
            if isinstance(extra_options, dict):
                options.update(extra_options)
            body.update((k, v) for k, v in extra.items() if k != "options")
        if options:
            body["options"] = options
        return self.request("POST", "/api/chat", json_encode(body))

    def encode_embed(self, request: EmbedRequest) -> HttpRequest:
        """``POST {base}/api/embed`` with the ``input`` list (and ``dimensions``)."""
        return self.embed_request("/api/embed", request)

    # -- responses --------------------------------------------------------------

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A ``stream: false`` reply: one JSON object with ``done: true``."""
        try:
            line = _line_decoder.decode(body)
        except _DECODE_ERRORS as exc:
            raise self.malformed(status, body, f"malformed response: {exc}", headers) from None
        if line.error is not None:
            raise _classify(
                self.name, line.error, status=line.status or status, headers=headers, body=body
            )
        message = line.message or _Message()
        calls = [
            ToolCall(id=tc_id, name=name, arguments=args)
            for _, tc_id, name, args in _calls(line, message.tool_calls, 0)
        ]
        return ChatResponse(
            content=message.content or "",
            tool_calls=calls,
            finish_reason=_finish(line.done_reason, bool(calls)),
            raw_finish_reason=line.done_reason,
            usage=_usage(line),
            reasoning=message.thinking or None,
            model=line.model,
            provider=self.name,
        )

    def stream_decoder(self, request: ChatRequest) -> OllamaStreamDecoder:
        """A fresh decoder for an NDJSON body ending with a ``"done": true`` line."""
        return OllamaStreamDecoder(self.name, self.ndjson_decoder())

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """One vector per input; usage from ``prompt_eval_count``."""
        try:
            raw = _embed_decoder.decode(body)
        except _DECODE_ERRORS as exc:
            raise self.malformed(
                status, body, f"malformed embeddings response: {exc}", headers
            ) from None
        if raw.error is not None:
            raise _classify(self.name, raw.error, status=status, headers=headers, body=body)
        if raw.embeddings is None:
            raise self.malformed(status, body, "embeddings response has no embeddings", headers)
        prompt = raw.prompt_eval_count or 0
        return EmbedResponse(
            vectors=raw.embeddings,
            model=raw.model,
            usage=Usage(prompt_tokens=prompt, total_tokens=prompt),
            provider=self.name,
        )

    # -- errors -----------------------------------------------------------------

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """``{"error": "text"}`` by status; context overflow recognised by its text."""
        try:
            line = _line_decoder.decode(body)
            error: str | dict[str, Any] | None = line.error
        except _DECODE_ERRORS:
            error = None
        if error is None:
            error = body.decode("utf-8", "replace").strip()[:500]
        return _classify(self.name, error, status=status, headers=headers, body=body)


def _classify(
    provider: str,
    error: str | dict[str, Any],
    *,
    status: int | None,
    headers: Headers,
    body: bytes,
) -> AdapterError:
    """Ollama errors are bare text: the status decides, unless the text says context."""
    message = _error_message(error)
    kind: ErrorKind | None = None
    if looks_like_context_overflow(message):
        kind = "context_length"
    elif status is None or status < 300:
        kind = "server"  # an error after a 200 (a stream line): the model run failed
    return classify(
        provider=provider, status=status, headers=headers, message=message, body=body, kind=kind
    )


def _think(reasoning: str | dict[str, Any]) -> bool | str:
    """``think``: a level Ollama knows, ``false`` for none, ``true`` for a token budget."""
    if isinstance(reasoning, dict):
        if "effort" in reasoning and isinstance(reasoning["effort"], str):
            return _think(reasoning["effort"])
        if "budget_tokens" in reasoning:
            return bool(reasoning["budget_tokens"])  # no budgets in Ollama: on or off
        if isinstance(reasoning.get("enabled"), bool):
            return bool(reasoning["enabled"])
        raise ValidationError("expected an effort level or {'budget_tokens': N}", field="reasoning")
    level = reasoning.lower()
    if level in _THINK_LEVELS:
        return level
    if level in ("none", "off", "disabled", "false"):
        return False
    if level == "minimal":
        return "low"
    if level in ("xhigh", "maximum"):
        return "max"
    if level in ("on", "enabled", "true"):
        return True
    raise ValidationError(
        f"unknown reasoning level {reasoning!r} (low, medium, high, max, none)",
        field="reasoning",
    )


def _options(request: ChatRequest) -> dict[str, Any]:
    """Sampling parameters go in ``options``, under Modelfile names."""
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.top_k is not None:
        options["top_k"] = request.top_k
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if request.stop:
        options["stop"] = request.stop
    if request.seed is not None:
        options["seed"] = request.seed
    if request.presence_penalty is not None:
        options["presence_penalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        options["frequency_penalty"] = request.frequency_penalty
    return options


def _arguments(arguments: str, field: str) -> msgspec.Raw:
    """A tool call's JSON-string arguments as the JSON object Ollama wants."""
    if not arguments.strip():
        return msgspec.Raw(b"{}")
    try:
        raw = arguments.encode()
        value = _any_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeError):
        raise ValidationError("tool-call arguments are not valid JSON", field=field) from None
    if not isinstance(value, dict):
        raise ValidationError("tool-call arguments must be a JSON object", field=field)
    return msgspec.Raw(raw)


def _images(message: Message, i: int) -> tuple[str, list[str] | None]:
    """Text and base64 images of a message (Ollama wants bytes: URLs cannot be sent)."""
    content = message.content
    if content is None or isinstance(content, str):
        return content or "", None
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(content):
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ImagePart):
            field = f"messages[{i}].content[{j}]"
            if part.data is not None:
                images.append(b64(part.data))
            elif part.url is not None and part.url.startswith("data:"):
                parsed = split_data_url(part.url)
                if parsed is None:
                    raise ValidationError("only base64 data URLs are supported", field=field)
                images.append(b64(parsed[1]))
            else:
                raise ValidationError(
                    "ollama needs image bytes (data or a base64 data URL), not a URL", field=field
                )
    return "".join(texts), images or None


def _tool_names(messages: list[Message]) -> dict[str, str]:
    """``tool_call_id`` → function name, from the assistant turns (later turns win)."""
    names: dict[str, str] = {}
    for m in messages:
        if m.tool_calls:
            for tc in m.tool_calls:
                names[tc.id] = tc.name
    return names


def _messages(messages: list[Message]) -> list[_OutMessage]:
    out: list[_OutMessage] = []
    names: dict[str, str] | None = None
    for i, m in enumerate(messages):
        role = "system" if m.role == "developer" else m.role
        text, images = _images(m, i)
        if role == "assistant":
            calls = None
            if m.tool_calls:
                calls = [
                    _OutToolCall(
                        _OutFunction(
                            tc.name,
                            _arguments(tc.arguments, f"messages[{i}].tool_calls[{k}].arguments"),
                        ),
                        id=tc.id or None,
                    )
                    for k, tc in enumerate(m.tool_calls)
                ]
            out.append(
                _OutMessage(
                    role="assistant",
                    content=text,
                    thinking=m.reasoning or None,
                    images=images,
                    tool_calls=calls,
                )
            )
        elif role == "tool":
            name = m.tool_name
            if name is None and m.tool_call_id:
                if names is None:
                    names = _tool_names(messages[:i])
                name = names.get(m.tool_call_id)
            out.append(
                _OutMessage(
                    role="tool",
                    content=text,
                    images=images,
                    tool_name=name or m.name,
                    tool_call_id=m.tool_call_id,
                )
            )
        else:
            out.append(_OutMessage(role=role, content=text, images=images))
    return out


def _calls(
    line: _Line, calls: list[_ToolCall] | None, start: int
) -> list[tuple[int, str, str, str]]:
    """``(index, id, name, arguments JSON)`` for each call, numbered from ``start``."""
    out: list[tuple[int, str, str, str]] = []
    for n, tc in enumerate(calls or (), start):
        fn = tc.function
        name = (fn.name if fn else None) or ""
        raw = bytes(fn.arguments) if fn is not None else b""
        if not raw or raw == b"null":
            raw = b"{}"
        out.append((n, tc.id or _call_id(line, n, name, raw), name, raw.decode("utf-8", "replace")))
    return out


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


class OllamaStreamDecoder:
    """NDJSON lines → ``StreamChunk``s; the ``"done": true`` line is the terminator.

    Tool calls arrive whole, one or more per line; each becomes one
    ``ToolCallDelta`` numbered in call order across the response.
    """

    __slots__ = ("_calls", "_done", "_lines", "_provider")

    def __init__(self, provider: str, lines: NDJSONDecoder | None = None) -> None:
        self._provider = provider
        self._lines = lines or NDJSONDecoder()
        self._done = False
        self._calls = 0

    @property
    def done(self) -> bool:
        """True once the ``"done": true`` line was seen."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Feed body bytes; return the chunks of the lines they completed."""
        if self._done:
            return []
        return self._process(self._lines.feed(data))

    def flush(self) -> list[StreamChunk]:
        """End of body: a last line without its newline is still a line; return its chunks."""
        if self._done:
            return []
        return self._process(self._lines.end())

    def end(self) -> bool:
        """End of body: True iff the ``"done": true`` line was seen.

        Ollama ends every line with a newline; a last line without one is
        honoured if it is complete (``flush`` returns its chunk), and an
        incomplete one just means the stream was cut.
        """
        if not self._done:
            try:
                self.flush()
            except StreamError:
                return False
        return self._done

    def _process(self, lines: list[bytes]) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        for raw in lines:
            if self._done:
                break
            try:
                line = _line_decoder.decode(raw)
            except _DECODE_ERRORS as exc:
                raise StreamError(
                    f"malformed ollama stream line: {exc}", provider=self._provider
                ) from None
            if line.error is not None:
                raise _classify(
                    self._provider, line.error, status=line.status, headers=(), body=raw
                )
            chunk = self._chunk(line)
            if chunk is not None:
                out.append(chunk)
        return out

    def _chunk(self, line: _Line) -> StreamChunk | None:
        message = line.message
        chunk: StreamChunk | None = None
        if message is not None and (message.content or message.thinking or message.tool_calls):
            chunk = StreamChunk(
                delta=message.content or "", reasoning=message.thinking or "", model=line.model
            )
            if message.tool_calls:
                deltas = [
                    ToolCallDelta(index=n, id=tc_id, name=name, arguments=args)
                    for n, tc_id, name, args in _calls(line, message.tool_calls, self._calls)
                ]
                self._calls += len(deltas)
                chunk.tool_calls = deltas
        if line.done:
            self._done = True
            if chunk is None:
                chunk = StreamChunk(model=line.model)
            chunk.finish_reason = _finish(line.done_reason, self._calls > 0)
            chunk.raw_finish_reason = line.done_reason
            chunk.usage = _usage(line)
        return chunk
