"""The TOML file for a Router (and later the gateway): checked whole, at load time.

A mistake in a config file should stop a deployment before it serves a
request, with the key path that is wrong, not surface as a provider's 401 an
hour later. ``load_config`` reads the file with the stdlib ``tomllib`` and
returns a ``RouterConfig``: plain values, with the Router's objects built only
by ``RouterConfig.router_kwargs()``, so ``Router.from_config(path)`` is
``cls(**load_config(path).router_kwargs())``.

The format (every key is optional unless said otherwise)::

    strategy = "latency"        # priority | round_robin | weighted | least_busy | latency | cost
    allow_direct = false        # may callers name a provider/model that is in no group?
    seed = 7                    # for the strategies that draw at random

    [timeouts]                  # aa.Timeouts for every call; `false` means no limit
    total = 60
    idle = false

    [retry]                     # aa.RetryPolicy
    max_retries = 2

    [breaker]                   # aa.CircuitBreaker per deployment; `breaker = false`: none
    failure_threshold = 5       # also window, reset_timeout, half_open_max

    [hedge]                     # aa.Hedge: a second attempt when the first is slow
    delay = "p95"               # seconds, or a latency percentile "p50".."p99"
    max_extra = 1

    [providers.openai]          # defaults for every deployment of that provider
    api_key = "env:OPENAI_API_KEY"
    base_url = "https://api.openai.com/v1"

    [models]                    # at least one group, each with at least one deployment
    fast = ["groq/llama-3.3-70b", "openai/gpt-4o-mini"]

    [[models.smart]]            # or one table per deployment
    model = "openai/gpt-4o"     # required: provider/model
    rpm = 500                   # also tpm, max_concurrency, max_queue, weight
    [[models.smart]]
    model = "anthropic/claude-sonnet-4-5"
    weight = 2
    price = { input = 3.0, output = 15.0, cached_input = 0.3, cache_write = 3.75 }
    timeouts = { total = 120 }  # and retry = {...}: this deployment's own

    [fallbacks]                 # group -> groups tried when it fails
    smart = ["fast"]
    [context_window_fallbacks]  # ... when the prompt is too long for it
    [content_policy_fallbacks]  # ... when its safety filter refused

    [gateway]                   # kept as a raw dict in RouterConfig.gateway, unread here

Keys are references, never literals: ``api_key = "env:NAME"`` is resolved
from ``env`` (default ``os.environ``) at load time, and a literal key is an
error (a file holding a key ends up in a repository). ``base_url`` may be a
literal or ``"env:NAME"``. A deployment without ``api_key`` uses its
provider's usual variable (``OPENAI_API_KEY``, ...). Deployment settings
override their ``[providers.NAME]`` defaults; tables (``timeouts``, ``retry``,
``price``) merge key by key. Prices are in USD per million tokens.

Every error is a ``ValidationError`` whose message starts with the key path
(``models.smart[1].rpm: must be a positive integer``); unknown keys are
errors, and no message ever contains a key's value.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .errors import ValidationError
from .registry import get_spec, names, split_model
from .resilience import RetryPolicy, Timeouts

__all__ = ["STRATEGIES", "DeploymentConfig", "RouterConfig", "load_config"]

STRATEGIES = frozenset(("priority", "round_robin", "weighted", "least_busy", "latency", "cost"))
"""The Router's strategy names."""

_TOP = frozenset(
    (
        "strategy", "allow_direct", "seed", "timeouts", "retry", "breaker", "hedge",
        "providers", "models", "fallbacks", "context_window_fallbacks",
        "content_policy_fallbacks", "gateway",
    )
)  # fmt: skip
_FALLBACKS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
_DEPLOYMENT = frozenset(
    (
        "model", "weight", "rpm", "tpm", "max_concurrency", "max_queue", "api_key", "base_url",
        "price", "timeouts", "retry",
    )
)  # fmt: skip
_PROVIDER_DEFAULTS = _DEPLOYMENT - {"model", "weight"}
_TABLES = ("price", "timeouts", "retry")
_TIMEOUTS = ("connect", "read", "total", "first_token", "idle")
_PRICE = ("input", "output", "cached_input", "cache_write")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")

