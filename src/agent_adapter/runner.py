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

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import anyio

from .errors import AdapterError, StreamError, TimeoutError
from .resilience import retrying

if TYPE_CHECKING:
    from .providers.base import Adapter, Headers, HttpRequest
    from .resilience import RetryPolicy, Timeouts
    from .transport import Transport

__all__ = ["Call", "Outcome", "exchange", "outcome_of", "run"]

T = TypeVar("T")

Operation = Literal["chat", "stream", "embed"]
Outcome = Literal["ok", "error", "timeout", "cancelled", "truncated"]


class Call:
    """One logical call and what its attempts share.

    ``start`` and ``deadline`` are set when the runner starts the call (for a
    stream: on entering it). ``http`` is the encoded request; a stream drops it
    once content reached the caller, since no retry can resend it then.
    """

    __slots__ = (
        "_ended",
        "_on_end",
        "adapter",
        "attempts",
        "deadline",
        "error",
        "http",
        "operation",
        "outcome",
        "retry",
        "start",
        "timeouts",
    )

    def __init__(
        self,
        operation: Operation,
        adapter: Adapter,
        http: HttpRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
    ) -> None:
        self.operation = operation
        self.adapter = adapter
        self.http: HttpRequest | None = http
        self.timeouts = timeouts
        self.retry = retry
        self.start: float | None = None
        self.deadline = math.inf
        self.attempts = 0
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self._ended = False
        self._on_end: list[Callable[[Call], None]] = []

    @property
    def provider(self) -> str:
        """The adapter's provider name."""
        return self.adapter.name

    def on_end(self, callback: Callable[[Call], None]) -> None:
        """Run ``callback(call)`` once when the call ends (synchronous, must not block)."""
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
        if self.start is None:
            return
        callbacks, self._on_end = self._on_end, []
        for callback in callbacks:
            callback(self)

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
    call.start = now = anyio.current_time()
    total = call.timeouts.total
    call.deadline = now + total if total else math.inf

    async def one(n: int) -> T:
        call.attempts = n + 1
        try:
            return await attempt(call)
        except AdapterError as error:
            if error.provider is None:
                error.provider = call.adapter.name
            raise

    with anyio.CancelScope(deadline=call.deadline):
        return await retrying(one, call.retry, deadline=call.deadline)
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
    try:
        body = await response.read()
    finally:
        await response.aclose()
    if not 200 <= response.status < 300:
        raise call.adapter.error(response.status, response.headers, body)
    return response.status, response.headers, body
