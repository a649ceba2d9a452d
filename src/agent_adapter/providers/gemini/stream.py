"""The ``alt=sse`` stream decoder: each event a whole ``GenerateContentResponse``."""

from __future__ import annotations

import msgspec

from ...errors import StreamError
from ...sse import SSEParser
from ...types import FinishReason, StreamChunk, ToolCallDelta
from .errors import blocked, classify_error
from .wire import RESPONSE_DECODER, Parts, first_candidate, to_finish, to_usage

__all__ = ["MAX_EVENT_BYTES", "GeminiStreamDecoder"]

#: Bounds for one SSE line / event. Every Gemini event is a whole JSON response on one
#: ``data:`` line, and image-generating models put base64 images in it, so these are
#: larger than the parser's defaults (still bounded).
MAX_EVENT_BYTES = 32 << 20


class GeminiStreamDecoder:
    """``alt=sse`` body → ``StreamChunk``s, one per event.

    Every event is a whole ``GenerateContentResponse`` holding only the new
    parts. Function calls arrive whole, so each becomes one ``ToolCallDelta``
    with the next index, carrying its part's thought signature; another
    part's signature rides on the chunk (the last one seen is the turn's).
    The stream is over after the chunk that carries
    ``finishReason``; ``end()`` is true only if one was seen.
    """

    __slots__ = ("_calls", "_done", "_provider", "_sse")

    def __init__(self, provider: str = "gemini", parser: SSEParser | None = None) -> None:
        self._provider = provider
        self._sse = parser or SSEParser(
            max_line_bytes=MAX_EVENT_BYTES, max_event_bytes=MAX_EVENT_BYTES
        )
        self._done = False
        self._calls = 0

    @property
    def done(self) -> bool:
        """True once a chunk with ``finishReason`` was decoded."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Decode the events ``data`` completes; events after the final one are ignored."""
        if self._done:
            return []
        out: list[StreamChunk] = []
        for _event, payload in self._sse.feed_raw(data):
            if self._done:
                break
            if not payload or payload.isspace():
                continue
            chunk = self._chunk(payload)
            if chunk is not None:
                out.append(chunk)
        return out

    def flush(self) -> list[StreamChunk]:
        """Nothing completes at end of body: an SSE event needs its blank line."""
        return []

    def end(self) -> bool:
        """End of body: true iff the final chunk (with ``finishReason``) arrived."""
        self._sse.end()
        return self._done

    def _chunk(self, payload: bytes) -> StreamChunk | None:
        try:
            resp = RESPONSE_DECODER.decode(payload)
        except msgspec.DecodeError as exc:
            raise StreamError(
                f"malformed Gemini stream chunk: {exc}", provider=self._provider
            ) from None
        if resp.error is not None:
            raise classify_error(self._provider, None, (), payload, msgspec.to_builtins(resp.error))
        usage = to_usage(resp.usage_metadata) if resp.usage_metadata is not None else None
        cand = first_candidate(resp.candidates)
        if cand is None:
            feedback = resp.prompt_feedback
            if feedback is not None and feedback.block_reason:
                raise blocked(self._provider, feedback, payload)
            if usage is None:
                return None
            return StreamChunk(usage=usage, id=resp.response_id, model=resp.model_version)

        parts = Parts()
        if cand.content is not None and cand.content.parts:
            parts.read(cand.content.parts, resp.response_id, self._calls, self._provider)
        deltas: list[ToolCallDelta] | None = None
        if parts.calls:
            deltas = [
                ToolCallDelta(
                    index=self._calls + n,
                    id=c.id,
                    name=c.name,
                    arguments=c.arguments,
                    signature=c.signature,
                )
                for n, c in enumerate(parts.calls)
            ]
            self._calls += len(parts.calls)
        finish: FinishReason | None = None
        raw = cand.finish_reason
        if raw:
            finish = to_finish(raw, self._calls > 0)
            self._done = True
        return StreamChunk(
            delta="".join(parts.text),
            reasoning="".join(parts.reasoning),
            reasoning_signature=parts.signature,
            tool_calls=deltas,
            finish_reason=finish,
            raw_finish_reason=raw,
            usage=usage,
            id=resp.response_id,
            model=resp.model_version,
        )
