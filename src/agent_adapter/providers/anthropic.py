"""Anthropic Messages API (``POST /v1/messages``): encoder, decoders, error mapping.

Our history is OpenAI-shaped; Anthropic's is not. The encoder lifts system
and developer messages into the top-level ``system``, turns assistant tool
calls into ``tool_use`` blocks and tool messages into ``tool_result`` blocks
(merged into one user turn, before any text), merges consecutive turns of one
role, and sends thinking back as ``thinking`` blocks placed first in their
turn, text and signature unchanged.

Decisions worth knowing (see ``shared/wire/anthropic.md``):

* ``max_tokens`` is required by the API. Without one we send 4096; with a
  thinking budget B, B + 4096; with adaptive thinking, 16384.
* ``reasoning`` effort levels: models that support adaptive thinking (Claude
  4.6 and later, and model names we cannot date) get ``thinking: {"type":
  "adaptive"}`` plus ``output_config.effort``; older models get a budget
  (minimal 1024, low 2048, medium 8192, high 16384, xhigh/max 24576).
  ``{"budget_tokens": N}`` is sent as is, except to adaptive-only models
  (Claude 4.7 and later), which reject it: there it becomes the nearest
  effort. ``options={"thinking": "adaptive" | "budget"}`` overrides the guess.
* Structured output is a forced tool named ``structured_output__<name>``;
  its input comes back as ``content`` (finish reason ``stop``). Next to the
  caller's own tools, ``tool_choice`` becomes ``any``: call a real tool or
  answer. A forced tool cannot be combined with thinking, so with thinking
  on we use ``output_config.format`` instead.
* An ``error`` event raises at once; chunks decoded earlier in the same
  ``feed`` are dropped with it (if none reached the caller before, the
  client may then retry an overload cleanly).
* More than one thinking block (or any ``redacted_thinking``) cannot be
  carried by one text and one signature, so the signature then holds the
  blocks themselves, packed (``anthropic-thinking-blocks:[...]``), and the
  encoder sends them back exactly.
* A 429 without ``retry-after`` is the tier's monthly spend cap, which
  waiting will not lift: a non-retryable ``RateLimitError`` (unless the
  server says ``x-should-retry: true``).
* ``seed``, ``presence_penalty`` and ``frequency_penalty`` have no
  Anthropic equivalent and are not sent.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import msgspec

from ..errors import AdapterError, StreamError, ValidationError
from ..sse import SSEParser
from ..types import (
    ChatRequest,
    ChatResponse,
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
    header,
    json_encode,
    looks_like_context_overflow,
    retry_after,
    split_data_url,
)

__all__ = ["DEFAULT_MAX_TOKENS", "STRUCTURED_TOOL_PREFIX", "AnthropicAdapter"]

API_VERSION: Final = b"2023-06-01"
DEFAULT_MAX_TOKENS: Final = 4096
"""``max_tokens`` sent when the caller gives none (the API requires one)."""
ADAPTIVE_MAX_TOKENS: Final = 16384
"""Default ``max_tokens`` with adaptive thinking: thinking counts against it."""
STRUCTURED_TOOL_PREFIX: Final = "structured_output__"
"""Name prefix of the forced tool that carries structured output."""
_PACKED: Final = "anthropic-thinking-blocks:"
_FILES_BETA: Final = b"files-api-2025-04-14"

_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh", "max": "max"}  # fmt: skip
_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384,
           "xhigh": 24576, "max": 24576}  # fmt: skip
_OFF = frozenset({"none", "off", "disabled"})

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_ERROR_KIND: dict[str, ErrorKind] = {
    "authentication_error": "auth",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limit",
    "billing_error": "quota",
    "request_too_large": "bad_request",
    "invalid_request_error": "bad_request",
    "overloaded_error": "overloaded",
    "api_error": "server",
    "timeout_error": "server",
}
_QUOTA_MARKERS = ("credit balance", "usage limit", "spend limit", "billing")

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_VERSION = re.compile(r"claude-(?:[a-z]+-)*(\d+)(?:[-.](\d{1,2})(?!\d))?")

ThinkingStyle = Literal["budget", "adaptive", "adaptive_only"]

# ---------------------------------------------------------------------------
# Wire types (responses and stream events). Unknown fields are ignored; content
# blocks are one loose Struct so unknown block types (server tools, ...) pass.
# ---------------------------------------------------------------------------


class _OutputDetails(msgspec.Struct):
    thinking_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: _OutputDetails | None = None


class _Block(msgspec.Struct):
    type: str
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()


class _StopDetails(msgspec.Struct):
    category: str | None = None
    explanation: str | None = None


class _ErrorInfo(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class _Message(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    model: str | None = None
    content: list[_Block] = []
    stop_reason: str | None = None
    stop_details: _StopDetails | None = None
    usage: _Usage | None = None
    error: _ErrorInfo | None = None


class _ErrorBody(msgspec.Struct):
    error: _ErrorInfo | str | None = None
    request_id: str | None = None


class _Delta(msgspec.Struct):
    type: str = ""
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None


class _MessageDeltaBody(msgspec.Struct):
    stop_reason: str | None = None
    stop_details: _StopDetails | None = None


class _MessageStart(msgspec.Struct, tag="message_start", tag_field="type"):
    message: _Message


class _BlockStart(msgspec.Struct, tag="content_block_start", tag_field="type"):
    content_block: _Block
    index: int = 0


class _BlockDelta(msgspec.Struct, tag="content_block_delta", tag_field="type"):
    delta: _Delta
    index: int = 0


class _BlockStop(msgspec.Struct, tag="content_block_stop", tag_field="type"):
    index: int = 0


class _MessageDelta(msgspec.Struct, tag="message_delta", tag_field="type"):
    delta: _MessageDeltaBody = msgspec.field(default_factory=_MessageDeltaBody)
    usage: _Usage | None = None


class _MessageStop(msgspec.Struct, tag="message_stop", tag_field="type"):
    pass


class _Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


class _ErrorEvent(msgspec.Struct, tag="error", tag_field="type"):
    error: _ErrorInfo | None = None
    request_id: str | None = None


class _TypeOnly(msgspec.Struct):
    type: str = ""


class _ThinkingWire(msgspec.Struct, omit_defaults=True):
    """A thinking or redacted_thinking block, as packed into a signature."""

    type: Literal["thinking", "redacted_thinking"]
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None


_Event = (
    _MessageStart | _BlockStart | _BlockDelta | _BlockStop | _MessageDelta | _MessageStop
    | _Ping | _ErrorEvent
)  # fmt: skip
_EVENT_NAMES = frozenset(
    {"message_start", "content_block_start", "content_block_delta", "content_block_stop",
     "message_delta", "message_stop", "ping", "error", "message"}
)  # fmt: skip

_message_decoder = msgspec.json.Decoder(_Message)
_event_decoder = msgspec.json.Decoder(_Event)
_type_decoder = msgspec.json.Decoder(_TypeOnly)
_error_decoder = msgspec.json.Decoder(_ErrorBody)
_object_decoder = msgspec.json.Decoder(dict[str, Any])
_packed_decoder = msgspec.json.Decoder(list[_ThinkingWire])
_packed_encoder = msgspec.json.Encoder()


# ---------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------


class AnthropicAdapter(Adapter):
    """Claude through the Messages API: ``x-api-key`` auth, ``anthropic-version`` header.

    ``options``: ``thinking`` (``"adaptive"`` or ``"budget"``, overriding the
    per-model guess), ``structured_output`` (``"tool"``, the default, or
    ``"native"`` for ``output_config.format``), ``max_tokens`` (the default
    when a request gives none), ``auth`` (``"bearer"`` sends
    ``Authorization: Bearer`` instead of ``x-api-key``, for OAuth tokens and
    gateways).
    """

    family = "anthropic"
    capabilities = Capabilities(
        tools=True,
        images=True,
        audio=False,
        files=True,
        reasoning=True,
        structured_output=True,
        embeddings=False,
    )

    # -- requests -----------------------------------------------------------------

    def auth_headers(self) -> list[tuple[bytes, bytes]]:
        """``x-api-key`` (Anthropic's scheme), or a bearer token if ``options['auth']`` says so."""
        if self.api_key is None:
            return []
        key = self.api_key.reveal().encode("latin-1")
        if self.options.get("auth") == "bearer":
            return [(b"authorization", b"Bearer " + key)]
        return [(b"x-api-key", key)]

    def check(self, request: ChatRequest) -> None:
        """Capability checks plus Anthropic's own rules (max_tokens, thinking conflicts)."""
        super().check(request)
        if request.max_tokens is not None and request.max_tokens < 1:
            raise ValidationError("must be a positive integer", field="max_tokens")
        if not request.messages:
            raise ValidationError("at least one message is required", field="messages")

    def encode(self, request: ChatRequest) -> HttpRequest:
        """The ``POST /v1/messages`` request for ``request``."""
        self.check(request)
        system, turns, needs_files_beta = _encode_history(request.messages)
        if not turns:
            raise ValidationError("no user or assistant message to send", field="messages")
        body: dict[str, Any] = {"model": request.model}
        thinking, effort, budget = self._thinking(request)
        body["max_tokens"] = self._max_tokens(request, thinking, budget)
        if system is not None:
            body["system"] = system
        body["messages"] = turns
        output_config: dict[str, Any] = {}
        if effort is not None:
            output_config["effort"] = effort
        tools = [_encode_tool(tool) for tool in request.tools or ()]
        choice = _encode_tool_choice(request) if tools else None
        thinking_on = thinking is not None and thinking["type"] != "disabled"
        fmt = request.response_format
        if fmt is not None:
            native = thinking_on or self.options.get("structured_output") == "native"
            schema = fmt.schema if fmt.type == "json_schema" and fmt.schema else {"type": "object"}
            if native:
                output_config["format"] = {"type": "json_schema", "schema": schema}
            else:
                name = STRUCTURED_TOOL_PREFIX + _tool_safe(fmt.name)
                tools.append(
                    {
                        "name": name,
                        "description": "Give your final answer by calling this tool; "
                        "its input is the answer, matching the schema.",
                        "input_schema": schema,
                    }
                )
                if choice is None or choice["type"] == "none":
                    choice = {"type": "tool", "name": name}
                elif choice["type"] == "auto":  # call a real tool or answer, but call one
                    choice = {**choice, "type": "any"}
        if thinking_on:
            if choice is not None and choice["type"] in ("any", "tool"):
                raise ValidationError(
                    "forced tool use is not compatible with extended thinking", field="tool_choice"
                )
            if request.temperature is not None and request.temperature != 1:
                raise ValidationError(
                    "temperature cannot be changed while thinking is on", field="temperature"
                )
            if request.top_k is not None:
                raise ValidationError("top_k cannot be set while thinking is on", field="top_k")
        if tools:
            body["tools"] = tools
            if choice is not None:
                body["tool_choice"] = choice
        if thinking is not None:
            body["thinking"] = thinking
        if output_config:
            body["output_config"] = output_config
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.top_k is not None:
            body["top_k"] = request.top_k
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.user:
            body["metadata"] = {"user_id": request.user}
        if request.stream:
            body["stream"] = True
        if request.extra:
            body.update(request.extra)
        http = self.request("POST", "/v1/messages", json_encode(body))
        self._finish_headers(http.headers, stream=request.stream, files_beta=needs_files_beta)
        return http

    def _finish_headers(
        self, headers: list[tuple[bytes, bytes]], *, stream: bool, files_beta: bool
    ) -> None:
        names = {name for name, _ in headers}
        if b"anthropic-version" not in names:
            headers.append((b"anthropic-version", API_VERSION))
        if stream:
            headers[:] = [(n, b"text/event-stream" if n == b"accept" else v) for n, v in headers]
        if files_beta:
            for i, (name, value) in enumerate(headers):
                if name == b"anthropic-beta":
                    if _FILES_BETA not in value:
                        headers[i] = (name, value + b"," + _FILES_BETA)
                    break
            else:
                headers.append((b"anthropic-beta", _FILES_BETA))

    def thinking_style(self, model: str) -> ThinkingStyle:
        """How ``model`` takes thinking: a budget, adaptive, or adaptive only.

        Claude 4.6 accepts both; 4.7 and later reject budgets; 4.5 and earlier
        know only budgets. A name we cannot date counts as new.
        """
        forced = self.options.get("thinking")
        if forced == "budget":
            return "budget"
        if forced == "adaptive":
            return "adaptive_only"
        match = _VERSION.search(model)
        if match is None:
            return "adaptive_only"
        version = (int(match.group(1)), int(match.group(2) or 0))
        if version >= (4, 7):
            return "adaptive_only"
        if version >= (4, 6):
            return "adaptive"
        return "budget"

    def _thinking(
        self, request: ChatRequest
    ) -> tuple[dict[str, Any] | None, str | None, int | None]:
        """``(thinking config, output_config effort, budget)`` for ``request.reasoning``."""
        reasoning = request.reasoning
        if reasoning is None:
            return None, None, None
        level: str | None = None
        budget: int | None = None
        if isinstance(reasoning, str):
            level = reasoning.lower()
        elif isinstance(reasoning, dict):
            raw_budget = reasoning.get("budget_tokens")
            raw_effort = reasoning.get("effort")
            if raw_budget is not None:
                if isinstance(raw_budget, bool) or not isinstance(raw_budget, int):
                    raise ValidationError("must be an integer", field="reasoning.budget_tokens")
                budget = raw_budget
            elif isinstance(raw_effort, str):
                level = raw_effort.lower()
            else:
                raise ValidationError(
                    "expected an effort level or {'budget_tokens': N}", field="reasoning"
                )
        if level is not None and level in _OFF:
            return {"type": "disabled"}, None, None
        if level is not None and level not in _EFFORT:
            raise ValidationError(f"unknown effort level {level!r}", field="reasoning")
        style = self.thinking_style(request.model)
        if budget is not None:
            if budget == 0:
                return {"type": "disabled"}, None, None
            if style != "adaptive_only":
                if budget < 1024:
                    raise ValidationError(
                        "Anthropic needs a thinking budget of at least 1024 tokens",
                        field="reasoning.budget_tokens",
                    )
                return {"type": "enabled", "budget_tokens": budget}, None, budget
            level = "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"
        assert level is not None
        if style == "budget":
            budget = _BUDGET[level]
            limit = request.max_tokens
            if limit is not None and budget >= limit:
                budget = max(1024, limit // 2)
                if budget >= limit:
                    raise ValidationError(
                        "too small for thinking (the budget needs at least 1024 tokens "
                        "below max_tokens)",
                        field="max_tokens",
                    )
            return {"type": "enabled", "budget_tokens": budget}, None, budget
        return {"type": "adaptive"}, _EFFORT[level], None

    def _max_tokens(
        self, request: ChatRequest, thinking: dict[str, Any] | None, budget: int | None
    ) -> int:
        if request.max_tokens is not None:
            if budget is not None and request.max_tokens <= budget:
                raise ValidationError(
                    f"must exceed the thinking budget ({budget} tokens)", field="max_tokens"
                )
            return request.max_tokens
        default = int(self.options.get("max_tokens") or DEFAULT_MAX_TOKENS)
        if budget is not None:
            return max(default, budget + DEFAULT_MAX_TOKENS)
        if thinking is not None and thinking.get("type") == "adaptive":
            return max(default, ADAPTIVE_MAX_TOKENS)
        return default

    # -- responses ----------------------------------------------------------------

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A complete Messages response, normalised."""
        try:
            message = _message_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self.malformed(status, body, f"malformed Anthropic response: {exc}") from None
        if message.type == "error" or message.error is not None:
            raise self.error(status, headers, body)
        text: list[str] = []
        reasoning: list[str] = []
        thinking: list[_ThinkingWire] = []
        calls: list[ToolCall] = []
        for block in message.content:
            kind = block.type
            if kind == "text":
                text.append(block.text or "")
            elif kind == "tool_use":
                arguments = bytes(block.input).decode("utf-8", "replace") if block.input else "{}"
                name = block.name or ""
                if name.startswith(STRUCTURED_TOOL_PREFIX):
                    text.append(arguments)
                else:
                    call_id = block.id or f"toolu_{len(calls)}"
                    calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
            elif kind == "thinking":
                reasoning.append(block.thinking or "")
                thinking.append(
                    _ThinkingWire(
                        "thinking", thinking=block.thinking or "", signature=block.signature or ""
                    )
                )
            elif kind == "redacted_thinking":
                thinking.append(_ThinkingWire("redacted_thinking", data=block.data or ""))
        finish = _finish(message.stop_reason, bool(calls))
        details = message.stop_details
        return ChatResponse(
            content="".join(text),
            tool_calls=calls,
            finish_reason=finish,
            raw_finish_reason=message.stop_reason,
            usage=_usage(message.usage) if message.usage else None,
            reasoning="".join(reasoning) or None,
            reasoning_signature=_signature(thinking),
            refusal=(details.explanation or details.category) if details else None,
            id=message.id,
            model=message.model,
            provider=self.name,
        )

    def stream_decoder(self, request: ChatRequest) -> _StreamDecoder:
        """A fresh decoder for one ``stream: true`` response body."""
        return _StreamDecoder(self.name, self.sse_parser())

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """The error for a non-2xx response: ``{"type":"error","error":{"type","message"}}``."""
        try:
            parsed = _error_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            parsed = _ErrorBody()
        info = parsed.error
        if isinstance(info, str):
            err_type, message = None, info
        elif info is not None:
            err_type, message = info.type, info.message or ""
        else:
            err_type, message = None, body[:500].decode("utf-8", "replace").strip()
        kind = _error_kind(err_type, message, status, headers)
        error = classify(
            provider=self.name,
            status=status,
            headers=headers,
            message=message or f"HTTP {status}",
            body=body,
            kind=kind,
            code=err_type,
        )
        if error.request_id is None:
            error.request_id = parsed.request_id
        return error


# ---------------------------------------------------------------------------
# Encoding helpers
# ---------------------------------------------------------------------------


def _encode_history(
    messages: list[Message],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]], bool]:
    """``(system, turns, uses file ids)`` for an OpenAI-shaped history."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    files = False
    for i, message in enumerate(messages):
        role = message.role
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            system.append(_system_text(message, where))
            continue
        if role == "tool":
            if not message.tool_call_id:
                raise ValidationError(
                    "a tool message needs tool_call_id", field=f"{where}.tool_call_id"
                )
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
            if isinstance(message.content, str):
                if message.content:
                    result["content"] = message.content
            elif message.content:
                blocks, used = _encode_parts(message.content, where)
                files |= used
                result["content"] = blocks
            _append(turns, "user", [result])
        elif role == "user":
            content = message.content
            if content is None or content == "" or content == []:
                raise ValidationError("a user message needs content", field=f"{where}.content")
            if isinstance(content, str):
                _append(turns, "user", [{"type": "text", "text": content}])
            else:
                blocks, used = _encode_parts(content, where)
                files |= used
                _append(turns, "user", blocks)
        elif role == "assistant":
            blocks = _thinking_blocks(message, where)
            content = message.content
            if isinstance(content, str):
                if content:
                    blocks.append({"type": "text", "text": content})
            elif content:
                for j, part in enumerate(content):
                    if not isinstance(part, TextPart):
                        raise ValidationError(
                            "assistant messages may only hold text",
                            field=f"{where}.content[{j}]",
                        )
                    if part.text:
                        blocks.append({"type": "text", "text": part.text})
            for j, call in enumerate(message.tool_calls or ()):
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": _arguments(call.arguments, f"{where}.tool_calls[{j}].arguments"),
                    }
                )
            if blocks:
                _append(turns, "assistant", blocks)
        else:  # pragma: no cover - Role is a Literal; msgspec rejects others earlier
            raise ValidationError(f"unknown role {role!r}", field=f"{where}.role")
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and blocks[0].get("type") == "text":
            turn["content"] = blocks[0]["text"]
    sys: str | list[dict[str, Any]] | None = None
    if len(system) == 1:
        sys = system[0]
    elif system:
        sys = [{"type": "text", "text": text} for text in system]
    return sys, turns, files


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Add blocks as a turn, merged into the previous turn when it has the same role.

    In a user turn ``tool_result`` blocks go first, as the API requires.
    """
    if turns and turns[-1]["role"] == role:
        merged: list[dict[str, Any]] = turns[-1]["content"]
        merged.extend(blocks)
    else:
        merged = list(blocks)
        turns.append({"role": role, "content": merged})
    if role == "user" and len(merged) > 1:
        results = [b for b in merged if b.get("type") == "tool_result"]
        if results and len(results) < len(merged):
            merged[:] = results + [b for b in merged if b.get("type") != "tool_result"]


def _system_text(message: Message, where: str) -> str:
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise ValidationError(
                "system messages may only hold text", field=f"{where}.content[{j}]"
            )
    return message.text()


def _thinking_blocks(message: Message, where: str) -> list[dict[str, Any]]:
    """The thinking blocks to send back first in an assistant turn, unchanged.

    Reasoning without a signature (from another provider, say) cannot be
    verified by Anthropic and is not sent.
    """
    signature = message.reasoning_signature
    if not signature:
        return []
    if signature.startswith(_PACKED):
        try:
            packed = _packed_decoder.decode(signature[len(_PACKED) :])
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise ValidationError(
                "not a signature this adapter produced", field=f"{where}.reasoning_signature"
            ) from None
        return [_thinking_dict(block) for block in packed]
    return [{"type": "thinking", "thinking": message.reasoning or "", "signature": signature}]


def _thinking_dict(block: _ThinkingWire) -> dict[str, Any]:
    if block.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data or ""}
    return {
        "type": "thinking",
        "thinking": block.thinking or "",
        "signature": block.signature or "",
    }


def _arguments(arguments: str, field: str) -> Any:
    """A tool call's JSON arguments as the ``input`` object (empty means ``{}``)."""
    if not arguments.strip():
        return {}
    try:
        return _object_decoder.decode(arguments)
    except msgspec.ValidationError:
        raise ValidationError("tool arguments must be a JSON object", field=field) from None
    except msgspec.DecodeError:
        raise ValidationError("tool arguments are not valid JSON", field=field) from None


