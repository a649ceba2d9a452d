"""``RedisStore``: the ``Store`` protocol on a Redis server, shared by many processes.

The decisions taken before an attempt (``take``, ``acquire``) are one Lua
script each, run at once with at most ``timeout`` to answer. Everything the
protocol asks synchronously is answered from a local mirror (a
``MemoryStore`` kept up to date by the store's own round trips and by what
other processes publish), and its writes go to Redis in order from a
bounded queue that a background task drains. The same mirror is where the
store falls back to when Redis is not there: see ``agent_adapter.resilience.redis``
for what is shared, what is eventually consistent and what an outage does.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from ..._log import logger
from ...errors import ValidationError
from ..state import MemoryStore, add_watcher, wake_watchers
from . import link
from .link import LEASE, leaf
from .scripts import num as _str

if TYPE_CHECKING:
    from types import TracebackType

    import coredis
    from anyio.abc import TaskGroup
    from coredis.commands import Script

__all__ = ["RedisStore"]

MAX_QUEUE = 10_000
"""Writes waiting for Redis before the store calls it too slow and falls back to local state."""

Send = Callable[["coredis.Redis[str]"], Awaitable[None]]


class Mirror(MemoryStore):
    """The local copy: a ``MemoryStore`` whose state the store's round trips overwrite."""

    __slots__ = ()

    def put_bucket(self, key: str, level: float, at: float, pause: float) -> None:
        self._buckets[key] = [level, at, pause]

    def bucket(self, key: str, rate: float, capacity: float, now: float) -> tuple[float, float]:
        """(level, paused until) of bucket ``key`` refilled up to ``now``."""
        bucket = self._bucket(key, rate, capacity, now)
        return bucket[0], bucket[2]

    def buckets(self) -> list[str]:
        return list(self._buckets)

    def put_events(self, key: str, times: list[float]) -> None:
        if times:
            self._events[key] = deque(sorted(times))
        else:
            self._events.pop(key, None)

    def values(self) -> dict[str, float]:
        return dict(self._values)

    def put_value(self, key: str, value: float) -> None:
        """A value as Redis has it; its local expiry (from an ``add`` here) stays."""
        self._values[key] = value

    def expires_in(self, key: str, now: float) -> float | None:
        """Seconds until value ``key`` is forgotten (None: it is kept until changed)."""
        when = self._expires.get(key)
        return None if when is None else max(when - now, 0.001)


class Unsent:
    """Failure-window writes Redis has not confirmed: a clear, then events (member, time)."""

    __slots__ = ("cleared", "cleared_at", "events", "window")

    def __init__(self, window: float) -> None:
        self.cleared = False
        self.cleared_at = -math.inf
        self.events: list[tuple[str, float]] = []
        self.window = window


