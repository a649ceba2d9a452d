"""Fuzz the OpenAI Chat Completions stream decoder: any body, split anywhere, only our errors.

Only ``AdapterError`` subclasses (``StreamError`` for malformed chunks, the
classified error for an in-stream ``error``) may escape. Input layout and
checks (whole body, cut at seeded points, one byte at a time: same outcome):
``_harness.stream_harness``.

Run: ``python fuzz/openai_stream_fuzz.py fuzz/corpus/openai_stream`` (needs atheris).
"""

from __future__ import annotations

from _harness import main, stream_harness

from agent_adapter.providers.openai import OpenAIAdapter
from agent_adapter.types import ChatRequest, Message

_ADAPTER = OpenAIAdapter(name="openai", base_url="https://api.openai.com/v1")
_REQUEST = ChatRequest(model="gpt-4o", messages=[Message(role="user", content="hi")], stream=True)

TestOneInput = stream_harness(lambda: _ADAPTER.stream_decoder(_REQUEST))

if __name__ == "__main__":
    main(TestOneInput)
