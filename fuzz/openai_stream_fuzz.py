"""Fuzz the OpenAI Chat Completions stream decoder: any body, split anywhere, only our errors.

Input layout: byte 0 seeds the random choice of read boundaries; the remaining
bytes are the response body. The body is decoded in one read, in reads cut at
the chosen points and one byte at a time; each run ends with ``end()``. Only
``AdapterError`` subclasses may escape (``StreamError`` for malformed chunks,
the classified error for an in-stream ``error``), and every run must produce
the same chunks, the same ``end()`` result and the same error.

Run: ``python fuzz/openai_stream_fuzz.py fuzz/corpus/openai_stream`` (needs atheris).
"""

from __future__ import annotations

import random
import sys
from typing import Any

import msgspec

from agent_adapter.errors import AdapterError
from agent_adapter.providers.openai import OpenAIAdapter
from agent_adapter.types import ChatRequest, Message

_ADAPTER = OpenAIAdapter(name="openai", base_url="https://api.openai.com/v1")
_REQUEST = ChatRequest(model="gpt-4o", messages=[Message(role="user", content="hi")], stream=True)

Outcome = tuple[Any, bool | None, str | None]


def _decode(reads: list[bytes]) -> Outcome:
    """(chunks, end(), error) for one way of reading the body."""
    decoder = _ADAPTER.stream_decoder(_REQUEST)
    chunks: list[Any] = []
    try:
        for data in reads:
            chunks.extend(decoder.feed(data))
        ended = decoder.end()
    except AdapterError as exc:
        # Chunks completed by the failing read are never returned, so compare the error only.
        return None, None, f"{type(exc).__name__}: {exc.message}"
    return msgspec.to_builtins(chunks), ended, None


def TestOneInput(data: bytes) -> None:
    """One case: the outcome must not depend on how the body was split into reads."""
    if not data:
        return
    rng = random.Random(data[0])
    body = data[1:]
    cuts: list[int] = []
    if len(body) > 1:
        cuts = sorted({rng.randrange(1, len(body)) for _ in range(rng.randrange(1, 12))})
    reads = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole = _decode([body])
    assert _decode(reads) == whole
    assert _decode([body[i : i + 1] for i in range(len(body))]) == whole


def main() -> None:
    """Run under atheris (``pip install atheris``)."""
    import atheris  # type: ignore[import-untyped]

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
