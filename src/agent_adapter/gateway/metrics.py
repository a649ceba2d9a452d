"""The gateway's Prometheus metrics, ``GET /metrics``, with ``prometheus-client`` (``server``).

Each request is recorded once, when ``Gateway._http`` is done with it, from
what its ``Exchange`` carries by then: the status sent, the model it named,
the usage of its answer, the ``type`` of the problem that ended it and the
moment its first streamed event was written. The one thing recorded while a
request runs is the in-flight streams gauge, around the relay.

Labels stay bounded whatever callers send: ``model`` is a served name (a
group or a configured ``provider/model``; any other direct model is counted
as ``provider/*``), ``key`` a configured key's *name* (never the key or its
hash; ``anonymous`` without keys), ``endpoint`` a route of the table, ``-``
when a request was refused before its model or key was known.

With ``agent-adapter serve --workers N`` every worker writes its values to
files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess
mode, chosen when that variable is set before the library is imported), and
a scrape of any worker reads them all, so the totals are the gateway's. See
https://prometheus.github.io/client_python/multiprocess/. This is the only
module that imports ``prometheus_client``, and only when a gateway is built
with metrics on.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

import anyio.to_thread

from ..errors import ValidationError
from ..registry import split_model

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from prometheus_client.metrics import MetricWrapperBase

    from ..types import Usage
    from .app import Gateway
    from .http import Exchange
    from .settings import KeySettings

__all__ = [
    "LATENCY_BUCKETS",
    "MULTIPROC_ENV",
    "TTFT_BUCKETS",
    "Metrics",
    "PrometheusMetrics",
    "create_metrics",
    "mark_process_dead",
    "serve_metrics",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where the workers of one gateway share their values (prometheus-client's variable)."""

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
"""Seconds for a whole request: from a cached embedding to a long reasoning answer."""
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
"""Seconds to the first streamed event: interactive models answer in well under 2 s."""

M = TypeVar("M", bound="MetricWrapperBase")
PREFIX = "agent_adapter_gateway_"
UNKNOWN = "-"  # the request was refused before its model (or key) was known
ANONYMOUS = "anonymous"  # a gateway without client keys
_CLIENT_CLOSED = 499  # nginx's "client closed request": the client left before the answer ended
_NO_STREAM: AbstractContextManager[None] = contextlib.nullcontext()


