"""Deployment ids and the in-process store the gates keep their counters in.

The store's operations are the contract a shared store (Redis) must keep,
so these tests pin their semantics with explicit times, no clock.
"""

from __future__ import annotations

import hashlib
import math
import time

import pytest

from agent_adapter.providers.base import Secret
from agent_adapter.resilience import MemoryStore, deployment_id
from agent_adapter.resilience.state import store_clock

pytestmark = pytest.mark.anyio

RATE, CAP = 1.0, 10.0  # one token a second, ten at most


def test_deployment_id_names_provider_model_and_address_and_hashes_the_key() -> None:
    digest = hashlib.sha256(b"sk-secret").hexdigest()[:8]
    got = deployment_id("openai", "https://api.openai.com/v1/", "gpt-4o", Secret("sk-secret"))
    assert got == f"openai:gpt-4o@https://api.openai.com/v1#{digest}"
    assert "sk-secret" not in got
    assert deployment_id("ollama", "http://localhost:11434", "llama3", None) == (
        "ollama:llama3@http://localhost:11434"
    )
    assert deployment_id("ollama", "http://h", "m", Secret("")) == "ollama:m@http://h"
    other = deployment_id("openai", "https://api.openai.com/v1", "gpt-4o", Secret("sk-other"))
    assert other != got


async def test_a_new_bucket_is_full_and_reservations_queue_behind_each_other() -> None:
    store = MemoryStore()
    take = store.take
    assert await take("b", 10, rate=RATE, capacity=CAP, now=0.0, max_wait=0) == 0.0
    # Empty now: each reservation waits for the ones before it (first come, first served).
    waits = [await take("b", 2, rate=RATE, capacity=CAP, now=0.0, max_wait=math.inf)]
    waits.append(await take("b", 1, rate=RATE, capacity=CAP, now=0.0, max_wait=math.inf))
    waits.append(await take("b", 3, rate=RATE, capacity=CAP, now=0.0, max_wait=math.inf))
    assert waits == [2.0, 3.0, 6.0]


async def test_a_refused_take_takes_nothing_and_peek_changes_nothing() -> None:
    store = MemoryStore()
    await store.take("b", 10, rate=RATE, capacity=CAP, now=0.0, max_wait=0)
    assert await store.take("b", 5, rate=RATE, capacity=CAP, now=1.0, max_wait=3.9) == 4.0
    assert store.peek("b", 5, rate=RATE, capacity=CAP, now=1.0) == 4.0  # nothing was taken
    assert store.peek("b", 5, rate=RATE, capacity=CAP, now=1.0) == 4.0
    assert await store.take("b", 1, rate=RATE, capacity=CAP, now=1.0, max_wait=0) == 0.0


async def test_refill_is_continuous_and_capped_and_give_refunds_up_to_capacity() -> None:
    store = MemoryStore()
    await store.take("b", 10, rate=RATE, capacity=CAP, now=0.0, max_wait=0)
    assert store.peek("b", 10, rate=RATE, capacity=CAP, now=2.5) == 7.5
    assert store.peek("b", 10, rate=RATE, capacity=CAP, now=100.0) == 0.0
    assert store.peek("b", 11, rate=RATE, capacity=CAP, now=100.0) == 1.0  # capped at 10
    await store.take("b", 10, rate=RATE, capacity=CAP, now=100.0, max_wait=0)
    store.give("b", 4, rate=RATE, capacity=CAP, now=100.0)
    assert store.peek("b", 4, rate=RATE, capacity=CAP, now=100.0) == 0.0
    store.give("b", 50, rate=RATE, capacity=CAP, now=100.0)
    assert store.peek("b", 11, rate=RATE, capacity=CAP, now=100.0) == 1.0
    store.give("b", -12, rate=RATE, capacity=CAP, now=100.0)  # a debt: usage above the estimate
    assert store.peek("b", 1, rate=RATE, capacity=CAP, now=100.0) == 3.0


