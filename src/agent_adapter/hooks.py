"""Per-call hooks: ``aa.Hooks`` to subclass, ``aa.CallInfo`` they receive, and the observer.

A ``Hooks`` object is told when a call starts, retries, falls back to another
deployment, sees its first streamed token and ends. ``on_end`` runs exactly
once per call whatever the ending (complete, error, timeout, cancelled,
truncated; a stream left without closing ends from ``__del__``), which is
why every hook is synchronous: ``__del__`` cannot await. Hooks must return
quickly and must not block: they run on the caller's event loop, in the
middle of the call. Nothing runs per chunk.

``Observer`` is the runner's side: one per logical call, made only when
hooks are configured (a call without hooks builds no ``CallInfo``). It
fills the ``CallInfo`` from the runner's ``Call`` and runs each hook so
that one that raises is logged and never breaks the call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import msgspec

from ._log import logger
from .errors import AdapterError, ValidationError
from .runner import Operation, Outcome, metrics_of, outcome_of
from .types import NO_METRICS, ChatResponse, EmbedResponse, Message, Metrics, Usage

if TYPE_CHECKING:
    from .runner import Call
    from .types import ChatRequest, EmbedRequest

__all__ = ["CallInfo", "Hooks", "Observer", "as_hooks"]


class CallInfo(msgspec.Struct, kw_only=True):
    """What hooks know about one call; the same object from ``on_request`` to ``on_end``.

    Filled in as the call goes: ``provider`` and the server are known at
    ``on_request``, ``metrics.ttft`` at ``on_first_token``, the rest at
    ``on_end``. ``operation`` is ``chat``, ``stream`` or ``embed``;
    ``model`` the model asked for, ``response_model`` the one that
    answered; ``start_time`` the wall clock (``time.time()``) at the start;
    ``outcome`` one of ``ok``, ``error``, ``timeout``, ``cancelled``,
    ``truncated``; ``error_type`` the exception's class name; ``request_id``
    the provider's id for the exchange and ``response_id`` its id for the
    completion. ``metrics`` holds the timings (see ``aa.Metrics``).

    Content stays out unless the client was made with
    ``capture_content=True``: by default there are only sizes and counts
    (``message_count``, ``prompt_bytes``: the encoded request body), and
    ``messages`` (``input`` for embeddings), ``output`` and
    ``error_message`` are ``None``.
    """

    id: str
    operation: Operation
    model: str
    provider: str = ""
    deployment: str | None = None
    start_time: float = 0.0
    attempts: int = 0
    outcome: Outcome | None = None
    error_type: str | None = None
    error_status: int | None = None
    request_id: str | None = None
    response_id: str | None = None
    response_model: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    cost: float | None = None
    server_address: str | None = None
    server_port: int | None = None
    message_count: int = 0
    prompt_bytes: int = 0
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metrics: Metrics = NO_METRICS
    messages: list[Message] | None = None
    input: list[str] | None = None
    output: str | None = None
    error_message: str | None = None


class Hooks:
    """Subclass and override what you need; every method is a no-op here.

    Give hooks as ``aa.Client(..., hooks=[MyHooks()])`` or per call
    (``client.chat(..., hooks=[...])``, added to the client's). Each method
    gets the call's ``CallInfo``. They are synchronous and must not block
    (no I/O, no locks held long): they run inside the call, on its event
    loop, and ``on_end`` may run from ``__del__`` for an abandoned stream.
    A hook that raises is logged on the ``agent_adapter`` logger and the
    call goes on. The ``error`` given to ``on_retry`` and ``on_fallback`` is
    the exception itself, with the provider's message as the provider wrote
    it (which may quote the request): treat it as content.
    """

    def on_request(self, call: CallInfo) -> None:
        """The call starts (before its first attempt, gates included)."""

    def request_headers(self, call: CallInfo) -> Mapping[str, str] | None:
        """Headers to add to the provider request (after ``on_request``), e.g. ``traceparent``."""
        return None

    def on_retry(self, call: CallInfo, error: AdapterError, attempt: int, delay: float) -> None:
        """Attempt ``attempt`` (from 1) failed with ``error``; the next starts in ``delay`` s."""

    def on_fallback(self, call: CallInfo, error: AdapterError, next_deployment: str) -> None:
        """A router leaves the current deployment after ``error`` for ``next_deployment``."""

    def on_first_token(self, call: CallInfo) -> None:
        """A stream's first content arrived (``call.metrics.ttft`` is set); streams only."""

    def on_end(self, call: CallInfo) -> None:
        """The call is over, however it ended; runs exactly once per call."""


def as_hooks(value: Iterable[Hooks] | None, field: str = "hooks") -> tuple[Hooks, ...]:
    """``value`` as a tuple of ``Hooks``, checked before any I/O."""
    if value is None:
        return ()
    if isinstance(value, Hooks):
        raise ValidationError("must be a list of aa.Hooks (wrap the one in [...])", field=field)
    hooks = tuple(value)
    for hook in hooks:
        if not isinstance(hook, Hooks):
            raise ValidationError(f"{type(hook).__name__} is not an aa.Hooks", field=field)
    return hooks


class Observer:
    """One logical call's hooks and ``CallInfo``; the runner reports to it.

    A client's call is one runner ``Call``, whose end is the observer's end.
    A router's call (``routed=True``) may run several candidate ``Call``s,
    in turn or raced: each reports its attempts here; the router names each
    candidate's deployment before starting it (``candidate``), reports its
    fallbacks, and ends the observer itself (``finish``), or, for a stream,
    hands the end to the candidate that delivered (``adopt``).
    """

    __slots__ = (
        "_calls",
        "_deployments",
        "_ended",
        "_first",
        "_owner",
        "_pending",
        "_requested",
        "capture",
        "hooks",
        "info",
        "routed",
    )

    def __init__(
        self,
        hooks: Sequence[Hooks],
        info: CallInfo,
        *,
        capture: bool = False,
        routed: bool = False,
    ) -> None:
        self.hooks = hooks
        self.info = info
        self.capture = capture
        self.routed = routed
        self._requested = False
        self._ended = False
        self._first = False
        self._calls: list[Call] = []  # a router's candidates, in the order they started
        self._deployments: list[str | None] = []
        self._pending: str | None = None
        self._owner: Call | None = None

    @classmethod
    def for_chat(
        cls,
        hooks: Sequence[Hooks],
        operation: Operation,
        request: ChatRequest,
        *,
        capture: bool,
        routed: bool = False,
    ) -> Observer:
        """An observer for a chat call or a stream of ``request``."""
        info = CallInfo(
            id=_call_id(),
            operation=operation,
            model=request.model,
            message_count=len(request.messages),
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            messages=list(request.messages) if capture else None,
        )
        return cls(hooks, info, capture=capture, routed=routed)

    @classmethod
    def for_embed(
        cls, hooks: Sequence[Hooks], request: EmbedRequest, *, capture: bool, routed: bool = False
    ) -> Observer:
        """An observer for an embeddings call of ``request``."""
        info = CallInfo(
            id=_call_id(),
            operation="embed",
            model=request.model,
            message_count=len(request.input),
            input=list(request.input) if capture else None,
        )
        return cls(hooks, info, capture=capture, routed=routed)

    # -- what the runner reports --------------------------------------------------

    def started(self, call: Call) -> list[tuple[bytes, bytes]] | None:
        """A ``Call`` starts (for a router, each candidate): ``on_request`` once; extra headers."""
        info = self.info
        info.provider = call.provider
        info.model = call.model or info.model
        info.server_address, info.server_port = _server(call.adapter.base_url)
        if call.http is not None:
            info.prompt_bytes = len(call.http.body)
        if self.routed:
            self._calls.append(call)
            self._deployments.append(self._pending)
            info.deployment = self._pending
        if not self._requested:
            self._requested = True
            info.start_time = time.time()
            self._run("on_request")
        extra: list[tuple[bytes, bytes]] | None = None
        for hook in self.hooks:
            try:
                headers = hook.request_headers(info)
                if headers:
                    extra = extra or []
                    extra.extend(
                        (k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in headers.items()
                    )
            except Exception:
                logger.exception("%s.request_headers raised; ignored", type(hook).__name__)
        return extra

    def retried(self, call: Call, error: AdapterError, attempt: int, delay: float) -> None:
        """Attempt ``attempt`` (from 1) of ``call`` failed; another follows in ``delay`` s."""
        before = sum(c.attempts for c in self._calls if c is not call)
        self.info.attempts = before + call.attempts
        self._run("on_retry", error, before + attempt, delay)

    def first_token(self, call: Call, now: float) -> None:
        """The stream's first content arrived at ``now`` (the event loop's clock)."""
        if self._first:
            return
        self._first = True
        start = now if call.start is None else call.start
        self.info.metrics = Metrics(
            queued=call.queued,
            connect=call.connect,
            reused=call.reused,
            ttfb=call.ttfb,
            ttft=now - start,
        )
        self._run("on_first_token")

    def ended(self, call: Call) -> None:
        """``call`` ended (``Call.end``): a client's call ends here; a router decides itself."""
        if not self.routed:
            self._record(call)
            self.end()
        elif call is self._owner:
            self.finish()

    # -- what a router reports --------------------------------------------------------

    def candidate(self, deployment: str) -> None:
        """The next ``Call`` to start serves ``deployment`` (a router calls this just before)."""
        self._pending = deployment

    def fallback(self, error: AdapterError, next_deployment: str) -> None:
        """The router leaves the current deployment after ``error`` for ``next_deployment``."""
        self._run("on_fallback", error, next_deployment)

    def adopt(self, call: Call) -> None:
        """A routed stream's winner: its end is the call's end (now, if it is already over)."""
        self._owner = call
        if call.ended:
            self.finish()

    def finish(self, error: BaseException | None = None) -> None:
        """End a routed call: report the candidate that answered (else the last), then on_end.

        ``error`` is what the router raises (``AllProvidersFailedError``, its
        own timeout, a cancellation), if anything.
        """
        calls = self._calls
        best = self._owner or next((c for c in calls if c.outcome == "ok"), None)
        if best is None and calls:
            best = calls[-1]
        if best is not None:
            self._record(best)
            self.info.deployment = self._deployments[calls.index(best)]
            self.info.attempts = sum(c.attempts for c in calls)
        if error is not None:
            self.info.outcome = outcome_of(error)
            self._record_error(best, error)
        self.end()

    def end(self) -> None:
        """Run ``on_end`` (once; later calls do nothing)."""
        if self._ended or not self._requested:
            return
        self._ended = True
        self._run("on_end")

    # -- plumbing -----------------------------------------------------------------

    def _record(self, call: Call) -> None:
        """What ``call`` produced and how it ended, into the CallInfo."""
        info = self.info
        info.attempts = call.attempts
        info.outcome = call.outcome
        self._record_error(call, call.error)
        result = call.result
        if isinstance(result, ChatResponse):
            self._record_chat(result)
        elif isinstance(result, EmbedResponse):
            info.response_model = result.model
            info.usage = result.usage
            info.cost = result.cost
        metrics = getattr(result, "metrics", NO_METRICS)
        info.metrics = metrics if metrics is not NO_METRICS else metrics_of(call, _now(call))

    def _record_error(self, call: Call | None, error: BaseException | None) -> None:
        info = self.info
        if error is None:
            info.error_type = info.error_status = info.error_message = None
            return
        info.error_type = type(error).__name__
        if isinstance(error, AdapterError):
            info.error_status = error.status
            info.request_id = error.request_id or info.request_id
            if self.capture:
                key = call.adapter.api_key if call is not None else None
                message = error.message
                info.error_message = message.replace(key.reveal(), "****") if key else message
            partial = getattr(error, "partial", None)
            if isinstance(partial, ChatResponse) and info.response_model is None:
                self._record_chat(partial)

    def _record_chat(self, response: ChatResponse) -> None:
        info = self.info
        info.response_model = response.model
        info.response_id = response.id
        info.request_id = response.request_id or info.request_id
        info.finish_reason = response.finish_reason
        info.usage = response.usage
        info.cost = response.cost
        if self.capture:
            info.output = response.content

    def _run(self, name: str, *args: Any) -> None:
        info = self.info
        for hook in self.hooks:
            try:
                getattr(hook, name)(info, *args)
            except Exception:
                logger.exception(
                    "%s.%s raised; the call goes on",
                    type(hook).__name__,
                    name,
                    extra={"provider": info.provider, "model": info.model, "call_id": info.id},
                )


def _call_id() -> str:
    return os.urandom(8).hex()


def _now(call: Call) -> float:
    """The event loop's clock; outside a loop (``__del__`` late in shutdown) the call's start."""
    try:
        return anyio.current_time()
    except Exception:
        return call.start or 0.0


_SERVERS: dict[str, tuple[str | None, int | None]] = {}


def _server(base_url: str) -> tuple[str | None, int | None]:
    """``(host, port)`` of a base URL, parsed once per URL."""
    found = _SERVERS.get(base_url)
    if found is None:
        parts = urlsplit(base_url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = None
        found = _SERVERS[base_url] = (parts.hostname, port)
    return found
