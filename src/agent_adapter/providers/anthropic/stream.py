"""The Messages API stream decoder: SSE events in, ``StreamChunk``s out.

Each ``thinking`` block's text and signature, and each ``redacted_thinking``
block's data, are collected and handed out whole at the block's
``content_block_stop``, as a ``ReasoningItem`` with the block's index
(https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking), so
a streamed turn goes back exactly like a non-streamed one.
"""

from __future__ import annotations

import msgspec

from ...errors import StreamError
from ...sse import SSEParser
from ...types import StreamChunk, ToolCallDelta
from .errors import stream_error
from .wire import (
    EVENT_DECODER,
    EVENT_NAMES,
    STRUCTURED_TOOL_PREFIX,
    TYPE_DECODER,
    BlockDelta,
    BlockStart,
    BlockStop,
    ErrorEvent,
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    UsageIn,
    redacted_item,
    thinking_item,
    to_finish,
    to_usage,
)

__all__ = ["AnthropicStreamDecoder"]


class _BlockState:
    __slots__ = ("got_json", "kind", "ordinal", "parts", "raw_input", "signature")

    def __init__(self, kind: str, ordinal: int = -1) -> None:
        self.kind = kind  # text, tool, structured, thinking, redacted, other
        self.ordinal = ordinal
        self.parts: list[str] = []  # thinking text; a redacted block's data
        self.signature = ""
        self.raw_input = b""
        self.got_json = False


