"""Client-side rate limits: ``RateLimit`` (the setting) and ``RateLimiter`` (its buckets).

Two token buckets, one for requests and one for tokens per minute (capacity
= the per-minute amount, refilled continuously), shared by every task that
uses the same client. Before each attempt the limiter reserves one request
and the call's estimated tokens; a caller that must wait sleeps until its
reservation is due, so waiters are served first come, first served. When
the wait needed is longer than ``max_wait`` or than what is left of the
call's total deadline, the call fails at once, before any I/O, with a
``local`` ``RateLimitError`` whose ``retry_after`` is that wait.

The buckets follow the server: remaining requests or tokens reported in a
response head lower them to at most that, a limit reported exhausted
pauses them until its reset, and a 429 with ``Retry-After`` pauses them
until then. The token estimate is corrected with the real usage when the
reply reports it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import msgspec

from ..errors import AdapterError, CircuitOpenError, RateLimitError, ValidationError
from ._checks import check_count, check_seconds
from .ratelimit_headers import ServerLimit, parse_rate_headers
from .state import MemoryStore, Store, store_clock

if TYPE_CHECKING:
    from ..providers.base import Headers
    from ..runner import Call
    from ..types import ChatRequest, EmbedRequest

__all__ = [
    "BYTES_PER_TOKEN",
    "DEFAULT_OUTPUT_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "RateLimit",
    "RateLimiter",
    "estimate_embed_tokens",
    "estimate_tokens",
]

BYTES_PER_TOKEN = 4
"""English text averages about four bytes per token in every provider's tokenizer."""

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a message costs beyond its text (role, separators), as OpenAI documents it."""

DEFAULT_OUTPUT_TOKENS = 1024
"""Output tokens assumed for a call that sets no ``max_tokens`` (the usage corrects it)."""


def estimate_tokens(request: ChatRequest) -> int:
    """Tokens a chat call will use, guessed before it is sent, without a tokenizer.

    ``ceil(bytes of the messages' text / 4)`` (text, tool call names and
    arguments, reasoning, and the tool definitions) ``+ 4`` per message ``+``
    ``max_tokens`` (or ``DEFAULT_OUTPUT_TOKENS``). Images, audio and files are
    not counted. A guess: the bucket is corrected with the reported usage.
    """
    size = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            size += len(content.encode("utf-8"))
        elif content:
            size += len(message.text().encode("utf-8"))
        for call in message.tool_calls or ():
            size += len(call.name) + len(call.arguments.encode("utf-8"))
        if message.reasoning:
            size += len(message.reasoning.encode("utf-8"))
    if request.tools:
        size += len(msgspec.json.encode(request.tools))
    output = request.max_tokens if request.max_tokens is not None else DEFAULT_OUTPUT_TOKENS
    return -(-size // BYTES_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * len(request.messages) + output


def estimate_embed_tokens(request: EmbedRequest) -> int:
    """Tokens an embeddings call will use: ``ceil(bytes of the inputs / 4)``."""
    size = sum(len(text.encode("utf-8")) for text in request.input)
    return -(-size // BYTES_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A client's own rate limit: ``aa.Client(..., rate_limit=aa.RateLimit(rpm=500, tpm=30_000))``.

    ``rpm`` requests and ``tpm`` tokens per minute (``None``: no limit of
    our own; the server's headers and 429s still pause the bucket).
    ``max_wait`` is the longest a call may wait for the bucket (``None``: as
    long as its total deadline allows); a call that would wait longer fails
    at once with a local ``RateLimitError``.
    """

    rpm: int | None = None
    tpm: int | None = None
    max_wait: float | None = None

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None:
                check_count(value, f"rate_limit.{name}")
        if self.max_wait is not None:
            check_seconds(self.max_wait, "rate_limit.max_wait")


