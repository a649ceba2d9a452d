"""What the atheris harnesses share: input layouts, the provider stream check, running libFuzzer.

Not a harness itself (no ``_fuzz.py`` suffix, no corpus). The harnesses import
it from their own directory: on ``sys.path`` when one runs as a script, and
put there by ``tests/test_fuzz_corpus_replay.py`` for the corpus replay.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from agent_adapter.errors import AdapterError
from agent_adapter.providers.base import StreamDecoder

Outcome = tuple[Any, bool | None, str | None]
"""(chunks as builtins, ``end()``, ``"ErrorType: message"``); on an error only the error is kept."""


def pieces(body: bytes, cuts: list[int]) -> list[bytes]:
    """``body`` cut at the sorted offsets ``cuts``; a cut at 0 or at the end gives an empty read."""
    return [body[a:b] for a, b in itertools.pairwise([0, *cuts, len(body)])]


def plan(data: bytes, limit_names: Sequence[str]) -> tuple[bytes, list[bytes], dict[str, int]]:
    """Decode the SSE/NDJSON input layout (fuzz/README.md): body, reads, limits.

    Byte 0: low 4 bits the number n of cut points, bit 0x10 small limits; then
    n little-endian uint16 cut points; then, with 0x10 only, one byte per name
    in ``limit_names``; then the body.
    """
    flags = data[0] if data else 0
    start = 1 + 2 * (flags & 0x0F)
    cut_bytes = data[1:start]
    limits: dict[str, int] = {}
    if flags & 0x10:
        size = len(limit_names)
        values = (data[start : start + size] + bytes(size))[:size]
        limits = dict(zip(limit_names, values, strict=True))
        start += size
    body = data[start:]
    cuts = sorted(
        int.from_bytes(cut_bytes[i : i + 2], "little") % (len(body) + 1)
        for i in range(0, len(cut_bytes) - 1, 2)
    )
    return body, pieces(body, cuts), limits


def stream_outcome(decoder: StreamDecoder, reads: list[bytes]) -> Outcome:
    """Feed ``reads``, then ``flush()`` and ``end()`` as ``ChatStream`` does at end of body.

    Only ``AdapterError`` (``StreamError`` included) is caught. The chunks of
    the call that raised are lost, so on an error only the error is kept.
    """
    chunks: list[Any] = []
    try:
        for read in reads:
            chunks.extend(decoder.feed(read))
        chunks.extend(decoder.flush())
        ended = decoder.end()
    except AdapterError as exc:
        return None, None, f"{type(exc).__name__}: {exc.message}"
    return msgspec.to_builtins(chunks), ended, None


def stream_harness(new_decoder: Callable[[], StreamDecoder]) -> Callable[[bytes], None]:
    """The ``TestOneInput`` of a provider stream harness, for decoders made by ``new_decoder``.

    Input layout: byte 0 seeds the choice of up to 11 cut points (0 and the
    end included, so empty reads occur); the rest is the response body. The
    body is decoded in one read, in the reads cut at those points, and one byte
    at a time (each then ``flush()``, ``end()``); all three must give the same
    chunks, ``end()`` and error. Any exception but an ``AdapterError`` escapes:
    libFuzzer reports it as a crash.
    """

    def test_one_input(data: bytes) -> None:
        """One input: the entry point libFuzzer calls (via atheris) and the corpus replay uses."""
        if not data:
            return
        rng = random.Random(data[0])
        body = data[1:]
        cuts = sorted({rng.randrange(len(body) + 1) for _ in range(rng.randrange(1, 12))})
        reads = pieces(body, cuts)
        whole = stream_outcome(new_decoder(), [body])
        split = stream_outcome(new_decoder(), reads)
        if split != whole:
            raise AssertionError(f"reads {reads!r} gave {split!r}, whole body gave {whole!r}")
        bytewise = stream_outcome(new_decoder(), [body[i : i + 1] for i in range(len(body))])
        if bytewise != whole:
            raise AssertionError(f"one byte at a time gave {bytewise!r}, whole gave {whole!r}")

    return test_one_input


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Run ``test_one_input`` under libFuzzer with ``sys.argv`` (needs ``pip install atheris``)."""
    # Imported here so that replaying the corpus (tests/) does not need atheris.
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
