"""``RoutedStream``: ``router.stream(...)``, the stream of the deployment that delivered first.

Entering it opens candidate streams in turn (or races them, with a hedge)
until one delivers its first content: until then a failure falls back to the
next deployment. After that it *is* that deployment's ``ChatStream``: a
failure raises as the ChatStream does (``StreamError`` with the partial
response), with no fallback, since content already reached the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from ..errors import AdapterError
from ..stream import ChatStream, StreamState
from ..types import ChatResponse

if TYPE_CHECKING:
    from types import TracebackType

    from ..types import StreamChunk
    from .deployment import Member

__all__ = ["Opener", "RoutedStream"]

Opener = Callable[[], Awaitable[tuple["Member", ChatStream]]]
"""Runs the candidates of one routed stream; returns the one that delivered content."""


class RoutedStream:
    """A routed streamed chat call: ``async with router.stream(...) as s: async for chunk in s``.

    The same surface as ``ChatStream`` (``response``, ``ttft``, ``state``,
    ``attempts``, ``chunk_count``, ``aclose()``), plus ``deployment``: the id
    of the deployment that is answering (``None`` until one delivered). The
    response's ``ttft`` and ``duration`` count from the start of that
    deployment's attempts.
    """

    __slots__ = ("_closing", "_done", "_member", "_open", "_scope", "_state", "_stream")

    def __init__(self, open: Opener) -> None:
        self._open = open
        self._stream: ChatStream | None = None
        self._member: Member | None = None
        self._state = StreamState.NEW
        self._scope: anyio.CancelScope | None = None  # set while opening
        self._done: anyio.Event | None = None  # made only when aclose() must wait for opening
        self._closing = False

    async def __aenter__(self) -> RoutedStream:
        if self._state is StreamState.NEW:
            await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> RoutedStream:
        return self

    async def __anext__(self) -> StreamChunk:
        stream = self._stream
        if stream is None:
            if self._state is not StreamState.NEW:
                raise StopAsyncIteration
            await self._start()
            stream = self._stream
            assert stream is not None
        try:
            return await stream.__anext__()
        except AdapterError as error:
            if error.deployment is None and self._member is not None:
                error.deployment = self._member.id
            raise

    async def _start(self) -> None:
        self._state = StreamState.OPENING
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                self._member, self._stream = await self._open()
            if self._closing and self._stream is not None:
                await self._stream.aclose()  # aclose() came as the opening finished
        except BaseException:
            self._state = StreamState.ENDED
            raise
        finally:
            self._scope = None
            if self._done is not None:
                self._done.set()
        if self._closing:  # aclose() from another task stopped the opening
            self._state = StreamState.ENDED
            raise StopAsyncIteration
        self._state = StreamState.STREAMING

    async def aclose(self) -> None:
        """Stop the stream and close its connection(s); safe from any task, idempotent."""
        self._closing = True
        if self._stream is not None:
            await self._stream.aclose()
        elif self._scope is not None:  # opening in another task: stop it and wait for it
            self._done = done = anyio.Event()
            self._scope.cancel()
            await done.wait()
        self._state = StreamState.ENDED

    @property
    def deployment(self) -> str | None:
        """The id of the deployment answering (``None`` before one delivered content)."""
        return self._member.id if self._member is not None else None

    @property
    def state(self) -> StreamState:
        """Where the stream is in its life."""
        if self._stream is not None:
            return self._stream.state
        return self._state

    @property
    def attempts(self) -> int:
        """How many attempts the answering deployment made (0 before one delivered)."""
        return self._stream.attempts if self._stream is not None else 0

    @property
    def chunk_count(self) -> int:
        """How many chunks were decoded."""
        return self._stream.chunk_count if self._stream is not None else 0

    @property
    def buffered(self) -> int:
        """Chunks decoded but not yet handed out (see ``ChatStream.buffered``)."""
        return self._stream.buffered if self._stream is not None else 0

    @property
    def ttft(self) -> float | None:
        """Seconds from the answering deployment's start to its first content."""
        return self._stream.ttft if self._stream is not None else None

    @property
    def response(self) -> ChatResponse:
        """The assembled response (partial until the stream ended), naming its deployment."""
        stream, member = self._stream, self._member
        if stream is None or member is None:
            return ChatResponse()
        response = stream.response
        response.deployment = member.id
        if response.model is None:
            response.model = member.target.model
        return response
