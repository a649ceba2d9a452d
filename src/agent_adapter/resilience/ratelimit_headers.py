"""What a provider's response head says about its rate limits: pure parsers, no clock.

OpenAI (and the services that copy it) send ``x-ratelimit-remaining-requests``,
``x-ratelimit-remaining-tokens`` and ``x-ratelimit-reset-requests`` /
``x-ratelimit-reset-tokens``: the time until that limit is back to its
initial state, as a Go-style duration (``1s``, ``6m0s``, ``1m30.5s``,
``250ms``). Anthropic sends ``anthropic-ratelimit-{requests,tokens,
input-tokens,output-tokens}-{limit,remaining,reset}``, the reset being an
RFC 3339 time at which the limit is fully replenished.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..providers.base import Headers

__all__ = ["ServerLimit", "parse_duration", "parse_rate_headers", "parse_reset_time"]

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``1m30s``, ``6m0s``, ``250ms``, ``0.5s``); None if not one.

    A bare number counts as seconds.
    """
    text = text.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                return None
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text):
            return None
    return seconds if seconds >= 0 else None


def parse_reset_time(text: str, *, now: float) -> float | None:
    """Seconds from ``now`` (Unix time) to the RFC 3339 time ``text`` (0 if past; None if bad)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class ServerLimit:
    """What one response head said about one limit: what is left, and when it is full again."""

    remaining: int | None = None
    reset: float | None = None  # seconds from now


_OPENAI = ("requests", "tokens")
_ANTHROPIC = ("requests", "tokens", "input-tokens", "output-tokens")


def parse_rate_headers(headers: Headers, *, now: float) -> dict[str, ServerLimit]:
    """The limits a response head reports, by name: ``requests``, ``tokens`` and, from
    Anthropic, ``input-tokens`` and ``output-tokens``. ``now`` is the Unix time (for
    Anthropic's absolute resets). Unparsable values count as absent.
    """
    seen: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower.startswith((b"x-ratelimit-", b"anthropic-ratelimit-")):
            seen.setdefault(lower.decode("latin-1"), value.decode("latin-1"))
    if not seen:
        return {}
    out: dict[str, ServerLimit] = {}
    for kind in _OPENAI:
        remaining = _int(seen.get(f"x-ratelimit-remaining-{kind}"))
        raw_reset = seen.get(f"x-ratelimit-reset-{kind}")
        reset = parse_duration(raw_reset) if raw_reset is not None else None
        if remaining is not None or reset is not None:
            out[kind] = ServerLimit(remaining, reset)
    for kind in _ANTHROPIC:
        remaining = _int(seen.get(f"anthropic-ratelimit-{kind}-remaining"))
        raw_reset = seen.get(f"anthropic-ratelimit-{kind}-reset")
        reset = parse_reset_time(raw_reset, now=now) if raw_reset is not None else None
        if remaining is not None or reset is not None:
            out[kind] = ServerLimit(remaining, reset)
    return out


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None
