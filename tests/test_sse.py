"""The SSE parser against the WHATWG rules.

The rules are "Parsing an event stream" and "Interpreting an event stream" in
https://html.spec.whatwg.org/multipage/server-sent-events.html. Three layers:
48 edge cases of those rules (each fed whole, one byte at a time, as the
table splits it, and through ``feed_raw``); hypothesis properties against a
deliberately naive reference that follows the spec text line by line on a
fully decoded string; and the size limits.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from agent_adapter.errors import StreamError
from agent_adapter.sse import MAX_RETRY_MS, ServerSentEvent, SSEParser

Event = tuple[str, str, str]  # (type, data, last event id) of a dispatched event

# --------------------------------------------------------------------------- edge cases
# (number, reads, expected events, reconnection time afterwards, end() result)
CASES: list[tuple[int, tuple[bytes, ...], list[Event], int | None, bool]] = [
    (1, (b"data: hello\n\n",), [("message", "hello", "")], None, True),
    (2, (b"data:hello\n\n",), [("message", "hello", "")], None, True),
    (3, (b"data:  hello\n\n",), [("message", " hello", "")], None, True),
    (4, (b"data:\thello\n\n",), [("message", "\thello", "")], None, True),
    (5, (b"data: hello  \n\n",), [("message", "hello  ", "")], None, True),
    (6, (b"data: a\ndata: b\n\n",), [("message", "a\nb", "")], None, True),
    (7, (b"data: a\ndata:\ndata: b\n\n",), [("message", "a\n\nb", "")], None, True),
    (8, (b"data\n\n",), [("message", "", "")], None, True),
    (9, (b"data\ndata\n\n",), [("message", "\n", "")], None, True),
    (10, (b": keep-alive\n\n",), [], None, True),
    (11, (b"data: x\n: note\n\n",), [("message", "x", "")], None, True),
    (12, (b"event: delta\ndata: x\n\n",), [("delta", "x", "")], None, True),
    (13, (b"event: a\nevent: b\ndata: x\n\n",), [("b", "x", "")], None, True),
    (14, (b"event:\ndata: x\n\n",), [("message", "x", "")], None, True),
    (15, (b"event: ping\n\ndata: x\n\n",), [("message", "x", "")], None, True),
    (16, (b"Data: x\nEVENT: y\n\n",), [], None, True),
    (17, (b" data: x\n\n",), [], None, True),
    (18, (b"foo: bar\ndata: x\n\n",), [("message", "x", "")], None, True),
    (19, (b'data: {"a":"b:c"}\n\n',), [("message", '{"a":"b:c"}', "")], None, True),
    (20, (b"data: x\r\n\r\n",), [("message", "x", "")], None, True),
    (21, (b"data: x\r\r",), [("message", "x", "")], None, True),
    (22, (b"data: a\rdata: b\ndata: c\r\n\r\n",), [("message", "a\nb\nc", "")], None, True),
    (23, (b"data: a\r", b"\ndata: b\r\n\r\n"), [("message", "a\nb", "")], None, True),
    (24, (b"data: x\n\r\n",), [("message", "x", "")], None, True),
    (25, (b"\n\n\ndata: x\n\n\n\n",), [("message", "x", "")], None, True),
    (26, (b"data: x\n",), [], None, False),
    (27, (b"data: x",), [], None, False),
    (28, (b"data: a\n\ndata: b",), [("message", "a", "")], None, False),
    (29, (b"\xef\xbb\xbfdata: x\n\n",), [("message", "x", "")], None, True),
    (30, (b"\xef\xbb\xbf\xef\xbb\xbfdata: 1\n\ndata: 2\n\n",), [("message", "2", "")], None, True),
    (31, (b"data: a\n\n\xef\xbb\xbfdata: b\n\n",), [("message", "a", "")], None, True),
    (32, (b"data: \xe2\x82", b"\xac\n\n"), [("message", "\u20ac", "")], None, True),
    (33, (b"data: \xff\n\n",), [("message", "\ufffd", "")], None, True),
    (34, (b"data: a\x00b\n\n",), [("message", "a\x00b", "")], None, True),
    (
        35,
        (b"id: 1\ndata: a\n\ndata: b\n\n",),
        [("message", "a", "1"), ("message", "b", "1")],
        None,
        True,
    ),
    (
        36,
        (b"id: 1\ndata: a\n\nid: 2\ndata: b\n\ndata: c\n\n",),
        [("message", "a", "1"), ("message", "b", "2"), ("message", "c", "2")],
        None,
        True,
    ),
    (
        37,
        (b"id: 1\ndata: a\n\nid:\ndata: b\n\ndata: c\n\n",),
        [("message", "a", "1"), ("message", "b", ""), ("message", "c", "")],
        None,
        True,
    ),
    (
        38,
        (b"id: 1\ndata: a\n\nid\ndata: b\n\n",),
        [("message", "a", "1"), ("message", "b", "")],
        None,
        True,
    ),
    (
        39,
        (b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",),
        [("message", "a", "1"), ("message", "b", "1")],
        None,
        True,
    ),
    (40, (b"id: 7\n\ndata: x\n\n",), [("message", "x", "7")], None, True),
    (41, (b"id: 1\ndata: a\nid: 2\n\n",), [("message", "a", "2")], None, True),
    (42, (b"retry: 2500\ndata: x\n\n",), [("message", "x", "")], 2500, True),
    (43, (b"retry: 2500\n\n",), [], 2500, True),
    (44, (b"retry: 0\n\n",), [], 0, True),
    (45, (b"retry: -1\nretry: 1.5\nretry: 1e3\nretry: 3000ms\nretry:  3000\n\n",), [], None, True),
    (46, (b"data: [DONE]\n\n",), [("message", "[DONE]", "")], None, True),
    (47, (b"data: x\r",), [], None, False),
    (48, (b":\n\n",), [], None, True),
]


def _bytewise(reads: Iterable[bytes]) -> list[bytes]:
    body = b"".join(reads)
    return [body[i : i + 1] for i in range(len(body))]


SPLITS = {
    "as_given": lambda reads: list(reads),
    "whole": lambda reads: [b"".join(reads)],
    "bytewise": _bytewise,
}


def test_cases_are_complete() -> None:
    assert [case[0] for case in CASES] == list(range(1, 49))


@pytest.mark.parametrize("split", sorted(SPLITS))
@pytest.mark.parametrize(
    ("reads", "expected", "retry", "clean"),
    [c[1:] for c in CASES],
    ids=[f"case{c[0]}" for c in CASES],
)
def test_spec_case_feed(
    split: str, reads: tuple[bytes, ...], expected: list[Event], retry: int | None, clean: bool
) -> None:
    parser = SSEParser()
    events = [e for chunk in SPLITS[split](reads) for e in parser.feed(chunk)]
    assert [(e.event, e.data, e.id) for e in events] == expected
    assert all(e.retry == parser.retry for e in events)  # no case changes retry after an event
    assert parser.retry == retry
    if expected:
        assert parser.last_event_id == expected[-1][2]
    assert parser.end() is clean


@pytest.mark.parametrize("split", sorted(SPLITS))
@pytest.mark.parametrize(
    ("reads", "expected", "retry", "clean"),
    [c[1:] for c in CASES],
    ids=[f"case{c[0]}" for c in CASES],
)
def test_spec_case_feed_raw(
    split: str, reads: tuple[bytes, ...], expected: list[Event], retry: int | None, clean: bool
) -> None:
    parser = SSEParser()
    events = [e for chunk in SPLITS[split](reads) for e in parser.feed_raw(chunk)]
    assert events == [(event, data.encode()) for event, data, _ in expected]
    assert all(type(data) is bytes for _, data in events)
    assert parser.retry == retry
    assert parser.end() is clean


# --------------------------------------------------------------------------- details


def test_event_defaults_and_stamping() -> None:
    assert ServerSentEvent() == ServerSentEvent("message", "", "", None)
    parser = SSEParser()
    events = parser.feed(b"data: a\n\nretry: 10\nid: x\ndata: b\n\nid: y\n\ndata: c\n\n")
    assert events == [
        ServerSentEvent("message", "a", "", None),
        ServerSentEvent("message", "b", "x", 10),
        ServerSentEvent("message", "c", "y", 10),
    ]
    assert (parser.last_event_id, parser.retry) == ("y", 10)


def test_id_takes_effect_only_at_blank_line() -> None:
    parser = SSEParser()
    parser.feed(b"id: 1\n\nid: 2\n")
    assert parser.last_event_id == "1"
    assert parser.end() is False  # the block holding ``id: 2`` never finished
    assert parser.last_event_id == "1"


def test_unterminated_final_line_is_not_processed() -> None:
    parser = SSEParser()
    parser.feed(b"retry: 100\n\nretry: 5000")
    assert parser.retry == 100
    assert parser.end() is False
    assert parser.retry == 100


def test_trailing_comment_is_a_clean_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: x\n\n: keep-alive\n") == [ServerSentEvent(data="x")]
    assert parser.end() is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"1" * 5000, MAX_RETRY_MS),  # no int() digit-limit ValueError, no huge integer
        (b"0" * 5000 + b"7", 7),
        (b"99999999999", MAX_RETRY_MS),
        (b"\xd9\xa3", None),  # ARABIC-INDIC DIGIT THREE is a digit, but not an ASCII one
        (b"\xc2\xb2", None),  # SUPERSCRIPT TWO
        (b"", None),  # no digits at all: ignored like any other non-number
        (b"+1", None),
        (b" 1", None),  # ``retry:  1`` keeps one space in the value
    ],
)
def test_retry_values(value: bytes, expected: int | None) -> None:
    parser = SSEParser()
    parser.feed(b"retry: " + value + b"\n\n")
    assert parser.retry == expected


def test_bogus_retry_keeps_the_earlier_value() -> None:  # WPT format-field-retry-bogus
    parser = SSEParser()
    events = parser.feed(b"retry:2000\ndata: a\n\nretry:1000x\ndata: b\n\n")
    assert [e.retry for e in events] == [2000, 2000]
    assert parser.retry == 2000


def test_end_starts_a_new_body() -> None:
    parser = SSEParser()
    parser.feed(b"id: 3\nretry: 9\ndata: a\n\ndata: cut")
    assert parser.end() is False
    # A new body: a BOM is stripped again, the ID and retry carry over.
    assert parser.feed(b"\xef\xbb\xbfdata: b\r") == []
    assert parser.feed(b"\n\n") == [ServerSentEvent("message", "b", "3", 9)]
    assert parser.end() is True


def test_bom_split_across_reads() -> None:
    parser = SSEParser()
    assert parser.feed(b"\xef") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\xbb") == []
    assert parser.feed(b"\xbfdata: x\n\n") == [ServerSentEvent(data="x")]


def test_bom_prefix_that_is_not_a_bom() -> None:
    parser = SSEParser()
    assert parser.feed(b"\xef\xbb") == []
    assert parser.feed(b"data: x\n\n") == []  # field name "\ufffddata": unknown
    assert parser.feed(b"data: y\n\n") == [ServerSentEvent(data="y")]
    parser = SSEParser()
    parser.feed(b"\xef\xbb")
    assert parser.end() is False


def test_invalid_utf8_in_names_and_ids() -> None:
    parser = SSEParser()
    events = parser.feed(b"event: \xffa\nid: \xe2\x82\ndata: \xed\xa0\x80\n\n")
    assert events == [ServerSentEvent("\ufffda", "\ufffd" * 3, "\ufffd")]
    assert SSEParser().feed_raw(b"data: \xf0\x9f\x98\n\n") == [("message", "\ufffd".encode())]


def test_realistic_provider_streams() -> None:
    anthropic = (
        b"event: message_start\r\n"
        b'data: {"type":"message_start"}\r\n\r\n'
        b"event: ping\r\n"
        b'data: {"type": "ping"}\r\n\r\n'
        b"event: content_block_delta\r\n"
        b'data: {"type":"content_block_delta","delta":{"text":"Hi \xe2\x82\xac"}}\r\n\r\n'
        b"event: message_stop\r\n"
        b'data: {"type":"message_stop"}\r\n\r\n'
    )
    for step in (1, 2, 3, 7, len(anthropic)):
        parser = SSEParser()
        events = [
            e
            for i in range(0, len(anthropic), step)
            for e in parser.feed_raw(anthropic[i : i + step])
        ]
        assert [t for t, _ in events] == [
            "message_start",
            "ping",
            "content_block_delta",
            "message_stop",
        ]
        assert events[2][1] == '{"type":"content_block_delta","delta":{"text":"Hi €"}}'.encode()
        assert parser.end() is True
    openai = b': OPENROUTER PROCESSING\n\ndata: {"choices":[]}\n\ndata: [DONE]\n\n'
    parser = SSEParser()
    assert parser.feed_raw(openai) == [("message", b'{"choices":[]}'), ("message", b"[DONE]")]


# --------------------------------------------------------------------------- limits


def fed_until_error(parser: SSEParser, piece: bytes) -> int:
    """Feed ``piece`` until ``StreamError``; return the bytes fed, the failing read included."""
    fed = 0
    while True:
        fed += len(piece)
        try:
            parser.feed(piece)
        except StreamError:
            return fed
        assert fed < 1 << 26, "never raised"


def test_line_limit_raises_while_line_is_still_arriving() -> None:
    parser = SSEParser(max_line_bytes=1000)
    parser.feed(b"data: x\n\n")
    assert parser.feed(b"data: " + b"x" * 94) == []
    assert fed_until_error(parser, b"x" * 100) == 1000  # the 10th read took the line to 1100
    with pytest.raises(StreamError, match="longer than 1000 bytes"):
        SSEParser(max_line_bytes=1000).feed(b"x" * 1001)


def test_line_limit_without_any_newline_in_tiny_pieces() -> None:
    fed = fed_until_error(SSEParser(max_line_bytes=4096), b"x" * 7)
    assert fed - 7 <= 4096 < fed  # memory stays bounded: raised as soon as it passed


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_line_limit_on_complete_lines(eol: bytes) -> None:
    at_limit = b"data: " + b"y" * 94
    assert len(at_limit) == 100
    parser = SSEParser(max_line_bytes=100)
    assert parser.feed(at_limit + eol + eol) == [ServerSentEvent(data="y" * 94)]
    with pytest.raises(StreamError):
        SSEParser(max_line_bytes=100).feed(b"data: a" + eol + at_limit + b"z" + eol + eol)
    with pytest.raises(StreamError):
        SSEParser(max_line_bytes=100).feed(b": comment" + eol + b":" + b"c" * 100 + eol)


def test_event_limit() -> None:
    parser = SSEParser(max_event_bytes=10)
    # Exactly 10 bytes of data ("12345\n1234") is fine ...
    assert parser.feed(b"data: 12345\ndata: 1234\n\n") == [ServerSentEvent(data="12345\n1234")]
    # ... one more is not, even though no single line is long.
    with pytest.raises(StreamError, match="event data longer than 10 bytes"):
        parser.feed(b"data: 12345\ndata: 12345\n\n")
    parser = SSEParser(max_event_bytes=1000)
    assert parser.feed(b"data\n" * 1001) == []  # 1000 LFs: the data so far (data[:-1])
    with pytest.raises(StreamError):
        parser.feed(b"data\n")  # empty data lines still grow the buffer, by one LF each
    # The buffer is per event: many small events never add up.
    parser = SSEParser(max_event_bytes=10)
    assert len(parser.feed(b"data: 123456789\n\n" * 100)) == 100


# --------------------------------------------------------------------------- reference model

_EOL = re.compile(r"\r\n|\r|\n")


def _retry_value(value: str) -> int:
    digits = value.lstrip("0")
    return MAX_RETRY_MS if len(digits) > 10 else min(int(digits or "0"), MAX_RETRY_MS)


def reference(body: bytes) -> tuple[list[ServerSentEvent], str, int | None, bool]:
    """The spec, followed literally on the fully decoded text (slow, obviously right).

    Returns the events, the last event ID string, the reconnection time and
    whether the body ended on an event boundary.
    """
    text = body.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    *lines, tail = _EOL.split(text)
    events: list[ServerSentEvent] = []
    data = event_type = id_buffer = last_id = ""
    retry: int | None = None
    in_block = False
    for line in lines:
        if line == "":
            last_id = id_buffer
            if data:
                events.append(
                    ServerSentEvent(
                        event_type or "message", data.removesuffix("\n"), last_id, retry
                    )
                )
            data = event_type = ""
            in_block = False
            continue
        if line.startswith(":"):
            continue
        in_block = True
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = _retry_value(value)
    return events, last_id, retry, tail == "" and not in_block


def limits_exceeded(body: bytes, max_line: int, max_event: int) -> bool:
    """Whether a parser with these limits must raise, judged on raw byte lines."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    *lines, tail = re.split(rb"\r\n|\r|\n", body)
    if any(len(line) > max_line for line in [*lines, tail]):
        return True
    size = 0
    for line in lines:
        name, _, value = line.partition(b":")
        if not line:
            size = 0
        elif name == b"data":
            size += len(value.removeprefix(b" ")) + 1
            if size - 1 > max_event:
                return True
    return False


