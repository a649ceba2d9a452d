"""``Client``: the public entry point, composing validation, an adapter, the transport and retries.

Importing this module loads the transport (httpcore), so the first call does not
pay for that import inside the caller's deadline; ``import agent_adapter`` alone
stays cheap. One client holds one connection pool and any number of provider adapters
(created on first use, from the provider name or the model's prefix).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from . import catalog
from .batch import run_batch
from .counting import count_on
from .errors import AdapterError, StructuredOutputError, ValidationError
from .hooks import Hooks, Observer, as_hooks
from .options import api_option, gate_settings, prices_option, retry_option, timeouts_option
from .pricing import Price
from .providers.base import request_id
from .registry import create_adapter, split_model
from .resilience import (
    CircuitBreaker,
    RateLimit,
    RateLimiter,
    RetryPolicy,
    Store,
    Timeouts,
    deployment_id,
    estimate_embed_tokens,
    estimate_tokens,
)
from .runner import Call, Gate, Operation, exchange, metrics_of, run_to_end
from .stream import ChatStream
from .transport import Transport
from .types import EmbedRequest
from .validation import CHAT_PARAMS, build_chat_request, build_embed_request

if TYPE_CHECKING:
    from types import TracebackType

    from .batch import BatchProgress
    from .providers.base import Adapter, HttpRequest
    from .types import ChatRequest, ChatResponse, EmbedResponse, Message, TokenCount, Tool

__all__ = ["Client"]


class Client:
    """An async client for one provider, or for any provider named by the model's prefix.

    ``Client("openai")`` talks to OpenAI (key from ``OPENAI_API_KEY``);
    ``Client()`` picks the provider per call from ``model="groq/llama-3.3-70b"``.
    ``api`` picks the provider's API: ``"chat"`` (the default: Chat
    Completions for OpenAI, each provider's own chat API otherwise) or
    ``"responses"`` (OpenAI's Responses API, for OpenAI and Azure).
    ``timeouts``, ``retry`` and ``api`` set the defaults; every call may
    override them. Use it as ``async with Client(...) as client:`` so its
    connections are closed at the end.

    The gates in front of every attempt, each only when configured:
    ``max_concurrency`` (at most that many attempts in flight, ``max_queue``
    callers waiting), ``rate_limit`` (an ``aa.RateLimit``, or a shared
    ``RateLimiter``) and ``breaker`` (an ``aa.CircuitBreaker``, keyed by
    ``deployment_id(model)``). They are ``client.concurrency``,
    ``client.rate_limiter`` and ``client.breaker`` (None when not configured).

    ``hooks`` (``aa.Hooks`` objects, e.g. ``aa.otel.OpenTelemetryHooks()``)
    are told about every call; a call's own ``hooks=`` are added to them.
    They see sizes and counts, not text, unless ``capture_content=True``.
    ``prices`` (model → ``aa.Price``, by bare or ``"provider/model"`` name)
    set ``response.cost``; other models are priced from the optional
    genai-prices data when it is installed, else their cost is ``None``.

    ``store`` (an ``aa.MemoryStore``, or an ``aa.RedisStore`` shared by many
    processes) holds the counters of the gates this client builds, its rate
    buckets and its concurrency counter, under ``store_key`` (by default the
    provider, base URL and a hash of the key; ``"*"`` for a client that picks
    the provider per model): clients that share a store and a key share
    those limits. A breaker or ``RateLimiter`` given with it must keep its
    state in the same store (``aa.CircuitBreaker(store=store)``).
    """

    def __init__(
        self,
        provider: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        headers: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
        proxy: str | None = None,
        transport: Transport | None = None,
        env: Mapping[str, str] | None = None,
        breaker: CircuitBreaker | None = None,
        rate_limit: RateLimit | RateLimiter | None = None,
        max_concurrency: int | None = None,
        max_queue: int | None = None,
        hooks: Iterable[Hooks] | None = None,
        capture_content: bool = False,
        prices: Mapping[str, Price] | None = None,
        api: str = "chat",
        store: Store | None = None,
        store_key: str | None = None,
    ) -> None:
        self._api = api_option(api)
        self._provider = provider
        self._api_key = api_key
        self._base_url = base_url
        self._headers = headers
        self._options = options
        self._env = env
        self.timeouts = timeouts_option(timeouts) or Timeouts()
        self.retry = retry_option(retry) or RetryPolicy()
        self._proxy = proxy
        self._transport = transport
        self._owns_transport = transport is None
        self._adapters: dict[tuple[str, str], Adapter] = {}
        self.store = store
        if store is not None and store_key is None:
            store_key = self._store_key()
        self.breaker, self.rate_limiter, self.concurrency = gate_settings(
            breaker, rate_limit, max_concurrency, max_queue, store, store_key
        )
        gates = (self.breaker, self.rate_limiter, self.concurrency)
        self._gated = any(gate is not None for gate in gates)  # else the hot path skips gates
        self._gate_cache: dict[tuple[str, str], tuple[Gate, ...]] = {}
        self.hooks = as_hooks(hooks)
        self.capture_content = bool(capture_content)
        self.prices = prices_option(prices)
        self._priced = bool(self.prices) or catalog.available()  # else no cost is looked up
        if provider is not None:
            self._adapter(provider, self._api)  # fail fast: unknown provider or API, no key

    def __repr__(self) -> str:
        return f"Client(provider={self._provider!r})"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._transport is not None and self._owns_transport:
            await self._transport.aclose()
            self._transport = None

    @property
    def transport(self) -> Transport:
        """The connection pool (created on first use)."""
        if self._transport is None:
            self._transport = Transport(proxy=self._proxy)
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
        api: str | None = None,
        **params: Any,
    ) -> ChatResponse:
        """Send a chat request and return the whole answer.

        ``params`` are OpenAI's names: ``temperature``, ``max_tokens``,
        ``top_p``, ``stop``, ``seed``, ``tool_choice``, ``response_format``
        (a JSON Schema or a ``msgspec.Struct`` type; then ``.parsed``),
        ``reasoning``, ... and, as in openai-python, ``extra_body`` (alias
        ``extra``) for provider-specific body fields, ``extra_headers`` and
        ``extra_query`` for this call's headers and URL query parameters.
        ``hooks`` are this call's, added to the client's. ``api`` overrides the
        client's (``"chat"`` or ``"responses"``).
        """
        adapter, request = self._prepare(model, messages, tools, params, stream=False, api=api)
        observer = self._observe_chat("chat", request, hooks)
        return await self._chat(adapter, request, *self._limits(timeouts, retry), observer=observer)

    def stream(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | Message],
        tools: Iterable[Mapping[str, Any] | Tool] | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        hooks: Iterable[Hooks] | None = None,
        api: str | None = None,
        **params: Any,
    ) -> ChatStream:
        """A streamed chat call: ``async with client.stream(...) as s: async for chunk in s``.

        Takes the same arguments as ``chat``. Input errors raise here, before
        any I/O; the request is sent on entering the ``async with``.
        """
        adapter, request = self._prepare(model, messages, tools, params, stream=True, api=api)
        observer = self._observe_chat("stream", request, hooks)
        return self._stream(adapter, request, *self._limits(timeouts, retry), observer=observer)

    async def count_tokens(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | Message],
        tools: Iterable[Mapping[str, Any] | Tool] | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        api: str | None = None,
        **params: Any,
    ) -> TokenCount:
        """The input tokens ``chat`` with these arguments would send, as a ``TokenCount``.

        The provider's own count where it has a counting endpoint (Anthropic,
        Gemini), else our estimate with ``estimated=True``: never an error
        just because a provider cannot count. ``params`` as for ``chat``
        (``reasoning``, ``tool_choice``, ``response_format``, ``extra_body``...
        shape what is counted). Hooks are not called for a count.
        """
        adapter, request = self._prepare(model, messages, tools, params, stream=False, api=api)
        return await count_on(self.transport, adapter, request, *self._limits(timeouts, retry))

    async def embed(
        self,
        *,
        model: str,
        input: str | Iterable[str],
        dimensions: int | None = None,
        timeouts: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        extra: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        hooks: Iterable[Hooks] | None = None,
    ) -> EmbedResponse:
        """Embed ``input`` (one string or many); one vector per input, in order.

        ``extra_body`` (alias ``extra``), ``extra_headers`` and ``extra_query`` as for ``chat``.
        """
        adapter, bare = self._resolve(model, "chat")  # embeddings are the chat adapter's
        request = build_embed_request(
            bare,
            input,
            dimensions=dimensions,
            extra=extra,
            extra_body=extra_body,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        if not adapter.capabilities.embeddings:
            raise ValidationError(f"{adapter.name} has no embeddings endpoint", field="model")
        every = self._all_hooks(hooks)
        observer = (
            Observer.for_embed(every, request, capture=self.capture_content) if every else None
        )
        return await self._embed(
            adapter, request, *self._limits(timeouts, retry), observer=observer
        )

    def _all_hooks(self, hooks: Iterable[Hooks] | None) -> tuple[Hooks, ...]:
        """The client's hooks plus a call's own."""
        return self.hooks + as_hooks(hooks) if hooks is not None else self.hooks

    def _observe_chat(
        self, operation: Operation, request: ChatRequest, hooks: Iterable[Hooks] | None
    ) -> Observer | None:
        """The call's observer, or ``None`` (nothing built) when no hook is configured."""
        every = self._all_hooks(hooks)
        if not every:
            return None
        return Observer.for_chat(every, operation, request, capture=self.capture_content)

    async def batch(
        self,
        requests: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = 16,
        on_progress: Callable[[BatchProgress], None] | None = None,
    ) -> list[ChatResponse | AdapterError]:
        """Many ``chat`` calls (each a dict of its keywords), at most ``concurrency`` at once.

        Results come in input order, each the ``ChatResponse`` or the
        ``AdapterError`` that request ended with; see ``agent_adapter.batch``.
        """
        return await run_batch(self, requests, concurrency=concurrency, on_progress=on_progress)

    # -- the entry points without per-call hooks (a Router calls these per candidate) --

    async def _chat(
        self,
        adapter: Adapter,
        request: ChatRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
        *,
        start: float | None = None,
        deadline: float = math.inf,
        observer: Observer | None = None,
        price: Price | None = None,
    ) -> ChatResponse:
        call = self._call("chat", adapter, adapter.build(request), timeouts, retry, request)
        call.start, call.deadline, call.observer = start, deadline, observer
        transport = self.transport

        async def attempt(call: Call) -> ChatResponse:
            status, headers, body = await exchange(transport, call)
            response = call.adapter.decode(status, headers, body)
            response.request_id = request_id(headers)
            response.provider = call.adapter.name
            call.usage = response.usage
            response.metrics = metrics_of(call, anyio.current_time(), response.usage)
            if self._priced or price is not None:
                response.cost = self._cost(adapter, request.model, response, price)
            call.result = response
            return _parsed(request, response)

        return await run_to_end(call, attempt)

    def _stream(
        self,
        adapter: Adapter,
        request: ChatRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
        *,
        start: float | None = None,
        deadline: float = math.inf,
        observer: Observer | None = None,
        price: Price | None = None,
    ) -> ChatStream:
        call = self._call("stream", adapter, adapter.build(request), timeouts, retry, request)
        call.start, call.deadline, call.observer = start, deadline, observer
        priced = self._priced or price is not None
        if not priced and request.response_format is None:  # nothing to add at the end
            return ChatStream(call, transport=self.transport, request=request)

        def finish(response: ChatResponse) -> ChatResponse:
            if priced:
                response.cost = self._cost(adapter, request.model, response, price)
            return _parsed(request, response)

        return ChatStream(call, transport=self.transport, request=request, postprocess=finish)

    async def _embed(
        self,
        adapter: Adapter,
        request: EmbedRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
        *,
        start: float | None = None,
        deadline: float = math.inf,
        observer: Observer | None = None,
        price: Price | None = None,
    ) -> EmbedResponse:
        http = adapter.build_embed(request)
        call = self._call("embed", adapter, http, timeouts, retry, request)
        call.start, call.deadline, call.observer = start, deadline, observer
        transport = self.transport

        async def attempt(call: Call) -> EmbedResponse:
            status, headers, body = await exchange(transport, call)
            result = call.adapter.decode_embed(status, headers, body)
            result.provider = call.adapter.name
            result.model = result.model or request.model
            result.metrics = metrics_of(call, anyio.current_time(), result.usage)
            if self._priced or price is not None:
                result.cost = self._cost(adapter, request.model, result, price)
            call.result = result
            return result

        return await run_to_end(call, attempt)

    def _call(
        self,
        operation: Operation,
        adapter: Adapter,
        http: HttpRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
        request: ChatRequest | EmbedRequest,
    ) -> Call:
        model = request.model
        call = Call(
            operation,
            adapter,
            http,
            timeouts,
            retry,
            model=model,
            gates=self._gates(adapter, model) if self._gated else (),
        )
        if self.rate_limiter is not None:
            call.tokens = (
                estimate_embed_tokens(request)
                if isinstance(request, EmbedRequest)
                else estimate_tokens(request)
            )
        return call

    def _cost(
        self,
        adapter: Adapter,
        model: str,
        response: ChatResponse | EmbedResponse,
        price: Price | None,
    ) -> float | None:
        """USD for the response's usage: the given price, the client's, genai-prices, or None."""
        usage = response.usage
        if usage is None:
            return None
        if price is None and self.prices:
            prices = self.prices
            price = prices.get(model) or prices.get(f"{adapter.name}/{model}")
            if price is None and response.model:
                price = prices.get(response.model)
        if price is not None:
            return price.cost(usage)
        return catalog.cost(adapter, (response.model, model), usage)

    def _gates(self, adapter: Adapter, model: str) -> tuple[Gate, ...]:
        """This client's per-attempt gates for ``model`` on ``adapter``, in order.

        Concurrency first (a caller queues before it reserves rate), then the
        rate buckets, then the breaker of the deployment, then the transport.
        """
        key = (adapter.name, model)
        gates = self._gate_cache.get(key)
        if gates is None:
            found: list[Gate] = []
            if self.concurrency is not None:
                found.append(self.concurrency)
            if self.rate_limiter is not None:
                found.append(self.rate_limiter)
            if self.breaker is not None:
                found.append(self.breaker.gate(self._deployment_id(adapter, model)))
            gates = self._gate_cache[key] = tuple(found)
        return gates

    def deployment_id(self, model: str) -> str:
        """The id breaker state and buckets are kept under for ``model`` (prefix allowed)."""
        adapter, bare = self._resolve(model)
        return self._deployment_id(adapter, bare)

    @staticmethod
    def _deployment_id(adapter: Adapter, model: str) -> str:
        return deployment_id(adapter.name, adapter.base_url, model, adapter.api_key)

    def _store_key(self) -> str:
        """Where this client's gates keep their counters in a store, unless told."""
        if self._provider is None:
            return "*"
        return self._deployment_id(self._adapter(self._provider), "*")

    # -- plumbing ------------------------------------------------------------

    def _prepare(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any] | Message],
        tools: Iterable[Mapping[str, Any] | Tool] | None,
        params: dict[str, Any],
        *,
        stream: bool,
        api: str | None = None,
    ) -> tuple[Adapter, ChatRequest]:
        if params and not params.keys() <= CHAT_PARAMS:
            unknown = params.keys() - CHAT_PARAMS
            raise ValidationError(
                f"unknown parameter(s) {', '.join(sorted(unknown))}; provider-specific body "
                "fields go in extra_body={...}",
                field=sorted(unknown)[0],
            )
        adapter, bare = self._resolve(model, self._api if api is None else api_option(api))
        request = build_chat_request(bare, messages, tools=tools, stream=stream, **params)
        return adapter, request  # adapter.encode() checks the provider's capabilities

    def _limits(
        self, timeouts: Timeouts | float | None, retry: RetryPolicy | int | None
    ) -> tuple[Timeouts, RetryPolicy]:
        """A call's deadlines and retry policy: its own overrides, else the client's."""
        return timeouts_option(timeouts) or self.timeouts, retry_option(retry) or self.retry

    def _resolve(self, model: str, api: str | None = None) -> tuple[Adapter, str]:
        """The adapter for ``model`` (its provider prefix, or the client's) and the bare model."""
        api = self._api if api is None else api
        if not isinstance(model, str) or not model:
            raise ValidationError("must be a non-empty string", field="model")
        if self._provider is not None:
            return self._adapter(self._provider, api), model
        prefix, bare = split_model(model)
        if prefix is None:
            raise ValidationError(
                f"{model!r} names no provider: use Client('openai') or a model like "
                "'openai/gpt-4o'",
                field="model",
            )
        return self._adapter(prefix, api), bare

    def _adapter(self, provider: str, api: str = "chat") -> Adapter:
        adapter = self._adapters.get((provider, api))
        if adapter is None:
            adapter = create_adapter(
                provider,
                api_key=self._api_key,
                base_url=self._base_url,
                headers=self._headers,
                options=self._options,
                env=self._env,
                api=api,
            )
            self._adapters[provider, api] = adapter
        return adapter


def _parsed(request: ChatRequest, response: ChatResponse) -> ChatResponse:
    """Validate structured output into ``.parsed`` (a Struct, or plain JSON for a schema)."""
    fmt = request.response_format
    if fmt is None or response.finish_reason == "content_filter" or response.refusal:
        return response
    target = fmt.struct_type if fmt.struct_type is not None else Any
    try:
        response.parsed = msgspec.json.decode(response.content, type=target)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError subclass
        hint = (
            " (the reply was cut off by max_tokens)" if response.finish_reason == "length" else ""
        )
        raise StructuredOutputError(
            f"the reply does not match the requested format{hint}: {exc}",
            raw=response.content,
            partial=response,
            provider=response.provider,
        ) from None
    return response