class _Bucket:
    """One bucket's key and shape in the store."""

    __slots__ = ("capacity", "key", "rate")

    def __init__(self, key: str, per_minute: int | None) -> None:
        self.key = key
        self.capacity = math.inf if per_minute is None else float(per_minute)
        self.rate = math.inf if per_minute is None else per_minute / 60.0


class RateLimiter:
    """The request and token buckets of one ``RateLimit``; a ``Gate`` in front of every attempt.

    ``clock`` (monotonic seconds; the store's shared clock or
    ``time.monotonic`` by default) and ``store`` (a ``MemoryStore`` by
    default) are injectable; ``key`` names the buckets
    in the store (give two limiters one key and one shared store to share
    their buckets). ``delay(tokens)`` says how long a call of that size would
    wait now, without taking anything: a router skips deployments that would
    make it wait.
    """

    __slots__ = ("_clock", "_requests", "_store", "_tokens", "limit")

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] | None = None,
        store: Store | None = None,
        key: str | None = None,
    ) -> None:
        if not isinstance(limit, RateLimit):
            raise ValidationError("must be an aa.RateLimit", field="rate_limit")
        self.limit = limit
        self._store: Store = store if store is not None else MemoryStore()
        self._clock = clock or store_clock(self._store)
        key = key or f"ratelimit:{id(self):x}"
        self._requests = _Bucket(f"{key}:requests", limit.rpm)
        self._tokens = _Bucket(f"{key}:tokens", limit.tpm)

    def __repr__(self) -> str:
        return f"RateLimiter({self.limit!r})"

    def delay(self, tokens: int) -> float:
        """Seconds a call of ``tokens`` tokens would wait now (0: none); changes nothing."""
        now, store = self._clock(), self._store
        requests, bucket = self._requests, self._tokens
        return max(
            store.peek(requests.key, 1, rate=requests.rate, capacity=requests.capacity, now=now),
            store.peek(bucket.key, tokens, rate=bucket.rate, capacity=bucket.capacity, now=now),
        )

    # -- the gate ----------------------------------------------------------------------

    async def enter(self, call: Call) -> _RatePermit:
        """Reserve one request and ``call.tokens``; wait for them, or refuse at once."""
        store, requests, bucket = self._store, self._requests, self._tokens
        allowed = self._allowed(call)
        now = self._clock()
        wait = await store.take(
            requests.key,
            1,
            rate=requests.rate,
            capacity=requests.capacity,
            now=now,
            max_wait=allowed,
        )
        if wait > allowed:
            raise self._refusal(call, wait, allowed)
        tokens = call.tokens
        token_wait = await store.take(
            bucket.key,
            tokens,
            rate=bucket.rate,
            capacity=bucket.capacity,
            now=now,
            max_wait=allowed,
        )
        if token_wait > allowed:
            self._give(requests, 1)
            raise self._refusal(call, token_wait, allowed)
        wait = max(wait, token_wait)
        permit = _RatePermit(self, tokens)
        if wait > 0:
            try:
                await self._wait(call, wait)
            except BaseException:
                permit.refund(requests=True)
                raise
        return permit

    async def _wait(self, call: Call, wait: float) -> None:
        """Sleep until the reservation is due, then until any pause announced meanwhile ends."""
        store = self._store
        while wait > 0:
            await anyio.sleep(wait)
            now = self._clock()
            wait = max(
                store.paused(self._requests.key, now=now), store.paused(self._tokens.key, now=now)
            )
            allowed = self._allowed(call)
            if wait > allowed:
                raise self._refusal(call, wait, allowed)

    def _allowed(self, call: Call) -> float:
        """The longest this call may wait: ``max_wait`` and what is left of its deadline."""
        allowed = math.inf if self.limit.max_wait is None else self.limit.max_wait
        if call.deadline != math.inf:
            allowed = min(allowed, max(0.0, call.deadline - anyio.current_time()))
        return allowed

    def _refusal(self, call: Call, wait: float, allowed: float) -> RateLimitError:
        why = "its total deadline" if allowed != self.limit.max_wait else "max_wait"
        return RateLimitError(
            f"local rate limit: the call would wait {wait:.2f} s, longer than {why} allows "
            f"({allowed:.2f} s)",
            provider=call.provider,
            retry_after=wait,
            local=True,
        )

    # -- what the server and the usage say -----------------------------------------------

    def _give(self, bucket: _Bucket, amount: float) -> None:
        self._store.give(
            bucket.key, amount, rate=bucket.rate, capacity=bucket.capacity, now=self._clock()
        )

    def _follow(self, bucket: _Bucket, limit: ServerLimit, now: float) -> None:
        if limit.remaining is None:
            return
        until = now + limit.reset if limit.remaining == 0 and limit.reset else 0.0
        self._store.lower(
            bucket.key,
            limit.remaining,
            rate=bucket.rate,
            capacity=bucket.capacity,
            now=now,
            until=until,
        )

    def observe(self, headers: Headers) -> bool:
        """Follow what a response head says about the server's limits; whether it spoke of tokens.

        The request bucket follows the ``requests`` limit, the token bucket
        the ``tokens`` limit (Anthropic's is the most restrictive in effect);
        Anthropic's input or output tokens reported exhausted pause the token
        bucket too.
        """
        limits = parse_rate_headers(headers, now=time.time())
        if not limits:
            return False
        now = self._clock()
        if "requests" in limits:
            self._follow(self._requests, limits["requests"], now)
        if "tokens" in limits:
            self._follow(self._tokens, limits["tokens"], now)
        for part in ("input-tokens", "output-tokens"):
            limit = limits.get(part)
            if limit is not None and limit.remaining == 0:
                self._follow(self._tokens, limit, now)
        return "tokens" in limits or "input-tokens" in limits or "output-tokens" in limits

    def pause(self, seconds: float) -> None:
        """Take nothing from either bucket for ``seconds`` (a server's 429 said so)."""
        now = self._clock()
        for bucket in (self._requests, self._tokens):
            self._store.lower(
                bucket.key,
                0,
                rate=bucket.rate,
                capacity=bucket.capacity,
                now=now,
                until=now + seconds,
            )


