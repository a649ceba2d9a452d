"""Strategies: the order in which a router tries the deployments of one group.

A strategy orders the *whole* group (the first is tried first, the rest are
the fallbacks within the group); it only reads the numbers it is given, so
each one is a pure function of its inputs and its own state (a round-robin
counter, a seeded random generator) and is tested by its choice order alone.
Health and rate limits are not a strategy's business: ``prefer_available``
moves deployments with an open breaker or an empty rate bucket behind the
others afterwards, whatever the strategy.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..pricing import Price

__all__ = [
    "EMA_ALPHA",
    "STRATEGIES",
    "Candidate",
    "Cost",
    "Latency",
    "LeastBusy",
    "Priority",
    "RoundRobin",
    "Stats",
    "Strategy",
    "Weighted",
    "make_strategy",
    "prefer_available",
]

EMA_ALPHA: Final = 0.3
"""Weight of the newest sample in a latency average: recent enough to follow a slowdown."""


class Stats:
    """What a router observed of one deployment: calls in flight and latency averages.

    ``chat_latency`` is the exponential moving average of a whole chat call,
    ``stream_ttft`` that of a stream's time to first content, in seconds:
    ``None`` while untried, ``inf`` after attempts that all failed.
    """

    __slots__ = ("chat_latency", "in_flight", "stream_ttft")

    def __init__(self) -> None:
        self.in_flight = 0
        self.chat_latency: float | None = None
        self.stream_ttft: float | None = None

    def leave(self, *_: object) -> None:
        """A call counted in ``in_flight`` ended (also usable as a ``Call.on_end`` callback)."""
        self.in_flight -= 1

    def latency(self, stream: bool) -> float | None:
        """The average for this kind of call (``None``: never tried)."""
        return self.stream_ttft if stream else self.chat_latency

    def record(self, seconds: float, *, stream: bool) -> None:
        """One successful call took ``seconds`` (to first content, for a stream)."""
        old = self.stream_ttft if stream else self.chat_latency
        new = seconds if old is None or old == math.inf else old + EMA_ALPHA * (seconds - old)
        if stream:
            self.stream_ttft = new
        else:
            self.chat_latency = new

    def failed(self, *, stream: bool) -> None:
        """An attempt failed: an untried deployment is tried now, with no time to show."""
        if stream and self.stream_ttft is None:
            self.stream_ttft = math.inf
        elif not stream and self.chat_latency is None:
            self.chat_latency = math.inf


class Candidate(Protocol):
    """What a strategy reads of one deployment in a group."""

    @property
    def weight(self) -> float: ...

    @property
    def price(self) -> Price | None: ...

    @property
    def stats(self) -> Stats: ...


C = TypeVar("C", bound=Candidate)


class Strategy(Protocol):
    """Orders a group's deployments for one call."""

    def order(
        self, group: Sequence[C], *, stream: bool, prompt_tokens: int, completion_tokens: int
    ) -> list[C]:
        """The group in the order to try it (every deployment, once)."""
        ...


class Priority:
    """The order the group was given: the first is preferred, the rest are its fallbacks."""

    def order(
        self, group: Sequence[C], *, stream: bool, prompt_tokens: int, completion_tokens: int
    ) -> list[C]:
        """The group as given."""
        return list(group)


class RoundRobin:
    """Each call starts one deployment further along the group."""

    def __init__(self) -> None:
        self._next = 0

    def order(
        self, group: Sequence[C], *, stream: bool, prompt_tokens: int, completion_tokens: int
    ) -> list[C]:
        """The group rotated by one more place than for the previous call."""
        i = self._next % len(group)
        self._next = i + 1
        return [*group[i:], *group[:i]]


class Weighted:
    """Random order, each deployment first in proportion to its weight.

    Weighted sampling without replacement (Efraimidis-Spirakis keys
    ``u ** (1 / weight)``), so the fallbacks after the first are weighted too.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def order(
        self, group: Sequence[C], *, stream: bool, prompt_tokens: int, completion_tokens: int
    ) -> list[C]:
        """A weighted random permutation of the group."""
        rnd = self._rng.random
        keyed = [(rnd() ** (1.0 / c.weight), i) for i, c in enumerate(group)]
        keyed.sort(reverse=True)
        return [group[i] for _, i in keyed]


class LeastBusy:
    """Fewest calls in flight (counted by the router) first; ties keep the group's order."""

    def order(
        self, group: Sequence[C], *, stream: bool, prompt_tokens: int, completion_tokens: int
    ) -> list[C]:
        """The group by calls in flight, ascending."""
        return sorted(group, key=lambda c: c.stats.in_flight)


class Latency:
    """Fastest average first: time to first content for streams, whole latency for chat.

    Untried deployments come first (so each gets measured), deployments
    whose every attempt failed last.
    """

    def order(
        self, group: Sequence[C], *, stream: bool, prompt_tokens: int, completion_tokens: int
    ) -> list[C]:
        """The group by its latency average for this kind of call, ascending."""

        def key(c: C) -> float:
            seconds = c.stats.latency(stream)
            return -1.0 if seconds is None else seconds

        return sorted(group, key=key)


class Cost:
    """Cheapest for the estimated tokens first; deployments without a price last."""

    def order(
        self, group: Sequence[C], *, stream: bool, prompt_tokens: int, completion_tokens: int
    ) -> list[C]:
        """The group by estimated cost, ascending; ties keep the group's order."""

        def key(c: C) -> float:
            price = c.price
            return math.inf if price is None else price.estimate(prompt_tokens, completion_tokens)

        return sorted(group, key=key)


STRATEGIES: Final = ("priority", "round_robin", "weighted", "least_busy", "latency", "cost")


def make_strategy(name: str, rng: random.Random) -> Strategy:
    """A fresh strategy (one per group: round robin keeps a counter per group)."""
    if name == "priority":
        return Priority()
    if name == "round_robin":
        return RoundRobin()
    if name == "weighted":
        return Weighted(rng)
    if name == "least_busy":
        return LeastBusy()
    if name == "latency":
        return Latency()
    if name == "cost":
        return Cost()
    raise ValidationError(
        f"unknown strategy {name!r}; one of {', '.join(STRATEGIES)}", field="strategy"
    )


T = TypeVar("T")


def prefer_available(order: list[T], available: Callable[[T], bool]) -> list[T]:
    """``order`` with the unavailable ones moved to the end (kept, not removed), stably.

    When none is available the order is unchanged: they are tried anyway
    (a breaker may have closed, a bucket refilled, by the time each is reached).
    """
    flags = [available(c) for c in order]
    if all(flags):
        return order
    return [c for c, ok in zip(order, flags, strict=True) if ok] + [
        c for c, ok in zip(order, flags, strict=True) if not ok
    ]
