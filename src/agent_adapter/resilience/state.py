"""Where the gates keep their counters: deployment ids, the ``Store`` protocol, ``MemoryStore``.

Circuit breakers, rate buckets and concurrency limits hold no counters of
their own: they read and change them through a ``Store``, in a few atomic
operations, so that a store shared between processes (Redis, with one Lua
script per operation) gives every process the same semantics as the
in-process ``MemoryStore`` gives every task of one process.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..providers.base import Secret

__all__ = ["MemoryStore", "Store", "deployment_id", "store_clock"]


def deployment_id(provider: str, base_url: str, model: str, api_key: Secret | None) -> str:
    """The stable name of one deployment: ``"openai:gpt-4o@https://api.openai.com/v1#1a2b3c4d"``.

    Two clients that talk to the same model at the same address with the same
    key share breaker state and buckets under this id. The suffix is the first
    8 hex digits of the key's SHA-256 (never the key itself), so two keys with
    separate server-side limits get separate ids; without a key there is no
    suffix.
    """
    name = f"{provider}:{model}@{base_url.rstrip('/')}"
    if not api_key:
        return name
    digest = hashlib.sha256(api_key.reveal().encode("utf-8")).hexdigest()
    return f"{name}#{digest[:8]}"


class Store(Protocol):
    """The atomic operations the gates need; every key is a plain string.

    Times are seconds on the gate's clock (``now`` is passed in, so a store
    never reads a clock of its own; a store shared between processes needs
    the gates to use a shared clock such as ``time.time``, or uses its
    server's time instead of ``now``). A shared store may offer that clock
    as a ``clock()`` method: gates built on it default to it (``store_clock``),
    so the absolute times kept as values (when a breaker's open state ends)
    mean the same in every process.

    The ``async`` methods are the decisions taken before an attempt, each one
    atomic (one round trip, one Lua script for Redis). The plain methods are
    called from synchronous places (a permit's ``settle``, a response head,
    ``breaker.state()``): they must not block, so a remote store answers
    reads from what it last saw and applies writes locally, sending them on
    in the background. ``MemoryStore`` does everything in place: its async
    methods never suspend.

    A store that fails (a lost connection, a timeout) must degrade to local
    state and never fail a call by itself: rate limiting or a breaker that
    cannot reach its store behaves as a per-process one until it can.
    """

    # -- token buckets: ``rate`` tokens per second up to ``capacity``; a level may go negative --

    async def take(
        self,
        key: str,
        amount: float,
        *,
        rate: float,
        capacity: float,
        now: float,
        max_wait: float,
    ) -> float:
        """Reserve ``amount`` tokens from bucket ``key`` if that needs at most ``max_wait``.

        Returns the seconds until the reservation is due (0: at once), taking
        the tokens when that is ``<= max_wait`` and taking nothing otherwise.
        A reservation takes the tokens now (the level may go below zero), so
        the next caller's wait counts this one: waiters are served in the
        order they reserved. A pause (``lower(..., until=...)``) delays every
        reservation to its end. ``rate`` may be ``math.inf``: no limit of our
        own, only pauses apply. A new bucket starts full.
        """
        ...

    def peek(self, key: str, amount: float, *, rate: float, capacity: float, now: float) -> float:
        """The wait ``take`` would return for ``amount`` now, without changing anything."""
        ...

    def give(self, key: str, amount: float, *, rate: float, capacity: float, now: float) -> None:
        """Put ``amount`` tokens back (a refund; never above ``capacity``); negative takes more."""
        ...

    def lower(
        self,
        key: str,
        level: float,
        *,
        rate: float,
        capacity: float,
        now: float,
        until: float = 0.0,
    ) -> None:
        """Lower bucket ``key`` to at most ``level`` and let nothing be taken before ``until``.

        What a server says about its own limit: remaining tokens, or none
        left until a reset. Never raises a level or shortens a pause.
        """
        ...

    def paused(self, key: str, *, now: float) -> float:
        """Seconds until bucket ``key``'s pause ends (0 when it is not paused)."""
        ...

    # -- failure windows ---------------------------------------------------------------------

    def record(self, key: str, *, now: float, window: float) -> int:
        """Record one event at ``now`` under ``key``; the number of events within ``window``."""
        ...

    def clear(self, key: str) -> None:
        """Forget every event recorded under ``key``."""
        ...

    # -- values --------------------------------------------------------------------------------

    def get(self, key: str) -> float | None:
        """The value stored under ``key``, or None."""
        ...

    def set(self, key: str, value: float | None) -> None:
        """Store ``value`` under ``key``; None deletes it (either way, its expiry is gone)."""
        ...

    def add(self, key: str, amount: float, *, now: float, ttl: float) -> float:
        """Add ``amount`` to the value under ``key`` (0 when missing); the new value.

        A running total (a client key's spend) that many processes add to:
        applied at once, like ``set``, and by a shared store atomically on the
        shared total. The value is forgotten ``ttl`` seconds after its last
        ``add`` (at the latest by the next ``add`` of any key after that), so
        totals kept per period do not pile up.
        """
        ...

    # -- counters with a limit ---------------------------------------------------------------

    async def acquire(self, key: str, limit: int) -> bool:
        """Add one to counter ``key`` if it is below ``limit``; whether it did."""
        ...

    def release(self, key: str) -> None:
        """Take one from counter ``key`` (never below zero)."""
        ...

    def count(self, key: str) -> int:
        """The value of counter ``key``."""
        ...

    def watch(self, key: str, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` when counter ``key`` may have room that its caller did not free.

        A concurrency gate watches its counter while callers queue: a slot it
        frees itself goes straight to its first waiter, but one freed by
        another gate on the same key (another process, for a shared store)
        only shows up here. ``wake`` runs on the event loop and must not
        block; a spurious call is harmless (the waiter just tries again).
        Returns the function that stops watching.
        """
        ...


def store_clock(store: Store) -> Callable[[], float]:
    """The clock gates on ``store`` use by default: its shared ``clock()``, else monotonic."""
    clock = getattr(store, "clock", None)
    return clock if callable(clock) else time.monotonic


class MemoryStore:
    """The in-process ``Store``: plain dicts, changed in place; the default for every gate.

    Shared by every task of the process that holds it; one event loop (or
    one thread) at a time, like the rest of the library.
    """

    __slots__ = (
        "_buckets",
        "_counters",
        "_events",
        "_expires",
        "_expiring",
        "_values",
        "_watchers",
    )

    def __init__(self) -> None:
        self._buckets: dict[str, list[float]] = {}  # key -> [level, as of, paused until]
        self._events: dict[str, deque[float]] = {}
        self._values: dict[str, float] = {}
        self._expires: dict[str, float] = {}  # value key -> when ``add`` said to forget it
        self._expiring: list[tuple[float, str]] = []  # heap, at most one entry per key
        self._counters: dict[str, int] = {}
        self._watchers: dict[str, list[Callable[[], None]]] = {}

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._buckets)} buckets, {len(self._counters)} counters)"

    # -- token buckets -------------------------------------------------------------------------

    def _bucket(self, key: str, rate: float, capacity: float, now: float) -> list[float]:
        """The bucket refilled up to ``now``."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [capacity, now, 0.0]
        elif now > bucket[1]:
            if rate == math.inf:
                bucket[0] = capacity
            else:
                bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        return bucket

    @staticmethod
    def _wait(bucket: list[float], amount: float, rate: float, now: float) -> float:
        wait = bucket[2] - now if bucket[2] > now else 0.0
        short = amount - bucket[0]
        if short > 0 and rate != math.inf:
            wait = max(wait, short / rate) if rate > 0 else math.inf
        return wait

    async def take(
        self,
        key: str,
        amount: float,
        *,
        rate: float,
        capacity: float,
        now: float,
        max_wait: float,
    ) -> float:
        bucket = self._bucket(key, rate, capacity, now)
        wait = self._wait(bucket, amount, rate, now)
        if wait <= max_wait and rate != math.inf:
            bucket[0] -= amount
        return wait

    def peek(self, key: str, amount: float, *, rate: float, capacity: float, now: float) -> float:
        return self._wait(self._bucket(key, rate, capacity, now), amount, rate, now)

    def give(self, key: str, amount: float, *, rate: float, capacity: float, now: float) -> None:
        if rate == math.inf:
            return
        bucket = self._bucket(key, rate, capacity, now)
        bucket[0] = min(capacity, bucket[0] + amount)

    def lower(
        self,
        key: str,
        level: float,
        *,
        rate: float,
        capacity: float,
        now: float,
        until: float = 0.0,
    ) -> None:
        bucket = self._bucket(key, rate, capacity, now)
        if rate != math.inf and level < bucket[0]:
            bucket[0] = level
        if until > bucket[2]:
            bucket[2] = until

    def paused(self, key: str, *, now: float) -> float:
        bucket = self._buckets.get(key)
        return bucket[2] - now if bucket is not None and bucket[2] > now else 0.0

    # -- failure windows ---------------------------------------------------------------------

    def record(self, key: str, *, now: float, window: float) -> int:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
        events.append(now)
        horizon = now - window
        while events and events[0] <= horizon:
            events.popleft()
        return len(events)

    def clear(self, key: str) -> None:
        self._events.pop(key, None)

    # -- values --------------------------------------------------------------------------------

    def get(self, key: str) -> float | None:
        return self._values.get(key)

    def set(self, key: str, value: float | None) -> None:
        self._expires.pop(key, None)
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value

    def add(self, key: str, amount: float, *, now: float, ttl: float) -> float:
        self._forget(now)
        value = self._values.get(key, 0.0) + amount
        self._values[key] = value
        if key not in self._expires:
            heapq.heappush(self._expiring, (now + ttl, key))
        self._expires[key] = now + ttl
        return value

    def _forget(self, now: float) -> None:
        """Drop the values whose time is up (an entry whose key was added to since moves on)."""
        heap = self._expiring
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            when = self._expires.get(key)
            if when is None:
                continue  # set or deleted since: no longer expiring
            if when > now:
                heapq.heappush(heap, (when, key))
            else:
                del self._expires[key]
                self._values.pop(key, None)

    # -- counters with a limit ---------------------------------------------------------------

    async def acquire(self, key: str, limit: int) -> bool:
        n = self._counters.get(key, 0)
        if n >= limit:
            return False
        self._counters[key] = n + 1
        return True

    def release(self, key: str) -> None:
        n = self._counters.get(key, 0)
        if n <= 1:
            self._counters.pop(key, None)
        else:
            self._counters[key] = n - 1
        if n:
            wake_watchers(self._watchers, key)

    def count(self, key: str) -> int:
        return self._counters.get(key, 0)

    def watch(self, key: str, wake: Callable[[], None]) -> Callable[[], None]:
        return add_watcher(self._watchers, key, wake)


def add_watcher(
    watchers: dict[str, list[Callable[[], None]]], key: str, wake: Callable[[], None]
) -> Callable[[], None]:
    """Register ``wake`` under ``key``; the returned function removes it (once)."""
    watchers.setdefault(key, []).append(wake)

    def unwatch() -> None:
        found = watchers.get(key)
        if found is not None and wake in found:
            found.remove(wake)
            if not found:
                del watchers[key]

    return unwatch


def wake_watchers(watchers: dict[str, list[Callable[[], None]]], key: str | None = None) -> None:
    """Call the watchers of ``key`` (of every key when None)."""
    lists = list(watchers.values()) if key is None else [watchers.get(key, [])]
    for wakes in lists:
        for wake in list(wakes):
            wake()
