"""The ``[gateway]`` table of a config file, checked whole with key paths in every error.

``config.load_config`` keeps the table raw (``RouterConfig.gateway``); this
module reads it, the way ``config.py`` reads the rest, so a mistake stops the
server before it listens (``gateway.keys.team-a.rpm: must be a positive
integer``), and never echoes a value that might be secret::

    [gateway]
    max_body_bytes = 33554432   # a request body above it: 413, refused while it arrives
    max_in_flight = 1024        # requests being served at once; beyond: 429
    body_timeout = 30           # seconds a request body may take to arrive; then 408
    grace_period = 30           # seconds requests may take to finish on SIGTERM; then cut
    trusted_proxies = ["10.0.0.0/8"]  # with --behind-proxy: whose X-Forwarded-For counts
    metrics = true              # GET /metrics, without a client key (firewall it, or false)

    [gateway.keys.team-a]       # one table per client key, by name
    hash = "sha256:9f86d0..."   # the key's SHA-256 (``agent-adapter keys new`` prints it)
    models = ["smart", "openai/*"]  # what it may call (default: everything served)
    rpm = 60                    # requests and tokens per minute, streams at once
    tpm = 100000
    max_streams = 4
    budget = { usd = 5.0, per = "day" }  # USD per UTC day or calendar month; then 429

    [gateway.state]             # share the keys' limits, spend and breakers between instances
    url = "redis://redis.internal:6379/0"   # may hold a password: it is never shown
    prefix = "agent-adapter:"   # keys in Redis start with it (instances that share: the same)
    timeout = 0.25              # seconds Redis may take to answer before local state is used

With no keys every request is served anonymously; ``agent-adapter serve``
allows that on a loopback address only.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ValidationError
from ..registry import split_model

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_IN_FLIGHT",
    "Budget",
    "GatewaySettings",
    "IPNetwork",
    "KeySettings",
    "StateSettings",
    "network",
    "read_settings",
    "redacted",
]

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
"""32 MiB: room for a few large images as base64, not for a memory exhaustion attack."""
DEFAULT_MAX_IN_FLIGHT = 1024
"""Requests served at once before new ones get 429: a bound on memory and sockets."""
DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds a request body may take to arrive: a stalled client frees its connection."""

DEFAULT_GRACE_PERIOD = 30.0
"""Seconds a SIGTERM leaves requests and streams to finish: a long answer's usual length."""

_TOP = frozenset(
    (
        "keys",
        "max_body_bytes",
        "max_in_flight",
        "body_timeout",
        "grace_period",
        "trusted_proxies",
        "metrics",
        "state",
    )
)
_KEY = frozenset(("hash", "models", "rpm", "tpm", "max_streams", "budget"))
_BUDGET = frozenset(("usd", "per"))
_STATE = frozenset(("url", "prefix", "timeout"))
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True, slots=True)
class Budget:
    """What a key may spend, in USD, per UTC day or calendar month, priced from each call's cost."""

    usd: float
    per: Literal["day", "month"] = "day"


@dataclass(frozen=True, slots=True)
class StateSettings:
    """``[gateway.state]``: the Redis server the instances share (``url`` may hold a password)."""

    url: str = field(repr=False)
    prefix: str = "agent-adapter:"
    timeout: float = 0.25

    def __repr__(self) -> str:
        return f"StateSettings(url={redacted(self.url)!r}, prefix={self.prefix!r})"


def redacted(url: str) -> str:
    """``url`` with its user and password (``redis://user:secret@host``) shown as ``***``."""
    return re.sub(r"//[^@/]*@", "//***@", url)


