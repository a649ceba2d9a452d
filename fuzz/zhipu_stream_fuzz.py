"""Fuzz the Zhipu GLM stream decoder: SSE bytes, split anywhere, never a foreign exception.

Only ``AdapterError`` subclasses (``StreamError`` for malformed input, the
classified error for an in-stream ``{"error": ...}``) may escape. Input layout and
checks (whole body, cut at seeded points, one byte at a time: same outcome):
``_harness.stream_harness``.

Run: ``python fuzz/zhipu_stream_fuzz.py fuzz/corpus/zhipu_stream`` (needs atheris).
"""

from __future__ import annotations

from _harness import main, stream_harness

from agent_adapter.providers.zhipu import ZhipuAdapter
from agent_adapter.types import ChatRequest

_ADAPTER = ZhipuAdapter(name="zhipu", base_url="https://open.bigmodel.cn/api/paas/v4")
_REQUEST = ChatRequest(model="glm-4.6", messages=[], stream=True)

TestOneInput = stream_harness(lambda: _ADAPTER.stream_decoder(_REQUEST))

if __name__ == "__main__":
    main(TestOneInput)
