"""Fuzz the Gemini ``alt=sse`` stream decoder: any body, cut anywhere, only our errors escape.

Only ``AdapterError`` subclasses (``StreamError`` for malformed chunks, the
classified error for a ``{"error": ...}`` event or a blocked prompt) may escape. Input layout and
checks (whole body, cut at seeded points, one byte at a time: same outcome):
``_harness.stream_harness``.

Run: ``python fuzz/gemini_stream_fuzz.py fuzz/corpus/gemini_stream`` (needs atheris).
"""

from __future__ import annotations

from _harness import main, stream_harness

from agent_adapter.providers.gemini import GeminiAdapter
from agent_adapter.types import ChatRequest, Message

_ADAPTER = GeminiAdapter(name="gemini", base_url="https://generativelanguage.googleapis.com")
_REQUEST = ChatRequest(
    model="gemini-2.5-flash", messages=[Message(role="user", content="hi")], stream=True
)

TestOneInput = stream_harness(lambda: _ADAPTER.stream_decoder(_REQUEST))

if __name__ == "__main__":
    main(TestOneInput)
