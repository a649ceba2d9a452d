"""The one path every call takes: deadline, cancel scope, retries, named timeouts, provider.

``Client.chat``, ``Client.embed`` and every ``ChatStream`` describe their call
as a ``Call`` (what all its attempts share) and hand the runner one attempt
body. The runner owns everything around the attempts: it starts the clock,
sets the total deadline and its cancel scope, runs the attempts through the
one retry loop, raises the named ``total`` timeout, and stamps the provider on
every error. Per-attempt gates and per-call observers attach here and nowhere
else; ``Call.end`` is the single end of a call, which every ending reaches
exactly once.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import anyio

from ._log import DEBUG, log_attempt, log_retry, logger
from .errors import AdapterError, StreamError, TimeoutError
from .resilience import retrying
from .types import Metrics

if TYPE_CHECKING:
    from .hooks import Observer
    from .providers.base import Adapter, Headers, HttpRequest
    from .resilience import RetryPolicy, Timeouts
    from .transport import Response, Transport
    from .types import Usage

__all__ = [
    "Call",
    "Gate",
    "Operation",
    "Outcome",
    "Permit",
    "exchange",
    "metrics_of",
    "outcome_of",
    "run",
    "run_to_end",
]

T = TypeVar("T")

Operation = Literal["chat", "stream", "embed", "count"]
Outcome = Literal["ok", "error", "timeout", "cancelled", "truncated"]


class Permit(Protocol):
    """What a gate hands an admitted attempt. ``settle`` is called exactly once."""

    def head(self, status: int, headers: Headers) -> None:
        """The response head arrived (rate-limit headers are read here)."""

    def settle(self, call: Call, error: BaseException | None) -> None:
        """The attempt's exchange is over: ``error`` is what ended it, ``None`` for success.

        A failed attempt settles when it fails; the attempt that succeeded
        settles at the end of the call (for a stream: when the stream ends),
        so a concurrency slot is held for as long as the stream is open.
        """


class Gate(Protocol):
    """One per-attempt admission check: concurrency, a rate bucket, a circuit breaker."""

    async def enter(self, call: Call) -> Permit:
        """Admit the attempt, waiting (never past ``call.deadline``) or refusing before I/O.

        A refusal is a local error (``CircuitOpenError``, a local
        ``RateLimitError``, ``QueueFullError``) with ``.retry_after`` set and
        ``retryable=False``: it has already waited what it may.
        """
        ...


class Call:
    """One logical call and what its attempts share.

    ``start`` is set when the runner starts the call (for a stream: on
    entering it) unless a router passed its own; ``deadline`` is the earliest
    of the one given and ``start + timeouts.total``. ``http`` is the encoded
    request; a stream drops it once content reached the caller, since no
    retry can resend it then. ``gates`` are entered in order before every
    attempt. ``tokens`` is the call's estimated size for the token bucket (0
    when no rate limit is configured); ``usage`` the real one, once known.
    ``queued`` sums the seconds spent passing the gates; ``connect``,
    ``reused`` and ``ttfb`` are the last response head's connection timings
    (see ``Response``), ``None`` for ``ttfb`` before one. ``observer`` is
    the call's hooks (``None``: none configured, and nothing is built for
    them); ``result`` the response the call produced.
    """

    __slots__ = (
        "_ended",
        "_on_end",
        "_permits",
        "adapter",
        "attempts",
        "connect",
        "deadline",
        "error",
        "gates",
        "http",
        "model",
        "observer",
        "operation",
        "outcome",
        "queued",
        "result",
        "retry",
        "reused",
        "start",
        "timeouts",
        "tokens",
        "ttfb",
        "usage",
    )

    def __init__(
        self,
        operation: Operation,
        adapter: Adapter,
        http: HttpRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
        *,
        model: str = "",
        gates: tuple[Gate, ...] = (),
        start: float | None = None,
        deadline: float = math.inf,
    ) -> None:
        self.operation = operation
        self.adapter = adapter
        self.http: HttpRequest | None = http
        self.timeouts = timeouts
        self.retry = retry
        self.model = model
        self.gates = gates
        self.start = start  # a router passes its own, so every candidate shares one clock
        self.deadline = deadline
        self.attempts = 0
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.usage: Usage | None = None  # the final usage, for correcting token estimates
        self.tokens = 0  # the estimated tokens, set when a rate limiter will take them
        self.queued = 0.0
        self.connect = 0.0
        self.reused = False
        self.ttfb: float | None = None
        self.observer: Observer | None = None
        self.result: object = None
        self._ended = False
        self._on_end: list[Callable[[Call], None]] | None = None  # made on first use:
        self._permits: list[Permit] | None = None  # most calls have neither

    @property
    def provider(self) -> str:
        """The adapter's provider name."""
        return self.adapter.name

    def on_end(self, callback: Callable[[Call], None]) -> None:
        """Run ``callback(call)`` once when the call ends (synchronous, must not block)."""
        if self._on_end is None:
            self._on_end = []
        self._on_end.append(callback)

    def end(self, outcome: Outcome, error: BaseException | None = None) -> None:
        """The single end of the call: records how it ended and runs the end callbacks once.

        Later calls do nothing, so every ending path may call it. A call that
        never started (a stream that was never entered) ends without callbacks.
        """
        if self._ended:
            return
        self._ended = True
        self.outcome = outcome
        self.error = error
        if self._permits:
            self.settle(error)
        if self.start is None:
            return
        callbacks, self._on_end = self._on_end, None
        if callbacks is not None:
            for callback in callbacks:
                callback(self)
        if self.observer is not None:
            self.observer.ended(self)

    async def admit(self) -> None:
        """Pass this attempt through every gate in order; a refusal settles those passed.

        The time it takes (waiting for a concurrency slot or a rate bucket) is
        added to ``queued``.
        """
        began = time.perf_counter()
        try:
            permits = self._permits = []
            for gate in self.gates:
                try:
                    permits.append(await gate.enter(self))
                except BaseException as exc:
                    self.settle(exc)
                    raise
        finally:
            self.queued += time.perf_counter() - began

    def retried(self, error: AdapterError, attempt: int, delay: float) -> None:
        """The retry loop will try again: ``attempt`` (0-based) failed with ``error``."""
        log_retry(self, error, attempt + 1, delay)
        if self.observer is not None:
            self.observer.retried(self, error, attempt + 1, delay)

    def timed(self, response: Response) -> None:
        """Keep a response head's connection timings (the answering attempt's win)."""
        self.connect, self.reused, self.ttfb = response.connect, response.reused, response.ttfb

    def response_head(self, status: int, headers: Headers) -> None:
        """Tell the permits that the response head arrived."""
        for permit in self._permits or ():
            permit.head(status, headers)

    def settle(self, error: BaseException | None) -> None:
        """Settle the current attempt's permits, last gate first."""
        permits, self._permits = self._permits, None
        if permits is not None:
            for permit in reversed(permits):
                permit.settle(self, error)

    @property
    def ended(self) -> bool:
        """Whether ``end`` has run."""
        return self._ended

    def timeout(self, which: str) -> TimeoutError:
        """The named error for a deadline that counts from the start of the call.

        Not retryable: another attempt would start with less time, not more.
        """
        limit = {
            "total": self.timeouts.total,
            "first_token": self.timeouts.first_token,
            "idle": self.timeouts.idle,
        }.get(which)
        what = "a response" if which == "total" else "streamed content"
        return TimeoutError(
            f"{which} timeout: {limit} s passed without {what}",
            which=which,
            provider=self.adapter.name,
            retryable=False,
        )


