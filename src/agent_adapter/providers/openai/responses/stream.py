"""The Responses API stream decoder: typed SSE events in, ``StreamChunk``s out.

Events (https://platform.openai.com/docs/api-reference/responses-streaming)
come as ``event: <type>`` plus ``data: {"type": <type>, ...}``; the data's
``type`` is what counts. Text comes from ``response.output_text.delta``,
refusals from ``response.refusal.delta``, reasoning from
``response.reasoning_summary_text.delta`` (a blank line between summary parts,
as the non-streamed reply joins them), tool calls from
``response.output_item.added`` (call id, name) and
``response.function_call_arguments.delta``, numbered 0, 1, 2 ... in output
order. A ``.done`` event (or the item's ``response.output_item.done``)
supplies whatever its deltas did not, so a server that sends only the done
events gives the same answer. Finished reasoning items are taken from
``response.output_item.done``, where the encrypted content is complete.

The stream ends with ``response.completed`` or ``response.incomplete`` (finish
reason and usage) or ``response.failed`` (raised as its classified error); an
``error`` event is raised too. ``end()`` is ``False`` when none of the three
terminal events came: the body was cut. Unknown event types are ignored.
"""

from __future__ import annotations

from ....errors import StreamError
from ....sse import SSEParser
from ....types import ReasoningItem, StreamChunk, ToolCallDelta
from ..wire import arguments_text
from .errors import failure
from .wire import (
    DECODE_ERRORS,
    EVENT_DECODER,
    TYPE_DECODER,
    ErrorIn,
    Event,
    ItemIn,
    finish_of,
    item_of,
    reasoning_items as reasoning_of,
    to_usage,
)

__all__ = ["ResponsesStreamDecoder"]

_TERMINAL = frozenset(("response.completed", "response.incomplete"))
_STARTED = frozenset(("response.created", "response.in_progress", "response.queued"))
# Events whose data must fit ``Event``: one that does not is malformed, not new.
_READ = frozenset(
    (
        "response.created", "response.queued", "response.in_progress", "response.completed",
        "response.incomplete", "response.failed", "error", "response.output_item.added",
        "response.output_item.done", "response.output_text.delta", "response.output_text.done",
        "response.refusal.delta", "response.refusal.done",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
    )
)  # fmt: skip


class _Call:
    """What has been sent of one function call: its number, and which fields."""

    __slots__ = ("args", "call_id", "index", "item_id", "name")

    def __init__(self, index: int) -> None:
        self.index = index
        self.call_id = False  # the call_... id sent
        self.name = False
        self.item_id = False  # the fc_... id sent
        self.args = False  # some argument text sent


