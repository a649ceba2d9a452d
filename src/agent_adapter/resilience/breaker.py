"""``CircuitBreaker``: stop sending to a deployment that keeps failing, then probe it.

One state per deployment id. Closed: attempts pass and the failures that say
the deployment is unhealthy (``counts_against_health``) are counted in a
sliding window; ``failure_threshold`` of them within ``window`` seconds open
it. Open: every attempt is refused before any I/O with ``CircuitOpenError``
until ``reset_timeout`` has passed. Half-open: ``half_open_max`` probes pass
at once; a probe that succeeds closes the circuit, one that fails opens it
again for ``reset_timeout``, one that is cancelled frees its slot without
deciding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from ..errors import (
    AdapterError,
    APIConnectionError,
    AuthenticationError,
    CircuitOpenError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
)
from ._checks import check_count, check_seconds
from .state import MemoryStore, Store, store_clock

if TYPE_CHECKING:
    from ..providers.base import Headers
    from ..runner import Call, Gate

__all__ = ["BreakerState", "CircuitBreaker", "counts_against_health"]

BreakerState = Literal["closed", "open", "half_open"]


def counts_against_health(error: BaseException) -> bool:
    """Whether ``error`` says the deployment is unhealthy (the breaker and a router count it).

    Counts: connection failures and every timeout (``APIConnectionError``),
    5xx and overloaded ``ServerError`` (also an error event inside a 200
    stream; after content the stream raises a ``StreamError`` whose
    ``.cause`` is that error), a server's 429, and a rejected key
    (``AuthenticationError``, ``PermissionDeniedError``: the deployment is
    unusable with it). A truncated stream counts too: the server or the
    connection cut it, not the request.

    Never counts: the caller's own mistakes (``ValidationError``, other 4xx
    such as ``BadRequestError``, ``ContextLengthError``,
    ``ContentFilterError``, ``NotFoundError``), ``StructuredOutputError``, a
    2xx reply we could not read, a malformed or oversized stream, our own
    refusals (``CircuitOpenError``, a ``local`` ``RateLimitError`` or
    ``QueueFullError``), and cancellation.
    """
    if isinstance(error, StreamError):
        if error.cause is not None:
            return counts_against_health(error.cause)
        return error.truncated
    if isinstance(error, RateLimitError):
        return not error.local
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, ServerError):
        return error.status is None or error.status >= 500
    return isinstance(error, AuthenticationError | PermissionDeniedError)


class CircuitBreaker:
    """Per-deployment circuit breakers: ``aa.Client(..., breaker=aa.CircuitBreaker())``.

    ``clock`` (seconds, monotonic; the store's shared clock or
    ``time.monotonic`` by default) and ``store`` (a ``MemoryStore`` by
    default; a shared one such as ``aa.RedisStore`` shares the state between
    processes) are injectable. ``state``, ``retry_after`` and
    ``available`` only read; ``gate(deployment_id)`` is what a client (or a
    router) puts in front of every attempt to that deployment.
    """

    __slots__ = (
        "_clock",
        "_gates",
        "_store",
        "failure_threshold",
        "half_open_max",
        "reset_timeout",
        "window",
    )

    def __init__(
        self,
        failure_threshold: int = 5,
        window: float = 60.0,
        reset_timeout: float = 30.0,
        half_open_max: int = 1,
        *,
        clock: Callable[[], float] | None = None,
        store: Store | None = None,
    ) -> None:
        self.failure_threshold = check_count(failure_threshold, "breaker.failure_threshold")
        self.window = check_seconds(window, "breaker.window", positive=True)
        self.reset_timeout = check_seconds(reset_timeout, "breaker.reset_timeout")
        self.half_open_max = check_count(half_open_max, "breaker.half_open_max")
        self._store: Store = store if store is not None else MemoryStore()
        self._clock = clock or store_clock(self._store)
        self._gates: dict[str, _BreakerGate] = {}

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failure_threshold={self.failure_threshold}, window={self.window}, "
            f"reset_timeout={self.reset_timeout}, half_open_max={self.half_open_max})"
        )

    def state(self, deployment_id: str) -> BreakerState:
        """``closed``, ``open`` (refusing) or ``half_open`` (letting probes through)."""
        until = self._store.get(_open_key(deployment_id))
        if until is None:
            return "closed"
        return "open" if self._clock() < until else "half_open"

    def retry_after(self, deployment_id: str) -> float | None:
        """Seconds until the breaker lets a probe through; 0 when half-open, None when closed."""
        until = self._store.get(_open_key(deployment_id))
        if until is None:
            return None
        return max(0.0, until - self._clock())

    def available(self, deployment_id: str) -> bool:
        """Whether an attempt would be admitted now (closed, or a probe slot free); reads only."""
        until = self._store.get(_open_key(deployment_id))
        if until is None:
            return True
        if self._clock() < until:
            return False
        return self._store.count(_probe_key(deployment_id)) < self.half_open_max

    def gate(self, deployment_id: str) -> Gate:
        """The per-attempt gate for ``deployment_id`` (one object per id, reused)."""
        gate = self._gates.get(deployment_id)
        if gate is None:
            gate = self._gates[deployment_id] = _BreakerGate(self, deployment_id)
        return gate

    # -- transitions -------------------------------------------------------------------

    def _failed(self, deployment_id: str) -> None:
        """A failure that counts, from an attempt admitted while closed."""
        store, now = self._store, self._clock()
        key = _failure_key(deployment_id)
        if store.record(key, now=now, window=self.window) >= self.failure_threshold:
            if store.get(_open_key(deployment_id)) is None:
                store.set(_open_key(deployment_id), now + self.reset_timeout)
            store.clear(key)

    def _probed(self, deployment_id: str, healthy: bool | None) -> None:
        """A probe ended: healthy closes, unhealthy re-opens, None (cancelled) decides nothing."""
        store = self._store
        store.release(_probe_key(deployment_id))
        if healthy is None:
            return
        store.clear(_failure_key(deployment_id))
        store.set(_open_key(deployment_id), None if healthy else self._clock() + self.reset_timeout)


def _open_key(deployment_id: str) -> str:
    return f"breaker:{deployment_id}:open"  # value: when the open state ends


def _probe_key(deployment_id: str) -> str:
    return f"breaker:{deployment_id}:probes"


def _failure_key(deployment_id: str) -> str:
    return f"breaker:{deployment_id}:failures"


class _BreakerGate:
    """The breaker in front of one deployment; also the permit of attempts admitted closed."""

    __slots__ = ("_breaker", "_id")

    def __init__(self, breaker: CircuitBreaker, deployment_id: str) -> None:
        self._breaker = breaker
        self._id = deployment_id

    async def enter(self, call: Call) -> _BreakerGate | _Probe:
        breaker = self._breaker
        until = breaker._store.get(_open_key(self._id))
        if until is None:
            return self  # closed: the common case costs one dict lookup
        wait = until - breaker._clock()
        if wait > 0:
            raise CircuitOpenError(
                f"circuit open for {self._id}: {breaker.failure_threshold} failures within "
                f"{breaker.window:g} s; next probe in {wait:.1f} s",
                provider=call.provider,
                retry_after=wait,
                retryable=False,
            )
        if not await breaker._store.acquire(_probe_key(self._id), breaker.half_open_max):
            raise CircuitOpenError(
                f"circuit half-open for {self._id}: {breaker.half_open_max} probe(s) under way",
                provider=call.provider,
                retry_after=0.0,
                retryable=False,
            )
        return _Probe(breaker, self._id)

    def head(self, status: int, headers: Headers) -> None:
        """Nothing to read in a response head."""

    def settle(self, call: Call, error: BaseException | None) -> None:
        """Count a failure that says the deployment is unhealthy."""
        if error is not None and counts_against_health(error):
            self._breaker._failed(self._id)


class _Probe:
    """The permit of a half-open probe: its outcome decides the circuit."""

    __slots__ = ("_breaker", "_id")

    def __init__(self, breaker: CircuitBreaker, deployment_id: str) -> None:
        self._breaker = breaker
        self._id = deployment_id

    def head(self, status: int, headers: Headers) -> None:
        """Nothing to read in a response head."""

    def settle(self, call: Call, error: BaseException | None) -> None:
        """Close on an answer, re-open on a health failure, decide nothing when cancelled."""
        healthy: bool | None
        if call.outcome == "cancelled" or (
            error is not None and not isinstance(error, AdapterError)
        ):
            healthy = None  # the caller stopped it (a stream closed early, a cancel scope)
        else:
            healthy = error is None or not counts_against_health(error)
        self._breaker._probed(self._id, healthy)
