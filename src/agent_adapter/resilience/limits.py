"""``ConcurrencyLimit``: at most N attempts in flight, the rest wait in order or are refused.

``aa.Client(..., max_concurrency=8, max_queue=100)``. An attempt holds its
slot until it settles: a failed attempt when it fails, a chat when it
returns, a stream when it ends, however it ends (complete, ``break``, an
error, a cancel scope, closed by the garbage collector). Callers that find
every slot taken wait first come, first served; when ``max_queue`` of them
already wait, the next one fails at once with ``QueueFullError``. A slot
freed while callers wait is handed straight to the first of them, so a new
caller cannot overtake the queue; a waiter cancelled just as it was handed a
slot passes it on. A slot freed by another gate on the same counter (another
process sharing a ``RedisStore``) reaches the queue through ``Store.watch``:
the first waiter is woken and tries the counter again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from ..errors import QueueFullError
from ._checks import check_count
from .state import MemoryStore, Store

if TYPE_CHECKING:
    from ..providers.base import Headers
    from ..runner import Call

__all__ = ["ConcurrencyLimit"]

_HOLD_SMOOTHING = 0.2  # weight of the latest slot hold time in the queue-full hint


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.granted = False


class ConcurrencyLimit:
    """A concurrency gate: ``in_flight`` attempts hold a slot, ``waiting`` callers queue for one.

    ``max_queue`` bounds the queue (``None``: unbounded). Waiting counts
    against the call's total deadline: when it passes in the queue, the call
    fails with the ``total`` ``TimeoutError``. ``store`` holds the slot
    counter (a ``MemoryStore`` by default) under ``key``; the queue itself is
    always local to the process.
    """

    __slots__ = (
        "_hold",
        "_key",
        "_store",
        "_unwatch",
        "_waiters",
        "max_concurrency",
        "max_queue",
    )

    def __init__(
        self,
        max_concurrency: int,
        max_queue: int | None = None,
        *,
        store: Store | None = None,
        key: str | None = None,
    ) -> None:
        self.max_concurrency = check_count(max_concurrency, "max_concurrency")
        if max_queue is not None:
            check_count(max_queue, "max_queue", minimum=0)
        self.max_queue = max_queue
        self._store: Store = store if store is not None else MemoryStore()
        self._key = key or f"concurrency:{id(self):x}"
        self._waiters: deque[_Waiter] = deque()
        self._unwatch: Callable[[], None] | None = None  # watching the counter while callers wait
        self._hold = 1.0  # seconds a slot is held, smoothed: the QueueFullError hint

    def __repr__(self) -> str:
        return (
            f"ConcurrencyLimit(max_concurrency={self.max_concurrency}, "
            f"max_queue={self.max_queue}, in_flight={self.in_flight}, waiting={self.waiting})"
        )

    @property
    def in_flight(self) -> int:
        """Attempts holding a slot now."""
        return self._store.count(self._key)

    @property
    def waiting(self) -> int:
        """Callers queued for a slot now."""
        return len(self._waiters)

    async def enter(self, call: Call) -> _Slot:
        """Take a slot, waiting in order (never past the total deadline), or refuse at once."""
        waiters = self._waiters
        if not waiters and await self._store.acquire(self._key, self.max_concurrency):
            return _Slot(self)
        if self.max_queue is not None and len(waiters) >= self.max_queue:
            raise QueueFullError(
                f"concurrency queue full: {self.max_concurrency} in flight, "
                f"{len(waiters)} waiting (max_queue={self.max_queue})",
                provider=call.provider,
                retry_after=self._hold * (len(waiters) + 1) / self.max_concurrency,
            )
        waiter = _Waiter()
        waiters.append(waiter)
        if self._unwatch is None:
            self._unwatch = self._store.watch(self._key, self._nudge)
        try:
            with anyio.CancelScope(deadline=call.deadline):
                while not waiter.granted:
                    # First in line: a slot may have come free without passing through
                    # this gate (a stream the garbage collector ended, another process).
                    if waiters[0] is waiter and await self._store.acquire(
                        self._key, self.max_concurrency
                    ):
                        self._took_own(waiter)
                        break
                    if waiter.granted:
                        break
                    await waiter.event.wait()
                    if not waiter.granted:  # woken by the store, not handed a slot: look again
                        waiter.event = anyio.Event()
            if not waiter.granted:
                raise call.timeout("total")
        except BaseException:
            if waiter.granted:
                self._release()  # handed a slot just as it was cancelled: pass it on
            else:
                waiters.remove(waiter)
                self._idle()
            raise
        return _Slot(self)

    def _nudge(self) -> None:
        """The store says the counter may have room: the first waiter tries it again."""
        if self._waiters:
            self._waiters[0].event.set()

    def _idle(self) -> None:
        """Stop watching the counter once nobody waits."""
        if not self._waiters and self._unwatch is not None:
            unwatch, self._unwatch = self._unwatch, None
            unwatch()

    def _took_own(self, waiter: _Waiter) -> None:
        if waiter.granted:  # handed one while acquiring its own: keep one, free the other
            self._release()
        else:
            self._waiters.remove(waiter)
            waiter.granted = True
            self._idle()

    def _release(self) -> None:
        """Free one slot: hand it to the first waiter, or give it back to the counter."""
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.granted = True
            waiter.event.set()
            self._idle()
        else:
            self._store.release(self._key)

    def _settled(self, held: float) -> None:
        self._hold += _HOLD_SMOOTHING * (held - self._hold)
        self._release()


class _Slot:
    """One attempt's slot, held until the attempt settles."""

    __slots__ = ("_limit", "_since")

    def __init__(self, limit: ConcurrencyLimit) -> None:
        self._limit = limit
        self._since = time.monotonic()

    def head(self, status: int, headers: Headers) -> None:
        """Nothing to read in a response head."""

    def settle(self, call: Call, error: BaseException | None) -> None:
        """Free the slot (for the next waiter, if any)."""
        self._limit._settled(time.monotonic() - self._since)
