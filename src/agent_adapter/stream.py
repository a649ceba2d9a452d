"""``ChatStream``: one streamed call, as an async context manager and async iterator.

Entering the stream sends the request and waits for the first chunk that
carries content; until then every failure (an HTTP error status, a reset, an
error event, a truncated body) may be retried, because nothing has reached
the caller yet. After that, a failure raises ``StreamError`` carrying the
partial response.

Every network wait runs in its own cancel scope whose deadline is the
earliest of ``total``, ``first_token`` (before content) and ``idle`` (after
content, measured from the last event that carried content, so keep-alive
comments and pings never extend it). Leaving the ``async with`` early, an
outer cancellation, a deadline, or ``aclose()`` from another task closes the
connection at once; a stream read to its end hands its connection back to
the pool.
"""

from __future__ import annotations

import enum
import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from .accumulate import Accumulator
from .errors import AdapterError, StreamError, StructuredOutputError, TimeoutError
from .providers.base import request_id
from .runner import Call, Outcome, metrics_of, outcome_of, run

if TYPE_CHECKING:
    from types import TracebackType

    from .providers.base import StreamDecoder
    from .transport import Response, Transport
    from .types import ChatRequest, ChatResponse, Metrics, StreamChunk

__all__ = ["ChatStream", "StreamState"]

DRAIN_SECONDS = 1.0
"""After the protocol terminator, how long we wait for the body's end to reuse the connection."""

ERROR_BODY_SECONDS = 30.0
"""How long an error body may take to arrive when the call sets no read timeout."""


class StreamState(enum.Enum):
    """Where a stream is in its life; it only ever moves forward."""

    NEW = "new"
    """Created; the request is sent on entering ``async with`` (or on the first ``__anext__``)."""
    OPENING = "opening"
    """Attempts are running; nothing has reached the caller, so a failure may be retried."""
    STREAMING = "streaming"
    """Content reached the caller; a failure now raises with the partial response."""
    ENDED = "ended"
    """The call is over (complete, failed, timed out, closed or abandoned)."""


