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
* thought signatures go back on the part they came on
  (https://ai.google.dev/gemini-api/docs/thought-signatures): a
  ``functionCall`` part's is that call's ``ToolCall.signature`` (parallel
  calls: only the first has one), any other part's (the last text part, in a
  turn without calls) is the turn's ``reasoning_signature``. A turn whose
  calls carry none (a history from before per-call signatures) sends
  ``reasoning_signature`` on its first call, and for Gemini 3 models a
  tool-calling turn without one gets Google's documented
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
