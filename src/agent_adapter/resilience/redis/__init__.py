"""Limits shared by many processes: ``RedisStore``, the gates' ``Store`` on a Redis server.

``pip install 'agent-adapter[redis]'`` (coredis >= 6, anyio-native: asyncio
and trio). Every process that uses one server and one ``prefix`` shares, by
key, the rate buckets, the breakers' states and failure windows, and the
concurrency counters; one server (or a primary) only, not Redis Cluster
(the scripts touch keys they are not given).

**Clock.** The scripts read Redis's clock (``TIME``), never the caller's:
buckets refill, pauses end and failures leave their window on one timeline
for every machine. A breaker keeps "open until" as a value; it is read on
``store.clock()``, Redis's time as this process last saw it (set by a
heartbeat every second, within half a round trip), which gates built on the
store use by default.

**What is exact.** ``take`` and ``acquire`` run one Lua script each: the
wait a reservation gets and whether a slot is free are decided atomically
on the shared state, so N processes never take more than one limit.

**What is eventually consistent.** The other operations are synchronous in
the protocol, so they are answered from a local mirror and their writes are
queued (bounded, in order) for a background task:

- ``give``/``lower``/``set``/``add``/``release``/``record``/``clear`` change
  the mirror at once and Redis within a round trip; a ``take`` or ``acquire``
  of this process right after may reach Redis before them. ``add`` is an
  atomic increment there (``HINCRBYFLOAT``), so no process's sum is lost.
- ``get`` (a breaker's state) and ``count`` (slots in use) are pushed to
  every store by pub/sub when they change, typically within a millisecond;
  a store that starts reads every value first.
- ``record`` counts the failures the mirror knows: those published so far,
  and this one; a store learns a window from its publications and its own
  records, not at start. Two processes failing at the same instant may each
  miss the other's failure by one.
- ``peek``/``paused`` (a router's "would this deployment wait") use this
  process's last look at the bucket, refilled locally.
- A slot freed in another process wakes this process's first waiter through
  the release message, and at the latest with the next heartbeat (1 s).
  A process that dies holding slots loses them 10 s after its last
  heartbeat; ``aclose()`` gives them up at once.

**When Redis is not there** (down, unreachable, slower than ``timeout``),
no call fails because of it: the operation that noticed, and every one
after, runs on the mirror as a per-process store (each process allows the
whole limit, counts only its own slots), ``degraded`` is true, ``last_error``
says why and the ``agent_adapter`` logger warns once. The store reconnects in
the background (50 ms doubling to 2 s). Coming back, before it says so, it
writes what changed locally meanwhile: its own slot counts (absolute, so
totals may sit above a limit until slots are released), the values it set
(last writer wins), the sums it added (added to the shared totals, not
written over them), its buckets lowered to their local level (never
raised) and the failures it recorded; then it reads the shared values. If Redis
came back empty, every store writes back all it mirrors the same way (for a
sum, the largest any store had wins: sums added elsewhere during such an
outage may be missed, never counted twice).
"""

from __future__ import annotations

from .store import RedisStore

__all__ = ["RedisStore"]