class AnthropicStreamDecoder:
    """Anthropic SSE events in, ``StreamChunk``s out; ``message_stop`` ends it."""

    def __init__(self, provider: str, parser: SSEParser | None = None) -> None:
        self._provider = provider
        self._parser = parser or SSEParser()
        self._done = False
        self._blocks: dict[int, _BlockState] = {}
        self._tools = 0
        self._signed = False  # the first thinking block's signature went out
        self._usage = UsageIn()

    @property
    def done(self) -> bool:
        """True once ``message_stop`` was seen."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Feed body bytes; return the chunks they complete."""
        chunks: list[StreamChunk] = []
        for name, payload in self._parser.feed_raw(data):
            if self._done or name not in EVENT_NAMES:
                continue  # after the terminator, or an event type added later
            try:
                event = EVENT_DECODER.decode(payload)
            except msgspec.ValidationError as exc:
                if name == "message":
                    try:
                        if TYPE_DECODER.decode(payload).type not in EVENT_NAMES:
                            continue
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        pass
                raise self._malformed(name, exc) from None
            except msgspec.DecodeError as exc:
                raise self._malformed(name, exc) from None
            chunk = self._event(event)
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def flush(self) -> list[StreamChunk]:
        """Nothing completes at end of body: an SSE event needs its blank line."""
        return []

    def end(self) -> bool:
        """End of body: True iff ``message_stop`` was seen."""
        self._parser.end()
        return self._done

    def _malformed(self, name: str, exc: Exception) -> StreamError:
        return StreamError(f"malformed Anthropic {name} event: {exc}", provider=self._provider)

    def _event(self, event: Event) -> StreamChunk | None:
        if isinstance(event, BlockDelta):
            return self._delta(event)
        if isinstance(event, BlockStart):
            return self._start(event)
        if isinstance(event, BlockStop):
            return self._stop(event.index)
        if isinstance(event, MessageStart):
            message = event.message
            if message.usage is not None:
                self._usage = message.usage
            return StreamChunk(id=message.id, model=message.model, usage=to_usage(self._usage))
        if isinstance(event, MessageDelta):
            return self._message_delta(event)
        if isinstance(event, MessageStop):
            self._done = True
            return None
        if isinstance(event, ErrorEvent):
            raise stream_error(self._provider, event)
        return None  # ping

    def _start(self, event: BlockStart) -> StreamChunk | None:
        block = event.content_block
        kind = block.type
        if kind == "text":
            self._blocks[event.index] = _BlockState("text")
            return StreamChunk(delta=block.text) if block.text else None
        if kind == "tool_use":
            name = block.name or ""
            if name.startswith(STRUCTURED_TOOL_PREFIX):
                state = _BlockState("structured")
                state.raw_input = bytes(block.input)
                self._blocks[event.index] = state
                return None
            state = _BlockState("tool", self._tools)
            state.raw_input = bytes(block.input)
            self._tools += 1
            self._blocks[event.index] = state
            delta = ToolCallDelta(index=state.ordinal, id=block.id, name=name)
            return StreamChunk(tool_calls=[delta])
        if kind == "thinking":
            state = _BlockState("thinking")
            state.signature = block.signature or ""
            self._blocks[event.index] = state
            if block.thinking:
                state.parts.append(block.thinking)
                return StreamChunk(reasoning=block.thinking)
            return None
        if kind == "redacted_thinking":
            state = _BlockState("redacted")
            state.parts.append(block.data or "")
            self._blocks[event.index] = state
            return None
        self._blocks[event.index] = _BlockState("other")
        return None

    def _delta(self, event: BlockDelta) -> StreamChunk | None:
        delta = event.delta
        kind = delta.type
        state = self._blocks.get(event.index)
        if kind == "text_delta":
            if state is not None and state.kind == "other":
                return None
            return StreamChunk(delta=delta.text) if delta.text else None
        if kind == "input_json_delta":
            if state is None or not delta.partial_json:
                return None
            state.got_json = True
            if state.kind == "tool":
                fragment = ToolCallDelta(index=state.ordinal, arguments=delta.partial_json)
                return StreamChunk(tool_calls=[fragment])
            if state.kind == "structured":
                return StreamChunk(delta=delta.partial_json)
            return None
        if kind == "thinking_delta":
            if not delta.thinking:
                return None
            if state is not None:
                state.parts.append(delta.thinking)
            return StreamChunk(reasoning=delta.thinking)
        if kind == "signature_delta":
            if state is None or not delta.signature:
                return None
            state.signature = delta.signature
            if state.kind == "thinking" and not self._signed:
                self._signed = True
                return StreamChunk(reasoning_signature=delta.signature)
        return None  # citations_delta and types added later

    def _stop(self, index: int) -> StreamChunk | None:
        state = self._blocks.get(index)
        if state is None:
            return None
        if state.kind in ("tool", "structured") and not state.got_json:
            raw = state.raw_input
            if raw and raw.strip() != b"{}":  # the whole input came with the start event
                state.got_json = True
                arguments = raw.decode("utf-8", "replace")
                if state.kind == "structured":
                    return StreamChunk(delta=arguments)
                return StreamChunk(
                    tool_calls=[ToolCallDelta(index=state.ordinal, arguments=arguments)]
                )
            if state.kind == "structured":
                return StreamChunk(delta="{}")
            return None
        if state.kind == "thinking":
            item = thinking_item(index, "".join(state.parts), state.signature)
        elif state.kind == "redacted":
            item = redacted_item(index, "".join(state.parts))
        else:
            return None
        state.parts = []
        return StreamChunk(reasoning_items=[item])

    def _message_delta(self, event: MessageDelta) -> StreamChunk:
        usage = event.usage
        if usage is not None:
            current = self._usage
            self._usage = UsageIn(
                input_tokens=_pick(usage.input_tokens, current.input_tokens),
                output_tokens=_pick(usage.output_tokens, current.output_tokens),
                cache_creation_input_tokens=_pick(
                    usage.cache_creation_input_tokens, current.cache_creation_input_tokens
                ),
                cache_read_input_tokens=_pick(
                    usage.cache_read_input_tokens, current.cache_read_input_tokens
                ),
                output_tokens_details=usage.output_tokens_details or current.output_tokens_details,
            )
        raw = event.delta.stop_reason
        details = event.delta.stop_details
        refusal = (details.explanation or details.category or "") if details else ""
        return StreamChunk(
            finish_reason=to_finish(raw, self._tools > 0),
            raw_finish_reason=raw,
            usage=to_usage(self._usage),
            refusal=refusal,
        )


def _pick(new: int | None, old: int | None) -> int | None:
    return new if new is not None else old