def outcome_of(exc: BaseException | None) -> Outcome:
    """How a call that ended with ``exc`` (``None``: cleanly) is reported."""
    if exc is None:
        return "ok"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, StreamError) and exc.truncated:
        return "truncated"
    if isinstance(exc, AdapterError):
        return "error"
    return "cancelled"  # cancellation, GeneratorExit, KeyboardInterrupt, a caller's own error


async def run(call: Call, attempt: Callable[[Call], Awaitable[T]]) -> T:
    """Carry ``call`` through its attempts under one total deadline; return what one produced.

    ``attempt(call)`` is one try (``call.attempts`` already counts it); an
    ``AdapterError`` it raises is retried when the policy allows and the next
    attempt could still start in time. Does not end the call: ``run_to_end``
    does that for calls that are over when an attempt returns; a stream ends
    itself.
    """
    if call.start is None:
        call.start = anyio.current_time()
    if call.observer is not None:
        headers = call.observer.started(call)  # on_request; the one request-header hook point
        if headers and call.http is not None:
            call.http = dataclasses.replace(call.http, headers=[*call.http.headers, *headers])
    total = call.timeouts.total
    if total:
        call.deadline = min(call.deadline, call.start + total)

    async def one(n: int) -> T:
        call.attempts = n + 1
        if logger.isEnabledFor(DEBUG):
            log_attempt(call)
        try:
            if call.gates:
                await call.admit()
            return await attempt(call)
        except BaseException as exc:
            call.settle(exc)
            if isinstance(exc, AdapterError) and exc.provider is None:
                exc.provider = call.adapter.name
            raise

    if call.deadline == math.inf:  # no total deadline: no scope to enter and leave
        return await retrying(one, call.retry, on_retry=Call.retried, context=call)
    with anyio.CancelScope(deadline=call.deadline):
        return await retrying(
            one, call.retry, deadline=call.deadline, on_retry=Call.retried, context=call
        )
    raise call.timeout("total")  # only reached when the total deadline cancelled the scope


