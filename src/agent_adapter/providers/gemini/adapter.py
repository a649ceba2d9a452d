"""``GeminiAdapter``: the Gemini Developer API (``generateContent``, SSE, embeddings, counts).

The adapter holds the configuration (API version, ``json_schema``) and joins
the package's parts: ``encode`` builds the requests, ``wire`` reads the
replies, ``errors`` classifies failures and ``stream`` decodes a streamed
reply.
"""

from __future__ import annotations

import msgspec

from ...errors import AdapterError, StreamError, ValidationError
from ...types import ChatRequest, ChatResponse, EmbedRequest, EmbedResponse
from ..base import Adapter, Capabilities, Headers, HttpRequest, decode_json
from .encode import count_body, embed_body, request_body, resource_name
from .errors import blocked, classify_error, error_object
from .stream import MAX_EVENT_BYTES, GeminiStreamDecoder
from .wire import (
    COUNT_DECODER,
    EMBED_DECODER,
    RESPONSE_DECODER,
    Parts,
    first_candidate,
    to_finish,
    to_usage,
)

__all__ = ["GeminiAdapter"]


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
        resource = resource_name(request.model)
        body = request_body(
            request, version=self._version, native=bool(self.options.get("json_schema"))
        )
        if request.stream:
            path = f"/{self._version}/{resource}:streamGenerateContent?alt=sse"
        else:
            path = f"/{self._version}/{resource}:generateContent"
        return self.request("POST", path, body)

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A complete ``GenerateContentResponse``: parts → content, reasoning, tool calls."""
        try:
            resp = RESPONSE_DECODER.decode(body)
        except msgspec.DecodeError as exc:
            raise self.malformed(
                status, body, f"malformed Gemini response: {exc}", headers
            ) from None
        if resp.error is not None:
            raise classify_error(
                self.name, status if status >= 400 else None, headers, body,
                msgspec.to_builtins(resp.error),
            )  # fmt: skip
        cand = first_candidate(resp.candidates)
        if cand is None:
            if resp.prompt_feedback is not None and resp.prompt_feedback.block_reason:
                raise blocked(self.name, resp.prompt_feedback, body)
            raise self.malformed(status, body, "Gemini returned no candidates", headers)
        parts = Parts()
        if cand.content is not None and cand.content.parts:
            try:
                parts.read(cand.content.parts, resp.response_id, 0, self.name)
            except StreamError as exc:
                raise self.malformed(status, body, exc.message, headers) from None
        raw = cand.finish_reason
        return ChatResponse(
            content="".join(parts.text),
            tool_calls=parts.calls,
            finish_reason=to_finish(raw, bool(parts.calls)) if raw else None,
            raw_finish_reason=raw,
            usage=to_usage(resp.usage_metadata) if resp.usage_metadata is not None else None,
            reasoning="".join(parts.reasoning) or None,
            reasoning_signature=parts.signature,
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
        return classify_error(self.name, status, headers, body, error_object(decode_json(body)))

    # -- token counting ---------------------------------------------------

    def encode_count(self, request: ChatRequest) -> HttpRequest:
        """``POST /{version}/models/{model}:countTokens`` around the ``generateContent`` body."""
        self.check(request)
        resource = resource_name(request.model)
        body = count_body(
            request, version=self._version, native=bool(self.options.get("json_schema"))
        )
        return self.request("POST", f"/{self._version}/{resource}:countTokens", body)

    def decode_count(self, status: int, headers: Headers, body: bytes) -> int:
        """``totalTokens`` of a ``countTokens`` reply."""
        try:
            return COUNT_DECODER.decode(body).total_tokens
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self.malformed(
                status, body, f"malformed Gemini token count: {exc}", headers
            ) from None

    # -- embeddings -------------------------------------------------------

    def encode_embed(self, request: EmbedRequest) -> HttpRequest:
        """``batchEmbedContents``: one request per input; ``extra`` is merged into each."""
        resource = resource_name(request.model)
        body = embed_body(request, resource)
        return self.request("POST", f"/{self._version}/{resource}:batchEmbedContents", body)

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """The vectors in input order; Gemini reports no token usage for embeddings."""
        try:
            resp = EMBED_DECODER.decode(body)
        except msgspec.DecodeError as exc:
            raise self.malformed(
                status, body, f"malformed Gemini embeddings response: {exc}", headers
            ) from None
        if resp.error is not None:
            raise classify_error(self.name, None, headers, body, msgspec.to_builtins(resp.error))
        if resp.embeddings is None:
            raise self.malformed(
                status, body, "Gemini embeddings response has no 'embeddings'", headers
            )
        return EmbedResponse(
            vectors=[e.values for e in resp.embeddings], usage=None, provider=self.name
        )
