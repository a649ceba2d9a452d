"""Fuzz the Ollama native stream decoder: NDJSON bytes, split anywhere, never a foreign exception.

Only ``AdapterError`` subclasses (``StreamError`` for malformed input, the
classified error for an ``{"error": "..."}`` line) may escape. Input layout and
checks (whole body, cut at seeded points, one byte at a time: same outcome):
``_harness.stream_harness``.

Run: ``python fuzz/ollama_stream_fuzz.py fuzz/corpus/ollama_stream`` (needs atheris).
"""

from __future__ import annotations

from _harness import main, stream_harness

from agent_adapter.providers.ollama import OllamaAdapter
from agent_adapter.types import ChatRequest

_ADAPTER = OllamaAdapter(name="ollama", base_url="http://localhost:11434")
_REQUEST = ChatRequest(model="qwen3:8b", messages=[], stream=True)

TestOneInput = stream_harness(lambda: _ADAPTER.stream_decoder(_REQUEST))

if __name__ == "__main__":
    main(TestOneInput)
