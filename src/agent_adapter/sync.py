"""``SyncClient``: the ``Client`` surface for scripts that are not async.

It runs a ``Client`` on an event loop in a background thread (an anyio
blocking portal) and forwards each call there, so the behaviour (timeouts,
retries, cancellation, connection reuse) is exactly the async client's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any, Protocol

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .client import Client
from .errors import ValidationError

if TYPE_CHECKING:
    from types import TracebackType

    from .types import ChatResponse, EmbedResponse, StreamChunk, TokenCount

__all__ = ["AsyncChatClient", "AsyncChatStream", "SyncClient"]


class AsyncChatStream(Protocol):
    """What ``SyncChatStream`` drives: a ``ChatStream``, or a router's stream."""

    async def __aenter__(self) -> Any: ...

    async def __anext__(self) -> StreamChunk: ...

    async def aclose(self) -> None: ...

    @property
    def response(self) -> ChatResponse: ...


class AsyncChatClient(Protocol):
    """What ``SyncClient`` wraps: the ``Client`` surface (``Client`` itself, or a router)."""

    @property
    def chat(self) -> Callable[..., Awaitable[ChatResponse]]: ...

    @property
    def stream(self) -> Callable[..., AsyncChatStream]: ...

    @property
    def embed(self) -> Callable[..., Awaitable[EmbedResponse]]: ...

    @property
    def count_tokens(self) -> Callable[..., Awaitable[TokenCount]]: ...

    async def aclose(self) -> None: ...


class SyncClient:
    """A blocking client: ``SyncClient("openai").chat(model=..., messages=...)``.

    Takes the same arguments as ``Client`` plus ``backend`` (``"asyncio"`` or
    ``"trio"``) for the background loop, or an object with the ``Client``
    surface to wrap instead of a provider name (``SyncClient(client)``); it
    then owns that object and closes it. Close it (or use ``with``) to stop
    that thread and its connections.
    """

    def __init__(
        self,
        provider: str | AsyncChatClient | None = None,
        *,
        backend: str = "asyncio",
        **kwargs: Any,
    ) -> None:
        if provider is None or isinstance(provider, str):
            # Validates (unknown provider, missing key) before a thread is started.
            self._client: AsyncChatClient = Client(provider, **kwargs)
        elif kwargs:
            raise ValidationError(
                "client options go to the wrapped client, not to SyncClient",
                field=sorted(kwargs)[0],
            )
        else:
            self._client = provider
        self._closed = False
        self._exit = ExitStack()
        self._portal: BlockingPortal = self._exit.enter_context(
            start_blocking_portal(backend=backend)
        )

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the background event loop."""
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self._client.aclose)
        finally:
            self._exit.close()

    def chat(self, **kwargs: Any) -> ChatResponse:
        """``Client.chat``, blocking."""
        return self._portal.call(lambda: self._client.chat(**kwargs))

    def embed(self, **kwargs: Any) -> EmbedResponse:
        """``Client.embed``, blocking."""
        return self._portal.call(lambda: self._client.embed(**kwargs))

    def count_tokens(self, **kwargs: Any) -> TokenCount:
        """``Client.count_tokens``, blocking."""
        return self._portal.call(lambda: self._client.count_tokens(**kwargs))

    def stream(self, **kwargs: Any) -> SyncChatStream:
        """``Client.stream`` as a blocking context manager and iterator."""
        return SyncChatStream(self._portal, self._client.stream(**kwargs))


class SyncChatStream(AbstractContextManager["SyncChatStream"]):
    """``with client.stream(...) as s: for chunk in s: ...``; then ``s.response``."""

    def __init__(self, portal: BlockingPortal, stream: AsyncChatStream) -> None:
        self._portal = portal
        self._stream = stream

    def __enter__(self) -> SyncChatStream:
        self._portal.call(self._stream.__aenter__)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._portal.call(self._stream.aclose)

    def __iter__(self) -> Iterator[StreamChunk]:
        while True:
            try:
                yield self._portal.call(self._stream.__anext__)
            except StopAsyncIteration:
                return

    @property
    def response(self) -> ChatResponse:
        """The assembled response."""
        return self._stream.response
