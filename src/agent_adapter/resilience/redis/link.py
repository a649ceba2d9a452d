"""A ``RedisStore``'s background task: connect, catch up, listen, beat, write; again on failure.

One session per connection: a heartbeat (the server's time, this process's
lease, whether Redis kept its data), a subscription to the store's channel,
the writes made while Redis was not there, the values every process shares,
and only then the store says it is connected and the write queue drains.
Any failure ends the session (the store falls back to local state) and the
next one starts after a backoff of 50 ms doubling to 2 s, with jitter.
"""

from __future__ import annotations

import importlib
import random
import weakref
from typing import TYPE_CHECKING, Any

import anyio

from ..state import wake_watchers
from . import scripts
from .scripts import num

if TYPE_CHECKING:
    import coredis

    from .store import RedisStore

__all__ = ["BEAT_EVERY", "LEASE", "leaf", "load_scripts", "run"]

BEAT_EVERY = 1.0
"""Seconds between heartbeats: how soon a silent Redis is noticed, and how often waiters look
again at counters (a holder whose lease ended frees its slots without a message)."""

LEASE = 10.0
"""Seconds a process's slots outlive its last heartbeat (a process that died loses them then)."""

BACKOFF = (0.05, 2.0)
"""First and longest wait between connection attempts, in seconds."""


class _Lost(Exception):
    """The session ends: a round trip failed, Redis forgot what it held, or stopped talking."""


def load_scripts(store: RedisStore) -> None:
    """Import coredis and make the scripts, once (each is loaded by SHA, again when needed)."""
    if store._scripts:
        return
    try:
        script = importlib.import_module("coredis.commands").Script
    except ImportError as error:
        raise ImportError(
            "RedisStore needs coredis: pip install 'agent-adapter[redis]'", name="coredis"
        ) from error
    names = ("take", "give", "lower", "events", "set", "add", "acquire", "release", "slots", "beat")
    for name in names:
        store._scripts[name] = script(script=getattr(scripts, name.upper()))


async def run(store: RedisStore) -> None:
    """Keep a session going until the store's task group is cancelled; never raise otherwise."""
    delay = BACKOFF[0]
    while True:
        ups = store._ups
        try:
            await _session(store)
        except Exception as error:
            _failed(store, error)
        except BaseException as error:
            if isinstance(error, anyio.get_cancelled_exc_class()):
                raise
            await anyio.lowlevel.checkpoint()  # re-raises if this task is being cancelled
            _failed(store, error)  # a group mixing a failure with a session's cancellation
        if store._ups != ups:  # it was connected: try again soon
            delay = BACKOFF[0]
        await anyio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, BACKOFF[1])


def _failed(store: RedisStore, error: BaseException) -> None:
    """A session ended: the store falls back (unless it already did, for a better reason)."""
    if store._client is not None or not isinstance(leaf(error), _Lost):
        store._went_down(error)


