"""Many chat calls at once, bounded: ``run_batch`` over anything with ``chat()``.

A batch is a fixed pool of ``concurrency`` worker tasks pulling requests from
one iterator, so 100,000 requests cost ``concurrency`` tasks and never hold
more than that many connections. One failed request never aborts the others:
its result is the ``AdapterError`` it ended with. Anything else (a bug, a
``TypeError`` from a bad request dict) still propagates, unwrapped, after the
other workers were cancelled. The pool is an anyio task group, so cancelling
the batch cancels every call in flight, and each closes its connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio

from .errors import AdapterError, ValidationError

if TYPE_CHECKING:
    from .types import ChatResponse

__all__ = ["BatchProgress", "ChatTarget", "call", "for_each", "run_batch"]

T = TypeVar("T")


class ChatTarget(Protocol):
    """What a batch runs on: a ``Client``, a Router, anything with an async ``chat(**kwargs)``."""

    @property
    def chat(self) -> Callable[..., Awaitable[ChatResponse]]: ...


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Where a batch stands after a request finished.

    ``done`` counts finished requests (``failed`` of them ended in an error);
    ``total`` is ``None`` when the requests came from an iterator of unknown
    length; ``elapsed`` is in seconds since the batch started.
    """

    done: int
    failed: int
    total: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Finished requests per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (``None`` while unknown)."""
        if self.total is None or not self.done or self.elapsed <= 0:
            return None
        return max(0, self.total - self.done) / self.rate


async def run_batch(
    target: ChatTarget,
    requests: Iterable[Mapping[str, Any]],
    *,
    concurrency: int = 16,
    on_progress: Callable[[BatchProgress], None] | None = None,
) -> list[ChatResponse | AdapterError]:
    """Run ``target.chat(**request)`` for every request, at most ``concurrency`` at once.

    Returns one result per request, in input order: the ``ChatResponse``, or
    the ``AdapterError`` that request ended with. ``on_progress`` is called
    after each request finishes (synchronously: keep it quick).
    """
    total = len(requests) if isinstance(requests, Sized) else None
    results: list[ChatResponse | AdapterError | None] = []
    start = anyio.current_time()
    done = failed = 0

    def numbered() -> Iterator[tuple[int, Mapping[str, Any]]]:
        for request in requests:
            results.append(None)
            yield len(results) - 1, request

    async def work(item: tuple[int, Mapping[str, Any]]) -> None:
        nonlocal done, failed
        index, request = item
        result = await call(target, request)
        results[index] = result
        done += 1
        failed += isinstance(result, AdapterError)
        if on_progress is not None:
            on_progress(BatchProgress(done, failed, total, anyio.current_time() - start))

    await for_each(numbered(), work, concurrency=concurrency, size=total)
    return results  # type: ignore[return-value]  # every slot was filled by its worker


async def call(target: ChatTarget, request: Mapping[str, Any]) -> ChatResponse | AdapterError:
    """One request of a batch: its response, or the ``AdapterError`` it ended with."""
    if not isinstance(request, Mapping):
        raise TypeError(f"a batch request must be a mapping of chat keywords, not {request!r}")
    try:
        return await target.chat(**request)
    except AdapterError as error:
        return error


async def for_each(
    items: Iterable[T],
    work: Callable[[T], Awaitable[None]],
    *,
    concurrency: int,
    size: int | None = None,
) -> None:
    """Await ``work(item)`` for every item, at most ``concurrency`` at once.

    A fixed pool of workers shares one iterator, so the items are pulled
    lazily and in order. The first exception a worker raises cancels the
    others and is raised here as itself (not in an exception group).
    ``size`` (the number of items, when known) only avoids idle workers.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("must be a positive integer", field="concurrency")
    iterator = iter(items)
    errors: list[Exception] = []
    workers = concurrency if size is None else min(concurrency, size)

    async def worker() -> None:
        try:
            for item in iterator:
                await work(item)
        except Exception as exc:
            errors.append(exc)
            pool.cancel_scope.cancel()

    async with anyio.create_task_group() as pool:
        for _ in range(workers):
            pool.start_soon(worker)
    if errors:
        raise errors[0]
