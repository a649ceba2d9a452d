"""The reliability layer: the only code in the library that sleeps or waits on a gate.

``retry`` holds the deadlines and the one retry loop. The per-attempt gates,
entered in this order before every attempt, are ``limits`` (concurrency),
``ratelimit`` (request and token buckets, following the server's headers)
and ``breaker`` (per-deployment circuit breakers); ``state`` holds the store
their counters live in and the deployment ids they are keyed by, ``redis``
the store many processes share (``RedisStore``; coredis is imported only
when one starts).
"""

from __future__ import annotations

from .breaker import CircuitBreaker, counts_against_health
from .limits import ConcurrencyLimit
from .ratelimit import RateLimit, RateLimiter, estimate_embed_tokens, estimate_tokens
from .redis import RedisStore
from .retry import NO_RETRY, RetryPolicy, Timeouts, retrying
from .state import MemoryStore, Store, deployment_id

__all__ = [
    "NO_RETRY",
    "CircuitBreaker",
    "ConcurrencyLimit",
    "MemoryStore",
    "RateLimit",
    "RateLimiter",
    "RedisStore",
    "RetryPolicy",
    "Store",
    "Timeouts",
    "counts_against_health",
    "deployment_id",
    "estimate_embed_tokens",
    "estimate_tokens",
    "retrying",
]