async def test_lower_never_raises_and_a_pause_holds_every_reservation() -> None:
    store = MemoryStore()
    store.lower("b", 3, rate=RATE, capacity=CAP, now=0.0)
    assert store.peek("b", 4, rate=RATE, capacity=CAP, now=0.0) == 1.0
    store.lower("b", 8, rate=RATE, capacity=CAP, now=0.0)  # more than we have: no change
    assert store.peek("b", 4, rate=RATE, capacity=CAP, now=0.0) == 1.0
    store.lower("b", 0, rate=RATE, capacity=CAP, now=0.0, until=5.0)
    assert store.paused("b", now=1.0) == 4.0
    assert await store.take("b", 1, rate=RATE, capacity=CAP, now=1.0, max_wait=3.0) == 4.0
    assert await store.take("b", 1, rate=RATE, capacity=CAP, now=1.0, max_wait=4.0) == 4.0
    store.lower("b", 0, rate=RATE, capacity=CAP, now=1.0, until=2.0)  # shorter: ignored
    assert store.paused("b", now=1.0) == 4.0
    assert store.paused("b", now=6.0) == 0.0
    assert store.paused("unknown", now=0.0) == 0.0


async def test_an_unlimited_bucket_only_honours_pauses() -> None:
    store, inf = MemoryStore(), math.inf
    for _ in range(3):
        assert await store.take("u", 10**9, rate=inf, capacity=inf, now=0.0, max_wait=0) == 0.0
    store.lower("u", 0, rate=inf, capacity=inf, now=0.0, until=2.0)
    assert store.peek("u", 1, rate=inf, capacity=inf, now=0.5) == 1.5
    store.give("u", 5, rate=inf, capacity=inf, now=0.5)
    assert store.peek("u", 10**9, rate=inf, capacity=inf, now=2.0) == 0.0


def test_record_counts_events_within_the_window() -> None:
    store = MemoryStore()
    assert [store.record("f", now=t, window=10) for t in (0.0, 1.0, 5.0)] == [1, 2, 3]
    assert store.record("f", now=10.5, window=10) == 3  # the one at 0 fell out
    assert store.record("f", now=30.0, window=10) == 1
    store.clear("f")
    assert store.record("f", now=30.0, window=10) == 1


async def test_values_and_counters() -> None:
    store = MemoryStore()
    assert store.get("k") is None
    store.set("k", 1.5)
    assert store.get("k") == 1.5
    store.set("k", None)
    assert store.get("k") is None
    assert [await store.acquire("c", 2) for _ in range(3)] == [True, True, False]
    assert store.count("c") == 2
    store.release("c")
    assert await store.acquire("c", 2)
    for _ in range(5):
        store.release("c")  # never below zero
    assert store.count("c") == 0


def test_add_keeps_a_running_total_that_is_forgotten_after_its_ttl() -> None:
    store = MemoryStore()
    assert store.add("spend", 1.25, now=0.0, ttl=10.0) == 1.25
    assert store.add("spend", 0.5, now=5.0, ttl=10.0) == 1.75  # renews: kept until 15
    assert store.add("other", 1.0, now=12.0, ttl=100.0) == 1.0
    assert store.get("spend") == 1.75  # 12 < 15
    store.add("other", 1.0, now=15.0, ttl=100.0)  # the next add after 15 forgets it
    assert store.get("spend") is None and store.get("other") == 2.0
    assert store.add("spend", 2.0, now=16.0, ttl=1.0) == 2.0  # a new total from 0
    store.set("other", 7.0)  # a plain value: its expiry is gone with the total
    store.add("x", 0.0, now=10**6, ttl=1.0)
    assert (store.get("other"), store.get("spend"), store.get("x")) == (7.0, None, 0.0)
    assert len(store._expiring) <= 2  # one entry per expiring key, not one per add


async def test_watchers_are_woken_by_a_release_until_they_stop_watching() -> None:
    store = MemoryStore()
    woken: list[str] = []
    stop = store.watch("c", lambda: woken.append("a"))
    store.watch("other", lambda: woken.append("other"))
    await store.acquire("c", 2)
    store.release("c")
    store.release("c")  # nothing held: nothing freed, nobody woken
    assert woken == ["a"]
    stop()
    stop()  # twice is harmless
    await store.acquire("c", 2)
    store.release("c")
    assert woken == ["a"]


def test_gates_default_to_the_clock_of_their_store() -> None:
    class Shared(MemoryStore):
        __slots__ = ()

        def clock(self) -> float:
            return 1234.5

    assert store_clock(MemoryStore()) is time.monotonic
    assert store_clock(Shared())() == 1234.5