@dataclass(frozen=True, slots=True)
class KeySettings:
    """One client key: its name (for logs and errors), its SHA-256, what it may use, its limits.

    ``models`` ``None`` means every model the gateway serves; otherwise each
    entry is a group name, a ``provider/model``, ``provider/*`` or ``*``.
    ``digest`` is the raw 32-byte SHA-256 of the key; the key itself is never
    stored.
    """

    name: str
    digest: bytes = field(repr=False)
    models: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_streams: int | None = None
    budget: Budget | None = None

    def allows(self, model: str) -> bool:
        """Whether this key may call ``model`` (a group name or a ``provider/model``)."""
        allowed = self.models
        if allowed is None:
            return True
        for entry in allowed:
            if entry == model or entry == "*":
                return True
            if entry.endswith("/*") and model.startswith(entry[:-1]):
                return True
        return False


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """The gateway's own settings: its keys, the limits every request meets, how it stops.

    ``trusted_proxies`` are the networks whose ``X-Forwarded-For`` counts
    (with ``--behind-proxy``; empty: loopback only). ``metrics`` serves
    ``GET /metrics`` (Prometheus) without a client key, for scrapers: it
    tells request counts per key name and model, nothing secret, but on a
    public address firewall it or turn it off. ``state``
    is the shared store (``[gateway.state]``), when there is one.
    """

    keys: tuple[KeySettings, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_in_flight: int | None = DEFAULT_MAX_IN_FLIGHT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    grace_period: float = DEFAULT_GRACE_PERIOD
    trusted_proxies: tuple[IPNetwork, ...] = ()
    metrics: bool = True
    state: StateSettings | None = None


def read_settings(
    raw: Mapping[str, Any], *, groups: Collection[str] = (), allow_direct: bool = False
) -> GatewaySettings:
    """The checked ``[gateway]`` table; ``groups`` and ``allow_direct`` check keys' ``models``."""
    _known(raw, _TOP, "gateway")
    keys = raw.get("keys", {})
    if not isinstance(keys, dict):
        raise ValidationError("must be a table of key tables", field="gateway.keys")
    read = [_key(name, table, groups, allow_direct) for name, table in keys.items()]
    seen: dict[bytes, str] = {}
    for key in read:
        if key.digest in seen:
            raise ValidationError(
                f"is the same key as gateway.keys.{seen[key.digest]}",
                field=f"gateway.keys.{key.name}.hash",
            )
        seen[key.digest] = key.name
    max_in_flight: int | None = DEFAULT_MAX_IN_FLIGHT
    if "max_in_flight" in raw:
        value = raw["max_in_flight"]
        max_in_flight = None if value is False else _positive_int(value, "gateway.max_in_flight")
    body_timeout = DEFAULT_BODY_TIMEOUT
    if "body_timeout" in raw:
        value = raw["body_timeout"]
        if not _is_number(value) or value <= 0:
            raise ValidationError(
                "must be a positive number of seconds", field="gateway.body_timeout"
            )
        body_timeout = float(value)
    grace = DEFAULT_GRACE_PERIOD
    if "grace_period" in raw:
        value = raw["grace_period"]
        if not _is_number(value) or value < 0:
            raise ValidationError(
                "must be a number of seconds (0 or more)", field="gateway.grace_period"
            )
        grace = float(value)
    proxies = raw.get("trusted_proxies", [])
    if not isinstance(proxies, list):
        raise ValidationError(
            'must be a list of addresses or networks, e.g. ["10.0.0.0/8"]',
            field="gateway.trusted_proxies",
        )
    max_body = DEFAULT_MAX_BODY_BYTES
    if "max_body_bytes" in raw:
        max_body = _positive_int(raw["max_body_bytes"], "gateway.max_body_bytes")
    metrics = raw.get("metrics", True)
    if not isinstance(metrics, bool):
        raise ValidationError("must be true or false", field="gateway.metrics")
    return GatewaySettings(
        keys=tuple(read),
        max_body_bytes=max_body,
        max_in_flight=max_in_flight,
        body_timeout=body_timeout,
        grace_period=grace,
        trusted_proxies=tuple(
            network(entry, f"gateway.trusted_proxies[{i}]") for i, entry in enumerate(proxies)
        ),
        metrics=metrics,
        state=_state(raw["state"]) if "state" in raw else None,
    )


def network(value: Any, where: str) -> IPNetwork:
    """``value`` (``"10.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``) as a network; else an error."""
    if isinstance(value, str):
        try:
            return ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            pass
    raise ValidationError("must be an IP address or network, e.g. 10.0.0.0/8", field=where)


def _state(raw: Any) -> StateSettings:
    where = "gateway.state"
    _known(raw, _STATE, where)
    url = raw.get("url")
    if url is None:
        raise ValidationError(
            'is missing: the Redis server, "redis://host:6379/0"', field=f"{where}.url"
        )
    # Never echo the value: it may hold the server's password.
    if not isinstance(url, str) or not url.startswith(_SCHEMES) or len(url) <= len("redis://"):
        raise ValidationError("must be a redis://, rediss:// or unix:// URL", field=f"{where}.url")
    prefix = raw.get("prefix", "agent-adapter:")
    if not isinstance(prefix, str):
        raise ValidationError("must be a string", field=f"{where}.prefix")
    timeout = raw.get("timeout", 0.25)
    if not _is_number(timeout) or not 0 < timeout < math.inf:
        raise ValidationError("must be a positive number of seconds", field=f"{where}.timeout")
    return StateSettings(url=url, prefix=prefix, timeout=float(timeout))


def _budget(raw: Any, where: str) -> Budget:
    if not isinstance(raw, dict):
        raise ValidationError('must be a table: { usd = 5.0, per = "day" }', field=where)
    _known(raw, _BUDGET, where)
    if "usd" not in raw:
        raise ValidationError(
            "is missing: the USD the key may spend per period", field=f"{where}.usd"
        )
    usd = raw["usd"]
    if not _is_number(usd) or not 0 < usd < math.inf:
        raise ValidationError("must be a positive number of US dollars", field=f"{where}.usd")
    per = raw.get("per", "day")
    if per not in ("day", "month"):
        raise ValidationError('must be "day" or "month" (UTC)', field=f"{where}.per")
    return Budget(usd=float(usd), per=per)


def _key(name: str, raw: Any, groups: Collection[str], allow_direct: bool) -> KeySettings:
    where = f"gateway.keys.{name}"
    if not isinstance(raw, dict):
        raise ValidationError(
            "must be a table (hash, models, rpm, tpm, max_streams, budget)", field=where
        )
    _known(raw, _KEY, where)
    digest = raw.get("hash")
    if digest is None:
        raise ValidationError(
            'is missing: the key\'s "sha256:<hex>" (agent-adapter keys new prints it)',
            field=f"{where}.hash",
        )
    if not isinstance(digest, str) or not _HASH.match(digest):
        # Never echo the value: a key pasted here by mistake must not reach a log.
        raise ValidationError(
            'must be "sha256:" and 64 lower-case hex digits (a hash, never the key itself)',
            field=f"{where}.hash",
        )
    models = raw.get("models")
    if models is not None:
        if not isinstance(models, list) or not models:
            raise ValidationError(
                "must be a non-empty list of model names", field=f"{where}.models"
            )
        for i, entry in enumerate(models):
            _check_model(entry, f"{where}.models[{i}]", groups, allow_direct)
        models = tuple(models)
    limits = {
        limit: _positive_int(raw[limit], f"{where}.{limit}")
        for limit in ("rpm", "tpm", "max_streams")
        if limit in raw
    }
    budget = _budget(raw["budget"], f"{where}.budget") if "budget" in raw else None
    return KeySettings(
        name=name,
        digest=bytes.fromhex(digest[len("sha256:") :]),
        models=models,
        budget=budget,
        **limits,
    )


def _check_model(entry: Any, where: str, groups: Collection[str], allow_direct: bool) -> None:
    if not isinstance(entry, str) or not entry:
        raise ValidationError("must be a non-empty string", field=where)
    if entry == "*" or entry in groups:
        return
    provider, _ = split_model(entry)  # "openai/*" names its provider too
    if provider is not None:
        if not allow_direct:
            raise ValidationError(
                "names a provider/model, but allow_direct is off: name a group in [models]",
                field=where,
            )
        return
    raise ValidationError(
        f"{entry!r} is not a group in [models] (nor provider/model, provider/* or *)", field=where
    )


def _known(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise ValidationError("must be a table", field=where)
    for key in raw:
        if key not in allowed:
            raise ValidationError(
                f"unknown key (known: {', '.join(sorted(allowed))})", field=f"{where}.{key}"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationError("must be a positive integer", field=where)
    return value
