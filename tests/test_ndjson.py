"""The NDJSON line decoder: splits across reads, CRLF, blank lines, the last line, limits."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from agent_adapter.errors import StreamError
from agent_adapter.sse import NDJSONDecoder

OLLAMA = (
    b'{"model":"llama3.2","created_at":"2024-07-01T12:00:00Z",'
    b'"message":{"role":"assistant","content":"Hel"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2024-07-01T12:00:00Z",'
    b'"message":{"role":"assistant","content":"lo \xe2\x82\xac"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2024-07-01T12:00:01Z",'
    b'"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}'
)


def decode_all(decoder: NDJSONDecoder, reads: Sequence[bytes]) -> list[bytes]:
    lines = [line for chunk in reads for line in decoder.feed(chunk)]
    return lines + decoder.end()


def test_ollama_stream_with_unterminated_last_line() -> None:
    for step in (1, 2, 5, 64, len(OLLAMA)):
        reads = [OLLAMA[i : i + step] for i in range(0, len(OLLAMA), step)]
        lines = decode_all(NDJSONDecoder(), reads)
        assert lines == OLLAMA.split(b"\n")
        decoded = [msgspec.json.decode(line) for line in lines]
        assert [d["done"] for d in decoded] == [False, False, True]
        assert decoded[1]["message"]["content"] == "lo €"


def test_feed_returns_complete_lines_only() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":') == []
    assert decoder.feed(b"1}\n{") == [b'{"a":1}']
    assert decoder.feed(b'"b":2}\n') == [b'{"b":2}']
    assert decoder.end() == []


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (b"{}\r\n[]\r\n", [b"{}", b"[]"]),
        (b"{}\r\n[]\r", [b"{}", b"[]"]),  # a final CR is the first half of a CRLF
        (b"\n\n{}\n\r\n \t \n\n[]\n\n", [b"{}", b"[]"]),  # blank and whitespace-only lines
        (b"", []),
        (b"\n", []),
        (b"  ", []),
        (b'"x"', [b'"x"']),
        (b"a\rb\n", [b"a\rb"]),  # a lone CR is not a line end in NDJSON
        (b"{} \n", [b"{} "]),  # other whitespace is left for the JSON decoder
    ],
)
def test_line_ends_and_blank_lines(body: bytes, lines: list[bytes]) -> None:
    assert decode_all(NDJSONDecoder(), [body]) == lines
    assert decode_all(NDJSONDecoder(), [body[i : i + 1] for i in range(len(body))]) == lines


def test_end_starts_a_new_body() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b"{}\n{") == [b"{}"]
    assert decoder.end() == [b"{"]
    assert decoder.feed(b"[]\n") == [b"[]"]
    assert decoder.end() == []


def test_limit_on_a_line_still_arriving() -> None:
    decoder = NDJSONDecoder(max_line_bytes=100)
    decoder.feed(b"x" * 60)
    with pytest.raises(StreamError, match="NDJSON line longer than 100 bytes"):
        decoder.feed(b"x" * 41)


def test_limit_on_complete_lines() -> None:
    decoder = NDJSONDecoder(max_line_bytes=100)
    assert decoder.feed(b"y" * 100 + b"\n" + b"z" * 100) == [b"y" * 100]
    assert decoder.end() == [b"z" * 100]
    with pytest.raises(StreamError):
        NDJSONDecoder(max_line_bytes=100).feed(b"{}\n" + b"y" * 101 + b"\n{}\n")


def test_limit_in_tiny_pieces_keeps_memory_bounded() -> None:
    decoder = NDJSONDecoder(max_line_bytes=1000)
    for fed in itertools.count(3, 3):
        try:
            decoder.feed(b"abc")
        except StreamError:
            break
        assert fed <= 1000, "should have raised"
    assert fed - 3 <= 1000 < fed


_LINES = st.lists(
    st.one_of(
        st.sampled_from([b"", b" ", b"\t", b"\r", b"{}", b'{"done":true}', b'"\xe2\x82\xac"']),
        st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(lines=_LINES, crlf=st.booleans(), final_eol=st.booleans(), data=st.data())
def test_any_split_gives_the_same_lines(
    lines: list[bytes], crlf: bool, final_eol: bool, data: st.DataObject
) -> None:
    eol = b"\r\n" if crlf else b"\n"
    body = eol.join(lines) + (eol if final_eol and lines else b"")
    expected = []
    for line in body.split(b"\n"):
        line = line.removesuffix(b"\r")
        if line.strip(b" \t\r\n\x0b\x0c"):
            expected.append(line)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=10)))
    reads = [body[a:b] for a, b in itertools.pairwise([0, *cuts, len(body)])]
    assert decode_all(NDJSONDecoder(), [body]) == expected
    assert decode_all(NDJSONDecoder(), reads) == expected


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=300), limit=st.integers(0, 50), data=st.data())
def test_arbitrary_bytes_only_stream_error(body: bytes, limit: int, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=10)))
    reads = [body[a:b] for a, b in itertools.pairwise([0, *cuts, len(body)])]
    must_raise = any(len(line) > limit for line in body.split(b"\n"))
    try:
        decode_all(NDJSONDecoder(max_line_bytes=limit), reads)
    except StreamError:
        assert must_raise
    else:
        assert not must_raise
