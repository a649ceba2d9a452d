"""Deadlines and the one retry loop.

``Timeouts`` names every deadline a call has; ``RetryPolicy`` decides whether
and how long to wait before another attempt; ``retrying`` runs attempts under
one total deadline, so retries can never stretch a call past it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from ..errors import AdapterError, ValidationError

__all__ = ["NO_RETRY", "RetryPolicy", "Timeouts", "retrying"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines in seconds (``None`` = no limit for that one).

    ``connect``: establishing the connection (TCP, TLS, proxy).
    ``read``: any single wait for bytes from the server.
    ``total``: the whole call, retries and the whole stream included.
    ``first_token``: from the start of the call to the first streamed content.
    ``idle``: the longest gap between streamed events that carry content;
    keep-alive comments and pings do not reset it.
    """

    connect: float | None = 10.0
    read: float | None = 600.0
    total: float | None = None
    first_token: float | None = None
    idle: float | None = 300.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total", "first_token", "idle"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise ValidationError("must be a positive number or None", field=f"timeouts.{name}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for retryable errors only.

    Attempt ``n`` (0-based) waits a uniform random time in
    ``[0, min(max_backoff, initial_backoff * multiplier**n)]``. A server's
    ``Retry-After`` replaces that wait and is honoured in full up to
    ``max_retry_after``; a longer one makes the error surface at once (with
    ``.retry_after`` set) instead of blocking the caller.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    multiplier: float = 2.0
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ValidationError("must be an integer", field="retry.max_retries")
        if self.max_retries < 0:
            raise ValidationError("must be >= 0", field="retry.max_retries")
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ValidationError("must be >= 0", field=f"retry.{name}")
        if self.multiplier < 1:
            raise ValidationError("must be >= 1", field="retry.multiplier")

    def delay(self, error: AdapterError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error`` on ``attempt``, or None to give up."""
        if not error.retryable or attempt >= self.max_retries:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier**attempt)
        return self.rng.uniform(0.0, ceiling)


NO_RETRY = RetryPolicy(max_retries=0)


async def retrying(
    attempt: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    *,
    deadline: float = math.inf,
    on_retry: Callable[..., None] | None = None,
    context: object = None,
) -> T:
    """Run ``attempt(n)`` until it succeeds, the policy gives up or the deadline passes.

    ``deadline`` is absolute (``anyio.current_time()`` clock); the attempts
    enforce it themselves, this loop only refuses to sleep past it. The sleep
    is an ordinary anyio sleep, so any enclosing cancel scope interrupts it.
    Before each sleep ``on_retry(error, n, wait)`` is told, or, with a
    ``context``, ``on_retry(context, error, n, wait)`` (so a caller can pass a
    plain function and its object instead of making a bound method per call).
    """
    n = 0
    while True:
        try:
            return await attempt(n)
        except AdapterError as error:
            wait = policy.delay(error, n)
            if wait is None or anyio.current_time() + wait >= deadline:
                raise  # out of retries, or the next attempt could not start in time
            if on_retry is not None:
                if context is None:
                    on_retry(error, n, wait)
                else:
                    on_retry(context, error, n, wait)
            await anyio.sleep(wait)
            n += 1
