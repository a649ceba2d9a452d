"""The SSE parser fed as networks deliver streams: one read per event, small fixed reads.

``SSEParser.feed_raw`` has two shortcuts for the reads real streams arrive in
(a read that is exactly one ``data: ...`` event while nothing is pending; a
piece of a line with no line end). These tests hold both to the general path:
the same events, IDs, reconnection times, clean ends and size errors as
feeding the same bytes whole, for the spec's edge cases, for generated
streams (against the literal reference model in ``test_sse``) and at the size
limits' exact boundaries.
"""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from agent_adapter.errors import StreamError
from agent_adapter.sse import ServerSentEvent, SSEParser
from test_sse import CASES, SETTINGS, bodies, reference, run, run_raw


def per_event(body: bytes) -> list[bytes]:
    """``body`` cut after every LF LF, as a server that writes one event per segment sends it."""
    parts = body.split(b"\n\n")
    return [p + b"\n\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def fixed(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
@pytest.mark.parametrize(
    ("number", "reads"), [c[:2] for c in CASES], ids=[f"case{c[0]}" for c in CASES]
)
def test_spec_cases_in_network_shaped_reads(
    number: int, reads: tuple[bytes, ...], size: int
) -> None:
    body = b"".join(reads)
    whole = run(SSEParser(), [body])
    assert run(SSEParser(), per_event(body)) == whole, number
    assert run(SSEParser(), fixed(body, size)) == whole, number
    raw = ([(e.event, e.data.encode()) for e in whole[0]], whole[3])
    assert run_raw(SSEParser(), per_event(body)) == raw, number


@SETTINGS
@given(body=bodies(), size=st.integers(1, 80))
def test_generated_streams_in_network_shaped_reads(body: bytes, size: int) -> None:
    expected = reference(body)
    assert run(SSEParser(), per_event(body)) == expected
    assert run(SSEParser(), fixed(body, size)) == expected
    # A warm parser (past the BOM check) with every event in its own read: the shortcut's case.
    warm = SSEParser()
    assert warm.feed(b": hi\n") == []
    assert run(warm, per_event(body.removeprefix(b"\xef\xbb\xbf"))) == reference(
        b": hi\n" + body.removeprefix(b"\xef\xbb\xbf")
    )


def test_one_event_reads_after_pending_state() -> None:
    """A read shaped like one plain event is not one when an earlier read left state behind."""
    parser = SSEParser()
    assert parser.feed(b": warm\n") == []
    assert parser.feed(b"event: delta\n") == []  # an event type waits for its blank line
    assert parser.feed(b"data: a\n\n") == [ServerSentEvent("delta", "a")]
    assert parser.feed(b"data: first line\n") == []  # a data line waits too
    assert parser.feed(b"data: b\n\n") == [ServerSentEvent(data="first line\nb")]
    assert parser.feed(b"data: c\r") == []  # a CR: the next LF completes the CRLF
    assert parser.feed(b"\ndata: d\n\n") == [ServerSentEvent(data="c\nd")]
    assert parser.feed(b"data: e\r\r") == [ServerSentEvent(data="e")]  # ends with CR again
    assert parser.feed(b"data: f\n\n") == [ServerSentEvent(data="f")]
    assert parser.feed(b"\ndata: g\n\n") == [ServerSentEvent(data="g")]  # that LF is a line
    assert parser.feed(b"id: 7\nretry: 40\n\n") == []
    assert parser.feed(b"data: e\n\n") == [ServerSentEvent(data="e", id="7", retry=40)]
    assert parser.feed(b"dat") == []  # a piece of a line
    assert parser.feed(b"a: h\n\n") == [ServerSentEvent(data="h", id="7", retry=40)]
    assert parser.feed(b"data: \xff\n\n") == [ServerSentEvent(data="\ufffd", id="7", retry=40)]
    assert parser.feed(b"data: two\ndata: lines\n\n") == [
        ServerSentEvent(data="two\nlines", id="7", retry=40)
    ]
    assert parser.end() is True


def test_first_read_still_strips_a_bom() -> None:
    parser = SSEParser()
    assert parser.feed_raw(b"\xef\xbb\xbfdata: x\n\n") == [("message", b"x")]
    assert parser.feed_raw(b"\xef\xbb\xbfdata: y\n\n") == []  # only the first BOM is one
    assert parser.end() is True


@pytest.mark.parametrize("warm", [False, True])
def test_one_event_read_at_the_limits(warm: bool) -> None:
    """``data: `` + value + LF LF in one read: the bounds hold to the byte."""

    def parser(max_line: int, max_event: int) -> SSEParser:
        p = SSEParser(max_line_bytes=max_line, max_event_bytes=max_event)
        if warm:
            p.feed(b": warm\n")
        return p

    value = b"x" * 20
    line = b"data: " + value  # 26 bytes
    assert parser(26, 20).feed_raw(line + b"\n\n") == [("message", value)]
    with pytest.raises(StreamError, match="SSE line longer than 25 bytes"):
        parser(25, 100).feed_raw(line + b"\n\n")
    with pytest.raises(StreamError, match="SSE event data longer than 19 bytes"):
        parser(100, 19).feed_raw(line + b"\n\n")


def test_small_pieces_of_a_long_line_raise_once_past_the_limit() -> None:
    parser = SSEParser(max_line_bytes=100)
    parser.feed(b": warm\n")
    parser.feed(b"data: ")
    for _ in range(94 // 2):
        assert parser.feed(b"ab") == []  # 6 + 94 = 100 bytes: at the limit, still fine
    with pytest.raises(StreamError, match="SSE line longer than 100 bytes"):
        parser.feed(b"c")