async def run_to_end(call: Call, attempt: Callable[[Call], Awaitable[T]]) -> T:
    """``run`` for a call that is over when its attempt returns (chat, embed): ends it too."""
    try:
        result = await run(call, attempt)
    except BaseException as exc:
        call.end(outcome_of(exc), exc)
        raise
    call.end("ok")
    return result


async def exchange(transport: Transport, call: Call) -> tuple[int, Headers, bytes]:
    """One non-streamed HTTP exchange: send, read the whole body, release the connection.

    A non-2xx status raises the adapter's error for it.
    """
    assert call.http is not None
    response = await transport.send(call.http, call.timeouts)
    call.timed(response)
    if call.gates:
        call.response_head(response.status, response.headers)
    try:
        body = await response.read()
    finally:
        await response.aclose()
    if not 200 <= response.status < 300:
        raise call.adapter.error(response.status, response.headers, body)
    return response.status, response.headers, body


def metrics_of(
    call: Call,
    end: float,
    usage: Usage | None = None,
    *,
    first: float | None = None,
    last: float = 0.0,
    reads: int = 0,
    tbt_max: float = 0.0,
) -> Metrics:
    """The call's ``Metrics`` as of ``end`` (the ``anyio.current_time()`` clock).

    A stream passes its content timings: ``first`` and ``last`` content
    event, how many network reads carried content and the longest gap
    between two of them.
    """
    start = end if call.start is None else call.start
    duration = end - start
    tokens = usage.completion_tokens if usage is not None else 0
    ttft = tpot = rate = mean = longest = None
    if first is not None:
        ttft = first - start
        generating = end - first
        if tokens > 1:
            tpot = generating / (tokens - 1)
        if tokens and generating > 0:
            rate = tokens / generating
        if reads > 1:
            mean = (last - first) / (reads - 1)
            longest = tbt_max
    return Metrics(
        queued=call.queued,
        connect=call.connect,
        reused=call.reused,
        ttfb=call.ttfb,
        ttft=ttft,
        duration=duration,
        tpot=tpot,
        tbt_max=longest,
        tbt_mean=mean,
        tokens_per_second=rate,
        throughput=tokens / duration if tokens and duration > 0 else None,
    )
