"""The OpenAI Responses API (``POST /responses``), for OpenAI and Azure.

Sans-IO, one module per job, as the Chat Completions package beside it:

* ``wire``: the request, reply and stream-event Structs and their decoders;
* ``encode``: a ``ChatRequest`` as the request body;
* ``errors``: a failed response or an ``error`` event as the right ``AdapterError``;
* ``stream``: ``ResponsesStreamDecoder``, the typed-event SSE decoder;
* ``adapter``: ``OpenAIResponsesAdapter``, which joins them.
"""

from __future__ import annotations

from .adapter import OpenAIResponsesAdapter
from .stream import ResponsesStreamDecoder

__all__ = ["OpenAIResponsesAdapter", "ResponsesStreamDecoder"]