class RedisStore:
    """A ``Store`` on Redis: ``async with aa.RedisStore("redis://host:6379/0") as store:``.

    Give it to ``aa.Client(..., store=store)``, ``aa.Router(..., store=store)``
    or a gate's ``store=``: every process using the same server and
    ``prefix`` shares the rate buckets, breaker states and concurrency
    counters kept under the same keys. ``start()``/``aclose()`` (or ``async
    with``) run the background task that keeps the connection, the mirror
    and the write queue; until it has connected, and whenever Redis is down,
    unreachable or slower than ``timeout`` seconds, the store works on local
    state (``degraded``, ``last_error``; a warning on the ``agent_adapter``
    logger when that starts and when it ends) and reconnects with backoff.
    No call ever fails because of the store. ``clock()`` is Redis's clock as
    seen from here; ``clock`` (the argument) is the local monotonic clock it
    is carried on between round trips. Needs the ``redis`` extra (coredis).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "agent-adapter:",
        clock: Callable[[], float] | None = None,
        timeout: float = 0.25,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise ValidationError("must be a redis:// URL", field="url")
        if not isinstance(prefix, str):
            raise ValidationError("must be a string", field="prefix")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout < math.inf
        ):
            raise ValidationError("must be a positive number of seconds", field="timeout")
        self.url = url
        self.prefix = prefix
        self.timeout = float(timeout)
        self._mono = clock or time.monotonic
        self._offset = time.time() - self._mono()  # the wall clock until Redis tells its time
        self._id = os.urandom(8).hex()  # this store's name as a holder of slots
        self._seq = itertools.count()
        self._channel = prefix + "changes"
        self._local = Mirror()
        self._held: dict[str, int] = {}  # slots this store holds, per counter
        self._seen: dict[str, int] = {}  # slots every holder holds, as last heard
        self._shapes: dict[str, tuple[float, float]] = {}  # bucket -> (rate, capacity)
        self._watchers: dict[str, list[Callable[[], None]]] = {}
        self._queue: deque[tuple[Send, Callable[[], None]]] = deque()
        self._queued: anyio.Event | None = None
        self._lost: anyio.Event | None = None  # set to end the session: Redis failed us
        self._settled: anyio.Event | None = None  # the first connection attempt is over
        self._flushed: anyio.Event | None = None  # set when the queue drains (or is dropped)
        # Written here while Redis was not there, to write there on reconnecting:
        self._dirty_values: set[str] = set()
        self._dirty_counters: set[str] = set()
        self._dirty_buckets: set[str] = set()
        self._unsent: dict[str, Unsent] = {}
        self._unsent_adds: dict[str, tuple[float, float]] = {}  # key -> (sum, forget at)
        self._scripts: dict[str, Script[str]] = {}
        self._client: coredis.Redis[str] | None = None
        self._tg: TaskGroup | None = None
        self._warned = False  # a "degraded" warning is out and no "resumed" one yet
        self._started = False
        self._ever_up = False
        self._ups = 0  # connections made: the link resets its backoff after one
        self._last_error: BaseException | None = None

    def __repr__(self) -> str:
        state = "degraded" if self.degraded else "connected"
        return f"RedisStore({_safe(self.url)!r}, prefix={self.prefix!r}, {state})"

    # -- state -------------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        """Whether the store works on local state now (not started, or Redis not there)."""
        return self._client is None

    @property
    def last_error(self) -> BaseException | None:
        """Why Redis was last found missing (None if it never was)."""
        return self._last_error

    def clock(self) -> float:
        """Redis's time (seconds since the epoch), from the last round trip and the local clock.

        Gates built on this store default to it (``store_clock``), so a
        breaker's "open until" means the same instant in every process.
        """
        return self._mono() + self._offset

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    # -- lifetime ----------------------------------------------------------------------

    async def __aenter__(self) -> RedisStore:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the background task and wait (a few ``timeout`` at most) for a first connection.

        Call ``aclose()`` from the same task (as ``async with`` does): the
        task runs in a task group this call opens.
        """
        if self._tg is not None:
            raise RuntimeError("this RedisStore is already started")
        link.load_scripts(self)  # coredis: an ImportError naming the extra when missing
        self._started, self._warned = True, False
        self._queued, self._settled = anyio.Event(), anyio.Event()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(link.run, self)
        with anyio.move_on_after(self.timeout * 8):
            await self._settled.wait()

    async def flush(self) -> bool:
        """Wait (``timeout`` at most) until the queued writes reached Redis; whether they did."""
        with anyio.move_on_after(self.timeout):
            while self._queue and self._client is not None:
                self._flushed = flushed = anyio.Event()
                await flushed.wait()
        return not self._queue and self._client is not None

    async def aclose(self) -> None:
        """Send what is queued (``timeout`` at most), give up this store's slots, stop the task."""
        tg, self._tg = self._tg, None
        if tg is None:
            return
        try:
            with anyio.move_on_after(self.timeout):
                await self.flush()
                client = self._client
                if client is not None:  # our slots are free for others at once, not at lease end
                    await client.zrem(self.prefix + "holders", [self._id])
        except Exception:
            pass  # closing: the lease ends these slots anyway
        finally:
            self._client = None
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)

    def _went_up(self, client: coredis.Redis[str]) -> None:
        self._client = client
        self._ever_up = True
        self._ups += 1
        if self._warned:
            self._warned = False
            logger.warning("%s: Redis is back; limits are shared again", self)
        if self._settled is not None:
            self._settled.set()
        wake_watchers(self._watchers)  # counters may have room the outage hid

    def _went_down(self, error: BaseException) -> None:
        """Redis failed us: fall back to local state at once and let the link reconnect."""
        self._last_error = leaf(error)
        self._client = None
        queue = self._queue
        while queue:  # unsent writes: their keys are written again on reconnecting
            queue.popleft()[1]()
        if self._lost is not None:
            self._lost.set()
        for event in (self._settled, self._flushed):
            if event is not None:
                event.set()
        if not self._warned:
            self._warned = True
            logger.warning(
                "%s: Redis is not there (%s); rate limits, breakers and concurrency "
                "are per process until it is back",
                self,
                _describe(self._last_error),
                extra={"error_type": type(self._last_error).__name__},
            )

    # -- round trips ---------------------------------------------------------------------

    async def _now(self, name: str, keys: list[str], args: list[str]) -> Any:
        """Run script ``name`` now (``timeout`` at most); None when Redis is not there."""
        client = self._client
        if client is None:
            if not self._started and not self._warned:
                self._warned = True
                logger.warning(
                    "%s is used but was never started (async with store, or await "
                    "store.start()): rate limits, breakers and concurrency are per process",
                    self,
                )
            return None
        try:
            with anyio.fail_after(self.timeout):
                return await self._scripts[name](keys=keys, args=args, client=client)
        except Exception as error:
            if client is self._client:
                self._went_down(error)
            return None

    def _later(self, send: Send, dirty: Callable[[], None]) -> None:
        """Queue a write for Redis, or mark its key to be written there on reconnecting."""
        if self._client is None:
            dirty()
        elif len(self._queue) >= MAX_QUEUE:
            self._went_down(RuntimeError(f"{MAX_QUEUE} writes are waiting for Redis"))
            dirty()
        else:
            self._queue.append((send, dirty))
            if self._queued is not None:
                self._queued.set()

    async def _run(
        self, client: coredis.Redis[str], name: str, keys: list[str], args: list[str]
    ) -> Any:
        """Run script ``name`` on ``client`` from the background task (``timeout`` at most)."""
        with anyio.fail_after(self.timeout):
            return await self._scripts[name](keys=keys, args=args, client=client)

    # -- token buckets -------------------------------------------------------------------

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
        self._shapes[key] = (rate, capacity)
        args = [_str(amount), _str(rate), _str(capacity), _str(max_wait)]
        reply = await self._now("take", [self._key("b", key)], args)
        if reply is not None:
            wait, level, pause, at = (float(x) for x in reply)
            self._local.put_bucket(key, level, at, pause)
            return wait
        self._dirty_buckets.add(key)
        return await self._local.take(
            key, amount, rate=rate, capacity=capacity, now=self.clock(), max_wait=max_wait
        )

    def peek(self, key: str, amount: float, *, rate: float, capacity: float, now: float) -> float:
        return self._local.peek(key, amount, rate=rate, capacity=capacity, now=self.clock())

    def give(self, key: str, amount: float, *, rate: float, capacity: float, now: float) -> None:
        if rate == math.inf:
            return
        self._shapes[key] = (rate, capacity)
        self._local.give(key, amount, rate=rate, capacity=capacity, now=self.clock())
        args = [_str(amount), _str(rate), _str(capacity)]
        self._later(self._bucket_write("give", key, args), lambda: self._dirty_buckets.add(key))

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
        self._shapes[key] = (rate, capacity)
        pause_for = until - now if until > now else 0.0  # the gate's clock: only the span counts
        at = self.clock()
        self._local.lower(
            key,
            level,
            rate=rate,
            capacity=capacity,
            now=at,
            until=at + pause_for if pause_for else 0.0,
        )
        args = [_str(level), _str(rate), _str(capacity), _str(pause_for)]
        self._later(self._bucket_write("lower", key, args), lambda: self._dirty_buckets.add(key))

    def paused(self, key: str, *, now: float) -> float:
        return self._local.paused(key, now=self.clock())

    def _bucket_write(self, name: str, key: str, args: list[str]) -> Send:
        async def send(client: coredis.Redis[str]) -> None:
            level, pause, at = (
                float(x) for x in await self._run(client, name, [self._key("b", key)], args)
            )
            self._local.put_bucket(key, level, at, pause)

        return send

    # -- failure windows -------------------------------------------------------------------

    def record(self, key: str, *, now: float, window: float) -> int:
        at = self.clock()
        member = f"{self._id}:{next(self._seq)}"
        count = self._local.record(key, now=at, window=window)

        def dirty() -> None:
            unsent = self._unsent.setdefault(key, Unsent(window))
            unsent.window = window
            if at > unsent.cleared_at:
                unsent.events.append((member, at))

        self._later(self._events_write(key, window, False, [member, "now"]), dirty)
        return count

    def clear(self, key: str) -> None:
        self._local.clear(key)
        at = self.clock()

        def dirty() -> None:
            unsent = self._unsent.setdefault(key, Unsent(0.0))
            unsent.cleared, unsent.cleared_at, unsent.events = True, at, []

        self._later(self._events_write(key, 0.0, True, []), dirty)

    def _events_write(self, key: str, window: float, cleared: bool, pairs: list[str]) -> Send:
        args = [self._channel, key, _str(window), "1" if cleared else "0", *pairs]

        async def send(client: coredis.Redis[str]) -> None:
            times = await self._run(client, "events", [self._key("w", key)], args)
            self._local.put_events(key, [float(t) for t in times])

        return send

    # -- values --------------------------------------------------------------------------------

    def get(self, key: str) -> float | None:
        return self._local.get(key)

    def set(self, key: str, value: float | None) -> None:
        self._local.set(key, value)
        args = [self._channel, key, "" if value is None else repr(float(value))]

        async def send(client: coredis.Redis[str]) -> None:
            await self._run(client, "set", self._value_keys(), args)

        self._later(send, lambda: self._dirty_values.add(key))

    def add(self, key: str, amount: float, *, now: float, ttl: float) -> float:
        at = self.clock()
        value = self._local.add(key, amount, now=at, ttl=ttl)
        args = [self._channel, key, repr(float(amount)), repr(float(ttl))]

        async def send(client: coredis.Redis[str]) -> None:
            total = await self._run(client, "add", self._value_keys(), args)
            if key not in self._unsent_adds and key not in self._dirty_values:
                self._local.put_value(key, float(total))

        def dirty() -> None:  # the sum is added there on reconnecting, not written over
            unsent, _ = self._unsent_adds.get(key, (0.0, 0.0))
            self._unsent_adds[key] = (unsent + amount, at + ttl)

        self._later(send, dirty)
        return value

    def _value_keys(self) -> list[str]:
        """The scripts' keys for values: the hash of them, and when each is to be forgotten."""
        return [self.prefix + "values", self.prefix + "expires"]

    # -- counters with a limit ---------------------------------------------------------------

    async def acquire(self, key: str, limit: int) -> bool:
        keys = [self._key("c", key), self.prefix + "holders"]
        reply = await self._now(
            "acquire", keys, [self._channel, key, self._id, str(limit), _str(LEASE)]
        )
        held = self._held.get(key, 0)
        if reply is not None:
            ok, self._seen[key] = int(reply[0]), int(reply[1])
        else:
            ok = held < limit  # on our own: this process's slots only
            self._dirty_counters.add(key)
        if ok:
            self._held[key] = held + 1
        return bool(ok)

    def release(self, key: str) -> None:
        held = self._held.get(key, 0)
        if held <= 0:
            return
        if held == 1:
            del self._held[key]
        else:
            self._held[key] = held - 1
        seen = self._seen.get(key)
        if seen:
            self._seen[key] = seen - 1
        keys = [self._key("c", key), self.prefix + "holders"]
        args = [self._channel, key, self._id]

        async def send(client: coredis.Redis[str]) -> None:
            self._seen[key] = int(await self._run(client, "release", keys, args))

        self._later(send, lambda: self._dirty_counters.add(key))
        wake_watchers(self._watchers, key)  # another gate of this process on the same counter

    def count(self, key: str) -> int:
        held = self._held.get(key, 0)
        return held if self._client is None else self._seen.get(key, held)

    def watch(self, key: str, wake: Callable[[], None]) -> Callable[[], None]:
        return add_watcher(self._watchers, key, wake)

    # -- what other processes say ----------------------------------------------------------

    def _heard(self, data: str | bytes) -> None:
        """Apply one message from the channel (our own come back too: the same state)."""
        try:
            message = msgspec.json.decode(data, type=Message)
        except msgspec.DecodeError:
            return
        key = message.key
        if message.k == "v":
            if key not in self._dirty_values and key not in self._unsent_adds:
                if message.v:
                    self._local.put_value(key, float(message.v))
                else:
                    self._local.set(key, None)
        elif message.k == "c":
            self._seen[key] = message.n
            if message.r:
                wake_watchers(self._watchers, key)
        elif message.k == "w" and key not in self._unsent:
            times = message.s if isinstance(message.s, list) else []  # cjson: {} for []
            self._local.put_events(key, [float(t) for t in times])


class Message(msgspec.Struct):
    """One change a script published: a value, a counter's total, a window's event times."""

    k: str
    key: str
    v: str = ""
    n: int = 0
    r: int = 0
    s: list[str] | dict[str, Any] = msgspec.field(default_factory=list)


def _describe(error: BaseException) -> str:
    """``TimeoutError: ...``: the type says most when the message is empty."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _safe(url: str) -> str:
    """``url`` without its password."""
    return re.sub(r"//[^@/]*@", "//***@", url)
