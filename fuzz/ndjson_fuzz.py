"""atheris harness for ``agent_adapter.sse.NDJSONDecoder``.

Run it with ``python fuzz/ndjson_fuzz.py fuzz/corpus/ndjson`` (see
fuzz/README.md). ``TestOneInput`` is importable without atheris: ``tests/``
replays the corpus through it.

Input layout, so that the fuzzer's mutations choose the read boundaries and
the limit as well as the bytes::

    byte 0        low 4 bits: number n of cut points; bit 0x10: use a small limit
    2n bytes      the cut points, little-endian uint16, each modulo len(body) + 1
    1 byte        (only with 0x10) max_line_bytes, 0-255
    the rest      the body

Checked: nothing but ``StreamError`` escapes ``feed``/``end``; the body fed in
pieces gives exactly the lines it gives fed whole (or a ``StreamError``
either way); every line is non-blank and holds no LF.
"""

from __future__ import annotations

import itertools
import sys

from agent_adapter.errors import StreamError
from agent_adapter.sse import NDJSONDecoder


def plan(data: bytes) -> tuple[bytes, list[bytes], dict[str, int]]:
    """Decode the input layout: the body, the reads to feed it in, the decoder limit."""
    flags = data[0] if data else 0
    start = 1 + 2 * (flags & 0x0F)
    cut_bytes = data[1:start]
    limits: dict[str, int] = {}
    if flags & 0x10:
        limits = {"max_line_bytes": (data[start : start + 1] + b"\0")[0]}
        start += 1
    body = data[start:]
    cuts = sorted(
        int.from_bytes(cut_bytes[i : i + 2], "little") % (len(body) + 1)
        for i in range(0, len(cut_bytes) - 1, 2)
    )
    reads = [body[a:b] for a, b in itertools.pairwise([0, *cuts, len(body)])]
    return body, reads, limits


def run(reads: list[bytes], limits: dict[str, int]) -> list[bytes] | None:
    """Feed ``reads`` to a new decoder; ``None`` if it raised ``StreamError``."""
    decoder = NDJSONDecoder(**limits)
    try:
        lines = [line for r in reads for line in decoder.feed(r)]
    except StreamError:
        return None
    return lines + decoder.end()


def TestOneInput(data: bytes) -> None:
    """One input: the entry point libFuzzer calls (via atheris) and the corpus replay uses."""
    body, reads, limits = plan(data)
    whole = run([body], limits)
    pieces = run(reads, limits)
    if pieces != whole:
        raise AssertionError(f"split {reads!r} gave {pieces!r}, whole gave {whole!r}")
    for line in whole or []:
        if b"\n" in line or not line.strip():
            raise AssertionError(f"bad line {line!r}")


def main() -> None:
    # Imported here so that replaying the corpus (tests/) does not need atheris.
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