def _encode_parts(parts: list[Any], where: str) -> tuple[list[dict[str, Any]], bool]:
    """Content parts as Anthropic blocks; also whether a file id (a beta feature) was used."""
    blocks: list[dict[str, Any]] = []
    files = False
    for j, part in enumerate(parts):
        field = f"{where}.content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image(part.url, part.data, part.media_type, field))
        elif isinstance(part, FilePart):
            block, used = _document(part, field)
            files |= used
            blocks.append(block)
        else:
            raise ValidationError("Anthropic does not accept this content", field=field)
    if not blocks:
        raise ValidationError("content is empty", field=f"{where}.content")
    return blocks, files


def _image(
    url: str | None, data: bytes | None, media_type: str | None, field: str
) -> dict[str, Any]:
    if url is not None and data is None:
        inline = split_data_url(url)
        if inline is None:
            if not url.startswith(("http://", "https://")):
                raise ValidationError("image URL must be http(s) or a base64 data URL", field=field)
            return {"type": "image", "source": {"type": "url", "url": url}}
        media_type, data = inline
    if data is None:
        raise ValidationError("image needs a url or data", field=field)
    media_type = media_type or _sniff(data)
    if media_type not in _IMAGE_TYPES:
        raise ValidationError(
            f"Anthropic accepts JPEG, PNG, GIF and WebP images, not {media_type or 'unknown'}",
            field=f"{field}.media_type",
        )
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": b64(data)},
    }


