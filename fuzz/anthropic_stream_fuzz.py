"""Fuzz the Anthropic stream decoder: any bytes, split anywhere, fail only with our errors.

Only ``AdapterError`` subclasses (``StreamError`` for malformed events, the
classified error for an ``error`` event) may escape. Input layout and
checks (whole body, cut at seeded points, one byte at a time: same outcome):
``_harness.stream_harness``.

Run: ``python fuzz/anthropic_stream_fuzz.py fuzz/corpus/anthropic_stream`` (needs atheris).
"""

from __future__ import annotations

from _harness import main, stream_harness

from agent_adapter.providers.anthropic import AnthropicAdapter
from agent_adapter.types import ChatRequest, Message

_ADAPTER = AnthropicAdapter(name="anthropic", base_url="https://api.anthropic.com")
_REQUEST = ChatRequest(
    model="claude-sonnet-4-5", messages=[Message(role="user", content="hi")], stream=True
)

TestOneInput = stream_harness(lambda: _ADAPTER.stream_decoder(_REQUEST))

if __name__ == "__main__":
    main(TestOneInput)