class Observed(Protocol):
    """What a finished request tells the metrics: an HTTP ``Exchange``, or a WebSocket request."""

    @property
    def path(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def done(self) -> bool: ...
    @property
    def disconnected(self) -> bool: ...
    @property
    def model(self) -> str | None: ...
    @property
    def usage(self) -> Usage | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def first_event(self) -> float: ...


class Metrics:
    """What the request path tells the metrics; this base records nothing (``metrics = false``).

    ``PrometheusMetrics`` is the real one. The gateway always has one of
    the two, so the request path never asks whether metrics are on.
    """

    enabled = False

    def observe(
        self, exchange: Observed, key: KeySettings | None, started: float, *, anonymous: bool
    ) -> None:
        """Record one finished request.

        ``started`` is its ``time.perf_counter()`` on arrival; ``anonymous``
        says the gateway has no client keys (else a request without ``key``
        was refused before one was found).
        """

    def streaming(
        self, exchange: Observed, key: KeySettings | None
    ) -> AbstractContextManager[None]:
        """A block during which ``exchange``'s stream counts as in flight."""
        return _NO_STREAM

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """A scrape's body and content type, in the format ``accept`` asks for."""
        raise NotImplementedError("metrics are off")


class PrometheusMetrics(Metrics):
    """The gateway's metrics, in its own registry (several gateways may share a process).

    ``models`` are the names counted as they are (the groups and configured
    direct models); ``endpoints`` maps each path of the route table to
    whether its requests are counted (the API, not ``/healthz``,
    ``/readyz`` or ``/metrics`` itself).
    """

    enabled = True

    def __init__(self, *, models: Iterable[str], endpoints: dict[str, bool]) -> None:
        _prometheus()
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._models = frozenset(models)
        self._endpoints = endpoints
        self._children: dict[tuple[object, ...], object] = {}  # bounded as the labels are
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode the values live in files and a scrape reads them all (a fresh
        # registry per scrape, as prometheus-client documents); registering here would add
        # this process's values a second time.
        self._registry = CollectorRegistry(auto_describe=True)
        registry = None if self.multiprocess else self._registry
        common = ("endpoint", "model", "key")
        self.requests = Counter(
            PREFIX + "requests",
            "Requests answered, by endpoint, model, client key name and HTTP status "
            f"({_CLIENT_CLOSED}: the client left first).",
            (*common, "status"),
            registry=registry,
        )
        self.errors = Counter(
            PREFIX + "errors",
            "Error answers and in-stream error events, by the error's type "
            "(rate_limit_error, timeout_error, server_error, ...).",
            (*common, "type"),
            registry=registry,
        )
        self.latency = Histogram(
            PREFIX + "request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer.",
            ("endpoint", "model"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            PREFIX + "time_to_first_token_seconds",
            "Seconds from a streamed request's arrival to its first event written.",
            ("endpoint", "model"),
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.input_tokens = Counter(
            PREFIX + "input_tokens",
            "Prompt tokens of the answers, as the provider counted them.",
            ("model", "key"),
            registry=registry,
        )
        self.output_tokens = Counter(
            PREFIX + "output_tokens",
            "Completion tokens of the answers (reasoning included), as the provider counted them.",
            ("model", "key"),
            registry=registry,
        )
        self.streams = Gauge(
            PREFIX + "streams_in_flight",
            "Streamed requests being served (opening or relaying).",
            common,
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.worker_requests = Gauge(
            PREFIX + "worker_requests",
            "Requests answered by this worker process since it started "
            "(one series per live worker, labelled pid, with --workers > 1).",
            multiprocess_mode="liveall",
            registry=registry,
        )

    def __repr__(self) -> str:
        mode = "multiprocess" if self.multiprocess else "in-process"
        return f"PrometheusMetrics({mode}, models={len(self._models)})"

    def observe(
        self, exchange: Observed, key: KeySettings | None, started: float, *, anonymous: bool
    ) -> None:
        """Count the request, its error, tokens and times, under bounded labels."""
        endpoint = self._endpoint(exchange.path)
        if endpoint is None:
            return  # a probe or a scrape: not an API request
        now = time.perf_counter()
        model = self._model(exchange.model)
        name = _key(key, anonymous=anonymous)
        if exchange.disconnected and not exchange.done:
            status = _CLIENT_CLOSED
        else:
            status = exchange.status or 500  # an app that sends nothing gets hypercorn's 500
        child = self._child
        child(self.requests, endpoint, model, name, str(status)).inc()
        self.worker_requests.inc()
        if exchange.error is not None:
            child(self.errors, endpoint, model, name, exchange.error).inc()
        child(self.latency, endpoint, model).observe(now - started)
        if exchange.first_event:
            child(self.ttft, endpoint, model).observe(exchange.first_event - started)
        usage = exchange.usage
        if usage is not None:
            child(self.input_tokens, model, name).inc(usage.prompt_tokens)
            child(self.output_tokens, model, name).inc(usage.completion_tokens)

    def streaming(
        self, exchange: Observed, key: KeySettings | None
    ) -> AbstractContextManager[None]:
        """The in-flight streams gauge, up for the block."""
        endpoint = self._endpoint(exchange.path) or UNKNOWN
        labels = (endpoint, self._model(exchange.model), _key(key, anonymous=True))
        gauge = self._child(self.streams, *labels)
        tracker: AbstractContextManager[None] = gauge.track_inprogress()
        return tracker

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """Every metric of this gateway (of all its workers, in multiprocess mode)."""
        from prometheus_client.exposition import choose_encoder

        encode, content_type = choose_encoder(accept or "")
        if not self.multiprocess:
            return encode(self._registry), content_type
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return encode(registry), content_type

    def _child(self, metric: M, *labels: str) -> M:
        """``metric.labels(*labels)``, made once per label set (a third of a request's cost)."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return cast("M", child)

    def _endpoint(self, path: str) -> str | None:
        counted = self._endpoints.get(path)
        if counted is not None:
            return path if counted else None
        if path.startswith("/v1/models/"):
            return "/v1/models/{model}"
        return "other"  # unknown URLs: one series, whatever scanners try

    def _model(self, model: str | None) -> str:
        if model is None:
            return UNKNOWN
        if model in self._models:
            return model
        provider, _ = split_model(model)
        return f"{provider}/*" if provider is not None else UNKNOWN


def create_metrics(
    enabled: bool, *, models: Collection[str], endpoints: dict[str, bool]
) -> Metrics:
    """The gateway's metrics: Prometheus when ``enabled``, else the no-op ``Metrics``.

    Raises a ``ValidationError`` naming ``gateway.metrics`` when
    prometheus-client is missing, before anything listens.
    """
    if not enabled:
        return Metrics()
    return PrometheusMetrics(models=models, endpoints=endpoints)


async def serve_metrics(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``GET /metrics``: the Prometheus exposition (rendered off the event loop: it reads files)."""
    accept = exchange.header(b"accept")
    body, content_type = await anyio.to_thread.run_sync(
        gateway.metrics.render, accept.decode("latin-1") if accept else None
    )
    await exchange.respond(200, body, content_type=content_type.encode())


def mark_process_dead(pid: int, directory: str) -> None:
    """Forget a dead worker's live gauges (its in-flight streams) in ``directory``."""
    _prometheus()
    from prometheus_client.multiprocess import mark_process_dead as mark

    mark(pid, directory)  # type: ignore[no-untyped-call]


def _key(key: KeySettings | None, *, anonymous: bool) -> str:
    if key is not None:
        return key.name
    return ANONYMOUS if anonymous else UNKNOWN


def _prometheus() -> None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ValidationError(
            "GET /metrics needs prometheus-client: pip install 'agent-adapter[server]', "
            "or set metrics = false in [gateway]",
            field="gateway.metrics",
        ) from None
