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

import math
import warnings
from typing import TYPE_CHECKING, Any

import anyio

from .accumulate import Accumulator
from .errors import AdapterError, StreamError, StructuredOutputError, TimeoutError
from .providers.base import request_id
from .resilience import retrying

if TYPE_CHECKING:
    from types import TracebackType

    from .providers.base import Adapter, HttpRequest, StreamDecoder
    from .resilience import RetryPolicy, Timeouts
    from .transport import Response, Transport
    from .types import ChatRequest, ChatResponse, StreamChunk

__all__ = ["ChatStream"]

DRAIN_SECONDS = 1.0
"""After the protocol terminator, how long we wait for the body's end to reuse the connection."""


class ChatStream:
    """A streamed chat call. Use ``async with client.stream(...) as s: async for chunk in s``.

    ``response`` is the assembled ``ChatResponse`` (complete after the last
    chunk, partial before); ``ttft`` is the seconds from the call to the
    first content; ``chunk_count`` how many chunks were decoded.
    """

    __slots__ = (
        "_acc",
        "_adapter",
        "_closed",
        "_decoder",
        "_end_time",
        "_ended",
        "_final",
        "_finish",
        "_first_content",
        "_http",
        "_last_content",
        "_pending",
        "_pos",
        "_released",
        "_request",
        "_request_id",
        "_resp",
        "_retry",
        "_start_time",
        "_started",
        "_timeouts",
        "_total_deadline",
        "_transport",
        "_wait_scope",
        "attempts",
        "chunk_count",
    )

    def __init__(
        self,
        *,
        transport: Transport,
        adapter: Adapter,
        request: ChatRequest,
        http: HttpRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
        finish: Any = None,
    ) -> None:
        self._transport = transport
        self._adapter = adapter
        self._request = request
        self._http: HttpRequest | None = http  # dropped once no retry can need it
        self._timeouts = timeouts
        self._retry = retry
        self._finish = finish
        self._acc = Accumulator()
        self._pending: list[StreamChunk] = []
        self._pos = 0
        self._resp: Response | None = None
        self._decoder: StreamDecoder | None = None
        self._started = False
        self._ended = False
        self._closed = False
        self._wait_scope: anyio.CancelScope | None = None
        self._released: anyio.Event | None = None  # made only when aclose() must wait
        self._start_time = 0.0
        self._total_deadline = math.inf
        self._first_content: float | None = None
        self._last_content = 0.0
        self._end_time: float | None = None
        self._final: ChatResponse | None = None
        self._request_id: str | None = None
        self.chunk_count = 0
        self.attempts = 0

    # -- public surface ----------------------------------------------------

    async def __aenter__(self) -> ChatStream:
        await self._start()
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
        if not self._started:
            await self._start()
            return await self.__anext__()
        if self._ended or self._closed:
            raise StopAsyncIteration
        try:
            await self._pull(until_content=False)
        except AdapterError as error:
            await self._release()
            raise self._as_stream_error(error) from error
        except BaseException:
            await self._release()
            raise
        return await self.__anext__()

    def __del__(self) -> None:
        # An abandoned stream (never closed, never read to the end) must not keep its
        # connection open or its pool slot taken: shut the socket now and say so.
        resp = getattr(self, "_resp", None)
        if resp is not None and resp.abort():
            warnings.warn(
                "ChatStream was not closed; use 'async with client.stream(...)'",
                ResourceWarning,
                stacklevel=1,
            )

    async def aclose(self) -> None:
        """Stop the stream and close its connection; safe from any task, idempotent."""
        self._closed = True
        if self._wait_scope is not None:
            # Another task is blocked reading: wake it; it closes the response itself.
            self._released = released = anyio.Event()
            self._wait_scope.cancel()
            await released.wait()
        else:
            await self._release()

    @property
    def response(self) -> ChatResponse:
        """The assembled response (partial until the stream has ended)."""
        return self._final if self._final is not None else self._assemble()

    def _assemble(self) -> ChatResponse:
        response = self._acc.response(self._adapter.name)
        response.request_id = self._request_id
        response.ttft = self.ttft
        if self._end_time is not None:
            response.duration = self._end_time - self._start_time
            usage = response.usage
            if usage is not None and self._first_content is not None:
                generating = self._end_time - self._first_content
                if generating > 0 and usage.completion_tokens:
                    response.tokens_per_second = usage.completion_tokens / generating
        return response

    @property
    def ttft(self) -> float | None:
        """Seconds from the start of the call to the first content."""
        if self._first_content is None:
            return None
        return self._first_content - self._start_time

    # -- machinery ---------------------------------------------------------

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._start_time = anyio.current_time()
        total = self._timeouts.total
        self._total_deadline = self._start_time + total if total else math.inf
        try:
            with anyio.CancelScope(deadline=self._total_deadline) as scope:
                await retrying(self._attempt, self._retry, deadline=self._total_deadline)
            if scope.cancelled_caught:
                raise self._timeout("total")
            self._http = None  # content reached the caller: no retry will resend the body
        except BaseException:
            await self._release()
            raise

    async def _attempt(self, n: int) -> None:
        self.attempts = n + 1
        await self._release()
        self._acc = Accumulator()
        self._pending, self._pos = [], 0
        self._ended = False
        adapter = self._adapter
        try:
            assert self._http is not None
            resp = await self._transport.send(self._http, self._timeouts)
            self._resp = resp
            self._request_id = request_id(resp.headers)
            if not 200 <= resp.status < 300:
                body = await self._read_error_body(resp)
                raise adapter.error(resp.status, resp.headers, body)
            self._decoder = adapter.stream_decoder(self._request)
            await self._pull(until_content=True)
        except AdapterError as error:
            if error.provider is None:
                error.provider = adapter.name
            await self._release()
            raise

    async def _read_error_body(self, resp: Response) -> bytes:
        with anyio.move_on_after(self._timeouts.read or 30.0):
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
                self._finish_body(decoder)
                await self._release()  # read to the end: the connection goes back to the pool
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
            self._last_content = now
        self.chunk_count += len(chunks)
        if self._pos >= len(self._pending):
            self._pending, self._pos = chunks, 0
        else:
            self._pending.extend(chunks)

    def _finish_body(self, decoder: StreamDecoder) -> None:
        self._ended = True
        self._end_time = anyio.current_time()
        if not decoder.end():
            raise StreamError(
                "the stream ended before its terminator (truncated)",
                provider=self._adapter.name,
                retryable=self._first_content is None,
                partial=self._acc.response(self._adapter.name),
            )
        final = self._assemble()
        self._final = self._finish(final) if self._finish is not None else final

    async def _wait(self, resp: Response, *, drain: bool) -> bytes:
        """One network read under the earliest applicable deadline."""
        if drain:
            which, phase = "idle", anyio.current_time() + DRAIN_SECONDS
        elif self._first_content is None:
            which, budget = "first_token", self._timeouts.first_token
            phase = self._start_time + budget if budget else math.inf
        else:
            which, budget = "idle", self._timeouts.idle
            phase = self._last_content + budget if budget else math.inf
        if phase >= self._total_deadline:
            which, phase = "total", self._total_deadline
        with anyio.CancelScope(deadline=phase) as scope:
            self._wait_scope = scope
            try:
                return await resp.next_chunk()
            finally:
                self._wait_scope = None
        if self._closed:
            await self._release()
            raise StopAsyncIteration  # aclose() from another task ended the stream
        if drain:
            await self._release()  # the body did not end: close instead of reusing
            return b""
        raise self._timeout(which)

    def _timeout(self, which: str) -> TimeoutError:
        limits = {
            "total": self._timeouts.total,
            "first_token": self._timeouts.first_token,
            "idle": self._timeouts.idle,
        }
        return TimeoutError(
            f"{which} timeout: {limits.get(which)} s passed without "
            + ("a response" if which == "total" else "streamed content"),
            which=which,
            provider=self._adapter.name,
            retryable=False,  # these deadlines count from the start of the call, not per attempt
        )

    def _as_stream_error(self, error: AdapterError) -> AdapterError:
        """After content reached the caller, a failure becomes a StreamError with the partial."""
        if isinstance(error, StreamError | TimeoutError | StructuredOutputError):
            if error.partial is None:
                error.partial = self._acc.response(self._adapter.name)
            error.retryable = False
            return error
        wrapped = StreamError(
            f"the stream failed after content was delivered: {error}",
            provider=error.provider or self._adapter.name,
            status=error.status,
            retryable=False,
            request_id=error.request_id,
            body=error.body,
            code=error.code,
            partial=self._acc.response(self._adapter.name),
            cause=error,
        )
        return wrapped

    async def _release(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            await resp.aclose()
        if self._released is not None:
            self._released.set()
