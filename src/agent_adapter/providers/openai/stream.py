"""The ``chat.completion.chunk`` SSE stream decoder (also Zhipu's, with its own tables).

Stream rules (https://platform.openai.com/docs/api-reference/chat/streaming;
``stream_options`` in https://platform.openai.com/docs/api-reference/chat/create):
the stream ends with ``data: [DONE]``; ``end()`` is ``False`` without it, even
when a finish reason and the usage chunk already arrived, because the usage
chunk is documented to be lost on interruption and we cannot tell a complete
stream from a cut one otherwise. A chunk with a top-level ``error`` (or
Groq's ``x_groq.error``, or an ``event: error``) raises the classified error:
a retryable ``ServerError`` unless its body says more (rate limit, context
length, content filter).
"""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import StreamError
from ...sse import SSEParser
from ...types import FinishReason, StreamChunk, ToolCallDelta
from ..base import decode_json
from .errors import ErrorFactory, ErrorFacts, inband_error, stream_error
from .wire import (
    CHUNK_DECODER,
    DECODE_ERRORS,
    FINISH_REASONS,
    CallIn,
    CompletionChunk,
    arguments_text,
    first_choice,
    split_parts,
    to_usage,
)

__all__ = ["OpenAIStreamDecoder"]


class OpenAIStreamDecoder:
    """Sans-IO decoder of a ``chat.completion.chunk`` SSE stream (see the module docstring).

    Tool-call fragments are renumbered 0, 1, 2 ... in call order: fragments
    are routed by the provider's ``index``, then by ``id`` (servers that number
    every call 0, or repeat the id on each fragment, or send no index at all).

    OpenAI-shaped providers with their own finish reasons and error codes
    (Zhipu) pass ``finish_reasons`` (unknown values mean ``stop``) and
    ``error`` (builds the exception for a chunk's ``error`` value).
    """

    __slots__ = (
        "_by_id",
        "_by_index",
        "_calls",
        "_done",
        "_error",
        "_finish",
        "_last",
        "_provider",
        "_sse",
    )

    def __init__(
        self,
        provider: str = "openai",
        *,
        finish_reasons: Mapping[str, FinishReason] = FINISH_REASONS,
        error: ErrorFactory = stream_error,
        parser: SSEParser | None = None,
    ) -> None:
        self._provider = provider
        self._finish = finish_reasons
        self._error = error
        self._sse = parser or SSEParser()
        self._done = False
        self._by_index: dict[int, tuple[int, str | None]] = {}  # provider index -> ours, id
        self._by_id: dict[str, int] = {}
        self._last: int | None = None
        self._calls = 0

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was seen."""
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Feed body bytes; return the chunks they completed."""
        out: list[StreamChunk] = []
        decode = CHUNK_DECODER.decode
        for event, payload in self._sse.feed_raw(data):
            if self._done:
                break  # nothing after [DONE] counts
            try:
                c = decode(payload)
            except DECODE_ERRORS as exc:
                stripped = payload.strip()
                if stripped == b"[DONE]":
                    self._done = True
                    continue
                if not stripped:
                    continue
                raise StreamError(
                    f"malformed stream chunk: {exc}",
                    provider=self._provider,
                    body=payload[:2000].decode("utf-8", "replace"),
                ) from None
            # The common chunk, inline: one choice carrying a piece of answer text, nothing else.
            choices = c.choices
            if choices and len(choices) == 1 and c.usage is None and c.x_groq is None:
                only = choices[0]
                d = only.delta
                if (
                    d is not None
                    and type(d.content) is str
                    and only.finish_reason is None
                    and not (only.index or only.usage or c.error or event != "message")
                    and not (d.reasoning_content or d.reasoning or d.refusal or d.tool_calls)
                ):
                    if d.content:
                        out.append(StreamChunk(delta=d.content, id=c.id, model=c.model))
                    continue
            chunk = self._chunk(event, c, payload)
            if chunk is not None:
                out.append(chunk)
        return out

    def flush(self) -> list[StreamChunk]:
        """Nothing completes at end of body: an SSE event needs its blank line."""
        return []

    def end(self) -> bool:
        """End of body: True only if ``[DONE]`` was seen (anything else is a truncation)."""
        self._sse.end()
        return self._done

    def _chunk(self, event: str, c: CompletionChunk, payload: bytes) -> StreamChunk | None:
        """Every other chunk: tool calls, reasoning, finish, usage, in-band errors."""
        error = c.error or (c.x_groq.error if c.x_groq is not None else None)
        if error:
            raise self._error(self._provider, error, payload)
        if event == "error":  # an ``event: error`` whose data is the error body itself
            info = ErrorFacts.of_body(decode_json(payload))
            raise inband_error(self._provider, info, (), payload)
        usage = c.usage or (c.x_groq.usage if c.x_groq is not None else None)
        choice = first_choice(c.choices)
        text = thinking = refusal = ""
        calls: list[ToolCallDelta] | None = None
        finish: FinishReason | None = None
        raw: str | None = None
        if choice is not None:
            d = choice.delta
            if d is not None:
                if isinstance(d.content, list):
                    text, thinking = split_parts(d.content)
                elif d.content:
                    text = d.content
                thinking = d.reasoning_content or d.reasoning or thinking
                refusal = d.refusal or ""
                if d.tool_calls:
                    calls = [self._fragment(tc) for tc in d.tool_calls]
            raw = choice.finish_reason
            if raw:
                finish = self._finish.get(raw, "stop")
            usage = usage or choice.usage
        if not (text or thinking or refusal or calls or raw or usage):
            return None  # role-only header, Azure prompt-filter results, keep-alive data
        return StreamChunk(
            delta=text,
            reasoning=thinking,
            tool_calls=calls,
            refusal=refusal,
            finish_reason=finish,
            raw_finish_reason=raw,
            usage=to_usage(usage),
            id=c.id or None,
            model=c.model or None,
        )

    def _fragment(self, tc: CallIn) -> ToolCallDelta:
        fn = tc.function
        return ToolCallDelta(
            index=self._route(tc.index, tc.id),
            id=tc.id,
            name=fn.name if fn else None,
            arguments=arguments_text(fn.arguments) if fn else "",
        )

    def _route(self, index: int | None, call_id: str | None) -> int:
        """Our call number for a fragment (see the class docstring)."""
        if call_id and call_id in self._by_id:
            ours = self._by_id[call_id]
        elif index is not None:
            known = self._by_index.get(index)
            if known is not None and (not call_id or known[1] is None or known[1] == call_id):
                ours = known[0]
                if call_id and known[1] is None:
                    self._by_index[index] = (ours, call_id)
            else:  # a new index, or a new id reusing an index: a new call
                ours = self._new()
                self._by_index[index] = (ours, call_id)
        elif call_id or self._last is None:
            ours = self._new()
        else:
            ours = self._last
        if call_id:
            self._by_id[call_id] = ours
        self._last = ours
        return ours

    def _new(self) -> int:
        ours = self._calls
        self._calls += 1
        return ours
