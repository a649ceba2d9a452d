"""The reliability layer: the only code in the library that sleeps or waits on a gate.

``retry`` holds the deadlines and the one retry loop. The per-attempt gates
(concurrency, rate buckets, circuit breakers) and the store their counters
live in join it here, one module per job.
"""

from __future__ import annotations

from .retry import NO_RETRY, RetryPolicy, Timeouts, retrying

__all__ = ["NO_RETRY", "RetryPolicy", "Timeouts", "retrying"]
