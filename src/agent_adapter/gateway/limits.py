"""The gates a request meets before it is routed: the resilience layer's, used per key.

The gateway refuses rather than queues: a key over its ``rpm``/``tpm`` or
its ``max_streams``, or a gateway at ``max_in_flight``, is answered 429 at
once with ``Retry-After``. These are the same ``RateLimiter`` and
``ConcurrencyLimit`` a ``Client`` puts in front of each attempt (``max_wait=0``,
``max_queue=0``), keyed by the client key's name in one ``Store``: an
in-memory one by default, a shared one (Redis) to hold the limits across
gateway instances. The gates read a call through a handful of attributes;
``Ticket`` is that much of a call, for a request that is not one yet. A key's
USD budget (``budget.py``) is checked first, and charged when the ticket is
settled, with the cost the request's handler put on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from ..errors import QueueFullError, RateLimitError, TimeoutError
from ..resilience import ConcurrencyLimit, MemoryStore, RateLimit, RateLimiter
from .budget import Spend

if TYPE_CHECKING:
    from ..pricing import Price
    from ..resilience import Store
    from ..routing import RoutedStream
    from ..runner import Call, Gate, Permit
    from ..types import Usage
    from .settings import KeySettings

__all__ = ["KeyLimits", "Refused", "Ticket", "in_flight_limit"]


class Refused(Exception):
    """A gate said no: the 429's message and its ``Retry-After`` seconds."""

    def __init__(self, message: str, retry_after: float, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.code = code


class Ticket:
    """One request as the gates see it: its estimated tokens, then its real usage and cost.

    Holds the permits it was given, to settle them (last first) when the
    request ends: a concurrency slot is freed, the token estimate corrected,
    the key's spend charged with ``cost`` (or, when that is unknown, with what
    the ``stream`` it relayed cost as far as it got).
    """

    __slots__ = ("_permits", "_spend", "cost", "stream", "tokens", "usage")

    provider = "gateway"
    deadline = math.inf  # never waits: every gate here refuses instead

    def __init__(self, tokens: int = 0) -> None:
        self.tokens = tokens
        self.usage: Usage | None = None
        self.cost: float | None = None
        self.stream: RoutedStream | None = None
        self._permits: list[Permit] = []
        self._spend: Spend | None = None

    def timeout(self, which: str) -> TimeoutError:
        """Never raised (no deadline): what a gate would raise if it had waited too long."""
        return TimeoutError(f"{which} timeout in a gateway gate", which=which)

    async def enter(self, gate: Gate, what: str) -> None:
        """Pass ``gate`` or raise ``Refused`` naming ``what`` was reached."""
        try:
            self._permits.append(await gate.enter(cast("Call", self)))
        except QueueFullError as error:
            raise Refused(f"{what} reached", _at_least(error.retry_after)) from None
        except RateLimitError as error:
            raise Refused(f"{what} reached", _at_least(error.retry_after)) from None

    def settle(self, error: BaseException | None = None) -> None:
        """The request is over: give back slots, correct token estimates, charge (idempotent)."""
        permits, self._permits = self._permits, []
        for permit in reversed(permits):
            permit.settle(cast("Call", self), error)
        spend, self._spend = self._spend, None
        if spend is not None:
            cost = self.cost
            if cost is None and self.stream is not None:
                cost = spend.cost_of(self.stream.response)  # cut short: as far as it got
            spend.charge(cost or 0.0)


class KeyLimits:
    """One client key's gates: its budget, its rpm/tpm buckets and its concurrent-stream slots.

    ``prices`` (deployment id -> ``aa.Price``) price a stream cut short;
    ``clock`` (seconds since the epoch) says which budget period it is.
    """

    __slots__ = ("_made_of", "name", "rate", "spend", "streams", "wants_tokens")

    def __init__(
        self,
        key: KeySettings,
        store: Store | None = None,
        *,
        prices: Mapping[str, Price] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = key.name
        self._made_of = _limits_of(key)
        self.rate: RateLimiter | None = None
        self.streams: ConcurrencyLimit | None = None
        self.spend: Spend | None = None
        self.wants_tokens = key.tpm is not None
        if key.budget is not None:
            self.spend = Spend(
                key.name, key.budget, store or MemoryStore(), prices=prices, clock=clock
            )
        if key.rpm is not None or key.tpm is not None:
            self.rate = RateLimiter(
                RateLimit(rpm=key.rpm, tpm=key.tpm, max_wait=0),
                store=store,
                # Changed limits start a fresh bucket (in every instance, with Redis);
                # the stream slots and the spend stay where they are.
                key=f"gateway:key:{key.name}:{key.rpm or 0}:{key.tpm or 0}",
            )
        if key.max_streams is not None:
            self.streams = ConcurrencyLimit(
                key.max_streams, max_queue=0, store=store, key=f"gateway:streams:{key.name}"
            )

    def fits(self, key: KeySettings) -> bool:
        """Whether ``key`` would get these gates: a reload then keeps them, and their counts."""
        return key.name == self.name and _limits_of(key) == self._made_of

    async def admit(self, ticket: Ticket, *, stream: bool) -> None:
        """Check the budget, take a stream slot (for a stream), then a place in the buckets.

        In that order, so a key over its budget or a refused stream costs no
        request from the bucket; a refused request gives its stream slot back.
        The ticket then charges the key's spend when it is settled.
        """
        if self.spend is not None:
            spent = self.spend.check()
            if spent is not None:
                raise Refused(*spent, code="budget_exceeded")
        if stream and self.streams is not None:
            await ticket.enter(self.streams, f"concurrent stream limit of key {self.name!r}")
        if self.rate is not None:
            try:
                await ticket.enter(self.rate, f"rate limit of key {self.name!r}")
            except Refused:
                ticket.settle()
                raise
        ticket._spend = self.spend


def in_flight_limit(max_in_flight: int | None) -> ConcurrencyLimit | None:
    """This process's bound on requests served at once (``None``: unbounded).

    Always in local memory: it bounds this process's sockets and memory,
    whatever store the keys' limits share.
    """
    if max_in_flight is None:
        return None
    return ConcurrencyLimit(max_in_flight, max_queue=0, key="gateway:in_flight")


def _limits_of(key: KeySettings) -> tuple[object, ...]:
    return (key.rpm, key.tpm, key.max_streams, key.budget)


def _at_least(retry_after: float | None) -> float:
    """A Retry-After worth sending: never 0 (a client would come straight back)."""
    return max(retry_after or 0.0, 1.0)
