"""The reliability layer: the only code in the library that sleeps or waits on a gate.

``retry`` holds the deadlines and the one retry loop. The per-attempt gates
(concurrency, rate buckets, circuit breakers) join it here, one module per
job; ``state`` holds the store their counters live in and the deployment ids
they are keyed by.
"""

from __future__ import annotations

from .breaker import CircuitBreaker, counts_against_health
from .limits import ConcurrencyLimit
from .retry import NO_RETRY, RetryPolicy, Timeouts, retrying
from .state import MemoryStore, Store, deployment_id

__all__ = [
    "NO_RETRY",
    "CircuitBreaker",
    "ConcurrencyLimit",
    "MemoryStore",
    "RetryPolicy",
    "Store",
    "Timeouts",
    "counts_against_health",
    "deployment_id",
    "retrying",
]
