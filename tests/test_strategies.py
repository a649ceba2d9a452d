"""Strategies order a whole group; each is tested by its choice order alone (seeded)."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

import agent_adapter as aa
from agent_adapter.routing.strategies import (
    Cost,
    Latency,
    LeastBusy,
    Priority,
    RoundRobin,
    Stats,
    Weighted,
    make_strategy,
    prefer_available,
)


@dataclass(eq=False)
class Dep:
    name: str
    weight: float = 1.0
    price: aa.Price | None = None
    stats: Stats = field(default_factory=Stats)

    def __repr__(self) -> str:
        return self.name


A, B, C = Dep("a"), Dep("b"), Dep("c")
NO_TOKENS = {"stream": False, "prompt_tokens": 0, "completion_tokens": 0}


def names(deps: list[Dep]) -> str:
    return "".join(d.name for d in deps)


def test_priority_keeps_the_order_given() -> None:
    assert names(Priority().order([A, B, C], **NO_TOKENS)) == "abc"


def test_round_robin_starts_one_further_each_call() -> None:
    rr = RoundRobin()
    orders = [names(rr.order([A, B, C], **NO_TOKENS)) for _ in range(4)]
    assert orders == ["abc", "bca", "cab", "abc"]


def test_weighted_is_reproducible_with_a_seed() -> None:
    group = [Dep("a", 1), Dep("b", 2), Dep("c", 3)]
    first = [names(Weighted(random.Random(7)).order(group, **NO_TOKENS)) for _ in range(3)]
    again = [names(Weighted(random.Random(7)).order(group, **NO_TOKENS)) for _ in range(3)]
    assert first == again
    w = Weighted(random.Random(7))
    orders = [names(w.order(group, **NO_TOKENS)) for _ in range(20)]
    assert sorted(orders[0]) == ["a", "b", "c"]  # a permutation: every deployment once
    assert len(set(orders)) > 1


def test_weighted_picks_first_in_proportion_to_weight() -> None:
    group = [Dep("a", 1), Dep("b", 3)]
    w = Weighted(random.Random(1))
    firsts = Counter(w.order(group, **NO_TOKENS)[0].name for _ in range(4000))
    assert firsts["b"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_least_busy_takes_fewest_in_flight_ties_in_order() -> None:
    a, b, c = Dep("a"), Dep("b"), Dep("c")
    a.stats.in_flight, b.stats.in_flight, c.stats.in_flight = 3, 1, 1
    assert names(LeastBusy().order([a, b, c], **NO_TOKENS)) == "bca"


def test_latency_untried_first_then_fastest_then_failed() -> None:
    fast, slow, untried, failed = Dep("f"), Dep("s"), Dep("u"), Dep("x")
    slow.stats.record(2.0, stream=False)
    fast.stats.record(0.5, stream=False)
    failed.stats.failed(stream=False)
    group = [failed, slow, fast, untried]
    assert names(Latency().order(group, **NO_TOKENS)) == "ufsx"
    # Streams are ordered by their own average (time to first content): all untried here.
    assert names(Latency().order(group, **{**NO_TOKENS, "stream": True})) == "xsfu"


def test_latency_average_follows_recent_samples() -> None:
    stats = Stats()
    stats.record(1.0, stream=True)
    stats.record(2.0, stream=True)
    assert stats.stream_ttft == pytest.approx(1.3)
    assert stats.chat_latency is None
    stats.failed(stream=True)  # a failure does not erase what was measured
    assert stats.stream_ttft == pytest.approx(1.3)
    failed = Stats()
    failed.failed(stream=False)
    assert failed.chat_latency == math.inf
    failed.record(0.2, stream=False)  # the first success replaces the failure mark
    assert failed.chat_latency == 0.2


def test_cost_cheapest_for_the_token_split_and_unpriced_last() -> None:
    cheap_in = Dep("i", price=aa.Price(input=0.1, output=10.0))
    cheap_out = Dep("o", price=aa.Price(input=5.0, output=0.5))
    unpriced = Dep("n")
    group = [unpriced, cheap_out, cheap_in]
    long_prompt = {"stream": False, "prompt_tokens": 100_000, "completion_tokens": 100}
    long_answer = {"stream": False, "prompt_tokens": 100, "completion_tokens": 100_000}
    assert names(Cost().order(group, **long_prompt)) == "ion"
    assert names(Cost().order(group, **long_answer)) == "oin"


def test_prefer_available_moves_unavailable_last_and_keeps_them() -> None:
    down = {"b"}
    assert names(prefer_available([A, B, C], lambda d: d.name not in down)) == "acb"
    assert names(prefer_available([A, B, C], lambda d: False)) == "abc"


def test_unknown_strategy_names_the_field() -> None:
    with pytest.raises(aa.ValidationError) as info:
        make_strategy("fastest", random.Random())
    assert info.value.field == "strategy"
