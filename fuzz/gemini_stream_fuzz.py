"""Fuzz the Gemini ``alt=sse`` stream decoder: any body, cut anywhere, only our errors escape.

Input layout: byte 0 seeds a random generator that picks the cut points; the
remaining bytes are the response body. The body is fed whole, cut at those
points and one byte at a time; each run then calls ``end()``. Only
``AdapterError`` subclasses (``StreamError`` for malformed chunks, the
classified error for a ``{"error": ...}`` event or a blocked prompt) may
escape, and all three runs must agree on the chunks, ``end()`` and the error.

Run: ``python fuzz/gemini_stream_fuzz.py fuzz/corpus/gemini_stream`` (needs atheris).
"""

from __future__ import annotations

import random
import sys
from typing import Any

import msgspec

from agent_adapter.errors import AdapterError
from agent_adapter.providers.gemini import GeminiAdapter
from agent_adapter.types import ChatRequest, Message

_ADAPTER = GeminiAdapter(name="gemini", base_url="https://generativelanguage.googleapis.com")
_REQUEST = ChatRequest(
    model="gemini-2.5-flash", messages=[Message(role="user", content="hi")], stream=True
)


def _outcome(reads: list[bytes]) -> tuple[Any, bool | None, str | None]:
    """(chunks, end(), error): on an error the chunks of earlier reads are not compared."""
    decoder = _ADAPTER.stream_decoder(_REQUEST)
    chunks: list[Any] = []
    try:
        for read in reads:
            chunks.extend(decoder.feed(read))
        finished = decoder.end()
    except AdapterError as exc:
        return None, None, f"{type(exc).__name__}: {exc.message}"
    return msgspec.to_builtins(chunks), finished, None


def TestOneInput(data: bytes) -> None:
    """One case: the outcome must not depend on where the body is cut."""
    if not data:
        return
    rng = random.Random(data[0])
    body = data[1:]
    cuts: list[int] = []
    if len(body) > 1:
        cuts = sorted({rng.randrange(1, len(body)) for _ in range(rng.randrange(1, 10))})
    reads = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole = _outcome([body])
    assert _outcome(reads) == whole, (whole, reads)
    assert _outcome([body[i : i + 1] for i in range(len(body))]) == whole


def main() -> None:
    """Run under atheris (``pip install atheris``)."""
    import atheris  # type: ignore[import-not-found]

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
