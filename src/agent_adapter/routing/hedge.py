"""Hedged requests: when the first deployment is slow, ask the next one too; keep the first answer.

A hedge trades a little extra load for the tail latency: when the chosen
deployment has produced nothing (no response for chat, no first content for
a stream) after ``delay``, the same request also goes to the next candidate,
up to ``max_extra`` extra ones. The first to produce wins; every other is
cancelled at once, which closes its connection (a half-read response never
goes back to the pool). A failure before anyone wins is ordinary fallback:
the next candidate starts at once. Errors of the losers are not raised.

``race`` runs the contenders in one task group, each in its own cancel scope.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, TypeVar

import anyio

from ..errors import AdapterError, ValidationError

if TYPE_CHECKING:
    from .deployment import Member
    from .fallback import Plan

__all__ = [
    "PERCENTILES",
    "RING_SIZE",
    "WARMUP_DELAY",
    "WARMUP_SAMPLES",
    "Hedge",
    "Latencies",
    "race",
]

T = TypeVar("T")

PERCENTILES: Final = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
RING_SIZE: Final = 128
"""How many recent latencies a group keeps per kind of call (chat, stream)."""
WARMUP_SAMPLES: Final = 20
"""A percentile delay needs this many samples; until then ``WARMUP_DELAY`` is used."""
WARMUP_DELAY: Final = 1.5
"""The delay of a percentile hedge while its group has too few samples (seconds)."""


@dataclass(frozen=True, slots=True)
class Hedge:
    """Send a slow request to the next deployment too: ``aa.Hedge(delay=1.5, max_extra=1)``.

    ``delay`` is seconds, or ``"p50"``/``"p90"``/``"p95"``/``"p99"``: that
    percentile of the group's recent latencies (time to first content for
    streams), ``WARMUP_DELAY`` until ``WARMUP_SAMPLES`` were seen.
    ``max_extra`` bounds the extra requests one call may start.
    """

    delay: float | str = 1.5
    max_extra: int = 1

    def __post_init__(self) -> None:
        delay = self.delay
        if isinstance(delay, str):
            if delay not in PERCENTILES:
                raise ValidationError(
                    f"must be seconds or one of {', '.join(PERCENTILES)}", field="hedge.delay"
                )
        elif (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay <= 0
        ):
            raise ValidationError("must be a positive number of seconds", field="hedge.delay")
        extra = self.max_extra
        if isinstance(extra, bool) or not isinstance(extra, int) or extra < 1:
            raise ValidationError("must be an integer >= 1", field="hedge.max_extra")

    @property
    def percentile(self) -> float | None:
        """The percentile the delay follows (``None`` for a fixed delay)."""
        return PERCENTILES[self.delay] if isinstance(self.delay, str) else None

    def delay_for(self, latencies: Latencies | None) -> float:
        """The delay for one call, from the group's recent latencies when it follows them."""
        if isinstance(self.delay, str):
            q = PERCENTILES[self.delay]
            seconds = latencies.percentile(q) if latencies is not None else None
            return WARMUP_DELAY if seconds is None else seconds
        return float(self.delay)


class Latencies:
    """A bounded ring of a group's recent latencies (seconds), for percentile delays."""

    __slots__ = ("_ring",)

    def __init__(self, size: int = RING_SIZE) -> None:
        self._ring: deque[float] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._ring)

    def add(self, seconds: float) -> None:
        """One successful call's latency."""
        self._ring.append(seconds)

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile (nearest rank), or ``None`` with fewer than ``WARMUP_SAMPLES``."""
        n = len(self._ring)
        if n < WARMUP_SAMPLES:
            return None
        ordered = sorted(self._ring)
        return ordered[min(n - 1, max(0, math.ceil(q * n) - 1))]


class _Race(Generic[T]):
    """The shared state of one race: who won, what must be raised, who is still running."""

    __slots__ = ("fatal", "running", "scopes", "wake", "winner")

    def __init__(self) -> None:
        self.winner: tuple[Member, T] | None = None
        self.fatal: AdapterError | None = None  # a caller error: raise it, stop everything
        self.running = 0
        self.scopes: list[anyio.CancelScope] = []
        self.wake = anyio.Event()


async def race(
    plan: Plan,
    first: Member,
    attempt: Callable[[Member], Awaitable[T]],
    discard: Callable[[T], Awaitable[None]],
    *,
    delay: float,
    max_extra: int,
    deadline: float,
) -> tuple[Member, T] | None:
    """Run ``attempt`` on ``first``, hedging to the plan's next candidates; the winner or None.

    ``None`` means every candidate failed (``plan.errors`` has why) or the
    deadline passed. A caller error from any contender is raised at once.
    ``discard`` closes a result that finished after the winner (a stream).
    """
    state: _Race[T] = _Race()

    async def contender(member: Member, scope: anyio.CancelScope) -> None:
        try:
            with scope:
                try:
                    result = await attempt(member)
                except AdapterError as error:
                    if (
                        state.winner is None
                        and state.fatal is None
                        and not plan.failed(member, error)
                    ):
                        state.fatal = error
                    return
                if state.winner is None and state.fatal is None:
                    state.winner = (member, result)
                else:
                    await discard(result)  # finished second: not wanted
        finally:
            state.running -= 1
            state.wake.set()

    try:
        async with anyio.create_task_group() as tg:

            def launch(member: Member) -> float:
                scope = anyio.CancelScope()
                state.scopes.append(scope)
                state.running += 1
                tg.start_soon(contender, member, scope)
                return anyio.current_time() + delay

            try:
                await _referee(state, plan, launch(first), launch, max_extra, deadline)
            finally:
                for scope in state.scopes:
                    scope.cancel()  # the losers (the winner's scope is already closed)
    except BaseException:
        if state.winner is not None:  # cancelled from outside after someone won
            with anyio.CancelScope(shield=True):
                await discard(state.winner[1])
        raise
    if state.fatal is not None:
        raise state.fatal
    return state.winner


async def _referee(
    state: _Race[T],
    plan: Plan,
    hedge_at: float,
    launch: Callable[[Member], float],
    max_extra: int,
    deadline: float,
) -> None:
    """Start the next contender when the running ones are all slow (a hedge) or all failed."""
    extras = 0
    while state.winner is None and state.fatal is None:
        if state.running == 0:  # everyone so far failed: plain fallback, no extra spent
            member = plan.next() if anyio.current_time() < deadline else None
            if member is None:
                return
            hedge_at = launch(member)
            continue
        state.wake = anyio.Event()
        with anyio.CancelScope(deadline=hedge_at if extras < max_extra else math.inf):
            await state.wake.wait()
        if (
            state.winner is None
            and state.fatal is None
            and extras < max_extra
            and anyio.current_time() >= hedge_at
        ):
            member = plan.next()
            if member is None:
                extras = max_extra  # nobody left to hedge to: wait for those running
            else:
                extras += 1
                hedge_at = launch(member)
