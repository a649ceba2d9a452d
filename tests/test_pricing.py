"""``aa.Price``: validated rates, and the cost of a call's usage with cache reads and writes."""

from __future__ import annotations

import math

import pytest

import agent_adapter as aa


def test_cost_prices_input_and_output_per_million_tokens() -> None:
    price = aa.Price(input=2.5, output=10.0)
    usage = aa.Usage(prompt_tokens=1_000_000, completion_tokens=500_000, total_tokens=1_500_000)
    assert price.cost(usage) == pytest.approx(2.5 + 5.0)


def test_cached_prompt_tokens_cost_the_cached_rate_and_writes_the_write_rate() -> None:
    price = aa.Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    usage = aa.Usage(
        prompt_tokens=10_000,
        completion_tokens=1_000,
        cached_tokens=6_000,
        cache_creation_tokens=2_000,
    )
    expected = (2_000 * 3.0 + 6_000 * 0.3 + 2_000 * 3.75 + 1_000 * 15.0) / 1e6
    assert price.cost(usage) == pytest.approx(expected)


def test_without_cache_rates_cached_tokens_cost_the_input_rate() -> None:
    price = aa.Price(input=1.0, output=2.0)
    usage = aa.Usage(prompt_tokens=1_000, cached_tokens=400, cache_creation_tokens=100)
    assert price.cost(usage) == pytest.approx(1_000 * 1.0 / 1e6)


def test_reasoning_tokens_are_output_tokens() -> None:
    price = aa.Price(input=0.0, output=4.0)
    usage = aa.Usage(completion_tokens=1_000, reasoning_tokens=800)
    assert price.cost(usage) == pytest.approx(1_000 * 4.0 / 1e6)


def test_estimate_is_the_uncached_cost_of_a_token_split() -> None:
    assert aa.Price(input=1.0, output=3.0).estimate(2_000, 100) == pytest.approx(0.0023)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input": -1.0, "output": 1.0}, "price.input"),
        ({"input": 1.0, "output": math.inf}, "price.output"),
        ({"input": 1.0, "output": 1.0, "cached_input": -0.1}, "price.cached_input"),
        ({"input": 1.0, "output": 1.0, "cache_write": "1"}, "price.cache_write"),
        ({"input": True, "output": 1.0}, "price.input"),
    ],
)
def test_bad_rates_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(aa.ValidationError) as info:
        aa.Price(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_price_is_frozen() -> None:
    price = aa.Price(input=1.0, output=2.0)
    with pytest.raises(AttributeError):
        price.input = 3.0  # type: ignore[misc]