def _document(part: FilePart, field: str) -> tuple[dict[str, Any], bool]:
    media_type = part.media_type
    if part.file_id is not None:
        block: dict[str, Any] = {
            "type": "document",
            "source": {"type": "file", "file_id": part.file_id},
        }
        used = True
    elif part.data is not None:
        media_type = media_type or _sniff(part.data)
        if media_type in _IMAGE_TYPES:
            return _image(None, part.data, media_type, field), False
        if media_type == "application/pdf":
            source = {"type": "base64", "media_type": media_type, "data": b64(part.data)}
        elif media_type is not None and media_type.startswith("text/"):
            try:
                text = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError("text document is not UTF-8", field=field) from None
            source = {"type": "text", "media_type": "text/plain", "data": text}
        else:
            raise ValidationError(
                f"Anthropic documents are PDF or plain text, not {media_type or 'unknown'}",
                field=f"{field}.media_type",
            )
        block = {"type": "document", "source": source}
        used = False
    elif part.url is not None:
        inline = split_data_url(part.url)
        if inline is not None:
            return _document(
                FilePart(data=inline[1], media_type=inline[0], filename=part.filename), field
            )
        block = {"type": "document", "source": {"type": "url", "url": part.url}}
        used = False
    else:
        raise ValidationError("file needs data, url or file_id", field=field)
    if part.filename:
        block["title"] = part.filename
    return block, used


