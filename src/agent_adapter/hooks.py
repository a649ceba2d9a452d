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
from .runner import Operation, Outcome, metrics_of
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
    call goes on.
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

    ``owns_end`` is false when a router runs the call over several
    deployments: each candidate's ``Call`` then reports its attempts here,
    and the router ends the observer itself.
    """

    __slots__ = ("_ended", "_first", "_requested", "_spent", "capture", "hooks", "info", "owns_end")

    def __init__(
        self,
        hooks: Sequence[Hooks],
        info: CallInfo,
        *,
        capture: bool = False,
        owns_end: bool = True,
    ) -> None:
        self.hooks = hooks
        self.info = info
        self.capture = capture
        self.owns_end = owns_end
        self._requested = False
        self._ended = False
        self._first = False
        self._spent = 0  # attempts of earlier candidates (a router's fallbacks)

    @classmethod
    def for_chat(
        cls, hooks: Sequence[Hooks], operation: Operation, request: ChatRequest, *, capture: bool
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
        return cls(hooks, info, capture=capture)

    @classmethod
    def for_embed(cls, hooks: Sequence[Hooks], request: EmbedRequest, *, capture: bool) -> Observer:
        """An observer for an embeddings call of ``request``."""
        info = CallInfo(
            id=_call_id(),
            operation="embed",
            model=request.model,
            message_count=len(request.input),
            input=list(request.input) if capture else None,
        )
        return cls(hooks, info, capture=capture)

    # -- what the runner reports --------------------------------------------------

    def started(self, call: Call) -> list[tuple[bytes, bytes]] | None:
        """A ``Call`` starts (for a router, each candidate): ``on_request`` once; extra headers."""
        info = self.info
        info.provider = call.provider
        info.server_address, info.server_port = _server(call.adapter.base_url)
        if call.http is not None:
            info.prompt_bytes = len(call.http.body)
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
        self.info.attempts = self._spent + call.attempts
        self._run("on_retry", error, self._spent + attempt, delay)

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

    def fallback(self, call: Call | None, error: AdapterError, next_deployment: str) -> None:
        """A router leaves ``call``'s deployment after ``error`` for ``next_deployment``."""
        if call is not None:
            self._spent += call.attempts
            self.info.attempts = self._spent
        self._run("on_fallback", error, next_deployment)

    def ended(self, call: Call) -> None:
        """``call`` ended (``Call.end``); the observer's own end follows if it owns it."""
        info = self.info
        info.attempts = self._spent + call.attempts
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
        if self.owns_end:
            self.end()

    def end(self) -> None:
        """Run ``on_end`` (once; later calls do nothing)."""
        if self._ended or not self._requested:
            return
        self._ended = True
        self._run("on_end")

    # -- plumbing -----------------------------------------------------------------

    def _record_error(self, call: Call, error: BaseException | None) -> None:
        info = self.info
        if error is None:
            return
        info.error_type = type(error).__name__
        if isinstance(error, AdapterError):
            info.error_status = error.status
            info.request_id = error.request_id or info.request_id
            if self.capture:
                key = call.adapter.api_key
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
