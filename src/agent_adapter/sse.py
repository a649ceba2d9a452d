"""Incremental parsers for streamed bodies: server-sent events and NDJSON lines.

Both are sans-IO, in the manner of h11: ``feed`` them bytes as they arrive and
they return whatever those bytes completed; ``end`` tells them the body is
over. They never do I/O, never read a clock, and whatever bytes they are fed
they raise nothing but ``StreamError``, and only when a size limit is exceeded.

The SSE parser follows the WHATWG "event stream" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream).
It finds line ends in *bytes* and decodes only what it hands out: CR and LF
never occur inside a multi-byte UTF-8 sequence, so this is the same as
decoding the stream incrementally first, a character split across reads stays
whole in the pending bytes, and the common line, ``data: {json}``, goes from
network bytes to a JSON decoder without ever becoming a ``str``.
"""

from __future__ import annotations

import msgspec

from agent_adapter.errors import StreamError

__all__ = ["MAX_RETRY_MS", "NDJSONDecoder", "SSEParser", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"

#: The spec puts no bound on ``retry:``. A longer run of digits is clamped to
#: this (the longest delay a JavaScript timer accepts, about 24.8 days), so a
#: hostile value cannot become a huge integer; resilience code decides what
#: to do with it.
MAX_RETRY_MS = 2**31 - 1


class ServerSentEvent(msgspec.Struct, gc=False):
    """One dispatched event.

    ``id`` is the last event ID in force when the event was dispatched (it
    persists across events until an ``id`` field changes it); ``retry`` is
    the reconnection time in milliseconds in force then, ``None`` if the
    stream never set one.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


# The marks of a read in which no ``id`` or ``retry`` changed (nearly every read): shared,
# never mutated (``_mark`` replaces it with a list first).
_NO_MARKS: tuple[()] = ()


def _utf8(data: bytes) -> bytes:
    """``data`` if it is valid UTF-8, else its text with U+FFFD for each bad sequence."""
    try:
        data.decode()
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace").encode()
    return data


def _retry(digits: bytes) -> int:
    """The reconnection time that an all-digits ``retry`` value sets, clamped."""
    digits = digits.lstrip(b"0")
    return MAX_RETRY_MS if len(digits) > 10 else min(int(digits or b"0"), MAX_RETRY_MS)


def _too_long(what: str, limit: int) -> StreamError:
    return StreamError(f"{what} longer than {limit} bytes; the stream is malformed or hostile")


class SSEParser:
    """Turns ``text/event-stream`` bytes into events, per the WHATWG rules.

    ``feed`` returns ``ServerSentEvent``s; ``feed_raw`` returns ``(event type,
    data bytes)`` pairs from the same machinery, for stream decoders that hand
    the data straight to a msgspec JSON decoder. Use one or the other on a
    given parser: both consume the input. ``retry`` is the reconnection time
    last set (ms, ``None`` if never set) and ``last_event_id`` the last event
    ID string, as of the last blank line.

    A line longer than ``max_line_bytes`` (checked while it is still arriving,
    so memory stays bounded) or an event whose data is longer than
    ``max_event_bytes`` raises ``StreamError``. That ends the stream: the
    events completed by the failing read are lost and the parser must not be
    fed again.
    """

    def __init__(self, *, max_line_bytes: int = 1 << 20, max_event_bytes: int = 4 << 20) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        self.retry: int | None = None
        self.last_event_id = ""
        self._reset()

    def _reset(self) -> None:
        """Start a new body: the spec's per-stream buffers begin empty again."""
        self._head = b""  # the first bytes, kept while they may still be a split BOM
        self._at_start = True  # a BOM may still be stripped
        self._after_cr = False  # the last line ended with CR: a leading LF completes its CRLF
        self._partial: list[bytes] = []  # pieces of the unfinished line (joined once, when it ends)
        self._partial_size = 0
        self._data: list[bytes] = []  # the data buffer, as one piece per ``data`` line
        self._data_size = 0  # its length, counting the LF after each piece
        self._event = "message"  # the event type buffer ("" is stored as "message")
        # The last event ID buffer, copied to ``last_event_id`` at each blank line. A new body
        # resumes from the ID already known, as ``EventSource`` does after a reconnection.
        self._id = self.last_event_id
        self._in_block = False  # a field other than ``data`` was seen since the last blank line
        # None of the above is pending (no partial line, data, field, BOM check or CR): the
        # state in which ``feed_raw`` may take a read that is exactly one event at once.
        self._idle = False
        # Where ``id``/``retry`` changed during the last ``_parse``: (index of the next
        # event, id, retry). They change rarely, so ``feed`` stamps events from these
        # instead of the hot loop carrying both values for every event.
        self._marks: tuple[()] | list[tuple[int, str, int | None]] = _NO_MARKS

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Feed the next bytes of the body; return the events they completed."""
        ident, retry = self._id, self.retry
        raw = self.feed_raw(data)
        if not raw:
            return []
        marks, m = self._marks, 0
        events: list[ServerSentEvent] = []
        for i, (event, payload) in enumerate(raw):
            while m < len(marks) and marks[m][0] <= i:
                _, ident, retry = marks[m]
                m += 1
            events.append(ServerSentEvent(event, payload.decode(), ident, retry))
        return events

    def feed_raw(self, data: bytes) -> list[tuple[str, bytes]]:
        """Like ``feed``, but return ``(event type, data)`` with data as UTF-8 bytes.

        Invalid UTF-8 in the data comes back already replaced by U+FFFD (and
        re-encoded), exactly as ``feed`` would decode it.

        Two shapes of read skip the general line machinery, because a real
        stream arrives as small TCP segments and the fixed cost per read
        dominates there: a piece of a line with no line end in it (appended to
        the pending line, bound checked), and a read that is exactly one
        ``data: ...`` line and its blank line while nothing is pending. Both
        give exactly what the general path gives for the same bytes.
        """
        if self._idle:
            if (
                data.endswith(b"\n\n")
                and data.startswith(b"data: ")
                and data.find(b"\n") == len(data) - 2
                and b"\r" not in data
                and len(data) - 2 <= self.max_line_bytes
                and len(data) - 8 <= self.max_event_bytes
            ):
                # Nothing pending and no other field in this block: the event type is "message",
                # the data is this one line's value, and no ID or retry changes.
                payload = data[6:-2]
                self._marks = _NO_MARKS
                return [("message", payload if payload.isascii() else _utf8(payload))]
        elif self._partial and b"\n" not in data and b"\r" not in data:
            self._partial.append(data)  # (``feed`` reads no marks after an empty result)
            self._partial_size += len(data)
            if self._partial_size > self.max_line_bytes:
                raise _too_long("SSE line", self.max_line_bytes)
            return []
        events = self._parse(self._lines(data))
        self._idle = not (
            self._partial or self._data or self._in_block or self._at_start or self._after_cr
        )
        return events

    def end(self) -> bool:
        """Signal the end of the body; return whether it ended on an event boundary.

        As the spec says, whatever is pending is discarded: an unfinished event
        is never dispatched, and a final line without a line end is not a line
        (none of its fields take effect). ``False`` means something was
        dropped: a partial line, or fields of a block whose blank line never
        came (comments do not count). The parser is then ready for a new body,
        which starts from the current ``retry`` and ``last_event_id``.
        """
        clean = not (self._head or self._partial or self._data or self._in_block)
        self._reset()
        return clean

    def _lines(self, data: bytes) -> list[bytes]:
        """Return the lines that ``data`` completes, without line ends; keep the rest.

        Pieces of an unfinished line are only joined once a line end arrives,
        so a long line trickling in costs linear time, and only up to
        ``max_line_bytes``.
        """
        if self._at_start:
            data = self._head + data
            if len(data) < 3 and _BOM.startswith(data):
                self._head = data
                return []
            self._at_start, self._head = False, b""
            if data.startswith(_BOM):
                data = data[3:]
        elif self._after_cr and data:
            self._after_cr = False
            if data[0] == 0x0A:
                data = data[1:]
        partial = self._partial
        if partial:
            if b"\n" not in data and b"\r" not in data:
                partial.append(data)
                self._partial_size += len(data)
                if self._partial_size > self.max_line_bytes:
                    raise _too_long("SSE line", self.max_line_bytes)
                return []
            partial.append(data)
            data = b"".join(partial)
            partial.clear()
        if b"\r" not in data:
            lines = data.split(b"\n")
            tail = lines.pop()
        else:  # ``bytes.splitlines`` splits at exactly CR, LF and CRLF, as the spec does
            lines = data.splitlines()
            self._after_cr = data.endswith(b"\r")
            tail = b"" if self._after_cr or data.endswith(b"\n") else lines.pop()
        self._partial_size = len(tail)
        if tail:
            partial.append(tail)
        limit = self.max_line_bytes
        if len(tail) > limit or (len(data) > limit and max(map(len, lines), default=0) > limit):
            raise _too_long("SSE line", limit)
        return lines

    def _parse(self, lines: list[bytes]) -> list[tuple[str, bytes]]:
        """Process complete lines as the spec says; return the dispatched events.

        Every line of every stream passes through this loop, so the per-line
        work is inline and ordered by frequency: blank lines, then
        ``data: ...``, then everything else.
        """
        self._marks = _NO_MARKS
        if not lines:
            return []
        events: list[tuple[str, bytes]] = []
        data, size, event, in_block = self._data, self._data_size, self._event, self._in_block
        limit = self.max_event_bytes + 1  # ``size`` counts an LF after the last piece too
        for line in lines:
            if not line:  # blank line: dispatch
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    if not payload.isascii():
                        payload = _utf8(payload)
                    events.append((event, payload))
                    data, size = [], 0
                if in_block:
                    self.last_event_id, event, in_block = self._id, "message", False
                continue
            if line.startswith(b"data: "):
                value = line[6:]
            else:
                name, _, value = line.partition(b":")
                if value.startswith(b" "):
                    value = value[1:]
                if name != b"data":
                    if name:  # an empty name is a comment line
                        in_block = True
                        if name == b"event":
                            event = value.decode("utf-8", "replace") or "message"
                        elif name == b"id" and b"\0" not in value:
                            self._id = value.decode("utf-8", "replace")
                            self._mark(len(events))
                        elif name == b"retry" and value.isdigit():  # bytes: ASCII digits only
                            self.retry = _retry(value)
                            self._mark(len(events))
                    continue
            size += len(value) + 1
            if size > limit:
                raise _too_long("SSE event data", self.max_event_bytes)
            data.append(value)
        self._data, self._data_size, self._event, self._in_block = data, size, event, in_block
        return events

    def _mark(self, index: int) -> None:
        """Record that ``id`` or ``retry`` changed before event ``index`` of this read."""
        if not self._marks:
            self._marks = []
        self._marks.append((index, self._id, self.retry))


class NDJSONDecoder:
    """Splits a newline-delimited JSON body into lines (Ollama streams this way).

    ``feed`` returns each complete line that is not blank (blank: empty or
    whitespace only), without its line end (LF or CRLF). It does not decode
    JSON: callers use their own typed msgspec decoders on the bytes. A line
    longer than ``max_line_bytes`` raises ``StreamError``, checked while it is
    still arriving so memory stays bounded.
    """

    def __init__(self, *, max_line_bytes: int = 4 << 20) -> None:
        self.max_line_bytes = max_line_bytes
        self._partial: list[bytes] = []  # pieces of the unfinished line (joined once, when it ends)
        self._partial_size = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Feed the next bytes of the body; return the non-blank lines they completed."""
        partial = self._partial
        if partial:
            partial.append(data)
            self._partial_size += len(data)
            if b"\n" not in data:
                if self._partial_size > self.max_line_bytes:
                    raise _too_long("NDJSON line", self.max_line_bytes)
                return []
            data = b"".join(partial)
            partial.clear()
        lines = data.split(b"\n")
        tail = lines.pop()
        self._partial_size = len(tail)
        if tail:
            partial.append(tail)
        limit = self.max_line_bytes
        if len(tail) > limit or (len(data) > limit and max(map(len, lines), default=0) > limit):
            raise _too_long("NDJSON line", limit)
        if b"\r" in data:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return [line for line in lines if line and not line.isspace()]

    def end(self) -> list[bytes]:
        """Signal the end of the body; return its last line if it lacked a line end.

        The decoder is then ready for a new body.
        """
        line = b"".join(self._partial)
        self._partial.clear()
        self._partial_size = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        return [line] if line and not line.isspace() else []