def leaf(error: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups: a failure, not a cancellation."""
    if not isinstance(error, BaseExceptionGroup) or not error.exceptions:
        return error
    found = [leaf(inner) for inner in error.exceptions]
    cancelled = anyio.get_cancelled_exc_class()
    return next((e for e in found if not isinstance(e, cancelled)), found[0])


async def _session(store: RedisStore) -> None:
    redis = importlib.import_module("coredis")
    no_retry = importlib.import_module("coredis.retry").NoRetryPolicy
    client: coredis.Redis[str] = redis.Redis.from_url(
        store.url,
        decode_responses=True,
        retry_policy=no_retry(),
        connect_timeout=store.timeout,
    )
    pool = client.connection_pool
    pool.connection_class = _closing(pool.connection_class)
    store._lost = lost = anyio.Event()
    async with client:
        kept = await _beat(store, client)
        async with (
            client.pubsub(
                channels=[store._channel], retry_policy=None, subscription_timeout=store.timeout
            ) as subscription,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(_listen, store, subscription)
            tg.start_soon(_watch, lost)
            await _catch_up(store, client, kept)
            store._went_up(client)
            tg.start_soon(_beats, store, client)
            await _write(store, client)


_CLOSING: dict[type[Any], type[Any]] = {}


def _closing(base: type[Any]) -> type[Any]:
    """``base``, closing its message buffers when its task ends, or when it is collected.

    coredis (6.9) opens a connection's anyio memory streams when it is made
    and closes them only once the socket connected, so every failed attempt
    (each retry while Redis is down) would leave them to the garbage
    collector and its ``ResourceWarning``; so would a connection made for a
    call in flight when Redis went away, whose pool could no longer start it.
    """
    made = _CLOSING.get(base)
    if made is None:

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            base.__init__(self, *args, **kwargs)
            weakref.finalize(self, _close, _buffers(self))

        async def run(self: Any, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
            try:
                await base.run(self, task_status=task_status)
            finally:
                _close(_buffers(self))

        made = _CLOSING[base] = type(base.__name__, (base,), {"__init__": __init__, "run": run})
    return made


def _buffers(connection: Any) -> list[Any]:
    # Here, not at module level: ``import agent_adapter`` need not load anyio's memory
    # streams (coredis loads them anyway once Redis is in use).
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    return [
        value
        for value in vars(connection).values()
        if isinstance(value, MemoryObjectSendStream | MemoryObjectReceiveStream)
    ]


def _close(buffers: list[Any]) -> None:
    for buffer in buffers:
        buffer.close()


async def _watch(lost: anyio.Event) -> None:
    await lost.wait()
    raise _Lost("Redis failed a round trip")


async def _beat(store: RedisStore, client: coredis.Redis[str]) -> bool:
    """One heartbeat: the clock from Redis's, this lease renewed; whether Redis kept its data."""
    keys = [store.prefix + "holders", store.prefix + "epoch"]
    before = store._mono()
    reply: Any = await store._run(client, "beat", keys, [store._id, repr(LEASE), store._id])
    after = store._mono()
    store._offset = float(reply[0]) - (before + after) / 2
    return int(reply[1]) == 1


async def _beats(store: RedisStore, client: coredis.Redis[str]) -> None:
    while True:
        await anyio.sleep(BEAT_EVERY)
        if not await _beat(store, client):
            raise _Lost("Redis lost its data (restarted empty, or flushed)")
        wake_watchers(store._watchers)


async def _listen(store: RedisStore, subscription: Any) -> None:
    async for message in subscription:
        if message["type"] == "message":
            store._heard(message["data"])
    raise _Lost("the subscription ended")


async def _write(store: RedisStore, client: coredis.Redis[str]) -> None:
    """Send queued writes in order; one that fails stays queued for ``_went_down`` to mark."""
    queue = store._queue
    while True:
        while queue:
            send, _ = queue[0]
            await send(client)
            if queue and queue[0][0] is send:
                queue.popleft()
        if store._flushed is not None:
            store._flushed.set()
        store._queued = event = anyio.Event()
        if not queue:
            await event.wait()


async def _catch_up(store: RedisStore, client: coredis.Redis[str], kept: bool) -> None:
    """Write what changed here while Redis was not there, then read the shared values."""
    local = store._local
    if not kept and store._ever_up:  # Redis restarted empty: what we mirror is all there is
        store._dirty_values.update(local.values())
        store._dirty_buckets.update(key for key in local.buckets() if key in store._shapes)
        store._unsent_adds.clear()  # the totals, written whole, hold these sums already
    store._dirty_counters.update(store._held)  # our slots, said again: leases may have ended
    store._seen.clear()
    holders = store.prefix + "holders"
    while True:  # values last: a breaker clears its failures before it closes
        for key in list(store._unsent):
            unsent = store._unsent.pop(key)
            pairs = [part for member, at in unsent.events for part in (member, repr(at))]
            cleared = "1" if unsent.cleared else "0"
            args = [store._channel, key, repr(unsent.window), cleared, *pairs]
            try:
                times = await store._run(client, "events", [store._key("w", key)], args)
            except BaseException:
                store._unsent.setdefault(key, unsent)
                raise
            local.put_events(key, [float(t) for t in times])
        for key in list(store._dirty_buckets):
            store._dirty_buckets.discard(key)
            rate, capacity = store._shapes[key]
            now = store.clock()
            level, pause = local.bucket(key, rate, capacity, now)
            pause_for = max(0.0, pause - now)
            args = [num(level), num(rate), num(capacity), num(pause_for)]
            try:
                reply = await store._run(client, "lower", [store._key("b", key)], args)
            except BaseException:
                store._dirty_buckets.add(key)
                raise
            level, pause, at = (float(x) for x in reply)
            local.put_bucket(key, level, at, pause)
        for key in list(store._dirty_counters):
            store._dirty_counters.discard(key)
            try:
                args = [store._channel, key, store._id, str(store._held.get(key, 0))]
                total = await store._run(
                    client, "slots", [store._key("c", key), holders], [*args, repr(LEASE)]
                )
            except BaseException:
                store._dirty_counters.add(key)
                raise
            store._seen[key] = int(total)
        for key in list(store._unsent_adds):  # sums, added to what others added meanwhile
            amount, until = store._unsent_adds.pop(key)
            args = [store._channel, key, repr(amount), repr(max(until - store.clock(), 0.001))]
            try:
                total = await store._run(client, "add", store._value_keys(), args)
            except BaseException:
                more, _ = store._unsent_adds.get(key, (0.0, until))
                store._unsent_adds[key] = (amount + more, until)
                raise
            local.put_value(key, float(total))
        for key in list(store._dirty_values):
            store._dirty_values.discard(key)
            value = local.get(key)
            ttl = local.expires_in(key, store.clock())
            try:
                args = [store._channel, key, "" if value is None else repr(value)]
                if ttl is not None and value is not None:
                    args.append(repr(ttl))
                await store._run(client, "set", store._value_keys(), args)
            except BaseException:
                store._dirty_values.add(key)
                raise
        with anyio.fail_after(store.timeout):
            shared = await client.hgetall(store.prefix + "values")
        for key in (
            local.values().keys() - shared.keys() - store._dirty_values - set(store._unsent_adds)
        ):
            local.set(key, None)
        for key, text in shared.items():
            if key not in store._dirty_values and key not in store._unsent_adds:
                local.put_value(key, float(text))
        if not (
            store._dirty_counters
            or store._dirty_values
            or store._dirty_buckets
            or store._unsent
            or store._unsent_adds
        ):
            return  # nothing written meanwhile: the store may say it is connected