class ResponsesStreamDecoder:
    """Sans-IO decoder of a Responses SSE stream (see the module docstring).

    ``index`` on a reasoning item is its position among the items of the turn
    that go back next time (reasoning items, the assistant message, the calls),
    the same as ``wire.chat_response`` gives, so ``encode`` puts it back there.
    """

    __slots__ = (
        "_calls",
        "_done",
        "_id",
        "_message_placed",
        "_model",
        "_parts",
        "_position",
        "_provider",
        "_refusal_seen",
        "_slots",
        "_sse",
        "_summary_seen",
        "_terminal",
        "_text_seen",
    )

    def __init__(self, provider: str = "openai", *, parser: SSEParser | None = None) -> None:
        self._provider = provider
        self._sse = parser or SSEParser()
        self._done = False
        self._terminal = False
        self._id: str | None = None
        self._model: str | None = None
        self._calls: dict[int, _Call] = {}  # output_index -> call
        self._slots: dict[int, int | None] = {}  # output_index -> position in the turn
        self._position = 0
        self._message_placed = False
        self._text_seen: set[tuple[int, int]] = set()  # (output_index, content_index)
        self._refusal_seen: set[tuple[int, int]] = set()
        self._parts: set[tuple[int, int]] = set()  # summary parts begun (output, summary index)
        self._summary_seen: set[tuple[int, int]] = set()  # summary parts with text sent

    @property
    def done(self) -> bool:
        """True once a terminal event (completed, incomplete) was seen."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Feed body bytes; return the chunks they completed."""
        out: list[StreamChunk] = []
        decode = EVENT_DECODER.decode
        for event, payload in self._sse.feed_raw(data):
            if self._done:
                break  # nothing after the terminal event counts
            try:
                e = decode(payload)
            except DECODE_ERRORS as exc:
                self._unreadable(event, payload, exc)
                continue
            kind = e.type or event
            if kind == "response.output_text.delta":  # the common event, inline
                key = (e.output_index or 0, e.content_index or 0)
                if key not in self._text_seen:
                    self._text_seen.add(key)
                    self._place(key[0], "message")
                if e.delta:
                    out.append(StreamChunk(delta=e.delta, id=self._id, model=self._model))
                continue
            self._event(kind, e, payload, out)
        return out

    def flush(self) -> list[StreamChunk]:
        """Nothing completes at end of body: an SSE event needs its blank line."""
        return []

    def end(self) -> bool:
        """End of body: True only if a terminal event was seen (else it was cut)."""
        self._sse.end()
        return self._terminal

    # -- events ----------------------------------------------------------------------

    def _unreadable(self, event: str, payload: bytes, exc: Exception) -> None:
        """An event that does not fit ``Event``: skipped if new or empty, else malformed."""
        stripped = payload.strip()
        if not stripped or stripped == b"[DONE]":  # some compatible servers end with [DONE]
            return
        try:
            kind = TYPE_DECODER.decode(payload).type or event
        except DECODE_ERRORS:
            kind = "error"  # not even an object with a type: malformed whatever it was
        if kind in _READ:
            raise self._malformed(payload, exc)

    def _malformed(self, payload: bytes, exc: Exception) -> StreamError:
        return StreamError(
            f"malformed stream event: {exc}",
            provider=self._provider,
            body=payload[:2000].decode("utf-8", "replace"),
        )

    def _event(self, kind: str, e: Event, payload: bytes, out: list[StreamChunk]) -> None:
        nested = e.error
        if isinstance(nested, ErrorIn) and not (nested.message or nested.code or nested.type):
            nested = None  # "error": {} is no error, as for the SDK
        if kind == "error" or nested:  # the SDK, too, raises for any event with an error
            if isinstance(nested, ErrorIn):
                error = nested
            else:
                message = nested if isinstance(nested, str) else e.message
                error = ErrorIn(code=e.code, message=message, param=e.param)
            raise failure(self._provider, error, payload, fallback="the stream reported an error")
        index = e.output_index or 0
        if kind == "response.function_call_arguments.delta":
            if e.delta:
                call = self._call(index)
                call.args = True
                out.append(self._fragment(call, arguments=e.delta))
        elif kind == "response.reasoning_summary_text.delta":
            key = (index, e.summary_index or 0)
            self._summary_seen.add(key)
            text = self._begin(key) + (e.delta or "")
            if text:
                out.append(self._chunk(reasoning=text))
        elif kind == "response.refusal.delta":
            key = (index, e.content_index or 0)
            self._refusal_seen.add(key)
            self._place(index, "message")
            if e.delta:
                out.append(self._chunk(refusal=e.delta))
        elif kind == "response.output_item.added" or kind == "response.output_item.done":
            if e.item:
                try:
                    item = item_of(e.item)
                except DECODE_ERRORS as exc:
                    raise self._malformed(payload, exc) from None
                if item is not None:
                    self._item(index, item, kind.endswith("done"), out)
        elif kind == "response.output_text.done":
            self._settle_text(index, e.content_index or 0, e.text, out)
        elif kind == "response.refusal.done":
            self._settle_refusal(index, e.content_index or 0, e.refusal, out)
        elif kind == "response.function_call_arguments.done":
            call = self._call(index)
            if not call.name and e.name:
                call.name = True
                out.append(self._fragment(call, name=e.name))
            if not call.args and e.arguments:
                call.args = True
                out.append(self._fragment(call, arguments=e.arguments))
        elif kind == "response.reasoning_summary_part.added":
            separator = self._begin((index, e.summary_index or 0))
            if separator:
                out.append(self._chunk(reasoning=separator))
        elif kind == "response.reasoning_summary_text.done":
            key = (index, e.summary_index or 0)
            text = self._begin(key)
            if key not in self._summary_seen:
                self._summary_seen.add(key)
                text += e.text or ""
            if text:
                out.append(self._chunk(reasoning=text))
        elif kind in _TERMINAL:
            head = e.response
            if head is None:
                raise StreamError(f"{kind} without its response", provider=self._provider)
            head.status = head.status or kind.removeprefix("response.")
            finish, raw = finish_of(head, bool(self._calls))
            self._done = self._terminal = True
            out.append(
                StreamChunk(
                    finish_reason=finish,
                    raw_finish_reason=raw,
                    usage=to_usage(head.usage),
                    id=head.id or self._id,
                    model=head.model or self._model,
                )
            )
        elif kind == "response.failed":
            reported = e.response.error if e.response is not None else None
            raise failure(self._provider, reported, payload, fallback="the response failed")
        elif kind in _STARTED and e.response is not None:
            self._id = self._id or e.response.id
            self._model = self._model or e.response.model
        # Anything else (content parts, annotations, built-in tools, audio, ...) is ignored.

    def _item(self, index: int, item: ItemIn, done: bool, out: list[StreamChunk]) -> None:
        """An output item was added or finished."""
        if item.type == "function_call":
            self._place(index, "call")
            call = self._call(index)
            fragment = ToolCallDelta(index=call.index)
            if not call.call_id and item.call_id:
                call.call_id = True
                fragment.id = item.call_id
            if not call.name and item.name:
                call.name = True
                fragment.name = item.name
            if not call.item_id and item.id:
                call.item_id = True
                fragment.item_id = item.id
            args = arguments_text(item.arguments)
            if not call.args and args:
                call.args = True
                fragment.arguments = args
            if fragment.id or fragment.name or fragment.item_id or fragment.arguments:
                out.append(self._chunk(tool_calls=[fragment]))
        elif item.type == "message":
            self._place(index, "message")
            if done:
                for n, part in enumerate(item.content or ()):
                    if part.type == "output_text":
                        self._settle_text(index, n, part.text, out)
                    elif part.type == "refusal":
                        self._settle_refusal(index, n, part.refusal, out)
        else:  # reasoning
            position = self._place(index, "reasoning")
            if not done:
                return
            text = ""
            for n, part in enumerate(item.summary or ()):
                key = (index, n)
                text += self._begin(key)
                if key not in self._summary_seen:
                    self._summary_seen.add(key)
                    text += part.text or ""
            out.append(self._chunk(reasoning=text, reasoning_items=reasoning_of(item, position)))

    # -- bookkeeping -----------------------------------------------------------------

    def _chunk(
        self,
        *,
        delta: str = "",
        reasoning: str = "",
        refusal: str = "",
        tool_calls: list[ToolCallDelta] | None = None,
        reasoning_items: list[ReasoningItem] | None = None,
    ) -> StreamChunk:
        return StreamChunk(
            delta=delta,
            reasoning=reasoning,
            refusal=refusal,
            tool_calls=tool_calls,
            reasoning_items=reasoning_items,
            id=self._id,
            model=self._model,
        )

    def _fragment(
        self, call: _Call, *, name: str | None = None, arguments: str = ""
    ) -> StreamChunk:
        return self._chunk(
            tool_calls=[ToolCallDelta(index=call.index, name=name, arguments=arguments)]
        )

    def _call(self, output_index: int) -> _Call:
        """The call at ``output_index``, numbered in the order calls first appear."""
        call = self._calls.get(output_index)
        if call is None:
            call = self._calls[output_index] = _Call(len(self._calls))
            self._place(output_index, "call")
        return call

    def _place(self, output_index: int, kind: str) -> int | None:
        """The position of the item at ``output_index`` among those that go back next turn:
        every reasoning item and call has one, all messages share the first one's."""
        if output_index in self._slots:
            return self._slots[output_index]
        position: int | None = self._position
        if kind == "message":
            if self._message_placed:
                position = None
            self._message_placed = True
        if position is not None:
            self._position += 1
        self._slots[output_index] = position
        return position

    def _begin(self, key: tuple[int, int]) -> str:
        """Begin a summary part (once): the blank line that separates it from the last one."""
        if key in self._parts:
            return ""
        self._parts.add(key)
        return "\n\n" if len(self._parts) > 1 else ""

    def _settle_text(self, index: int, n: int, text: str | None, out: list[StreamChunk]) -> None:
        key = (index, n)
        if key not in self._text_seen:
            self._text_seen.add(key)
            self._place(index, "message")
            if text:
                out.append(self._chunk(delta=text))

    def _settle_refusal(
        self, index: int, n: int, refusal: str | None, out: list[StreamChunk]
    ) -> None:
        key = (index, n)
        if key not in self._refusal_seen:
            self._refusal_seen.add(key)
            self._place(index, "message")
            if refusal:
                out.append(self._chunk(refusal=refusal))