def run(
    parser: SSEParser, reads: Sequence[bytes]
) -> tuple[list[ServerSentEvent], str, int | None, bool]:
    events = [e for chunk in reads for e in parser.feed(chunk)]
    last_id, retry = parser.last_event_id, parser.retry
    return events, last_id, retry, parser.end()


def run_raw(parser: SSEParser, reads: Sequence[bytes]) -> tuple[list[tuple[str, bytes]], bool]:
    events = [e for chunk in reads for e in parser.feed_raw(chunk)]
    return events, parser.end()


def split_at(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(points)]


def _line(names: list[bytes], values: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    separator = st.sampled_from([b": ", b": ", b":", b""])
    return st.tuples(st.sampled_from(names), separator, values).map(b"".join)


_TEXT = st.one_of(
    st.text(max_size=8).map(str.encode),  # any characters, CR and LF included
    st.sampled_from([b"", b" ", b"  x", b'{"a":"b:c"}', b"\xe2\x82\xac", b"\xf0\x9f\x98\x80"]),
    st.sampled_from(
        [b"\xff", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"a\x00b", b"\xef\xbb\xbf"]
    ),
)
_LINE = st.one_of(
    _line([b"data"], _TEXT),
    _line([b"data"], _TEXT),
    _line([b"event"], st.sampled_from([b"", b"delta", b"ping", b"\xff"])),
    _line([b"id"], st.sampled_from([b"", b"1", b"abc", b"2\x003", b"\xe2\x82"])),
    _line(
        [b"retry"], st.sampled_from([b"0", b"2500", b"007", b"", b"-1", b"1x", b" 3", b"1" * 30])
    ),
    _line([b"", b"Data", b" data", b"x", b"\xef\xbb\xbfdata"], _TEXT),  # comments, unknown fields
)
_EOLS = st.sampled_from([b"\n", b"\r", b"\r\n"])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Mostly well-formed event streams, built from what real streams and the spec's corners use."""
    bom = b"\xef\xbb\xbf"
    body = [draw(st.sampled_from([b"", b"", bom, bom + bom, bom[:2]]))]
    for _ in range(draw(st.integers(0, 6))):  # blocks, each usually ended by a blank line
        for line in draw(st.lists(_LINE, max_size=4)):
            body += [line, draw(_EOLS)]
        body += draw(st.lists(_EOLS, min_size=0, max_size=2))
    body.append(draw(st.one_of(st.just(b""), _LINE)))  # maybe an unterminated last line
    return b"".join(body)


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(body=bodies(), data=st.data())
def test_any_split_gives_the_same_events(body: bytes, data: st.DataObject) -> None:
    whole = run(SSEParser(), [body])
    assert whole == reference(body)
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12))
    assert run(SSEParser(), split_at(body, cuts)) == whole
    assert run(SSEParser(), _bytewise([body])) == whole
    raw = run_raw(SSEParser(), split_at(body, cuts))
    assert raw == ([(e.event, e.data.encode()) for e in whole[0]], whole[3])


