"""Anthropic Messages API (``POST /v1/messages``): encoder, decoders, error mapping.

Sans-IO, one module per job: ``wire`` (response and stream-event Structs,
their decoders), ``encode`` (our history as Anthropic's), ``errors`` (error
bodies and events to the right ``AdapterError``), ``stream``
(``AnthropicStreamDecoder``) and ``adapter`` (``AnthropicAdapter``, which
joins them).

The API: https://docs.anthropic.com/en/api/messages (request and reply),
https://docs.anthropic.com/en/api/messages-streaming (stream events) and
https://docs.anthropic.com/en/api/errors (error types).

Decisions worth knowing:

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
* Every ``thinking`` block (text and signature) and ``redacted_thinking``
  block (opaque data) becomes a ``ReasoningItem`` whose ``index`` is its
  position in the turn, streamed or not; the encoder puts each back unchanged
  in that position, among the text and ``tool_use`` blocks, as extended
  thinking with tool use requires
  (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
  ``reasoning`` is their text joined and ``reasoning_signature`` the first
  signature, for reading. Histories from older versions, whose signature held
  the blocks packed (``anthropic-thinking-blocks:[...]``), are still read.
* Prompt caching is explicit: a ``cache`` marker on a tool, a system
  message, a message (its last block that is not thinking) or a content part
  becomes that block's ``cache_control`` (``ttl`` ``5m`` or ``1h``), at most
  four per request; a fifth is a ``ValidationError`` naming it
  (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching).
  ``prompt_cache_key`` has no Anthropic equivalent and is not sent.
* A tool message with ``is_error`` becomes ``tool_result.is_error: true``
  (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use).
* A 429 without ``retry-after`` is the tier's monthly spend cap, which
  waiting will not lift: a non-retryable ``RateLimitError`` (unless the
  server says ``x-should-retry: true``).
* ``seed``, ``presence_penalty`` and ``frequency_penalty`` have no
  Anthropic equivalent and are not sent.
"""

from __future__ import annotations

from .adapter import AnthropicAdapter
from .encode import DEFAULT_MAX_TOKENS
from .stream import AnthropicStreamDecoder
from .wire import STRUCTURED_TOOL_PREFIX

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "STRUCTURED_TOOL_PREFIX",
    "AnthropicAdapter",
    "AnthropicStreamDecoder",
]
