"""Fuzz the Anthropic stream decoder: any bytes, split anywhere, fail only with our errors.

Input layout: the first byte seeds where the rest is split into reads; the rest
is the response body. The harness feeds the body whole and split, calls
``end()``, and checks that nothing but ``AdapterError`` subclasses escapes and
that the split reads give exactly the chunks (or the error) of the whole read.

Run: ``python fuzz/anthropic_stream_fuzz.py fuzz/corpus/anthropic_stream``.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import msgspec

from agent_adapter.errors import AdapterError
from agent_adapter.providers.anthropic import AnthropicAdapter
from agent_adapter.types import ChatRequest, Message

_ADAPTER = AnthropicAdapter(name="anthropic", base_url="https://api.anthropic.com")
_REQUEST = ChatRequest(
    model="claude-sonnet-4-5", messages=[Message(role="user", content="hi")], stream=True
)


def _run(pieces: list[bytes]) -> tuple[Any, bool | None, str | None]:
    decoder = _ADAPTER.stream_decoder(_REQUEST)
    chunks: list[Any] = []
    try:
        for piece in pieces:
            chunks.extend(decoder.feed(piece))
        ok = decoder.end()
    except AdapterError as exc:
        # The chunks of the read that raised are lost, so only the error is compared.
        return None, None, f"{type(exc).__name__}: {exc.message}"
    return msgspec.to_builtins(chunks), ok, None


def TestOneInput(data: bytes) -> None:
    """One fuzz case: the decoder's result must not depend on how the body is split."""
    if not data:
        return
    rng = random.Random(data[0])
    body = data[1:]
    cuts = (
        sorted({rng.randrange(1, len(body)) for _ in range(rng.randrange(1, 9))})
        if len(body) > 1
        else []
    )
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole = _run([body])
    split = _run(pieces)
    assert whole == split, (whole, split)
    assert _run([body[i : i + 1] for i in range(len(body))])[1:] == whole[1:] or whole[2]


def main() -> None:
    """Run under atheris (``pip install atheris``)."""
    import atheris  # type: ignore[import-untyped]

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