# Line ends and field syntax; also a BOM, invalid UTF-8 and a truncated character.
_SPECIAL = st.sampled_from(
    [*b"\r \n \r\n : data id retry event 5 \x00 \xef\xbb\xbf \xff \xe2\x82".split(b" "), b" "]
)
_ARBITRARY = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(_SPECIAL, st.binary(max_size=3)), max_size=60).map(b"".join),
)


@SETTINGS
@given(body=_ARBITRARY, data=st.data())
def test_arbitrary_bytes_only_stream_error(body: bytes, data: st.DataObject) -> None:
    max_line = data.draw(st.one_of(st.just(1 << 20), st.integers(0, 40)))
    max_event = data.draw(st.one_of(st.just(4 << 20), st.integers(0, 40)))
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12))
    must_raise = limits_exceeded(body, max_line, max_event)
    expected = reference(body)
    for reads in ([body], split_at(body, cuts)):
        parser = SSEParser(max_line_bytes=max_line, max_event_bytes=max_event)
        try:  # anything but StreamError escapes and fails the test
            got = run(parser, reads)
        except StreamError:
            assert must_raise
        else:
            assert not must_raise
            assert got == expected


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(7, 5000), piece=st.integers(1, 300), crlf=st.booleans())
def test_long_line_in_pieces_raises_once_past_the_limit(limit: int, piece: int, crlf: bool) -> None:
    parser = SSEParser(max_line_bytes=limit)
    parser.feed(b"data: x\r\n" if crlf else b"data: x\n")
    fed = fed_until_error(parser, b"a" * piece)
    assert fed - piece <= limit < fed
