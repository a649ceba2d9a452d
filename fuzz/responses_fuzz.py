"""Fuzz the OpenAI Responses stream decoder: any body, split anywhere, only our errors.

Only ``AdapterError`` subclasses (``StreamError`` for a malformed event, the
classified error for ``response.failed`` or an ``error`` event) may escape.
Input layout and checks (whole body, cut at seeded points, one byte at a
time: same outcome): ``_harness.stream_harness``.

Run: ``python fuzz/responses_fuzz.py fuzz/corpus/responses`` (needs atheris).
"""

from __future__ import annotations

from _harness import main, stream_harness

from agent_adapter.providers.openai.responses import OpenAIResponsesAdapter
from agent_adapter.types import ChatRequest, Message

_ADAPTER = OpenAIResponsesAdapter(name="openai", base_url="https://api.openai.com/v1")
_REQUEST = ChatRequest(model="gpt-5", messages=[Message(role="user", content="hi")], stream=True)

TestOneInput = stream_harness(lambda: _ADAPTER.stream_decoder(_REQUEST))

if __name__ == "__main__":
    main(TestOneInput)
