"""OpenAI Chat Completions, and every service that speaks it (see ``presets``).

Sans-IO, one module per job:

* ``wire``: the request and response Structs and their decoders, built once
  at import; shared with Zhipu, whose API has the same shape;
* ``encode``: a ``ChatRequest`` / ``EmbedRequest`` as the preset's JSON body;
* ``errors``: error bodies (HTTP, in a 200 body, in a stream) to the right
  ``AdapterError``;
* ``stream``: ``OpenAIStreamDecoder``, the ``chat.completion.chunk`` SSE decoder;
* ``presets``: how each compatible service differs (one ``Quirks`` record each);
* ``adapter``: ``OpenAIAdapter``, which joins them;
* ``responses/``: the Responses API (``POST /responses``), its own adapter,
  chosen with ``api="responses"``.

Prompt caching is automatic on these services, so ``cache`` markers are not
sent; ``prompt_cache_key`` goes to the presets that read it (OpenAI, Azure,
Mistral; https://platform.openai.com/docs/guides/prompt-caching) and is
dropped elsewhere, being only a routing hint. Cached prompt tokens are read
from ``prompt_tokens_details.cached_tokens`` (DeepSeek:
``prompt_cache_hit_tokens``; Moonshot: ``cached_tokens``).

Chat Completions has no error flag on a ``tool`` message: one with
``is_error`` is sent with its content unchanged (say what failed in it), as
Zhipu's and Ollama's adapters do too.
"""

from __future__ import annotations

from .adapter import DEFAULT_AZURE_API_VERSION, OpenAIAdapter
from .stream import OpenAIStreamDecoder

__all__ = ["DEFAULT_AZURE_API_VERSION", "OpenAIAdapter", "OpenAIStreamDecoder"]