class _RatePermit:
    """One attempt's reservation: corrected by the usage, refunded when nothing was sent."""

    __slots__ = ("_limiter", "_tokens", "_told")

    def __init__(self, limiter: RateLimiter, tokens: int) -> None:
        self._limiter = limiter
        self._tokens = tokens
        self._told = False  # the server reported its remaining tokens: no refund overrides it

    def head(self, status: int, headers: Headers) -> None:
        """Follow the server's rate-limit headers."""
        if self._limiter.observe(headers):
            self._told = True

    def refund(self, *, requests: bool) -> None:
        """Give back the reserved tokens (and the request, when it was never sent)."""
        limiter = self._limiter
        if requests:
            limiter._give(limiter._requests, 1)
        if self._tokens and not self._told:
            limiter._give(limiter._tokens, self._tokens)

    def settle(self, call: Call, error: BaseException | None) -> None:
        """Correct the estimate with the real usage; pause on a server's 429.

        A refused attempt (a later gate said no) gives everything back; one
        the server answered with an error status gives its tokens back (the
        model did not run); any other ending keeps the estimate. Tokens are
        not corrected once the server said how many it has left: its word is
        newer than our estimate.
        """
        usage = call.usage
        if error is None and usage is not None:
            used = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
            if used and used != self._tokens and not self._told:
                self._limiter._give(self._limiter._tokens, self._tokens - used)
            return
        if isinstance(error, CircuitOpenError):
            self.refund(requests=True)
        elif isinstance(error, AdapterError) and error.status is not None and error.status >= 400:
            self.refund(requests=False)
        if isinstance(error, RateLimitError) and not error.local and error.retry_after:
            self._limiter.pause(error.retry_after)
