"""atheris harness for ``agent_adapter.sse.SSEParser``.

Run it with ``python fuzz/sse_fuzz.py fuzz/corpus/sse`` (see fuzz/README.md).
``TestOneInput`` is importable without atheris: ``tests/`` replays the corpus
through it.

Input layout, so that the fuzzer's mutations choose the read boundaries and
the limits as well as the bytes::

    byte 0        low 4 bits: number n of cut points; bit 0x10: use small limits
    2n bytes      the cut points, little-endian uint16, each modulo len(body) + 1
    2 bytes       (only with 0x10) max_line_bytes and max_event_bytes, 0-255
    the rest      the body

Checked: nothing but ``StreamError`` escapes ``feed``/``feed_raw``/``end``;
the body fed in pieces gives exactly what it gives fed whole (events, their
ids and retry values, ``last_event_id``, ``retry``, ``end()``, or a
``StreamError`` either way); ``feed_raw`` agrees with ``feed`` and hands out
valid UTF-8.
"""

from __future__ import annotations

from _harness import main, plan

from agent_adapter.errors import StreamError
from agent_adapter.sse import SSEParser

LIMITS = ("max_line_bytes", "max_event_bytes")
"""The parser limits the two header bytes set, in order, with bit 0x10."""

Outcome = tuple[list[tuple[str, str, str, int | None]], str, int | None, bool] | None


def run(reads: list[bytes], limits: dict[str, int]) -> Outcome:
    """Feed ``reads`` to a new parser; ``None`` if it raised ``StreamError``."""
    parser = SSEParser(**limits)
    try:
        events = [(e.event, e.data, e.id, e.retry) for r in reads for e in parser.feed(r)]
    except StreamError:
        return None
    return events, parser.last_event_id, parser.retry, parser.end()


def run_raw(
    reads: list[bytes], limits: dict[str, int]
) -> tuple[list[tuple[str, str]], bool] | None:
    """Like ``run`` through ``feed_raw``; decoding strictly proves the data is valid UTF-8."""
    parser = SSEParser(**limits)
    try:
        events = [(event, data.decode()) for r in reads for event, data in parser.feed_raw(r)]
    except StreamError:
        return None
    return events, parser.end()


def TestOneInput(data: bytes) -> None:
    """One input: the entry point libFuzzer calls (via atheris) and the corpus replay uses."""
    body, reads, limits = plan(data, LIMITS)
    whole = run([body], limits)
    pieces = run(reads, limits)
    if pieces != whole:
        raise AssertionError(f"split {reads!r} gave {pieces!r}, whole gave {whole!r}")
    raw = run_raw(reads, limits)
    expected = None if whole is None else ([(t, d) for t, d, _, _ in whole[0]], whole[3])
    if raw != expected:
        raise AssertionError(f"feed_raw gave {raw!r}, feed gave {expected!r}")


if __name__ == "__main__":
    main(TestOneInput)
