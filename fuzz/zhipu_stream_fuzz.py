"""Fuzz the Zhipu GLM stream decoder: SSE bytes, split anywhere, never a foreign exception.

Input layout: the first byte seeds where the rest (the body) is cut into reads.
Only ``AdapterError`` subclasses (``StreamError`` for malformed input, the
classified error for an in-stream ``{"error": ...}``) may escape, and the
outcome must not depend on how the body was split.

Run: ``python fuzz/zhipu_stream_fuzz.py fuzz/corpus/zhipu_stream`` (needs atheris).
"""

from __future__ import annotations

import sys

from agent_adapter.errors import AdapterError
from agent_adapter.providers.zhipu import ZhipuAdapter
from agent_adapter.types import ChatRequest, StreamChunk

_ADAPTER = ZhipuAdapter(name="zhipu", base_url="https://open.bigmodel.cn/api/paas/v4")
_REQUEST = ChatRequest(model="glm-4.6", messages=[], stream=True)

Outcome = tuple[list[StreamChunk], bool | None, type[AdapterError] | None]


def _cuts(seed: int, size: int) -> list[int]:
    """Up to 7 cut points chosen by ``seed`` (deterministic, so failures replay)."""
    count = seed % 8
    return sorted({(seed * 7919 * (k + 1) + k * 104729) % (size + 1) for k in range(count)})


def _run(pieces: list[bytes]) -> Outcome:
    decoder = _ADAPTER.stream_decoder(_REQUEST)
    chunks: list[StreamChunk] = []
    try:
        for piece in pieces:
            chunks.extend(decoder.feed(piece))
        return chunks, decoder.end(), None
    except AdapterError as exc:
        return chunks, None, type(exc)


def TestOneInput(data: bytes) -> None:
    """One fuzz case: feed the body whole and split; outcomes must agree."""
    if not data:
        return
    body = data[1:]
    cuts = _cuts(data[0], len(body))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole = _run([body])
    split = _run(pieces)
    if whole[2] is None and split[2] is None:
        assert whole == split, "chunks differ between whole and split feeding"
    else:
        # An error ends the stream; chunks delivered before it depend on the reads.
        assert whole[2] is split[2], f"{whole[2]} whole, {split[2]} split"


def main() -> None:
    """Run under atheris (``pip install atheris``)."""
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
