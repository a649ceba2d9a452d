"""``Router``: one model name over several deployments, with the ``Client`` surface.

``aa.Router(models={"smart": ["openai/gpt-4o", aa.Deployment(...)]})`` builds,
before any I/O, one ``Client`` per deployment on one shared connection pool,
and per model name (a *group*) the strategy that orders its deployments and
the groups its errors fall back to. A call validates the request once, then
tries the candidates in turn: each deployment with its own retry policy (the
one retry loop, inside ``Client._chat``), then the next, all under one total
deadline. With a ``Hedge`` a slow candidate is raced against the next one.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import msgspec

from ..counting import count_on
from ..errors import AdapterError, ValidationError
from ..hooks import Hooks, as_hooks
from ..options import retry_option, timeouts_option
from ..resilience import (
    CircuitBreaker,
    RetryPolicy,
    Store,
    Timeouts,
    estimate_embed_tokens,
    estimate_tokens,
)
from ..resilience.ratelimit import DEFAULT_OUTPUT_TOKENS
from ..transport import Transport
from ..validation import CHAT_PARAMS, build_chat_request, build_embed_request
from .candidate import chat_on, stream_on
from .deployment import (
    Deployment,
    Group,
    Member,
    Target,
    build_groups,
    check_deployment,
    fallback_map,
    make_target,
)
from .fallback import Plan, exhausted, past, total_timeout
from .hedge import Hedge, Latencies, race
from .observed import adopting, fell_back, finishing, observe
from .strategies import Priority, make_strategy, prefer_available
from .stream import RoutedStream

if TYPE_CHECKING:
    from types import TracebackType

    from ..batch import BatchProgress
    from ..hooks import Observer
    from ..stream import ChatStream
    from ..types import (
        ChatRequest,
        ChatResponse,
        EmbedRequest,
        EmbedResponse,
        Message,
        TokenCount,
        Tool,
    )

__all__ = ["Deployment", "Router"]

T = TypeVar("T")

_NO_TOKENS = (0, 0)
_replace = msgspec.structs.replace


class _Default:
    """The type of ``_DEFAULT``: "not given", for a parameter whose ``None`` means "none"."""


_DEFAULT = _Default()


class Router:
    """Several deployments behind model names, with strategies, fallbacks and hedging.

    ``models`` maps a model name to its deployments (``"provider/model"``
    strings or ``aa.Deployment``); ``strategy`` orders each group per call
    (``priority``, ``round_robin``, ``weighted``, ``least_busy``, ``latency``,
    ``cost``); ``fallbacks`` names the groups to try when a group's
    deployments all failed, ``context_window_fallbacks`` and
    ``content_policy_fallbacks`` where a too-long or a filtered request goes.
    ``breaker`` (a fresh ``aa.CircuitBreaker()`` unless given; ``None``: none)
    keeps one circuit per deployment; open ones, like deployments whose
    ``rpm``/``tpm`` bucket is empty, are tried last. ``hedge`` (an
    ``aa.Hedge``) races a slow deployment against the next one.
    ``timeouts``/``retry`` are the defaults of every deployment (each retry
    loop is one deployment's; ``timeouts.total`` bounds the whole routed
    call). ``allow_direct`` serves a ``"provider/model"`` that names no group
    directly; with it ``models`` may be empty (a router of direct models only,
    as the gateway runs without a config file). ``hooks`` (``aa.Hooks``) see
    each routed call once, however many deployments it tried
    (``on_fallback`` between them), with content only when
    ``capture_content=True``. ``store`` (an ``aa.RedisStore`` to share them
    between processes) holds the breaker's state and each deployment's
    buckets and concurrency counter, keyed by deployment id. Use ``async
    with aa.Router(...) as router:``.
    """

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
    ) -> Router:
        """A Router described by a TOML file (see ``agent_adapter.config``).

        Every error names its key path (``models.smart[1].rpm: ...``), before any I/O.
        """
        from ..config import load_config

        return cls(**load_config(path, env=env).router_kwargs())

    def __init__(
        self,
        models: Mapping[str, Sequence[str | Deployment] | str | Deployment],
        *,
        strategy: str = "priority",
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        context_window_fallbacks: Mapping[str, Sequence[str]] | None = None,
        content_policy_fallbacks: Mapping[str, Sequence[str]] | None = None,
        breaker: CircuitBreaker | _Default | None = _DEFAULT,
        hedge: Hedge | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        allow_direct: bool = False,
        seed: int | None = None,
        transport: Transport | None = None,
        hooks: Iterable[Hooks] | None = None,
        capture_content: bool = False,
        store: Store | None = None,
    ) -> None:
        self.hooks = as_hooks(hooks)
        self.capture_content = bool(capture_content)
        rng = random.Random(seed)
        make_strategy(strategy, rng)  # an unknown name fails before anything is built
        if isinstance(breaker, _Default):
            breaker = CircuitBreaker(store=store)
        elif breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ValidationError("must be an aa.CircuitBreaker or None", field="breaker")
        if hedge is not None and not isinstance(hedge, Hedge):
            raise ValidationError("must be an aa.Hedge or None", field="hedge")
        if transport is not None and not isinstance(transport, Transport):
            raise ValidationError("must be an agent_adapter Transport or None", field="transport")
        self.timeouts = timeouts_option(timeouts) or Timeouts()
        self.retry = retry_option(retry) or RetryPolicy()
        self.strategy = strategy
        self.hedge = hedge
        self.breaker = breaker
        self.store = store
        self._timed = strategy == "latency"  # chat latencies are read by this strategy only
        self._allow_direct = bool(allow_direct)
        self._owns_transport = transport is None
        self._transport = transport if transport is not None else Transport()
        self._targets: dict[str, Target] = {}
        self._target = partial(
            make_target,
            transport=self._transport,
            breaker=breaker,
            store=store,
            timeouts=self.timeouts,
            retry=self.retry,
        )
        groups = (
            build_groups(models, lambda: make_strategy(strategy, rng), self._target, self._targets)
            if models or not allow_direct
            else {}
        )
        for label, value, attr in (
            ("fallbacks", fallbacks, "fallbacks"),
            ("context_window_fallbacks", context_window_fallbacks, "context_fallbacks"),
            ("content_policy_fallbacks", content_policy_fallbacks, "content_fallbacks"),
        ):
            for name, targets in fallback_map(value, label, groups).items():
                setattr(groups[name], attr, targets)
        for group in groups.values():
            self._seal(group)
        self._groups = groups
        self._direct: dict[str, Group] = {}
        self.deployments: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {name: tuple(m.id for m in g.members) for name, g in groups.items()}
        )
        """Each model name's deployment ids, in the order given."""

    def __repr__(self) -> str:
        return f"Router(models={list(self._groups)!r}, strategy={self.strategy!r})"

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection (of every deployment: they share one pool)."""
        if self._owns_transport:
            await self._transport.aclose()

    @property
    def deployment_ids(self) -> tuple[str, ...]:
        """Every deployment this router knows: its groups' and the direct ones used so far."""
        return tuple(self._targets)

    @property
    def transport(self) -> Transport:
        """The connection pool every deployment shares."""
        return self._transport

    # -- calls ---------------------------------------------------------------

    async def chat(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | Message],
        tools: Iterable[Mapping[str, Any] | Tool] | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        hooks: Iterable[Hooks] | None = None,
        **params: Any,
    ) -> ChatResponse:
        """``Client.chat`` over the deployments of ``model`` (a model name of this router).

        ``timeouts``/``retry`` given here replace every deployment's for this call;
        ``hooks`` are added to the router's.
        """
        group = self._group(model)
        request = self._chat_request(group, messages, tools, params, stream=False)
        call_timeouts, call_retry = timeouts_option(timeouts), retry_option(retry)
        observer = observe(self, "chat", request, hooks)
        routed = self._route_chat(group, request, call_timeouts, call_retry, observer)
        return await (routed if observer is None else finishing(observer, routed))

    async def _route_chat(
        self,
        group: Group,
        request: ChatRequest,
        call_timeouts: Timeouts | None,
        call_retry: RetryPolicy | None,
        observer: Observer | None,
    ) -> ChatResponse:
        """The candidates of one routed chat call, in turn or raced."""
        deadline = self._deadline(call_timeouts)
        single = group.single
        if single is not None:  # one deployment, no fallbacks: nothing to order, plan or race
            try:
                return await chat_on(
                    single,
                    request,
                    call_timeouts,
                    call_retry,
                    deadline,
                    None,
                    observer,
                    timed=self._timed,
                )
            except AdapterError as error:
                plan = Plan(group, self._order_alone, (single,))
                plan.next()
                if not plan.failed(single, error):
                    raise
                if past(deadline, anyio.current_time()):
                    raise self._timeout(call_timeouts, plan) from error
                raise exhausted(plan.errors) from error
        tokens = self._tokens(request) if group.needs_tokens else _NO_TOKENS
        plan = Plan(
            group, lambda g: self._order(g, False, tokens), self._order(group, False, tokens)
        )
        ring = group.chat_latencies

        async def attempt(member: Member) -> ChatResponse:
            return await chat_on(
                member,
                request,
                call_timeouts,
                call_retry,
                deadline,
                ring,
                observer,
                timed=self._timed,
            )

        if self.hedge is not None:
            won = await self._hedged(plan, attempt, _nothing, deadline, ring, call_timeouts)
            return won[1]
        while (member := plan.next()) is not None:
            if plan.errors:
                fell_back(observer, plan.errors[-1], member)
            try:
                return await attempt(member)
            except AdapterError as error:
                if not plan.failed(member, error):
                    raise
                if past(deadline, anyio.current_time()):
                    raise self._timeout(call_timeouts, plan) from error
        raise exhausted(plan.errors) from plan.errors[-1]

    def stream(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | Message],
        tools: Iterable[Mapping[str, Any] | Tool] | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        hooks: Iterable[Hooks] | None = None,
        **params: Any,
    ) -> RoutedStream:
        """``Client.stream`` over the deployments of ``model``; falls back until first content.

        Input errors raise here, before any I/O; candidates are opened on
        entering the ``async with``.
        """
        group = self._group(model)
        request = self._chat_request(group, messages, tools, params, stream=True)
        call_timeouts, call_retry = timeouts_option(timeouts), retry_option(retry)
        observer = observe(self, "stream", request, hooks)

        async def open_stream() -> tuple[Member, ChatStream]:
            deadline = self._deadline(call_timeouts)
            tokens = self._tokens(request) if group.needs_tokens else _NO_TOKENS
            plan = Plan(
                group, lambda g: self._order(g, True, tokens), self._order(group, True, tokens)
            )
            ring = group.stream_latencies

            async def attempt(member: Member) -> ChatStream:
                return await stream_on(
                    member, request, call_timeouts, call_retry, deadline, ring, observer
                )

            if self.hedge is not None and group.single is None:
                return await self._hedged(plan, attempt, _close, deadline, ring, call_timeouts)
            while (member := plan.next()) is not None:
                if plan.errors:
                    fell_back(observer, plan.errors[-1], member)
                try:
                    return member, await attempt(member)
                except AdapterError as error:
                    if not plan.failed(member, error):
                        raise
                    if past(deadline, anyio.current_time()):
                        raise self._timeout(call_timeouts, plan) from error
            raise exhausted(plan.errors) from plan.errors[-1]

        return RoutedStream(open_stream if observer is None else adopting(observer, open_stream))

    async def count_tokens(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | Message],
        tools: Iterable[Mapping[str, Any] | Tool] | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        **params: Any,
    ) -> TokenCount:
        """``Client.count_tokens`` on the deployment of ``model`` a chat would try first.

        One deployment, no fallback and no hedge: a count is of one model's
        tokenizer; its provider's count, else our estimate (``estimated``).
        """
        group = self._group(model)
        request = self._chat_request(group, messages, tools, params, stream=False)
        tokens = self._tokens(request) if group.needs_tokens else _NO_TOKENS
        target = self._order(group, False, tokens)[0].target
        if request.model != target.model:
            request = _replace(request, model=target.model)
        call_timeouts, call_retry = timeouts_option(timeouts), retry_option(retry)
        return await count_on(
            self._transport,
            target.adapter,
            request,
            call_timeouts or target.timeouts,
            call_retry or target.retry,
            deadline=self._deadline(call_timeouts),
        )

    async def embed(
        self,
        *,
        model: str,
        input: str | Iterable[str],
        dimensions: int | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        extra: Mapping[str, Any] | None = None,
        hooks: Iterable[Hooks] | None = None,
    ) -> EmbedResponse:
        """``Client.embed`` over the deployments of ``model`` that serve the same model name.

        Vectors of different models are not comparable, so a fallback goes
        only to a deployment of the model the first candidate serves.
        """
        group = self._group(model)
        if not any(m.target.embeds for m in group.members):
            raise ValidationError(
                f"no deployment of {model!r} has an embeddings endpoint", field="model"
            )
        request = build_embed_request(
            group.members[0].target.model, input, dimensions=dimensions, extra=extra
        )
        call_timeouts, call_retry = timeouts_option(timeouts), retry_option(retry)
        observer = observe(self, "embed", request, hooks)
        routed = self._route_embed(group, request, call_timeouts, call_retry, observer)
        return await (routed if observer is None else finishing(observer, routed))

    async def _route_embed(
        self,
        group: Group,
        request: EmbedRequest,
        call_timeouts: Timeouts | None,
        call_retry: RetryPolicy | None,
        observer: Observer | None,
    ) -> EmbedResponse:
        """The candidates of one routed embeddings call, in turn."""
        deadline = self._deadline(call_timeouts)
        tokens = (estimate_embed_tokens(request), 0) if group.needs_tokens else _NO_TOKENS
        order = [m for m in self._order(group, False, tokens) if m.target.embeds]
        plan = Plan(group, lambda g: self._order(g, False, tokens), order)
        first = order[0].target.model
        plan.accept = lambda m: m.target.embeds and m.target.model == first
        while (member := plan.next()) is not None:
            if plan.errors:
                fell_back(observer, plan.errors[-1], member)
            target = member.target
            if request.model != target.model:
                request = _replace(request, model=target.model)
            if observer is not None:
                observer.candidate(target.id)
            try:
                result = await target.client._embed(
                    target.adapter,
                    request,
                    call_timeouts or target.timeouts,
                    call_retry or target.retry,
                    deadline=deadline,
                    observer=observer,
                    price=target.price,
                )
            except AdapterError as error:
                if not plan.failed(member, error):
                    raise
                if past(deadline, anyio.current_time()):
                    raise self._timeout(call_timeouts, plan) from error
                continue
            result.deployment = target.id
            return result
        raise exhausted(plan.errors) from plan.errors[-1]

    async def batch(
        self,
        requests: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = 16,
        on_progress: Callable[[BatchProgress], None] | None = None,
    ) -> list[ChatResponse | AdapterError]:
        """``Client.batch`` through the router: each request is routed on its own."""
        from ..batch import run_batch

        return await run_batch(self, requests, concurrency=concurrency, on_progress=on_progress)

    # -- plumbing ------------------------------------------------------------

    async def _hedged(
        self,
        plan: Plan,
        attempt: Callable[[Member], Awaitable[T]],
        discard: Callable[[T], Awaitable[None]],
        deadline: float,
        ring: Latencies | None,
        call_timeouts: Timeouts | None,
    ) -> tuple[Member, T]:
        """Race the plan's candidates (see ``hedge.race``): the winner, or the routed error."""
        assert self.hedge is not None
        first = plan.next()
        assert first is not None
        won = await race(
            plan,
            first,
            attempt,
            discard,
            delay=self.hedge.delay_for(ring),
            max_extra=self.hedge.max_extra,
            deadline=deadline,
        )
        if won is None:
            if past(deadline, anyio.current_time()):
                raise self._timeout(call_timeouts, plan) from (
                    plan.errors[-1] if plan.errors else None
                )
            raise exhausted(plan.errors) from plan.errors[-1]
        return won

    def _group(self, model: str) -> Group:
        """The group ``model`` names (or, with ``allow_direct``, a direct deployment)."""
        group = self._groups.get(model) if isinstance(model, str) else None
        if group is not None:
            return group
        if not isinstance(model, str) or not model:
            raise ValidationError("must be a non-empty string", field="model")
        if self._allow_direct:
            return self._direct_group(model)
        raise ValidationError(
            f"{model!r} is not a model of this router (it has {', '.join(self._groups)}); "
            "pass allow_direct=True to serve 'provider/model' directly",
            field="model",
        )

    def _direct_group(self, model: str) -> Group:
        group = self._direct.get(model)
        if group is None:
            try:
                spec, provider, bare = check_deployment(model, "model")
            except ValidationError as error:  # only the model string itself can be wrong here
                message = error.message.removeprefix("model.model: ")
                raise ValidationError(message, field="model") from None
            target = self._target(spec, provider, bare, "model")  # a missing key raises as Client
            target = self._targets.setdefault(target.id, target)
            group = Group(model, (Member(target, 1.0),), Priority())
            self._seal(group)
            self._direct[model] = group
        return group

    def _seal(self, group: Group) -> None:
        hedge = self.hedge
        if hedge is not None and hedge.percentile is not None:
            group.chat_latencies, group.stream_latencies = Latencies(), Latencies()
        group.seal(cost=self.strategy == "cost")

    def _chat_request(
        self,
        group: Group,
        messages: Iterable[Mapping[str, Any] | Message],
        tools: Iterable[Mapping[str, Any] | Tool] | None,
        params: dict[str, Any],
        *,
        stream: bool,
    ) -> ChatRequest:
        """The request, validated once for every candidate (each gets its own model name)."""
        unknown = params.keys() - CHAT_PARAMS
        if unknown:
            raise ValidationError(
                f"unknown parameter(s) {', '.join(sorted(unknown))}; provider-specific body "
                "fields go in extra={...}",
                field=sorted(unknown)[0],
            )
        model = group.members[0].target.model
        return build_chat_request(model, messages, tools=tools, stream=stream, **params)

    def _deadline(self, call_timeouts: Timeouts | None) -> float:
        total = (call_timeouts or self.timeouts).total
        return anyio.current_time() + total if total else math.inf

    def _timeout(self, call_timeouts: Timeouts | None, plan: Plan) -> AdapterError:
        return total_timeout((call_timeouts or self.timeouts).total, plan.errors)

    def _order(self, group: Group, stream: bool, tokens: tuple[int, int]) -> Sequence[Member]:
        """The group's members in the order to try them for this call."""
        members = group.members
        if len(members) == 1:
            return members
        order = group.strategy.order(
            members, stream=stream, prompt_tokens=tokens[0], completion_tokens=tokens[1]
        )
        if not group.checked:
            return order
        total = tokens[0] + tokens[1]
        return prefer_available(order, lambda m: _available(m.target, total))

    def _order_alone(self, group: Group) -> Sequence[Member]:
        return group.members

    def _tokens(self, request: ChatRequest) -> tuple[int, int]:
        """(prompt, completion) tokens the request is expected to use (the rate buckets' guess)."""
        total = estimate_tokens(request)
        output = request.max_tokens if request.max_tokens is not None else DEFAULT_OUTPUT_TOKENS
        return total - output, output


async def _nothing(_: object) -> None:
    """A chat response that lost a race needs no closing."""


async def _close(stream: ChatStream) -> None:
    await stream.aclose()


def _available(target: Target, tokens: int) -> bool:
    """Whether a deployment would take a call now: breaker closed, its buckets not empty."""
    breaker, limiter = target.breaker, target.limiter
    if breaker is not None and not breaker.available(target.id):
        return False
    return limiter is None or limiter.delay(tokens) <= 0