Breaker = Mapping[str, float] | Literal[False] | None


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    """One deployment of a group: a ``provider/model`` and its own limits, key and prices.

    ``None`` means "not set" (the Router's default). ``api_key`` is the
    resolved key and never appears in the ``repr``.
    """

    model: str
    weight: float | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    max_queue: int | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    price: Mapping[str, float] | None = None
    timeouts: Timeouts | None = None
    retry: RetryPolicy | None = None

    def settings(self) -> dict[str, Any]:
        """The keyword arguments set for ``Deployment(model, ...)`` (price still a mapping)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "model" and getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """The Router's keyword arguments as plain values, plus the raw ``[gateway]`` table.

    ``None`` (and an empty mapping) means "not in the file": ``router_kwargs``
    leaves it out, so the Router's own default applies. ``breaker`` and
    ``hedge`` are ``False`` when the file turned them off (``breaker = false``).
    """

    models: Mapping[str, tuple[DeploymentConfig, ...]]
    strategy: str | None = None
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context_window_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    content_policy_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    breaker: Breaker = None
    hedge: Mapping[str, float | str] | Literal[False] | None = None
    timeouts: Timeouts | None = None
    retry: RetryPolicy | None = None
    allow_direct: bool | None = None
    seed: int | None = None
    gateway: Mapping[str, Any] = field(default_factory=dict)

    def router_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for ``aa.Router(...)``, building its objects.

        Imports the Router's classes only now (they live in optional parts of
        the package); a deployment with nothing but a model stays a string.
        """
        import agent_adapter as aa

        def deployment(d: DeploymentConfig) -> Any:
            settings = d.settings()
            if not settings:
                return d.model
            if "price" in settings:
                settings["price"] = aa.Price(**settings["price"])
            return aa.Deployment(d.model, **settings)

        kwargs: dict[str, Any] = {
            "models": {group: [deployment(d) for d in ds] for group, ds in self.models.items()}
        }
        for name in _FALLBACKS:
            chains = getattr(self, name)
            if chains:
                kwargs[name] = {group: list(to) for group, to in chains.items()}
        if self.breaker is not None:
            settings: dict[str, Any] = {} if self.breaker is False else dict(self.breaker)
            kwargs["breaker"] = None if self.breaker is False else aa.CircuitBreaker(**settings)
        if self.hedge is not None:
            hedge: dict[str, Any] = {} if self.hedge is False else dict(self.hedge)
            kwargs["hedge"] = None if self.hedge is False else aa.Hedge(**hedge)
        for name in ("strategy", "timeouts", "retry", "allow_direct", "seed"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        return kwargs


def load_config(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> RouterConfig:
    """Read and check a Router config file; ``env:NAME`` references resolve from ``env``."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ValidationError(f"cannot read: {exc.strerror}", field=where) from None
    except UnicodeDecodeError:
        raise ValidationError("is not UTF-8 text", field=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"invalid TOML: {exc}", field=where) from None
    return _Reader(os.environ if env is None else env).config(data)


class _Reader:
    """Checks one parsed file; every method takes the key path of what it reads."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def config(self, data: dict[str, Any]) -> RouterConfig:
        _known(data, _TOP, "")
        strategy = data.get("strategy")
        if strategy is not None and strategy not in STRATEGIES:
            raise ValidationError(
                f"must be one of {', '.join(sorted(STRATEGIES))}", field="strategy"
            )
        allow_direct = data.get("allow_direct")
        if allow_direct is not None and not isinstance(allow_direct, bool):
            raise ValidationError("must be true or false", field="allow_direct")
        seed = data.get("seed")
        if seed is not None and not _is_int(seed):
            raise ValidationError("must be an integer", field="seed")
        defaults = self.providers(data.get("providers", {}))
        models = self.models(data.get("models"), defaults)
        chains = {name: self.fallbacks(data.get(name, {}), name, models) for name in _FALLBACKS}
        gateway = data.get("gateway", {})
        if not isinstance(gateway, dict):
            raise ValidationError("must be a table", field="gateway")
        return RouterConfig(
            models=models,
            strategy=strategy,
            breaker=self.breaker(data.get("breaker")),
            hedge=self.hedge(data.get("hedge")),
            timeouts=_timeouts(data["timeouts"], "timeouts") if "timeouts" in data else None,
            retry=_retry(data["retry"], "retry") if "retry" in data else None,
            allow_direct=allow_direct,
            seed=seed,
            gateway=gateway,
            **chains,
        )

    def providers(self, raw: Any) -> dict[str, dict[str, Any]]:
        _table(raw, "providers")
        defaults: dict[str, dict[str, Any]] = {}
        for name, table in raw.items():
            where = f"providers.{name}"
            try:
                canonical = get_spec(name).name  # an alias names its provider too
            except ValidationError:
                raise ValidationError(
                    f"unknown provider; known: {', '.join(names())}", field=where
                ) from None
            _table(table, where)
            _known(table, _PROVIDER_DEFAULTS, where)
            if canonical in defaults:
                raise ValidationError(f"repeats the defaults of {canonical}", field=where)
            defaults[canonical] = self.settings(table, where)
        return defaults

    def models(
        self, raw: Any, defaults: dict[str, dict[str, Any]]
    ) -> dict[str, tuple[DeploymentConfig, ...]]:
        if raw is None:
            raise ValidationError(
                "is missing: define at least one group of deployments", field="models"
            )
        _table(raw, "models")
        if not raw:
            raise ValidationError("must define at least one group", field="models")
        groups: dict[str, tuple[DeploymentConfig, ...]] = {}
        for group, entries in raw.items():
            where = f"models.{group}"
            if not isinstance(entries, list):
                raise ValidationError("must be a list of deployments", field=where)
            if not entries:
                raise ValidationError("must list at least one deployment", field=where)
            groups[group] = tuple(
                self.deployment(entry, f"{where}[{i}]", defaults) for i, entry in enumerate(entries)
            )
        return groups

    def deployment(
        self, raw: Any, where: str, defaults: dict[str, dict[str, Any]]
    ) -> DeploymentConfig:
        if isinstance(raw, str):
            raw, model_at = {"model": raw}, where
        elif isinstance(raw, dict):
            _known(raw, _DEPLOYMENT, where)
            model_at = f"{where}.model"
        else:
            raise ValidationError("must be a provider/model string or a table", field=where)
        model = raw.get("model")
        if not isinstance(model, str) or not model:
            raise ValidationError("is missing: say which provider/model", field=model_at)
        provider, _ = split_model(model)
        if provider is None:
            raise ValidationError(
                f"{model!r} names no provider: write it as 'provider/model' (known providers: "
                f"{', '.join(names())})",
                field=model_at,
            )
        own = self.settings(raw, where)
        weight = raw.get("weight")
        if weight is not None and not (_is_number(weight) and weight > 0):
            raise ValidationError("must be a positive number", field=f"{where}.weight")
        merged = dict(defaults.get(provider, {}))
        for key, value in own.items():
            if key in _TABLES and key in merged:
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        price = merged.pop("price", None)
        if price is not None and ("input" not in price or "output" not in price):
            missing = "input" if "input" not in price else "output"
            raise ValidationError("is missing", field=f"{where}.price.{missing}")
        timeouts, retry = merged.pop("timeouts", None), merged.pop("retry", None)
        return DeploymentConfig(
            model=model,
            weight=weight,
            price=price,
            timeouts=_timeouts(timeouts, f"{where}.timeouts") if timeouts is not None else None,
            retry=_retry(retry, f"{where}.retry") if retry is not None else None,
            **merged,
        )

    def settings(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        """The deployment settings a table sets (model and weight aside), checked."""
        out: dict[str, Any] = {}
        for key in ("rpm", "tpm", "max_concurrency"):
            if key in raw:
                out[key] = _positive_int(raw[key], f"{where}.{key}")
        if "max_queue" in raw:
            value = raw["max_queue"]
            if not _is_int(value) or value < 0:
                raise ValidationError("must be an integer >= 0", field=f"{where}.max_queue")
            out["max_queue"] = value
        if "api_key" in raw:
            out["api_key"] = self.reference(raw["api_key"], f"{where}.api_key", literal=False)
        if "base_url" in raw:
            out["base_url"] = self.reference(raw["base_url"], f"{where}.base_url", literal=True)
        if "price" in raw:
            price = raw["price"]
            _table(price, f"{where}.price")
            _known(price, frozenset(_PRICE), f"{where}.price")
            for key, value in price.items():
                if not _is_number(value) or value < 0:
                    raise ValidationError("must be a number >= 0", field=f"{where}.price.{key}")
            out["price"] = {key: float(value) for key, value in price.items()}
        for key in ("timeouts", "retry"):
            if key in raw:
                _table(raw[key], f"{where}.{key}")
                out[key] = dict(raw[key])
        return out

    def reference(self, raw: Any, where: str, *, literal: bool) -> str:
        """``"env:NAME"`` resolved from the environment; a literal only where ``literal``."""
        if not isinstance(raw, str) or not raw:
            raise ValidationError('must be a string ("env:NAME")', field=where)
        if not raw.startswith("env:"):
            if literal:
                return raw
            raise ValidationError(
                'keys are never literals in config files: use "env:NAME"', field=where
            )
        name = raw[len("env:") :]
        if not _ENV_NAME.match(name):
            raise ValidationError(f"{name!r} is not an environment variable name", field=where)
        value = self.env.get(name)
        if not value:
            raise ValidationError(f"environment variable {name} is not set", field=where)
        return value

    def fallbacks(
        self, raw: Any, where: str, models: Mapping[str, Any]
    ) -> dict[str, tuple[str, ...]]:
        _table(raw, where)
        chains: dict[str, tuple[str, ...]] = {}
        for group, targets in raw.items():
            at = f"{where}.{group}"
            if group not in models:
                raise ValidationError("is not a group in [models]", field=at)
            if isinstance(targets, str):
                targets = [targets]
            if not isinstance(targets, list) or not targets:
                raise ValidationError("must be a non-empty list of group names", field=at)
            for i, target in enumerate(targets):
                if not isinstance(target, str) or target not in models:
                    raise ValidationError(
                        f"{target!r} is not a group in [models]", field=f"{at}[{i}]"
                    )
                if target == group:
                    raise ValidationError("a group cannot fall back to itself", field=f"{at}[{i}]")
            chains[group] = tuple(targets)
        return chains

    def breaker(self, raw: Any) -> Breaker:
        if raw is None or raw is False:
            return raw
        _table(raw, "breaker", switch=True)
        _known(
            raw,
            frozenset(("failure_threshold", "window", "reset_timeout", "half_open_max")),
            "breaker",
        )
        out: dict[str, float] = {}
        for key in ("failure_threshold", "half_open_max"):
            if key in raw:
                out[key] = _positive_int(raw[key], f"breaker.{key}")
        for key in ("window", "reset_timeout"):
            if key in raw:
                out[key] = _positive_number(raw[key], f"breaker.{key}")
        return out

    def hedge(self, raw: Any) -> Mapping[str, float | str] | Literal[False] | None:
        if raw is None or raw is False:
            return raw
        _table(raw, "hedge", switch=True)
        _known(raw, frozenset(("delay", "max_extra")), "hedge")
        out: dict[str, float | str] = {}
        if "delay" in raw:
            delay = raw["delay"]
            match = _PERCENTILE.match(delay) if isinstance(delay, str) else None
            if match is not None and 0 < float(match.group(1)) < 100:
                out["delay"] = delay
            elif _is_number(delay) and delay > 0:
                out["delay"] = float(delay)
            else:
                raise ValidationError(
                    'must be a positive number of seconds or a percentile like "p95"',
                    field="hedge.delay",
                )
        if "max_extra" in raw:
            out["max_extra"] = _positive_int(raw["max_extra"], "hedge.max_extra")
        return out


def _timeouts(raw: Any, where: str) -> Timeouts:
    _table(raw, where)
    _known(raw, frozenset(_TIMEOUTS), where)
    values: dict[str, float | None] = {}
    for key, value in raw.items():
        if value is False:
            values[key] = None
        else:
            values[key] = _positive_number(value, f"{where}.{key}", no_limit=True)
    return Timeouts(**values)


def _retry(raw: Any, where: str) -> RetryPolicy:
    _table(raw, where)
    keys = ("max_retries", "initial_backoff", "max_backoff", "multiplier", "max_retry_after")
    _known(raw, frozenset(keys), where)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        at = f"{where}.{key}"
        if key == "max_retries":
            if not _is_int(value) or value < 0:
                raise ValidationError("must be an integer >= 0", field=at)
        elif not _is_number(value) or value < (1 if key == "multiplier" else 0):
            raise ValidationError(
                f"must be a number >= {1 if key == 'multiplier' else 0}", field=at
            )
        values[key] = value
    return RetryPolicy(**values)


def _table(raw: Any, where: str, *, switch: bool = False) -> None:
    if not isinstance(raw, dict):
        hint = " (or false to turn it off)" if switch else ""
        raise ValidationError(f"must be a table{hint}", field=where)


def _known(raw: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ValidationError("unknown key", field=f"{where}.{key}" if where else key)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive_int(value: Any, where: str) -> int:
    if not _is_int(value) or value <= 0:
        raise ValidationError("must be a positive integer", field=where)
    result: int = value
    return result


def _positive_number(value: Any, where: str, *, no_limit: bool = False) -> float:
    if not _is_number(value) or value <= 0:
        hint = " (or false for no limit)" if no_limit else ""
        raise ValidationError(f"must be a positive number{hint}", field=where)
    return float(value)
