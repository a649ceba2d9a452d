"""The keywords a ``Client`` (and a ``Router``) takes, checked before any I/O.

Each function turns one keyword's value into what the client keeps, or raises
a ``ValidationError`` naming that keyword.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ValidationError
from .pricing import Price
from .registry import APIS
from .resilience import (
    CircuitBreaker,
    ConcurrencyLimit,
    RateLimit,
    RateLimiter,
    RetryPolicy,
    Store,
    Timeouts,
)

__all__ = ["api_option", "gate_settings", "prices_option", "retry_option", "timeouts_option"]


def api_option(value: Any) -> str:
    """A checked ``api=`` value; whether the provider serves it is the registry's to say."""
    if not isinstance(value, str) or value not in APIS:
        raise ValidationError(
            f"must be one of {', '.join(map(repr, APIS))}, got {value!r}", field="api"
        )
    return value


def gate_settings(
    breaker: CircuitBreaker | None,
    rate_limit: RateLimit | RateLimiter | None,
    max_concurrency: int | None,
    max_queue: int | None,
    store: Store | None = None,
    store_key: str | None = None,
) -> tuple[CircuitBreaker | None, RateLimiter | None, ConcurrencyLimit | None]:
    """The configured gates, checked before any I/O (a ValidationError names the keyword)."""
    if store is not None and not callable(getattr(store, "take", None)):
        raise ValidationError("must be an aa.MemoryStore, an aa.RedisStore or None", field="store")
    if store_key is not None and (store is None or not isinstance(store_key, str) or not store_key):
        raise ValidationError("must be a non-empty string, given with store=", field="store_key")
    if breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise ValidationError("must be an aa.CircuitBreaker", field="breaker")
    if store is not None and breaker is not None and breaker._store is not store:
        raise ValidationError(
            "keeps its state in another store than store=: use aa.CircuitBreaker(store=store)",
            field="breaker",
        )
    limiter: RateLimiter | None
    if rate_limit is None or isinstance(rate_limit, RateLimiter):
        limiter = rate_limit
        if store is not None and limiter is not None and limiter._store is not store:
            raise ValidationError(
                "keeps its buckets in another store than store=: pass an aa.RateLimit",
                field="rate_limit",
            )
    elif isinstance(rate_limit, RateLimit):
        if store is None:
            limiter = RateLimiter(rate_limit)
        else:
            limiter = RateLimiter(rate_limit, store=store, key=f"ratelimit:{store_key}")
    else:
        raise ValidationError("must be an aa.RateLimit", field="rate_limit")
    concurrency = None
    if max_concurrency is not None:
        if store is None:
            concurrency = ConcurrencyLimit(max_concurrency, max_queue)
        else:
            key = f"concurrency:{store_key}"
            concurrency = ConcurrencyLimit(max_concurrency, max_queue, store=store, key=key)
    elif max_queue is not None:
        raise ValidationError("needs max_concurrency", field="max_queue")
    return breaker, limiter, concurrency


def prices_option(value: Mapping[str, Price] | None) -> dict[str, Price]:
    """The ``prices=`` mapping, checked before any I/O."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("must be a mapping of model name to aa.Price", field="prices")
    for model, price in value.items():
        if not isinstance(model, str) or not isinstance(price, Price):
            raise ValidationError(
                "must map a model name to an aa.Price", field=f"prices[{model!r}]"
            )
    return dict(value)


def timeouts_option(value: Timeouts | float | None) -> Timeouts | None:
    """``timeouts=``: an ``aa.Timeouts``, or a number of seconds for ``total``."""
    if value is None or isinstance(value, Timeouts):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Timeouts(total=float(value))
    raise ValidationError("must be an aa.Timeouts or a number of seconds", field="timeouts")


def retry_option(value: RetryPolicy | int | None) -> RetryPolicy | None:
    """``retry=``: an ``aa.RetryPolicy``, or a number of retries."""
    if value is None or isinstance(value, RetryPolicy):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return RetryPolicy(max_retries=value)
    raise ValidationError("must be an aa.RetryPolicy or a number of retries", field="retry")
