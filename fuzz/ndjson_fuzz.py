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

from _harness import main, plan

from agent_adapter.errors import StreamError
from agent_adapter.sse import NDJSONDecoder

LIMITS = ("max_line_bytes",)
"""The decoder limit the header byte sets, with bit 0x10."""


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
    body, reads, limits = plan(data, LIMITS)
    whole = run([body], limits)
    pieces = run(reads, limits)
    if pieces != whole:
        raise AssertionError(f"split {reads!r} gave {pieces!r}, whole gave {whole!r}")
    for line in whole or []:
        if b"\n" in line or not line.strip():
            raise AssertionError(f"bad line {line!r}")


if __name__ == "__main__":
    main(TestOneInput)
