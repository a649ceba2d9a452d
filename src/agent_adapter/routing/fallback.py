"""Which error sends a routed call where: next deployment, another group, or back to the caller.

After one deployment's own retries are spent, the error decides:

* what another deployment could avoid (connection failures and timeouts,
  5xx and overload, rate limits including local ones and a full queue, an
  open circuit, this deployment's key refused, this deployment's model not
  found, a stream cut short before content) → the next deployment of the
  group, then the ``fallbacks`` groups in order;
* ``ContextLengthError`` → only ``context_window_fallbacks[group]``;
  ``ContentFilterError`` → only ``content_policy_fallbacks[group]``; with
  none configured it is the caller's error;
* the caller's own errors (``ValidationError``, any other
  ``BadRequestError``, ``StructuredOutputError``) → raised at once.

``Plan`` walks one call's candidates in that order and keeps every error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from ..errors import (
    AdapterError,
    AllProvidersFailedError,
    BadRequestError,
    ContentFilterError,
    ContextLengthError,
    StructuredOutputError,
    TimeoutError,
    ValidationError,
)

if TYPE_CHECKING:
    from .deployment import Group, Member

__all__ = ["Plan", "Route", "exhausted", "past", "route_of", "total_timeout"]

Route = Literal["next", "context", "content", "raise"]


def route_of(error: AdapterError) -> Route:
    """Where ``error`` (a deployment's, after its retries) sends the call."""
    if isinstance(error, ContextLengthError):
        return "context"
    if isinstance(error, ContentFilterError):
        return "content"
    if isinstance(error, ValidationError | BadRequestError | StructuredOutputError):
        return "raise"
    return "next"  # provider-side: connection, timeout, 5xx, 429, auth, 404, open circuit, ...


class Plan:
    """The candidates of one routed call, in order, and the errors they ended with.

    ``order(group)`` is asked for a group's deployments when the plan reaches
    it (so strategies and health checks see the state at that moment); a
    deployment already tried is not tried again in a later group. Fallback
    groups are visited once each, breadth first: the requested group's
    ``fallbacks``, then theirs. ``accept`` can narrow the candidates
    (embeddings: the same model only).
    """

    __slots__ = (
        "_members",
        "_order",
        "_pos",
        "_queue",
        "_seen",
        "accept",
        "errors",
        "group",
        "tried",
    )

    def __init__(
        self, group: Group, order: Callable[[Group], Sequence[Member]], first: Sequence[Member]
    ) -> None:
        self._order = order
        self.group = group  # the group being tried
        self._members = first
        self._pos = 0
        self._queue: list[Group] | None = None  # groups still to visit, made on first need
        self._seen: list[str] = [group.name]
        self.accept: Callable[[Member], bool] | None = None
        self.tried: list[Member] = []
        self.errors: list[AdapterError] = []

    def next(self) -> Member | None:
        """The next deployment to try, or ``None`` when there is none left."""
        while True:
            members, pos, accept, tried = self._members, self._pos, self.accept, self.tried
            while pos < len(members):
                member = members[pos]
                pos += 1
                if (accept is None or accept(member)) and all(
                    m.target is not member.target for m in tried
                ):
                    self._pos = pos
                    tried.append(member)
                    return member
            self._pos = pos
            if not self._advance():
                return None

    def failed(self, member: Member, error: AdapterError) -> bool:
        """Record ``error`` from ``member``; ``False`` when it must be raised to the caller now."""
        if error.deployment is None:
            error.deployment = member.id
        self.errors.append(error)
        route = route_of(error)
        if route == "next":
            return True
        if route == "raise":
            return False
        group = self.group
        targets = group.context_fallbacks if route == "context" else group.content_fallbacks
        fresh = [g for g in targets if g.name not in self._seen]
        if not fresh:
            return False  # nowhere configured to send it: the request is the problem
        # Only there: the rest of this group and its ordinary fallbacks would fail alike.
        self._members, self._pos = (), 0
        self._queue = fresh
        return True

    def _advance(self) -> bool:
        """Move to the next group to visit; ``False`` when none is left."""
        seen = self._seen
        queue = self._queue
        if queue is None:
            queue = self._queue = list(self.group.fallbacks)
        while queue:
            group = queue.pop(0)
            if group.name in seen:
                continue
            seen.append(group.name)
            self.group = group
            self._members, self._pos = self._order(group), 0
            queue.extend(g for g in group.fallbacks if g.name not in seen)
            return True
        return False


def exhausted(errors: list[AdapterError]) -> AllProvidersFailedError:
    """The error for a call every candidate failed; raise it ``from errors[-1]``."""
    last = errors[-1]
    tried = ", ".join(e.deployment or "?" for e in errors)
    waits = [e.retry_after for e in errors if e.retry_after is not None]
    return AllProvidersFailedError(
        f"all {len(errors)} deployment(s) failed ({tried}); last: {last}",
        errors=list(errors),
        provider=last.provider,
        status=last.status,
        retryable=any(e.retryable for e in errors),
        retry_after=min(waits) if waits else None,
    )


def total_timeout(total: float | None, errors: Sequence[AdapterError]) -> TimeoutError:
    """The routed call's own ``total`` deadline passed (raise it ``from`` the last error)."""
    last = errors[-1] if errors else None
    return TimeoutError(
        f"total timeout: {total} s passed without a response "
        f"({len(errors)} deployment attempt(s) failed)",
        which="total",
        provider=last.provider if last is not None else None,
        deployment=last.deployment if last is not None else None,
        retryable=False,
    )


def past(deadline: float, now: float) -> bool:
    """Whether the shared deadline has passed (``inf``: never)."""
    return deadline != math.inf and now >= deadline
