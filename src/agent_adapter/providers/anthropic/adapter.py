"""``AnthropicAdapter``: Claude through the Messages API (``POST /v1/messages``, ``count_tokens``).

The adapter holds the configuration (auth scheme, thinking and structured
output options) and joins the package's parts: ``encode`` builds the request,
``wire`` reads the reply, ``errors`` classifies failures and ``stream``
decodes a streamed reply.
"""

from __future__ import annotations

import msgspec

from ...errors import AdapterError, ValidationError
from ...types import ChatRequest, ChatResponse, ReasoningItem, ToolCall
from ..base import Adapter, Capabilities, Headers, HttpRequest
from .encode import ThinkingStyle, count_body, finish_headers, request_body, thinking_style
from .errors import error_response
from .stream import AnthropicStreamDecoder
from .wire import (
    COUNT_DECODER,
    MESSAGE_DECODER,
    STRUCTURED_TOOL_PREFIX,
    first_signature,
    redacted_item,
    thinking_item,
    to_finish,
    to_usage,
)

__all__ = ["AnthropicAdapter"]


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
    list_headers = frozenset({b"anthropic-beta"})  # a per-call beta adds to the files beta
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
        body, files_beta = request_body(request, self.options)
        http = self.request("POST", "/v1/messages", body)
        finish_headers(http.headers, stream=request.stream, files_beta=files_beta)
        return http

    def encode_count(self, request: ChatRequest) -> HttpRequest:
        """``POST /v1/messages/count_tokens`` with the prompt fields ``encode`` would send."""
        self.check(request)
        body, files_beta = count_body(request, self.options)
        http = self.request("POST", "/v1/messages/count_tokens", body)
        finish_headers(http.headers, stream=False, files_beta=files_beta)
        return http

    def decode_count(self, status: int, headers: Headers, body: bytes) -> int:
        """``input_tokens`` of a ``count_tokens`` reply."""
        try:
            return COUNT_DECODER.decode(body).input_tokens
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self.malformed(
                status, body, f"malformed Anthropic token count: {exc}", headers
            ) from None

    def thinking_style(self, model: str) -> ThinkingStyle:
        """How ``model`` takes thinking: a budget, adaptive, or adaptive only.

        Claude 4.6 accepts both; 4.7 and later reject budgets; 4.5 and earlier
        know only budgets. A name we cannot date counts as new.
        """
        return thinking_style(model, self.options.get("thinking"))

    # -- responses ----------------------------------------------------------------

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A complete Messages response, normalised."""
        try:
            message = MESSAGE_DECODER.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self.malformed(
                status, body, f"malformed Anthropic response: {exc}", headers
            ) from None
        if message.type == "error" or message.error is not None:
            raise self.error(status, headers, body)
        text: list[str] = []
        reasoning: list[str] = []
        items: list[ReasoningItem] = []
        calls: list[ToolCall] = []
        for position, block in enumerate(message.content):
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
                items.append(thinking_item(position, block.thinking or "", block.signature))
            elif kind == "redacted_thinking":
                items.append(redacted_item(position, block.data or ""))
        finish = to_finish(message.stop_reason, bool(calls))
        details = message.stop_details
        return ChatResponse(
            content="".join(text),
            tool_calls=calls,
            finish_reason=finish,
            raw_finish_reason=message.stop_reason,
            usage=to_usage(message.usage) if message.usage else None,
            reasoning="".join(reasoning) or None,
            reasoning_signature=first_signature(items),
            reasoning_items=items or None,
            refusal=(details.explanation or details.category) if details else None,
            id=message.id,
            model=message.model,
            provider=self.name,
        )

    def stream_decoder(self, request: ChatRequest) -> AnthropicStreamDecoder:
        """A fresh decoder for one ``stream: true`` response body."""
        return AnthropicStreamDecoder(self.name, self.sse_parser())

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """The error for a non-2xx response: ``{"type":"error","error":{"type","message"}}``."""
        return error_response(self.name, status, headers, body)
