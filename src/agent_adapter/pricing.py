"""``Price``: what a deployment charges, in USD per million tokens.

A router's ``cost`` strategy orders deployments by the estimated price of the
request; per-call cost accounting reads ``Price.cost(usage)``. Prices are
data the caller gives (they change too often to ship a table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ValidationError

if TYPE_CHECKING:
    from .types import Usage

__all__ = ["Price"]

PER = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens: ``input``, ``output``, and optional cache rates.

    ``cached_input`` prices prompt tokens read from the provider's cache and
    ``cache_write`` those written to it (Anthropic charges a premium for
    that); when a rate is ``None`` those tokens cost the plain ``input`` rate.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input", "cache_write"):
            value = getattr(self, name)
            if value is None and name in ("cached_input", "cache_write"):
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValidationError(
                    "must be a non-negative number (USD per million tokens)", field=f"price.{name}"
                )

    def cost(self, usage: Usage) -> float:
        """The USD cost of one call's ``usage``.

        Cached and cache-written tokens are parts of ``prompt_tokens`` (see
        ``Usage``), so they are taken out of the plain input count and priced
        at their own rates; reasoning tokens are output tokens.
        """
        cached = usage.cached_tokens
        written = usage.cache_creation_tokens
        plain = max(usage.prompt_tokens - cached - written, 0)
        read_rate = self.input if self.cached_input is None else self.cached_input
        write_rate = self.input if self.cache_write is None else self.cache_write
        return (
            plain * self.input
            + cached * read_rate
            + written * write_rate
            + usage.completion_tokens * self.output
        ) / PER

    def estimate(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The USD cost of a call expected to use these many tokens (no cache assumed)."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / PER