class ChatStream:
    """A streamed chat call. Use ``async with client.stream(...) as s: async for chunk in s``.

    ``response`` is the assembled ``ChatResponse`` (complete after the last
    chunk, partial before; its ``metrics`` hold the timings); ``ttft`` is the
    seconds from the call to the first content; ``chunk_count`` how many
    chunks were decoded; ``state`` where the stream is in its life.

    Every ending (complete, error, timeout, cancellation, ``break``,
    ``aclose()`` from another task, a stream abandoned without closing) goes
    through ``_end`` once: it closes or pools the connection and ends the
    call. Ending one *attempt* (before a retry) is ``_drop_response``.
    """

    __slots__ = (
        "_acc",
        "_call",
        "_closing",
        "_content_reads",
        "_decoder",
        "_end_time",
        "_ended_event",
        "_first_content",
        "_last_content",
        "_pending",
        "_pos",
        "_postprocess",
        "_request",
        "_request_id",
        "_resp",
        "_result",
        "_state",
        "_tbt_max",
        "_transport",
        "_wait_scope",
        "chunk_count",
    )

    def __init__(
        self,
        call: Call,
        *,
        transport: Transport,
        request: ChatRequest,
        postprocess: Callable[[ChatResponse], ChatResponse] | None = None,
    ) -> None:
        self._call = call
        self._transport = transport
        self._request: ChatRequest | None = request
        self._postprocess = postprocess  # the complete response -> what the caller gets
        self._state = StreamState.NEW
        self._acc = Accumulator()
        self._pending: list[StreamChunk] = []
        self._pos = 0
        self._resp: Response | None = None
        self._decoder: StreamDecoder | None = None
        self._closing = False  # aclose() asked for the end
        self._wait_scope: anyio.CancelScope | None = None
        self._ended_event: anyio.Event | None = None  # made only when aclose() must wait
        self._first_content: float | None = None
        self._last_content = 0.0
        self._content_reads = 0  # network reads that carried content
        self._tbt_max = 0.0  # the longest gap between two of them
        self._end_time: float | None = None
        self._result: ChatResponse | None = None
        self._request_id: str | None = None
        self.chunk_count = 0

    # -- public surface ----------------------------------------------------

    async def __aenter__(self) -> ChatStream:
        if self._state is StreamState.NEW:
            await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> StreamChunk:
        if self._pos < len(self._pending):
            chunk = self._pending[self._pos]
            self._pos += 1
            return chunk
        state = self._state
        if state is StreamState.STREAMING:
            try:
                await self._pull(until_content=False)
            except AdapterError as error:
                wrapped = self._as_stream_error(error)
                await self._end(outcome_of(wrapped), wrapped)
                raise wrapped from error
            except BaseException as exc:
                await self._end(outcome_of(exc), exc)
                raise
            return await self.__anext__()
        if state is StreamState.NEW:
            await self._open()
            return await self.__anext__()
        raise StopAsyncIteration

    def __del__(self) -> None:
        # An abandoned stream (never closed, never read to the end) must not keep its
        # connection open or its pool slot taken: shut the socket now, end the call, say so.
        if getattr(self, "_state", StreamState.ENDED) is StreamState.ENDED:
            return
        self._state = StreamState.ENDED
        resp, self._resp = self._resp, None
        if resp is not None and resp.abort():
            warnings.warn(
                "ChatStream was not closed; use 'async with client.stream(...)'",
                ResourceWarning,
                stacklevel=1,
            )
        self._report()
        self._call.end("cancelled")

    async def aclose(self) -> None:
        """Stop the stream and close its connection; safe from any task, idempotent."""
        if self._state is StreamState.ENDED:
            return
        self._closing = True
        if self._wait_scope is not None:
            # Another task is blocked on the network: wake it; it ends the stream itself.
            self._ended_event = ended = anyio.Event()
            self._wait_scope.cancel()
            await ended.wait()
        else:
            await self._end("cancelled")

    @property
    def state(self) -> StreamState:
        """Where the stream is in its life."""
        return self._state

    @property
    def attempts(self) -> int:
        """How many attempts the call has made so far."""
        return self._call.attempts

    @property
    def response(self) -> ChatResponse:
        """The assembled response (partial until the stream has ended)."""
        return self._result if self._result is not None else self._assemble()

    @property
    def ttft(self) -> float | None:
        """Seconds from the start of the call to the first content."""
        start = self._call.start
        if self._first_content is None or start is None:
            return None
        return self._first_content - start

    @property
    def buffered(self) -> int:
        """Chunks decoded but not yet handed out: the next ``__anext__`` needs no network read.

        A relay (the gateway) writes out what it has when this is 0, so one
        network read in becomes one write out, not one write per chunk.
        """
        return len(self._pending) - self._pos

    # -- the call and its attempts -------------------------------------------

    async def _open(self) -> None:
        """Run attempts until one delivers content (or the whole stream)."""
        self._state = StreamState.OPENING
        try:
            await run(self._call, self._attempt)
        except BaseException as exc:
            await self._end(outcome_of(exc), exc)
            raise
        self._call.http = None  # content reached the caller: no retry will resend the body,
        self._request = None  # nor decode another attempt: both may be freed now
        if self._state is StreamState.OPENING:
            self._state = StreamState.STREAMING

    async def _attempt(self, call: Call) -> None:
        await self._drop_response()  # what a failed attempt before this one left
        self._acc = Accumulator()
        self._pending, self._pos = [], 0
        adapter = call.adapter
        try:
            assert call.http is not None
            self._resp = resp = await self._transport.send(call.http, call.timeouts)
            call.timed(resp)
            if self._closing:
                await self._end("cancelled")
                raise StopAsyncIteration  # aclose() from another task ended the stream
            if call.gates:
                call.response_head(resp.status, resp.headers)
            self._request_id = request_id(resp.headers)
            if not 200 <= resp.status < 300:
                body = await self._read_error_body(resp)
                raise adapter.error(resp.status, resp.headers, body)
            assert self._request is not None
            self._decoder = adapter.stream_decoder(self._request)
            await self._pull(until_content=True)
        except AdapterError:
            await self._drop_response()
            raise

    async def _read_error_body(self, resp: Response) -> bytes:
        with anyio.move_on_after(self._call.timeouts.read or ERROR_BODY_SECONDS):
            return await resp.read(limit=1 << 20)
        return b""

    async def _pull(self, *, until_content: bool) -> None:
        """Read from the network until new chunks are buffered (or content, or the end)."""
        resp, decoder = self._resp, self._decoder
        assert resp is not None
        assert decoder is not None
        while True:
            data = await self._wait(resp, drain=decoder.done)
            if not data:
                tail = decoder.flush()  # end of body: what only the end completes
                if tail:
                    self._take(tail)
                await self._body_ended(decoder)
                return
            if decoder.done:
                continue  # after the terminator: only draining to reuse the connection
            chunks = decoder.feed(data)
            if chunks:
                self._take(chunks)
                if not until_content or self._first_content is not None:
                    return

    def _take(self, chunks: list[StreamChunk]) -> None:
        if self._acc.extend(chunks):  # one clock read per network read, not per chunk
            now = anyio.current_time()
            if self._first_content is None:
                self._first_content = now
                if self._call.observer is not None:
                    self._call.observer.first_token(self._call, now)
            elif now - self._last_content > self._tbt_max:
                self._tbt_max = now - self._last_content
            self._last_content = now
            self._content_reads += 1
        self.chunk_count += len(chunks)
        if self._pos >= len(self._pending):
            self._pending, self._pos = chunks, 0
        else:
            self._pending.extend(chunks)

    async def _body_ended(self, decoder: StreamDecoder) -> None:
        """The body is over: a truncated one fails this attempt, a complete one ends the call."""
        self._end_time = anyio.current_time()
        if not decoder.end():
            raise StreamError(
                "the stream ended before its terminator (truncated)",
                provider=self._call.provider,
                retryable=self._first_content is None,
                partial=self._acc.response(self._call.provider),
                truncated=True,
            )
        complete = self._assemble()
        self._call.usage = complete.usage
        self._call.result = complete  # before postprocess, which may raise with it as the partial
        self._result = self._postprocess(complete) if self._postprocess is not None else complete
        self._call.result = self._result
        await self._end("ok")  # read to the end: the connection goes back to the pool

    async def _wait(self, resp: Response, *, drain: bool) -> bytes:
        """One network read under the earliest applicable deadline."""
        call = self._call
        start = call.start
        assert start is not None
        if drain:
            which, phase = "idle", anyio.current_time() + DRAIN_SECONDS
        elif self._first_content is None:
            which, budget = "first_token", call.timeouts.first_token
            phase = start + budget if budget else math.inf
        else:
            which, budget = "idle", call.timeouts.idle
            phase = self._last_content + budget if budget else math.inf
        if phase >= call.deadline:
            which, phase = "total", call.deadline
        with anyio.CancelScope(deadline=phase) as scope:
            self._wait_scope = scope
            try:
                return await resp.next_chunk()
            finally:
                self._wait_scope = None
        if self._closing:
            await self._end("cancelled")
            raise StopAsyncIteration  # aclose() from another task ended the stream
        if drain:
            await self._drop_response()  # the body did not end: close instead of reusing
            return b""
        raise call.timeout(which)

    def _as_stream_error(self, error: AdapterError) -> AdapterError:
        """After content reached the caller, a failure becomes a StreamError with the partial."""
        provider = self._call.provider
        if isinstance(error, StreamError | TimeoutError | StructuredOutputError):
            if error.partial is None:
                error.partial = self._acc.response(provider)
            error.retryable = False
            return error
        return StreamError(
            f"the stream failed after content was delivered: {error}",
            provider=error.provider or provider,
            status=error.status,
            retryable=False,
            request_id=error.request_id,
            body=error.body,
            code=error.code,
            partial=self._acc.response(provider),
            cause=error,
        )

    def _assemble(self) -> ChatResponse:
        response = self._acc.response(self._call.provider)
        response.request_id = self._request_id
        response.metrics = self._metrics(response)
        return response

    def _metrics(self, response: ChatResponse) -> Metrics:
        """The call's timings: to the body's end, or so far while the stream is open."""
        end = self._end_time
        if end is None:
            try:
                end = anyio.current_time()
            except Exception:  # outside any event loop (a late __del__): what was last seen
                end = self._last_content or self._call.start or 0.0
        return metrics_of(
            self._call,
            end,
            response.usage,
            first=self._first_content,
            last=self._last_content,
            reads=self._content_reads,
            tbt_max=self._tbt_max,
        )

    # -- endings ---------------------------------------------------------------

    def _report(self) -> None:
        """Give the call's hooks what the stream assembled so far (only when there are hooks)."""
        call = self._call
        if call.observer is not None and call.result is None:
            call.result = self._assemble()

    async def _drop_response(self) -> None:
        """End this attempt's exchange: pool the connection if read to its end, else close it."""
        resp, self._resp = self._resp, None
        if resp is not None:
            await resp.aclose()

    async def _end(self, outcome: Outcome, error: BaseException | None = None) -> None:
        """The single end of the call, whatever the ending; later calls do nothing more."""
        self._state = StreamState.ENDED
        await self._drop_response()
        self._report()
        self._call.end(outcome, error)
        if self._ended_event is not None:
            self._ended_event.set()
