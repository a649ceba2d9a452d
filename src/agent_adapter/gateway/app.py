"""The gateway as a raw ASGI application, over one ``aa.Router`` (``factory.create_app`` makes it).

One ``Gateway`` serves one Router: each request is looked up in a fixed
route table (no framework: the routes are few, and a request pays only for
a dict lookup before its handler), authenticated, counted against
``max_in_flight``, and handed to its protocol's handler (``openai_routes``,
``responses_routes``, ``anthropic_routes``), which reads the body, checks
the model against what is served and what the key may use, passes the key's
gates and calls the Router. Whatever goes wrong becomes a ``Problem``,
answered in the caller's protocol (``errors.py``). A WebSocket upgrade goes
to ``ws.serve`` (``/v1/ws``), whose chat requests go through the same checks
and gates. The
ASGI lifespan starts the shared state store
(``[gateway.state]``: a ``RedisStore``) when the gateway made it, and closes
it and the Router's connections on shutdown.

Two operations run beside the requests: ``reload`` swaps in the config
file's client keys (``SIGHUP``) for the requests that arrive after it, and
``cut`` cancels the requests still running when a shutdown's grace period
is over, each ended with a 503 (or a stream's error event), never a silent
cut.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from ..errors import AdapterError, ValidationError
from ..registry import PROVIDERS, split_model
from ..resilience import MemoryStore, estimate_tokens
from ..validation import build_chat_request
from . import anthropic_routes, errors, openai_routes, responses_routes, ws
from .auth import KeyRing, bearer
from .http import Disconnected, Exchange, Problem, Protocol, Receive, Scope, Send
from .limits import KeyLimits, Refused, Ticket, in_flight_limit
from .metrics import create_metrics, serve_metrics
from .reload import KeyChanges, carry_limits, read_keys
from .settings import GatewaySettings, KeySettings

if TYPE_CHECKING:
    from ..pricing import Price
    from ..resilience import Store
    from ..routing import Router
    from ..types import ChatRequest
    from .proxy import TrustedProxies

__all__ = ["Gateway"]

log = logging.getLogger("agent_adapter.gateway")

Handler = Callable[["Gateway", Exchange, "KeySettings | None"], Awaitable[None]]
_decode = msgspec.json.Decoder().decode
_json = msgspec.json.Encoder().encode


class Gateway:
    """The ASGI application: ``await gateway(scope, receive, send)``.

    ``router`` serves the calls (the gateway closes it on shutdown);
    ``settings`` are the ``[gateway]`` table's. ``direct_models`` are the
    ``provider/model`` names ``/v1/models`` lists besides the groups when the
    router serves direct models; ``secrets`` (the provider keys) are scrubbed
    from every upstream message. ``source`` is the config file ``reload``
    reads the keys from again. ``proxies`` (set by ``serve --behind-proxy``)
    are the reverse proxies whose ``X-Forwarded-For`` names the client;
    ``keys_required`` (set on a non-loopback bind) refuses a reload that
    would leave no client keys. ``metrics`` records every request (a
    no-op with ``metrics = false``). ``own_store``: the lifespan starts
    and closes ``store`` (it was made for this gateway).
    """

    def __init__(
        self,
        router: Router,
        settings: GatewaySettings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        store: Store | None = None,
        own_store: bool = False,
        secrets: Iterable[str] = (),
        direct_models: Collection[str] = (),
        source: str | os.PathLike[str] | None = None,
    ) -> None:
        environ = os.environ if env is None else env
        self.router = router
        self.settings = settings = settings or GatewaySettings()
        self.store = store
        self._own_store = own_store and store is not None
        self.keys = KeyRing(settings.keys)
        self._prices = prices = _prices(router)
        # One store for every key's gates, also in memory, so that a reload's new
        # gates for a key (a changed budget) find what it spent this period.
        self._key_store: Store = store if store is not None else MemoryStore()
        self._limits = {
            key.name: KeyLimits(key, self._key_store, prices=prices) for key in settings.keys
        }
        self._env = environ
        self.source = source
        self.proxies: TrustedProxies | None = None
        self.keys_required = False
        self._running: set[anyio.CancelScope] = set()  # one per request being served
        self._cut = False
        self._in_flight = in_flight_limit(settings.max_in_flight)
        self.groups = tuple(router.deployments)
        self.direct = router._allow_direct  # serves provider/model names outside its groups
        self.direct_providers = _providers_with_keys(environ) if self.direct else frozenset()
        self.direct_models = tuple(dict.fromkeys(direct_models))
        env_keys = [environ[v] for spec in PROVIDERS for v in spec.key_env if environ.get(v)]
        self.scrub = errors.Scrubber([*secrets, *env_keys])
        self._routes: dict[tuple[str, str], tuple[Handler, Protocol, bool]] = {
            ("POST", "/v1/chat/completions"): (openai_routes.chat, "openai", True),
            ("POST", "/v1/embeddings"): (openai_routes.embeddings, "openai", True),
            ("POST", "/v1/responses"): (responses_routes.responses, "responses", True),
            ("GET", "/v1/models"): (openai_routes.models, "openai", True),
            ("POST", "/v1/messages"): (anthropic_routes.messages, "anthropic", True),
            ("POST", "/v1/messages/count_tokens"): (
                anthropic_routes.count_tokens,
                "anthropic",
                True,
            ),
            ("GET", "/healthz"): (_healthz, "openai", False),
            ("GET", "/readyz"): (_readyz, "openai", False),
        }
        if settings.metrics:  # for scrapers: no client key (firewall it on a public bind)
            self._routes[("GET", "/metrics")] = (serve_metrics, "openai", False)
        self._paths = {path for _, path in self._routes}
        self.metrics = create_metrics(
            settings.metrics,
            models=[*self.groups, *self.direct_models],
            endpoints={
                **{path: needs_key for (_, path), (_, _, needs_key) in self._routes.items()},
                ws.PATH: True,
            },
        )

    def __repr__(self) -> str:
        return f"Gateway(groups={list(self.groups)!r}, keys={len(self.settings.keys)})"

    # -- ASGI --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(Exchange(scope, receive, send, self.proxies))
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            with self._tracked():  # a shutdown's cut ends its requests too
                await ws.serve(self, scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self._own_store:  # waits a few of its timeouts at most for Redis
                    await self.store.start()  # type: ignore[union-attr]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.router.aclose()
                finally:
                    if self._own_store:  # the task that started it (as RedisStore asks)
                        await self.store.aclose()  # type: ignore[union-attr]
                await send({"type": "lifespan.shutdown.complete"})
                return

    @contextmanager
    def _tracked(self) -> Iterator[anyio.CancelScope]:
        """A scope for one request or socket, that ``cut`` cancels (already, after a cut)."""
        with anyio.CancelScope() as scope:
            if self._cut:
                scope.cancel()
            self._running.add(scope)
            try:
                yield scope
            finally:
                self._running.discard(scope)

    async def _http(self, exchange: Exchange) -> None:
        with self._tracked() as scope:
            await self._serve(exchange)
        if scope.cancelled_caught and not (exchange.done or exchange.disconnected):
            with anyio.move_on_after(1):  # a client that reads nothing more gets nothing more
                await self._answer(
                    exchange,
                    Problem(
                        503,
                        "the gateway is shutting down: send the request again",
                        type="server_error",
                        code="shutting_down",
                        retry_after=1.0,
                        close=True,
                    ),
                )

    async def _serve(self, exchange: Exchange) -> None:
        path = exchange.path
        if path.startswith("/v1/messages"):
            exchange.protocol = "anthropic"
        started = time.perf_counter()
        slot = None
        key: KeySettings | None = None
        try:
            route = self._routes.get((exchange.method, path))
            if route is None and exchange.method == "GET" and path.startswith("/v1/models/"):
                route = (openai_routes.model, "openai", True)
            if route is None:
                raise self._no_route(exchange)
            handler, exchange.protocol, needs_key = route
            key = self._authenticate(exchange) if needs_key and self.keys.required else None
            if needs_key:
                slot = await self.in_flight()
            await handler(self, exchange, key)
        except Disconnected:
            pass  # nobody to answer; the upstream call was cancelled
        except Problem as problem:
            await self._answer(exchange, problem)
        except AdapterError as error:
            await self._answer(exchange, self.problem(error))
        except Exception:
            log.exception("%s %s from %s: unexpected error", exchange.method, path, exchange.client)
            await self._answer(exchange, Problem(500, "internal error", type="server_error"))
        finally:
            if slot is not None:
                slot.settle()
            self.metrics.observe(exchange, key, started, anonymous=not self.keys.required)

    async def _answer(self, exchange: Exchange, problem: Problem) -> None:
        """Send ``problem``: as the answer, or as the last event of a started stream."""
        exchange.error = problem.type
        if problem.upstream or problem.status >= 500:
            log.warning(
                "%s %s from %s -> %d %s: %s",
                exchange.method,
                exchange.path,
                exchange.client,
                problem.status,
                problem.type,
                problem.message,
            )
        if exchange.done:
            return
        if exchange.started:
            await exchange.end(errors.last_events(problem, exchange))
            return
        await exchange.respond(
            problem.status,
            errors.render(problem, exchange.protocol),
            headers=errors.headers(problem),
        )

    def _no_route(self, exchange: Exchange) -> Problem:
        if exchange.path in self._paths:
            allowed = sorted(m for m, p in self._routes if p == exchange.path)
            return Problem(
                405,
                f"{exchange.method} is not allowed on {exchange.path} (use {', '.join(allowed)})",
                code="method_not_allowed",
            )
        return Problem(
            404,
            f"Unknown request URL: {exchange.method} {exchange.path}",
            type="not_found_error",
            code="unknown_url",
        )

    def _authenticate(self, exchange: Exchange) -> KeySettings:
        anthropic = exchange.protocol == "anthropic"
        return self.authenticate(
            exchange.header(b"authorization"),
            exchange.header(b"x-api-key") if anthropic else None,
            protocol=exchange.protocol,
        )

    def authenticate(
        self, authorization: bytes | None, api_key: bytes | None = None, *, protocol: Protocol
    ) -> KeySettings:
        """The key an ``Authorization: Bearer`` (or ``x-api-key``) header presents, or 401."""
        presented = bearer(authorization)
        if presented is None and api_key:
            presented = api_key.decode("latin-1")
        key = self.keys.find(presented)
        if key is None:
            where = (
                "an x-api-key or Authorization: Bearer header"
                if protocol == "anthropic"
                else "an Authorization: Bearer header"
            )
            raise Problem(
                401,
                "missing API key: send it in " + where
                if presented is None
                else "invalid API key",  # never echo what was sent
                type="authentication_error",
                code="invalid_api_key",
            )
        return key

    # -- what the handlers share -------------------------------------------------------------

    def problem(self, error: AdapterError) -> Problem:
        """What a routed call's ``error`` is to the caller (secrets scrubbed)."""
        return errors.problem_of(error, self.scrub)

    async def json_body(self, exchange: Exchange) -> dict[str, Any]:
        """The request body as a JSON object: 415, 413, 408 or 400 when it is not one."""
        kind = exchange.header(b"content-type")
        if kind is not None:
            media = kind.partition(b";")[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                shown = media.decode("latin-1")
                raise Problem(
                    415,
                    f"the body must be JSON (Content-Type: application/json), not {shown!r}",
                    code="unsupported_media_type",
                )
        settings = self.settings
        raw = await exchange.body(settings.max_body_bytes, settings.body_timeout)
        try:
            body = _decode(raw)
        except msgspec.DecodeError as exc:
            raise Problem(400, f"the request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise Problem(400, "the request body must be a JSON object")
        return body

    async def in_flight(self) -> Ticket | None:
        """A place among ``max_in_flight`` requests (settle it when done), or 429 at the bound.

        ``None`` when there is no bound. Taken per HTTP request and per
        WebSocket chat request alike.
        """
        if self._in_flight is None:
            return None
        slot = Ticket()
        try:
            await slot.enter(self._in_flight, "this gateway's max_in_flight")
        except Refused as refused:
            raise Problem(429, refused.message, type="rate_limit_error", retry_after=1.0) from None
        return slot

    def check_model(self, model: Any, key: KeySettings | None) -> str:
        """``model`` if it is served and ``key`` may use it: else 400, 404 or 403."""
        if not isinstance(model, str) or not model:
            raise Problem(400, "model: must be a non-empty string", param="model")
        if model not in self.groups and not (
            self.direct and split_model(model)[0] in self.direct_providers
        ):
            raise Problem(
                404,
                f"The model `{model}` does not exist or is not served here",
                type="invalid_request_error",
                param="model",
                code="model_not_found",
            )
        if key is not None and not key.allows(model):
            raise Problem(
                403,
                f"this API key may not use the model `{model}`",
                type="permission_error",
                param="model",
                code="model_not_allowed",
            )
        return model

    def served_models(self, key: KeySettings | None) -> list[str]:
        """The model names ``/v1/models`` lists for ``key``: its groups, then direct models."""
        names = [*self.groups, *(m for m in self.direct_models if m not in self.groups)]
        return [name for name in names if key is None or key.allows(name)]

    def chat_request(self, model: str, params: dict[str, Any]) -> ChatRequest:
        """Validate the chat keywords once, before any gate, so a bad request costs no quota.

        ``params`` then carries the checked messages and tools, which the
        Router takes as they are.
        """
        rest = {k: v for k, v in params.items() if k not in ("messages", "tools")}
        request = build_chat_request(
            model, params.get("messages", ()), tools=params.get("tools"), **rest
        )
        params["messages"] = request.messages
        if request.tools:
            params["tools"] = request.tools
        else:
            params.pop("tools", None)
        return request

    def ticket(self, key: KeySettings | None, model: str, params: dict[str, Any]) -> Ticket:
        """The request's ticket for ``key``'s gates, its tokens estimated when a gate counts them.

        A key with rpm/tpm gets its request validated here, before the gates,
        so a bad request costs it no quota (``chat_request``); without one the
        Router's own validation is the only one.
        """
        if key is None or self._limits_of(key).rate is None:
            return Ticket()
        request = self.chat_request(model, params)
        return Ticket(estimate_tokens(request) if self.wants_tokens(key) else 0)

    async def admit(self, key: KeySettings | None, ticket: Ticket, *, stream: bool) -> None:
        """Pass ``key``'s gates (rpm, tpm, max_streams) or answer 429 with Retry-After."""
        if key is None:
            return
        limits = self._limits_of(key)
        try:
            await limits.admit(ticket, stream=stream)
        except Refused as refused:
            raise Problem(
                429,
                refused.message,
                type="rate_limit_error",
                code=refused.code,
                retry_after=refused.retry_after,
            ) from None

    def wants_tokens(self, key: KeySettings | None) -> bool:
        """Whether ``key`` has a token limit (so requests need a token estimate)."""
        return key is not None and self._limits_of(key).wants_tokens

    def _limits_of(self, key: KeySettings) -> KeyLimits:
        """``key``'s gates; 401 when a reload revoked it while its request was arriving."""
        limits = self._limits.get(key.name)
        if limits is None:
            raise Problem(
                401, "invalid API key", type="authentication_error", code="invalid_api_key"
            )
        return limits

    # -- reload and shutdown ------------------------------------------------------------------

    def reload(self) -> bool:
        """Read the client keys from ``source`` again and use them; log the outcome.

        Never raises for a mistake in the file: it is logged (with its key
        path) and the keys in use stay, so a bad edit cannot take a running
        gateway down. Returns whether the new keys are in use.
        """
        if self.source is None:
            log.warning("reload: this gateway was not made from a config file; nothing to read")
            return False
        where = os.fspath(self.source)
        try:
            settings, ignored = read_keys(self.source, self._env, self.settings, self.groups)
            changes = self.reload_keys(settings)
        except AdapterError as error:
            kept = _count(len(self.settings.keys), "key")
            log.error("reload of %s failed, nothing changed (%s in use): %s", where, kept, error)
            return False
        except Exception:  # a bug here must not stop a gateway that serves well
            log.exception("reload of %s failed unexpectedly, nothing changed", where)
            return False
        log.info(
            "reloaded the client keys from %s: %s (%s). Only [gateway.keys] is reloaded%s",
            where,
            _count(len(settings.keys), "key"),
            changes,
            f"; {', '.join(ignored)} changed and need a restart" if ignored else "",
        )
        return True

    def reload_keys(self, settings: GatewaySettings) -> KeyChanges:
        """Use ``settings.keys`` for the requests that arrive from now on (nothing else of it).

        The swap is atomic: nothing awaits between its steps. Requests in
        flight keep the key they were admitted with; a key whose limits are
        the same keeps its gates and their counts. Raises ``ValidationError``
        (and changes nothing) when ``keys_required`` and no key is left.
        """
        if self.keys_required and not settings.keys:
            raise ValidationError(
                "is empty: this gateway serves a non-loopback address, which needs client keys",
                field="gateway.keys",
            )
        changes = KeyChanges.between(self.settings.keys, settings.keys)
        limits = carry_limits(self._limits, settings.keys, self._key_store, prices=self._prices)
        self.keys = KeyRing(settings.keys)
        self._limits = limits
        self.settings = dataclasses.replace(self.settings, keys=settings.keys)
        return changes

    @property
    def serving(self) -> int:
        """Requests and sockets being served now (the count a shutdown waits on)."""
        return len(self._running)

    def cut(self) -> int:
        """Cancel every request being served, and any that arrives after; returns how many.

        Each is answered 503 (a started stream ends with an error event), and
        its upstream call is cancelled, which closes its upstream connection.
        """
        self._cut = True
        running = list(self._running)
        for scope in running:
            scope.cancel()
        return len(running)

    def degraded(self) -> str | None:
        """Why this instance works on local limits now (its shared store is away), or None.

        Never the store's address: its URL may hold a password.
        """
        store = self.store
        if store is None or not getattr(store, "degraded", False):
            return None
        error = getattr(store, "last_error", None)
        why = f" ({type(error).__name__})" if error is not None else " (not connected yet)"
        return (
            f"the shared state store is unreachable{why}: key limits, budgets and breakers "
            "are per instance until it is back"
        )

    def ready(self) -> tuple[bool, int, int]:
        """(ready, deployments with an open circuit, deployments): ready unless all are open."""
        ids = self.router.deployment_ids
        breaker = self.router.breaker
        if breaker is None or not ids:
            return True, 0, len(ids)
        closed = sum(1 for i in ids if breaker.available(i))
        return closed > 0, len(ids) - closed, len(ids)


async def _healthz(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    await exchange.respond(200, b'{"status":"ok"}')


async def _readyz(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    # Degraded is still 200: every instance loses Redis at once, and a balancer that
    # drained them all would turn an outage of the shared limits into one of the service.
    ready, open_, total = gateway.ready()
    reason = gateway.degraded()
    status = "unavailable" if not ready else "degraded" if reason else "ready"
    body: dict[str, Any] = {"status": status, "open": open_, "deployments": total}
    if reason:
        body["reason"] = reason
    await exchange.respond(200 if ready else 503, _json(body))


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _prices(router: Router) -> dict[str, Price]:
    """Deployment id -> its configured ``price``: to charge a stream cut before its cost."""
    targets = router._targets  # the deployments the config named (direct ones have no price)
    return {id_: t.price for id_, t in targets.items() if t.price is not None}


def _providers_with_keys(env: Mapping[str, str]) -> frozenset[str]:
    """Providers a direct ``provider/model`` can reach: a key in ``env`` (or, keyless, a URL)."""
    names = set()
    for spec in PROVIDERS:
        if spec.key_required:
            if any(env.get(v) for v in spec.key_env):
                names.add(spec.name)
        elif any(env.get(v) for v in (*spec.key_env, *spec.base_url_env)):
            names.add(spec.name)
    return frozenset(names)
