"""``OpenAIAdapter``: Chat Completions and embeddings for OpenAI and every compatible preset.

The adapter holds the configuration (preset quirks, Azure's deployment and
``api-version``, OpenAI's organization and project headers) and joins the
package's parts: ``encode`` builds the bodies, ``wire`` decodes the replies,
``errors`` classifies failures and ``stream`` decodes a streamed reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ...errors import AdapterError, ValidationError
from ...types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    FilePart,
    ImagePart,
)
from ..base import Adapter, Headers, HttpRequest
from .encode import chat_body, embed_body
from .errors import ErrorFacts, error_response, inband_error
from .presets import Quirks, quirks_for
from .stream import OpenAIStreamDecoder
from .wire import (
    COMPLETION_DECODER,
    DECODE_ERRORS,
    EMBEDDINGS_DECODER,
    FINISH_REASONS,
    chat_response,
    embed_response,
)

__all__ = ["DEFAULT_AZURE_API_VERSION", "OpenAIAdapter"]

#: Azure OpenAI data-plane inference GA version used when none is configured
#: (learn.microsoft.com "Azure OpenAI REST API reference": latest GA 2024-10-21).
DEFAULT_AZURE_API_VERSION = "2024-10-21"

_OPTION_HEADERS = (("organization", b"openai-organization"), ("project", b"openai-project"))


class OpenAIAdapter(Adapter):
    """Chat Completions and embeddings for OpenAI and every compatible preset.

    ``name`` selects the preset's quirks (``presets.QUIRKS``); options
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
        body = chat_body(request, self.quirks)
        return self.request("POST", self._path("/chat/completions", request.model), body)

    # -- responses -------------------------------------------------------------------

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A complete ``chat.completion`` (leading blank lines, as DeepSeek sends, are fine)."""
        try:
            resp = COMPLETION_DECODER.decode(body)
        except DECODE_ERRORS as exc:
            raise self.malformed(
                status, body, f"response is not a chat completion: {exc}", headers
            ) from None
        if resp.error:
            raise inband_error(self.name, ErrorFacts.of(resp.error), headers, body)
        response = chat_response(resp, self.name, FINISH_REASONS)
        if response is None:
            raise self.malformed(status, body, "response has no choices", headers)
        return response

    def stream_decoder(self, request: ChatRequest) -> OpenAIStreamDecoder:
        """A fresh decoder for one streamed response."""
        return OpenAIStreamDecoder(self.name, parser=self.sse_parser())

    def error(self, status: int, headers: Headers, body: bytes) -> AdapterError:
        """Classify an error response: body markers first, then the status."""
        return error_response(self.name, status, headers, body)

    # -- embeddings ------------------------------------------------------------------

    def encode_embed(self, request: EmbedRequest) -> HttpRequest:
        """``POST {base}/embeddings`` asking for float vectors."""
        if not self.capabilities.embeddings:
            return super().encode_embed(request)
        body = embed_body(request, self.quirks)
        return self.request("POST", self._path("/embeddings", request.model), body)

    def decode_embed(self, status: int, headers: Headers, body: bytes) -> EmbedResponse:
        """Vectors in input order (by ``index``); base64 vectors are unpacked too."""
        try:
            resp = EMBEDDINGS_DECODER.decode(body)
        except DECODE_ERRORS as exc:
            raise self.malformed(
                status, body, f"response is not an embeddings list: {exc}", headers
            ) from None
        return embed_response(resp, self.name)
