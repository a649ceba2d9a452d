"""Google Gemini Developer API (``generativelanguage.googleapis.com``), sans-IO.

Requests go to ``/v1beta/models/{model}:generateContent`` (or
``:streamGenerateContent?alt=sse``) with the key in ``x-goog-api-key``.
Differences from OpenAI's shape that this package absorbs:

* roles are ``user``/``model``; system messages become ``systemInstruction``;
  tool results are ``functionResponse`` parts in a ``user`` turn, matched by
  function *name* (looked up from the conversation by ``tool_call_id``);
* tool calls carry no id on this API: ids are generated, stable and
  deterministic (``gcall_<responseId>_<n>``, or a digest of the call when the
  response has no id), and never sent back; ids the server did send are kept
  and echoed;
* the thought signature of a model turn rides on its first ``functionCall``
  part (else its last text part) and is sent back there; for Gemini 3 models
  a tool-calling turn without one gets Google's documented
  ``skip_thought_signature_validator`` placeholder;
* tool and response schemas are converted to Gemini's OpenAPI subset
  (``schema``); with ``options={"json_schema": True}`` they are sent
  unchanged as ``parametersJsonSchema``/``responseJsonSchema`` instead;
* caching: implicit caching is automatic, so ``cache`` markers and
  ``prompt_cache_key`` are ignored; an explicit cache is used by its name,
  ``extra_body={"cachedContent": "cachedContents/..."}``, and should hold
  the system instruction and tools itself
  (https://ai.google.dev/gemini-api/docs/caching); its tokens come back as
  ``usage.cached_tokens`` (``cachedContentTokenCount``);
* a stream is SSE whose events are whole ``GenerateContentResponse``s with
  only the new parts; it ends after the chunk that carries ``finishReason``.

One module per job: ``wire`` (Structs and decoders), ``schema`` (JSON Schema
to Gemini's subset), ``encode`` (the request bodies), ``errors`` (error
bodies to ``AdapterError``), ``stream`` (``GeminiStreamDecoder``) and
``adapter`` (``GeminiAdapter``, which joins them).
"""

from __future__ import annotations

from .adapter import GeminiAdapter
from .encode import SKIP_SIGNATURE
from .stream import GeminiStreamDecoder

__all__ = ["SKIP_SIGNATURE", "GeminiAdapter", "GeminiStreamDecoder"]
