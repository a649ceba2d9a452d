"""USD budgets per client key: what a key spent this UTC day or month, kept in the ``Store``.

A key with ``budget = { usd = 5.0, per = "day" }`` is refused (429, with
``Retry-After`` until the period ends) once the calls it made this period
cost that much. The spend of a call is its ``cost`` (the Router sets it from
the deployment's ``price``; a stream's at its end), charged when the call
ends; a call whose cost is unknown (no price for its model) counts 0. A
stream cut by an error or a disconnect is charged for the usage it had
reported, priced by its deployment's ``price``.

The spend lives in the gateway's ``Store`` under
``gateway:spend:<key>:<period>`` (``2026-12-01``, or ``2026-12`` for a
month), added with ``Store.add``: with ``[gateway.state]`` every instance
adds to one total in Redis and sees the others' spend within a round trip.
The check is against the calls that have ended: the calls in flight when a
key reaches its budget may take it past by their own cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..pricing import Price
    from ..resilience import Store
    from ..types import ChatResponse, EmbedResponse
    from .settings import Budget

__all__ = ["Spend", "period"]

_KEEP = 3600.0
"""Seconds a period's total outlives the period (so a late reader finds it, then it is gone)."""


def period(now: float, per: str) -> tuple[str, datetime]:
    """The period ``now`` (seconds since the epoch) is in: its name and when it ends (UTC)."""
    at = datetime.fromtimestamp(now, UTC)
    if per == "month":
        start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        return f"{at:%Y-%m}", end
    start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{at:%Y-%m-%d}", start + timedelta(days=1)


class Spend:
    """One key's budget and its spend: checked before a request, charged when it ends."""

    __slots__ = ("_clock", "_prices", "budget", "name", "store")

    def __init__(
        self,
        name: str,
        budget: Budget,
        store: Store,
        *,
        prices: Mapping[str, Price] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.budget = budget
        self.store = store
        self._prices = prices or {}
        store_clock = getattr(store, "clock", None)  # a shared store's: one timeline for all
        self._clock = clock or (store_clock if callable(store_clock) else time.time)

    def __repr__(self) -> str:
        return f"Spend({self.name!r}, usd={self.budget.usd}, per={self.budget.per!r})"

    def _key(self, label: str) -> str:
        return f"gateway:spend:{self.name}:{label}"

    def spent(self) -> float:
        """USD spent in the current period (as this process last heard, for a shared store)."""
        label, _ = period(self._clock(), self.budget.per)
        return self.store.get(self._key(label)) or 0.0

    def check(self) -> tuple[str, float] | None:
        """None while there is budget left; else why not and the seconds until it resets."""
        now = self._clock()
        label, end = period(now, self.budget.per)
        if (self.store.get(self._key(label)) or 0.0) < self.budget.usd:
            return None
        when = "00:00 UTC" if self.budget.per == "day" else f"00:00 UTC on {end:%Y-%m-%d}"
        message = (
            f"key {self.name!r} has spent its USD {self.budget.usd:.2f} budget for {label}; "
            f"it resets at {when}"
        )
        return message, max(end.timestamp() - now, 1.0)

    def charge(self, usd: float) -> None:
        """Add ``usd`` to this period's spend (the period the call ended in)."""
        if usd <= 0:
            return
        now = self._clock()
        label, end = period(now, self.budget.per)
        ttl = end.timestamp() - now + _KEEP
        self.store.add(self._key(label), usd, now=now, ttl=ttl)

    def cost_of(self, response: ChatResponse | EmbedResponse) -> float:
        """USD for ``response``: its ``cost``, else its usage at its deployment's price, else 0."""
        if response.cost is not None:
            return response.cost
        price = self._prices.get(response.deployment or "")
        if price is None or response.usage is None:
            return 0.0
        return price.cost(response.usage)