def _sniff(data: bytes) -> str | None:
    """The media type of common image and PDF bytes, from their magic numbers."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    return None


def _encode_tool(tool: Any) -> dict[str, Any]:
    schema = tool.parameters
    if "type" not in schema:
        schema = {"type": "object", **schema}
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["input_schema"] = schema
    if tool.strict is not None:
        out["strict"] = tool.strict
    return out


def _encode_tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    out: dict[str, Any]
    if choice is None:
        out = {"type": "auto"}
    elif choice in ("auto", "any", "none"):
        out = {"type": choice}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict):
        kind = choice.get("type")
        function = choice.get("function")
        if kind == "function" and isinstance(function, dict) and function.get("name"):
            out = {"type": "tool", "name": function["name"]}
        elif (kind == "tool" and choice.get("name")) or kind in ("auto", "any", "none"):
            out = dict(choice)
        else:
            raise ValidationError("unrecognised tool_choice", field="tool_choice")
    else:
        raise ValidationError("unrecognised tool_choice", field="tool_choice")
    if request.parallel_tool_calls is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    elif request.tool_choice is None and request.parallel_tool_calls is None:
        return None  # the API's default (auto) needs no field
    return out


def _tool_safe(name: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[: 64 - len(STRUCTURED_TOOL_PREFIX)]
    return cleaned or "response"


# ---------------------------------------------------------------------------
# Decoding helpers
# ---------------------------------------------------------------------------


def _finish(stop_reason: str | None, has_calls: bool) -> FinishReason | None:
    if stop_reason is None:
        return None
    finish = _FINISH.get(stop_reason, "stop")
    if finish == "tool_calls" and not has_calls:
        return "stop"  # only the structured-output tool was used: that is the answer
    return finish


def _usage(usage: _Usage) -> Usage:
    inp = usage.input_tokens or 0
    read = usage.cache_read_input_tokens or 0
    created = usage.cache_creation_input_tokens or 0
    out = usage.output_tokens or 0
    details = usage.output_tokens_details
    prompt = inp + read + created
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=out,
        total_tokens=prompt + out,
        cached_tokens=read,
        cache_creation_tokens=created,
        reasoning_tokens=(details.thinking_tokens or 0) if details else 0,
    )


def _signature(blocks: list[_ThinkingWire]) -> str | None:
    """One plain signature for one thinking block; the packed blocks otherwise."""
    if not blocks:
        return None
    if len(blocks) == 1 and blocks[0].type == "thinking":
        return blocks[0].signature or None
    return _PACKED + _packed_encoder.encode(blocks).decode()


def _error_kind(
    err_type: str | None, message: str, status: int, headers: Headers
) -> ErrorKind | None:
    kind = _ERROR_KIND.get(err_type or "")
    lowered = message.lower()
    if kind in ("bad_request", None) and looks_like_context_overflow(message):
        return "context_length"
    if kind in ("bad_request", "rate_limit") and any(m in lowered for m in _QUOTA_MARKERS):
        return "quota"
    if (
        kind == "rate_limit"
        and retry_after(headers) is None
        and header(headers, b"x-should-retry") != "true"
    ):
        return "quota"  # the monthly spend cap: a 429 with no retry-after
    if kind is None and status == 413:
        return "bad_request"
    return kind


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


class _BlockState:
    __slots__ = ("got_json", "kind", "ordinal", "parts", "raw_input", "signature")

    def __init__(self, kind: str, ordinal: int = -1) -> None:
        self.kind = kind  # text, tool, structured, thinking, redacted, other
        self.ordinal = ordinal
        self.parts: list[str] = []
        self.signature = ""
        self.raw_input = b""
        self.got_json = False


class _StreamDecoder:
    """Anthropic SSE events in, ``StreamChunk``s out; ``message_stop`` ends it."""

    def __init__(self, provider: str, parser: SSEParser | None = None) -> None:
        self._provider = provider
        self._parser = parser or SSEParser()
        self._done = False
        self._blocks: dict[int, _BlockState] = {}
        self._tools = 0
        self._thinking: list[_ThinkingWire] = []
        self._usage = _Usage()

    @property
    def done(self) -> bool:
        """True once ``message_stop`` was seen."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Feed body bytes; return the chunks they complete."""
        chunks: list[StreamChunk] = []
        for name, payload in self._parser.feed_raw(data):
            if self._done or name not in _EVENT_NAMES:
                continue  # after the terminator, or an event type added later
            try:
                event = _event_decoder.decode(payload)
            except msgspec.ValidationError as exc:
                if name == "message":
                    try:
                        if _type_decoder.decode(payload).type not in _EVENT_NAMES:
                            continue
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        pass
                raise self._malformed(name, exc) from None
            except msgspec.DecodeError as exc:
                raise self._malformed(name, exc) from None
            chunk = self._event(event)
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def flush(self) -> list[StreamChunk]:
        """Nothing completes at end of body: an SSE event needs its blank line."""
        return []

    def end(self) -> bool:
        """End of body: True iff ``message_stop`` was seen."""
        self._parser.end()
        return self._done

    def _malformed(self, name: str, exc: Exception) -> StreamError:
        return StreamError(f"malformed Anthropic {name} event: {exc}", provider=self._provider)

    def _event(self, event: _Event) -> StreamChunk | None:
        if isinstance(event, _BlockDelta):
            return self._delta(event)
        if isinstance(event, _BlockStart):
            return self._start(event)
        if isinstance(event, _BlockStop):
            return self._stop(event.index)
        if isinstance(event, _MessageStart):
            message = event.message
            if message.usage is not None:
                self._usage = message.usage
            return StreamChunk(id=message.id, model=message.model, usage=_usage(self._usage))
        if isinstance(event, _MessageDelta):
            return self._message_delta(event)
        if isinstance(event, _MessageStop):
            self._done = True
            return None
        if isinstance(event, _ErrorEvent):
            raise self._error(event)
        return None  # ping

    def _start(self, event: _BlockStart) -> StreamChunk | None:
        block = event.content_block
        kind = block.type
        if kind == "text":
            self._blocks[event.index] = _BlockState("text")
            return StreamChunk(delta=block.text) if block.text else None
        if kind == "tool_use":
            name = block.name or ""
            if name.startswith(STRUCTURED_TOOL_PREFIX):
                state = _BlockState("structured")
                state.raw_input = bytes(block.input)
                self._blocks[event.index] = state
                return None
            state = _BlockState("tool", self._tools)
            state.raw_input = bytes(block.input)
            self._tools += 1
            self._blocks[event.index] = state
            delta = ToolCallDelta(index=state.ordinal, id=block.id, name=name)
            return StreamChunk(tool_calls=[delta])
        if kind == "thinking":
            state = _BlockState("thinking")
            self._blocks[event.index] = state
            if block.thinking:
                state.parts.append(block.thinking)
                return StreamChunk(reasoning=block.thinking)
            return None
        if kind == "redacted_thinking":
            state = _BlockState("redacted")
            state.signature = block.data or ""
            self._blocks[event.index] = state
            return None
        self._blocks[event.index] = _BlockState("other")
        return None

    def _delta(self, event: _BlockDelta) -> StreamChunk | None:
        delta = event.delta
        kind = delta.type
        state = self._blocks.get(event.index)
        if kind == "text_delta":
            if state is not None and state.kind == "other":
                return None
            return StreamChunk(delta=delta.text) if delta.text else None
        if kind == "input_json_delta":
            if state is None or not delta.partial_json:
                return None
            state.got_json = True
            if state.kind == "tool":
                fragment = ToolCallDelta(index=state.ordinal, arguments=delta.partial_json)
                return StreamChunk(tool_calls=[fragment])
            if state.kind == "structured":
                return StreamChunk(delta=delta.partial_json)
            return None
        if kind == "thinking_delta":
            if not delta.thinking:
                return None
            if state is not None:
                state.parts.append(delta.thinking)
            return StreamChunk(reasoning=delta.thinking)
        if kind == "signature_delta":
            if state is None or not delta.signature:
                return None
            state.signature = delta.signature
            if state.kind == "thinking" and not self._thinking:
                return StreamChunk(reasoning_signature=delta.signature)
        return None  # citations_delta and types added later

    def _stop(self, index: int) -> StreamChunk | None:
        state = self._blocks.get(index)
        if state is None:
            return None
        if state.kind in ("tool", "structured") and not state.got_json:
            raw = state.raw_input
            if raw and raw.strip() != b"{}":  # the whole input came with the start event
                state.got_json = True
                arguments = raw.decode("utf-8", "replace")
                if state.kind == "structured":
                    return StreamChunk(delta=arguments)
                return StreamChunk(
                    tool_calls=[ToolCallDelta(index=state.ordinal, arguments=arguments)]
                )
            if state.kind == "structured":
                return StreamChunk(delta="{}")
            return None
        if state.kind == "thinking":
            self._thinking.append(
                _ThinkingWire("thinking", thinking="".join(state.parts), signature=state.signature)
            )
        elif state.kind == "redacted":
            self._thinking.append(_ThinkingWire("redacted_thinking", data=state.signature))
        else:
            return None
        state.parts = []
        if len(self._thinking) > 1 or state.kind == "redacted":
            return StreamChunk(reasoning_signature=_signature(self._thinking))
        return None

    def _message_delta(self, event: _MessageDelta) -> StreamChunk:
        usage = event.usage
        if usage is not None:
            current = self._usage
            self._usage = _Usage(
                input_tokens=_pick(usage.input_tokens, current.input_tokens),
                output_tokens=_pick(usage.output_tokens, current.output_tokens),
                cache_creation_input_tokens=_pick(
                    usage.cache_creation_input_tokens, current.cache_creation_input_tokens
                ),
                cache_read_input_tokens=_pick(
                    usage.cache_read_input_tokens, current.cache_read_input_tokens
                ),
                output_tokens_details=usage.output_tokens_details or current.output_tokens_details,
            )
        raw = event.delta.stop_reason
        details = event.delta.stop_details
        refusal = (details.explanation or details.category or "") if details else ""
        return StreamChunk(
            finish_reason=_finish(raw, self._tools > 0),
            raw_finish_reason=raw,
            usage=_usage(self._usage),
            refusal=refusal,
        )

    def _error(self, event: _ErrorEvent) -> AdapterError:
        info = event.error or _ErrorInfo()
        message = info.message or "error event in stream"
        kind = _ERROR_KIND.get(info.type or "", "server")
        if kind in ("bad_request", "server") and looks_like_context_overflow(message):
            kind = "context_length"
        if kind == "rate_limit" and any(m in message.lower() for m in _QUOTA_MARKERS):
            kind = "quota"
        error = classify(
            provider=self._provider,
            status=None,
            headers=(),
            message=message,
            body=msgspec.json.encode(event),
            kind=kind,
            code=info.type,
        )
        error.request_id = event.request_id
        return error


def _pick(new: int | None, old: int | None) -> int | None:
    return new if new is not None else old
