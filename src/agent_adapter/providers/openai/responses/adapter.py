"""``OpenAIResponsesAdapter``: the Responses API (``POST /responses``) for OpenAI and Azure.

Chosen with ``api="responses"`` (``Client("openai", api="responses")``, or per
call). It is the Chat Completions adapter with another body, reply and stream:
configuration, authentication, HTTP error bodies (the Responses API answers
errors in the same shape) and embeddings are inherited.

Azure serves the Responses API on its v1 route, ``{resource}/openai/v1/responses``
with the deployment name as ``model`` and no ``api-version``
(https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle,
https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses); every
Azure base URL form the Chat Completions adapter takes leads there, and the
``deployment`` option (or a deployment in the base URL) names the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from ....errors import ValidationError
from ....types import ChatRequest, ChatResponse, ImagePart
from ...base import Adapter, Capabilities, Headers, HttpRequest
from ..adapter import OpenAIAdapter
from .encode import responses_body
from .errors import failure
from .stream import ResponsesStreamDecoder
from .wire import DECODE_ERRORS, RESPONSE_DECODER, chat_response

__all__ = ["OpenAIResponsesAdapter"]

#: Bounds for one SSE line / event: the terminal event repeats the whole response
#: (output, instructions, tools) on one ``data:`` line.
MAX_EVENT_BYTES = 32 << 20

#: Request fields the Responses API has no parameter for.
_UNSUPPORTED = ("stop", "seed", "presence_penalty", "frequency_penalty", "top_k")

# Input parts are text, images and files (no audio); embeddings stay on /embeddings.
_CAPABILITIES = Capabilities(audio=False, files=True, embeddings=True)


class OpenAIResponsesAdapter(OpenAIAdapter):
    """The Responses API for OpenAI and Azure (see the module docstring)."""

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
        self.capabilities = _CAPABILITIES
        base = self.base_url
        if not self.quirks.azure or self._azure_plain:
            self._url = base + "/responses"
        else:
            if self._azure_fixed:
                base, _, rest = base.partition("/openai/deployments/")
                self._deployment = self._deployment or unquote(rest.split("/")[0])
            self._url = base.removesuffix("/openai") + "/openai/v1/responses"

    def check(self, request: ChatRequest) -> None:
        """Capabilities, then the fields and parts the Responses API does not take."""
        Adapter.check(self, request)
        for field in _UNSUPPORTED:
            if getattr(request, field) is not None:
                raise ValidationError(f"the Responses API does not accept {field}", field=field)
        reasoning = request.reasoning
        if isinstance(reasoning, dict) and reasoning.get("effort") is None:
            raise ValidationError(
                f"{self.name} takes a reasoning effort ('low', 'medium', 'high'), "
                "not a token budget",
                field="reasoning",
            )
        for i, message in enumerate(request.messages):
            for j, part in enumerate(message.content if isinstance(message.content, list) else ()):
                if isinstance(part, ImagePart) and part.data is None and not part.url:
                    raise ValidationError(
                        "an image needs a url or data", field=f"messages[{i}].content[{j}]"
                    )

    def encode(self, request: ChatRequest) -> HttpRequest:
        """``POST .../responses`` with only the fields the caller set."""
        self.check(request)
        model = (self._deployment or request.model) if self.quirks.azure else request.model
        http = self.request("POST", "", responses_body(request, model))
        return dataclasses.replace(http, url=self._url)

    def decode(self, status: int, headers: Headers, body: bytes) -> ChatResponse:
        """A complete ``response`` object; a failed one raises its classified error."""
        try:
            resp = RESPONSE_DECODER.decode(body)
            error = resp.error
            if resp.status == "failed" or (error is not None and (error.code or error.message)):
                raise failure(
                    self.name, error, body, fallback="the response failed", headers=headers
                )
            if resp.output is None:
                raise self.malformed(status, body, "response has no output", headers)
            return chat_response(resp, self.name)
        except DECODE_ERRORS as exc:
            raise self.malformed(
                status, body, f"response is not a Responses object: {exc}", headers
            ) from None

    def stream_decoder(self, request: ChatRequest) -> ResponsesStreamDecoder:  # type: ignore[override]
        """A fresh decoder for one streamed response."""
        parser = self.sse_parser(max_line_bytes=MAX_EVENT_BYTES, max_event_bytes=MAX_EVENT_BYTES)
        return ResponsesStreamDecoder(self.name, parser=parser)
