"""A routed call's hooks: one observer for the call, whatever deployments it tries.

The router makes the observer (only when hooks are configured), hands it to
each candidate's hook-free ``_chat``/``_stream``/``_embed``, reports each
fallback, and ends it once: after the routed chat or embeddings call, or,
for a stream, when the deployment that delivered ends its stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar

from .._log import log_fallback
from ..hooks import Hooks, Observer, as_hooks
from ..types import ChatRequest

if TYPE_CHECKING:
    from ..errors import AdapterError
    from ..runner import Operation
    from ..stream import ChatStream
    from ..types import EmbedRequest
    from .deployment import Member

__all__ = ["adopting", "fell_back", "finishing", "observe"]

T = TypeVar("T")

Opener = Callable[[], Awaitable[tuple["Member", "ChatStream"]]]


class _Observed(Protocol):
    hooks: tuple[Hooks, ...]
    capture_content: bool


def observe(
    router: _Observed,
    operation: Operation,
    request: ChatRequest | EmbedRequest,
    hooks: Iterable[Hooks] | None,
) -> Observer | None:
    """The routed call's observer, or ``None`` (nothing built) when no hook is configured."""
    every = router.hooks + as_hooks(hooks) if hooks is not None else router.hooks
    if not every:
        return None
    capture = router.capture_content
    if isinstance(request, ChatRequest):
        return Observer.for_chat(every, operation, request, capture=capture, routed=True)
    return Observer.for_embed(every, request, capture=capture, routed=True)


async def finishing(observer: Observer, routed: Awaitable[T]) -> T:
    """Await a routed chat or embeddings call, then end its observer, however it ended."""
    try:
        result = await routed
    except BaseException as exc:
        observer.finish(exc)
        raise
    observer.finish()
    return result


def fell_back(observer: Observer | None, error: AdapterError, member: Member) -> None:
    """The previous candidate failed with ``error``; ``member`` is tried next: say so."""
    log_fallback(error, member.id)
    if observer is not None:
        observer.fallback(error, member.id)


def adopting(observer: Observer, open_stream: Opener) -> Opener:
    """``open_stream`` whose winner's end is the routed call's end (a failure ends it at once)."""

    async def open_observed() -> tuple[Member, ChatStream]:
        try:
            member, stream = await open_stream()
        except BaseException as exc:
            observer.finish(exc)
            raise
        observer.adopt(stream._call)
        return member, stream

    return open_observed
