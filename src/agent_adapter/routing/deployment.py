"""``Deployment`` and the checked, precomputed shape a router runs: targets, members, groups.

A *deployment* is one provider + base URL + model + key. The router builds
one ``Target`` per deployment (its ``Client``, its stats; the same deployment
listed in two groups is one target), a ``Member`` per listing (the target
with that group's weight) and a ``Group`` per model name, with its strategy
and its fallback groups resolved to objects, so a call looks nothing up by
name but the group itself. Everything is checked here, before any I/O, and
every error names where it sits (``models.smart[1].weight``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AdapterError, ValidationError
from ..pricing import Price
from ..registry import create_adapter, split_model
from ..resilience import RateLimit, RetryPolicy, Timeouts, deployment_id
from .strategies import Stats, Strategy

if TYPE_CHECKING:
    from ..client import Client
    from ..providers.base import Adapter
    from ..resilience import CircuitBreaker, Store
    from ..transport import Transport
    from .hedge import Latencies

__all__ = [
    "Deployment",
    "Factory",
    "Group",
    "Member",
    "Target",
    "build_groups",
    "check_deployment",
    "fallback_map",
    "make_target",
    "renamed",
]


@dataclass(frozen=True, slots=True)
class Deployment:
    """One place a model is served: ``"provider/model"`` plus its key, endpoint and limits.

    ``weight`` is for the ``weighted`` strategy; ``rpm``/``tpm`` are its rate
    limits, ``max_concurrency``/``max_queue`` its concurrency gate; ``price``
    (an ``aa.Price``) is for the ``cost`` strategy; ``timeouts``/``retry``
    replace the router's defaults for this deployment. A bare string in a
    group means ``Deployment(that string)``. The router checks the values, so
    its errors can name where a bad one sits.
    """

    model: str
    _: KW_ONLY
    weight: float = 1
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    max_queue: int | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    price: Price | None = None
    timeouts: Timeouts | float | None = None
    retry: RetryPolicy | int | None = None


class Target:
    """One deployment as the router runs it: its client and adapter, model, id and stats."""

    __slots__ = (
        "adapter",
        "breaker",
        "client",
        "embeds",
        "id",
        "limiter",
        "model",
        "price",
        "provider",
        "retry",
        "settings",
        "stats",
        "timeouts",
        "where",
    )

    def __init__(
        self,
        *,
        id: str,
        client: Client,
        adapter: Adapter,
        model: str,
        spec: Deployment,
        timeouts: Timeouts,
        retry: RetryPolicy,
        where: str,
    ) -> None:
        self.id = id
        self.client = client
        self.adapter = adapter
        self.provider = adapter.name
        self.model = model  # the provider's model name, without the "provider/" prefix
        self.price = spec.price
        self.timeouts = timeouts
        self.retry = retry
        self.embeds = adapter.capabilities.embeddings
        self.breaker = client.breaker  # the router's, shared by every deployment, keyed by id
        self.limiter = client.rate_limiter  # this deployment's own buckets (rpm/tpm)
        self.stats = Stats()
        self.where = where  # the first place it is listed, for error messages
        self.settings = _settings(spec)

    def __repr__(self) -> str:
        return f"Target({self.id!r})"


class Member:
    """A target as listed in one group: the strategies read ``weight``, ``price``, ``stats``."""

    __slots__ = ("id", "price", "stats", "target", "weight")

    def __init__(self, target: Target, weight: float) -> None:
        self.target = target
        self.id = target.id
        self.weight = weight
        self.price = target.price
        self.stats = target.stats

    def __repr__(self) -> str:
        return f"Member({self.id!r}, weight={self.weight})"


class Group:
    """One model name: its members, its strategy, and where its errors go next.

    ``single`` is the one member of a group that has no alternative at all
    (one deployment, no fallback groups): its calls skip ordering and planning.
    """

    __slots__ = (
        "chat_latencies",
        "checked",
        "content_fallbacks",
        "context_fallbacks",
        "fallbacks",
        "limited",
        "members",
        "name",
        "needs_tokens",
        "single",
        "strategy",
        "stream_latencies",
    )

    def __init__(self, name: str, members: tuple[Member, ...], strategy: Strategy) -> None:
        self.name = name
        self.members = members
        self.strategy = strategy
        self.fallbacks: tuple[Group, ...] = ()
        self.context_fallbacks: tuple[Group, ...] = ()
        self.content_fallbacks: tuple[Group, ...] = ()
        self.needs_tokens = False  # the strategy or a rate bucket here or in a fallback reads them
        self.single: Member | None = None
        self.limited = any(m.target.limiter is not None for m in members)
        self.checked = self.limited or any(m.target.breaker is not None for m in members)
        self.chat_latencies: Latencies | None = None
        self.stream_latencies: Latencies | None = None

    def __repr__(self) -> str:
        return f"Group({self.name!r}, {[m.id for m in self.members]})"

    def seal(self, cost: bool) -> None:
        """Precompute what calls read once the fallbacks are set (``cost``: the strategy)."""
        alone = len(self.members) == 1 and not (
            self.fallbacks or self.context_fallbacks or self.content_fallbacks
        )
        self.single = self.members[0] if alone else None
        self.needs_tokens = any(
            g.limited or (cost and len(g.members) > 1) for g in self.reachable()
        )

    def reachable(self) -> list[Group]:
        """This group and every group a call to it may fall back to."""
        seen: list[Group] = [self]
        for group in seen:  # grows while iterating: breadth first
            for nxt in (*group.fallbacks, *group.context_fallbacks, *group.content_fallbacks):
                if nxt not in seen:
                    seen.append(nxt)
        return seen


Factory = Callable[[Deployment, str, str, str], Target]
"""Builds the target for a checked spec: ``(spec, provider, bare model, where)``."""


def build_groups(
    models: Any, strategy: Callable[[], Strategy], factory: Factory, targets: dict[str, Target]
) -> dict[str, Group]:
    """Every group of ``models``, checked; one target per distinct deployment (in ``targets``)."""
    groups: dict[str, Group] = {}
    for name, entries in group_list(models):
        members: list[Member] = []
        for i, entry in enumerate(entries):
            where = f"models.{name}[{i}]"
            spec, provider, bare = check_deployment(entry, where)
            try:
                target = factory(spec, provider, bare, where)
            except AdapterError as error:  # a missing key, a bad timeout, ...
                raise renamed(error, where, "api_key") from None
            known = targets.get(target.id)
            if known is not None:
                if any(m.target is known for m in members):
                    raise ValidationError("listed twice in one model", field=where)
                if not same_settings(known, spec):
                    raise ValidationError(
                        f"the same deployment as {known.where} with other settings", field=where
                    )
                target = known
            targets[target.id] = target
            members.append(Member(target, float(spec.weight)))
        groups[name] = Group(name, tuple(members), strategy())
    return groups


def make_target(
    spec: Deployment,
    provider: str,
    bare: str,
    where: str,
    *,
    transport: Transport,
    breaker: CircuitBreaker | None,
    store: Store | None,
    timeouts: Timeouts,
    retry: RetryPolicy,
) -> Target:
    """The client and id of one deployment, on the shared pool, with the router's defaults.

    ``timeouts`` and ``retry`` are the router's, for a deployment that sets
    none of its own; ``store`` keys its shared counters by deployment, as the
    breaker is keyed.
    """
    from ..client import Client

    limited = spec.rpm is not None or spec.tpm is not None
    store_key = None
    if store is not None:
        named = create_adapter(provider, api_key=spec.api_key, base_url=spec.base_url)
        store_key = deployment_id(named.name, named.base_url, bare, named.api_key)
    client = Client(
        provider,
        api_key=spec.api_key,
        base_url=spec.base_url,
        timeouts=spec.timeouts if spec.timeouts is not None else timeouts,
        retry=spec.retry if spec.retry is not None else retry,
        transport=transport,
        breaker=breaker,
        rate_limit=RateLimit(rpm=spec.rpm, tpm=spec.tpm) if limited else None,
        max_concurrency=spec.max_concurrency,
        max_queue=spec.max_queue,
        store=store,
        store_key=store_key,
    )
    return Target(
        id=client.deployment_id(bare),
        client=client,
        adapter=client._adapter(provider),
        model=bare,
        spec=spec,
        timeouts=client.timeouts,
        retry=client.retry,
        where=where,
    )


def check_deployment(entry: Any, where: str) -> tuple[Deployment, str, str]:
    """``entry`` (a string or a ``Deployment``) checked: the spec, its provider and bare model."""
    if isinstance(entry, str):
        entry = Deployment(entry)
    if not isinstance(entry, Deployment):
        raise ValidationError('must be a "provider/model" string or an aa.Deployment', field=where)
    model = entry.model
    if not isinstance(model, str) or not model:
        raise ValidationError('must be a "provider/model" string', field=f"{where}.model")
    provider, bare = split_model(model)
    if provider is None:
        raise ValidationError(
            f'{model!r} names no known provider: use "provider/model", e.g. "openai/gpt-4o"',
            field=f"{where}.model",
        )
    weight = entry.weight
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or weight <= 0
    ):
        raise ValidationError("must be a positive number", field=f"{where}.weight")
    for name, low in (("rpm", 1), ("tpm", 1), ("max_concurrency", 1), ("max_queue", 0)):
        value = getattr(entry, name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < low
        ):
            raise ValidationError(f"must be an integer >= {low} or None", field=f"{where}.{name}")
    for name in ("api_key", "base_url"):
        value = getattr(entry, name)
        if value is not None and (not isinstance(value, str) or not value):
            raise ValidationError("must be a non-empty string or None", field=f"{where}.{name}")
    if entry.price is not None and not isinstance(entry.price, Price):
        raise ValidationError("must be an aa.Price or None", field=f"{where}.price")
    return entry, provider, bare


def renamed(error: AdapterError, where: str, default: str) -> ValidationError:
    """``error`` from building one deployment, as a ValidationError naming its field there."""
    if isinstance(error, ValidationError) and error.field:
        message = error.message.removeprefix(f"{error.field}: ")
        return ValidationError(message, field=f"{where}.{error.field}")
    return ValidationError(error.message, field=f"{where}.{default}")


def group_list(models: Any) -> list[tuple[str, Sequence[Any]]]:
    """``models`` checked for shape: a non-empty mapping of names to non-empty lists."""
    if not isinstance(models, Mapping) or not models:
        raise ValidationError(
            'must be a non-empty mapping of model names to deployments, e.g. {"smart": '
            '["openai/gpt-4o"]}',
            field="models",
        )
    out: list[tuple[str, Sequence[Any]]] = []
    for name, entries in models.items():
        if not isinstance(name, str) or not name:
            raise ValidationError("model names must be non-empty strings", field="models")
        if isinstance(entries, str | Deployment):
            entries = [entries]
        if not isinstance(entries, Sequence) or not entries:
            raise ValidationError("must be a non-empty list of deployments", field=f"models.{name}")
        out.append((name, entries))
    return out


def fallback_map(
    value: Any, label: str, groups: Mapping[str, Group]
) -> dict[str, tuple[Group, ...]]:
    """A fallbacks mapping checked against the groups and resolved to group objects."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            "must be a mapping of model names to lists of model names", field=label
        )
    out: dict[str, tuple[Group, ...]] = {}
    for name, targets in value.items():
        if name not in groups:
            raise ValidationError(f"{name!r} is not a model in models", field=f"{label}.{name}")
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, Sequence):
            raise ValidationError("must be a list of model names", field=f"{label}.{name}")
        resolved: list[Group] = []
        for i, target in enumerate(targets):
            where = f"{label}.{name}[{i}]"
            if not isinstance(target, str) or target not in groups:
                raise ValidationError(f"{target!r} is not a model in models", field=where)
            if target == name:
                raise ValidationError("a model cannot fall back to itself", field=where)
            resolved.append(groups[target])
        out[name] = tuple(resolved)
    return out


def same_settings(target: Target, spec: Deployment) -> bool:
    """Whether a second listing of a deployment asks for what the first did (weight aside)."""
    return target.settings == _settings(spec)


def _settings(spec: Deployment) -> tuple[object, ...]:
    return (
        spec.rpm,
        spec.tpm,
        spec.max_concurrency,
        spec.max_queue,
        spec.price,
        spec.timeouts,
        spec.retry,
    )
