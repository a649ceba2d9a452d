"""The Router over the wire: fallback by error class, across wire formats, under one deadline.

Several MockServers stand for several deployments; the ones that answer use
the fake provider of their wire format, so a fallback from an OpenAI-format
server to an Anthropic- and a Gemini-format one really changes the protocol.
What each server saw (or did not) is asserted, on asyncio and trio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest
from anyio.from_thread import start_blocking_portal

import agent_adapter as aa
from agent_adapter.routing.stream import RoutedStream
from agent_adapter.stream import StreamState
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from sse_builders import USER, chunk, text_stream

pytestmark = pytest.mark.anyio

WIRE = {
    # provider: (model, base URL suffix on the mock server, key)
    "openai": ("gpt-4o", "/v1", "sk-test"),
    "anthropic": ("claude-sonnet-4-5", "", "sk-ant-test"),
    "gemini": ("gemini-2.5-flash", "", "test-key"),
}
NO_RETRY = aa.RetryPolicy(max_retries=0)
FAST = aa.RetryPolicy(max_retries=1, initial_backoff=0.01, max_backoff=0.01)


def openai_error(status: int, message: str, code: str | None = None) -> Reply:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return Reply.error(status, {"error": {"message": message, "type": kind, "code": code}})


DOWN = openai_error(503, "The server is overloaded")
TOO_LONG = openai_error(
    400, "This model's maximum context length is 8192", "context_length_exceeded"
)
FILTERED = openai_error(400, "flagged by the content filter", "content_filter")
BAD = openai_error(400, "'messages[0].role' is not one of the allowed values")


def dep(provider: str, srv: MockServer, **kwargs: Any) -> aa.Deployment:
    model, suffix, key = WIRE[provider]
    return aa.Deployment(
        f"{provider}/{model}", api_key=key, base_url=srv.base_url + suffix, **kwargs
    )


@asynccontextmanager
async def servers(n: int) -> AsyncIterator[list[MockServer]]:
    """``n`` running mock servers, each answering with the fake provider of the request's path."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(MockServer(handler=provider_reply)) for _ in range(n)
        ]


async def read(stream: RoutedStream) -> str:
    return "".join([c.delta async for c in stream])


async def test_one_group_answers_and_names_its_deployment() -> None:
    async with servers(1) as [a], aa.Router({"smart": [dep("openai", a)]}) as router:
        r = await router.chat(model="smart", messages=USER)
        assert r.content.startswith("You said: hi")
        assert r.provider == "openai"
        assert r.model
        assert r.deployment == router.deployments["smart"][0]
        assert r.deployment.startswith(f"openai:gpt-4o@{a.base_url}/v1#")
        assert a.requests[0].json()["model"] == "gpt-4o"  # the bare model, not the group name


async def test_chat_falls_back_across_wire_formats_after_each_deployments_retries() -> None:
    async with servers(3) as [a, b, c]:
        a.handler = b.handler = lambda _: DOWN
        router = aa.Router(
            {"smart": [dep("openai", a), dep("anthropic", b), dep("gemini", c)]}, retry=FAST
        )
        async with router:
            r = await router.chat(model="smart", messages=USER)
        assert r.provider == "gemini"
        assert r.deployment == router.deployments["smart"][2]
        assert r.content
        # Each deployment's own retries first (1 + 1), then the next deployment.
        assert (len(a.requests), len(b.requests), len(c.requests)) == (2, 2, 1)
        assert b.requests[0].path == "/v1/messages"
        assert ":generateContent" in c.requests[0].path


async def test_fallbacks_groups_come_after_the_groups_own_deployments() -> None:
    async with servers(3) as [a, b, c]:
        a.handler = b.handler = lambda _: DOWN
        router = aa.Router(
            {"smart": [dep("openai", a), dep("openai", b)], "fast": [dep("anthropic", c)]},
            fallbacks={"smart": ["fast"]},
            retry=NO_RETRY,
        )
        async with router:
            r = await router.chat(model="smart", messages=USER)
        assert r.deployment == router.deployments["fast"][0]
        assert (len(a.requests), len(b.requests), len(c.requests)) == (1, 1, 1)


async def test_rejected_key_rate_limit_not_found_and_refused_connection_fall_back() -> None:
    async with servers(4) as [a, b, c, d]:
        a.handler = lambda _: openai_error(401, "Incorrect API key provided")
        b.handler = lambda _: openai_error(429, "Rate limit reached")
        c.handler = lambda _: openai_error(404, "The model `gpt-4o` does not exist")
        refused = aa.Deployment("openai/gpt-4o", api_key="k", base_url="http://127.0.0.1:9/v1")
        group = [dep("openai", a), dep("openai", b), dep("openai", c), refused, dep("gemini", d)]
        async with aa.Router({"smart": group}, retry=NO_RETRY) as router:
            r = await router.chat(model="smart", messages=USER)
        assert r.provider == "gemini"


async def test_stream_falls_back_before_first_content() -> None:
    async with servers(3) as [a, b, c]:
        a.handler = lambda _: DOWN
        # b opens a 200 stream but dies before any content: still nothing reached the caller.
        b.handler = lambda _: Reply.reset_mid_body([b"event: ping\ndata: {}\n\n"], after=1)
        router = aa.Router(
            {"smart": [dep("openai", a), dep("anthropic", b), dep("gemini", c)]}, retry=NO_RETRY
        )
        async with router, router.stream(model="smart", messages=USER) as s:
            assert s.deployment == router.deployments["smart"][2]
            text = await read(s)
        assert text.startswith("You said: hi")
        assert s.response.content == text
        assert s.response.provider == "gemini"
        assert s.response.deployment == router.deployments["smart"][2]
        assert s.response.finish_reason == "stop"
        assert (len(a.requests), len(b.requests), len(c.requests)) == (1, 1, 1)


async def test_stream_failure_after_first_content_raises_and_does_not_fall_back() -> None:
    events = text_stream("Hel", "lo", " there")
    async with servers(2) as [a, b]:
        a.handler = lambda _: Reply.reset_mid_body(events, after=2)
        router = aa.Router({"smart": [dep("openai", a), dep("anthropic", b)]}, retry=NO_RETRY)
        async with router:
            with pytest.raises(aa.StreamError) as info:
                async with router.stream(model="smart", messages=USER) as s:
                    async for _ in s:
                        pass
        assert info.value.partial.content == "Hel"
        assert info.value.deployment == router.deployments["smart"][0]
        assert b.requests == []


async def test_context_length_goes_only_to_context_window_fallbacks() -> None:
    async with servers(4) as [a, b, c, d]:
        a.handler = lambda _: TOO_LONG
        router = aa.Router(
            {
                "smart": [dep("openai", a), dep("anthropic", b)],
                "fast": [dep("gemini", c)],
                "long": [dep("anthropic", d)],
            },
            fallbacks={"smart": ["fast"]},
            context_window_fallbacks={"smart": ["long"]},
            retry=NO_RETRY,
        )
        async with router:
            r = await router.chat(model="smart", messages=USER)
        assert r.deployment == router.deployments["long"][0]
        assert b.requests == [] and c.requests == []


async def test_content_filter_goes_only_to_content_policy_fallbacks() -> None:
    async with servers(4) as [a, b, c, d]:
        a.handler = lambda _: FILTERED
        router = aa.Router(
            {
                "smart": [dep("openai", a), dep("anthropic", b)],
                "fast": [dep("gemini", c)],
                "lenient": [dep("anthropic", d)],
            },
            fallbacks={"smart": ["fast"]},
            context_window_fallbacks={"smart": ["fast"]},
            content_policy_fallbacks={"smart": ["lenient"]},
            retry=NO_RETRY,
        )
        async with router:
            r = await router.chat(model="smart", messages=USER)
        assert r.deployment == router.deployments["lenient"][0]
        assert b.requests == [] and c.requests == []


@pytest.mark.parametrize(
    ("reply", "error"), [(TOO_LONG, aa.ContextLengthError), (BAD, aa.BadRequestError)]
)
async def test_caller_errors_raise_at_once_and_other_servers_see_nothing(
    reply: Reply, error: type[aa.AdapterError]
) -> None:
    async with servers(3) as [a, b, c]:
        a.handler = lambda _: reply
        router = aa.Router(
            {"smart": [dep("openai", a), dep("anthropic", b)], "fast": [dep("gemini", c)]},
            fallbacks={"smart": ["fast"]},
            retry=NO_RETRY,
        )
        async with router:
            with pytest.raises(error) as info:
                await router.chat(model="smart", messages=USER)
        assert type(info.value) is error  # the provider's own error, not a wrapper
        assert info.value.deployment == router.deployments["smart"][0]
        assert b.requests == [] and c.requests == []


async def test_structured_output_error_raises_at_once() -> None:
    async with servers(2) as [a, b]:
        a.handler = lambda _: Reply.json(
            {
                "id": "x",
                "object": "chat.completion",
                "model": "gpt-4o",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "not json"},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
        async with aa.Router({"smart": [dep("openai", a), dep("anthropic", b)]}) as router:
            with pytest.raises(aa.StructuredOutputError):
                await router.chat(
                    model="smart", messages=USER, response_format={"type": "json_object"}
                )
        assert b.requests == []


async def test_invalid_input_fails_before_any_io() -> None:
    async with servers(2) as [a, b]:
        async with aa.Router({"smart": [dep("openai", a), dep("anthropic", b)]}) as router:
            with pytest.raises(aa.ValidationError) as info:
                await router.chat(model="smart", messages=USER, temperature=5)
            assert info.value.field == "temperature"
            with pytest.raises(aa.ValidationError) as info:
                router.stream(model="smart", messages=[{"role": "robot", "content": "x"}])
            assert info.value.field == "messages[0].role"
            with pytest.raises(aa.ValidationError) as info:
                await router.chat(model="smart", messages=USER, temprature=1)
            assert info.value.field == "temprature"
        assert a.requests == [] and b.requests == []


async def test_all_failed_lists_every_error_in_order_each_naming_its_deployment() -> None:
    async with servers(2) as [a, b]:
        a.handler = lambda _: DOWN
        b.handler = lambda _: openai_error(429, "Rate limit reached")
        refused = aa.Deployment("openai/gpt-4o", api_key="k", base_url="http://127.0.0.1:9/v1")
        router = aa.Router(
            {"smart": [dep("openai", a), dep("openai", b)], "fast": [refused]},
            fallbacks={"smart": ["fast"]},
            retry=NO_RETRY,
        )
        async with router:
            with pytest.raises(aa.AllProvidersFailedError) as info:
                await router.chat(model="smart", messages=USER)
        errors = info.value.errors
        assert [type(e) for e in errors] == [
            aa.ServerError,
            aa.RateLimitError,
            aa.APIConnectionError,
        ]
        ids = [*router.deployments["smart"], *router.deployments["fast"]]
        assert [e.deployment for e in errors] == ids
        assert info.value.__cause__ is errors[-1]
        assert info.value.retryable


async def test_a_stream_that_finds_no_deployment_raises_all_failed_on_entering() -> None:
    async with servers(2) as [a, b]:
        a.handler = b.handler = lambda _: DOWN
        router = aa.Router({"smart": [dep("openai", a), dep("anthropic", b)]}, retry=NO_RETRY)
        async with router:
            s = router.stream(model="smart", messages=USER)
            with pytest.raises(aa.AllProvidersFailedError) as info:
                async with s:
                    pass
        assert [e.deployment for e in info.value.errors] == list(router.deployments["smart"])
        assert s.state is StreamState.ENDED


async def test_one_total_deadline_across_fallbacks() -> None:
    async with servers(3) as [a, b, c]:
        a.handler = b.handler = c.handler = lambda _: Reply.stall()
        router = aa.Router(
            {"smart": [dep("openai", a, timeouts=aa.Timeouts(read=0.3)), dep("openai", b)]},
            timeouts=aa.Timeouts(total=0.6),
            retry=NO_RETRY,
        )
        async with router:
            start = anyio.current_time()
            with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(3):
                await router.chat(model="smart", messages=USER)
            elapsed = anyio.current_time() - start
        assert info.value.which == "total"
        assert 0.55 <= elapsed < 1.0  # a's 0.3 s read timeout, then b until the shared 0.6 s
        assert len(a.requests) == 1 and len(b.requests) == 1
        assert isinstance(info.value.__cause__, aa.TimeoutError)


async def test_a_stream_shares_the_total_deadline_too() -> None:
    async with servers(2) as [a, b]:
        a.handler = lambda _: DOWN
        b.handler = lambda _: Reply.sse([b": ping\n\n"] * 50, delay=0.05)
        router = aa.Router(
            {"smart": [dep("openai", a), dep("openai", b)]},
            timeouts=aa.Timeouts(total=0.4),
            retry=NO_RETRY,
        )
        async with router:
            with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(3):
                async with router.stream(model="smart", messages=USER):
                    pass
        assert info.value.which == "total"
        await b.wait_for_client_disconnects(1)


async def test_embed_falls_back_only_to_the_same_model_name() -> None:
    async with servers(3) as [a, b, c]:
        a.handler = lambda _: DOWN
        small, large = "openai/text-embedding-3-small", "openai/text-embedding-3-large"
        group = [
            aa.Deployment(small, api_key="k", base_url=a.base_url + "/v1"),
            aa.Deployment(large, api_key="k", base_url=b.base_url + "/v1"),
            aa.Deployment(small, api_key="k", base_url=c.base_url + "/v1"),
        ]
        async with aa.Router({"emb": group}, retry=NO_RETRY) as router:
            r = await router.embed(model="emb", input=["one", "two"])
        assert len(r.vectors) == 2
        assert r.deployment == router.deployments["emb"][2]
        assert b.requests == []
        assert c.requests[0].json()["model"] == "text-embedding-3-small"


async def test_embed_without_an_embeddings_endpoint_fails_before_io() -> None:
    async with servers(1) as [a], aa.Router({"chat": [dep("anthropic", a)]}) as router:
        with pytest.raises(aa.ValidationError) as info:
            await router.embed(model="chat", input="x")
        assert info.value.field == "model"
    assert a.requests == []


async def test_unknown_model_fails_before_io_unless_direct_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with servers(1) as [a]:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", a.base_url + "/v1")
        async with aa.Router({"smart": [dep("anthropic", a)]}) as router:
            with pytest.raises(aa.ValidationError) as info:
                await router.chat(model="openai/gpt-4o-mini", messages=USER)
            assert info.value.field == "model"
            assert "smart" in str(info.value)
        assert a.requests == []
        async with aa.Router({"smart": [dep("anthropic", a)]}, allow_direct=True) as router:
            r = await router.chat(model="openai/gpt-4o-mini", messages=USER)
            again = await router.chat(model="openai/gpt-4o-mini", messages=USER)
            with pytest.raises(aa.ValidationError) as info:
                await router.chat(model="gpt-4o-mini", messages=USER)  # no provider prefix
            assert info.value.field == "model"
        assert r.provider == "openai" and r.deployment == again.deployment
        assert r.deployment is not None and r.deployment.startswith("openai:gpt-4o-mini@")
        assert [q.json()["model"] for q in a.requests] == ["gpt-4o-mini"] * 2


async def test_a_direct_model_that_a_group_lists_is_that_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with servers(1) as [a]:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", a.base_url + "/v1")
        async with aa.Router({"smart": ["openai/gpt-4o-mini"]}, allow_direct=True) as router:
            r = await router.chat(model="openai/gpt-4o-mini", messages=USER)
            direct = router._direct["openai/gpt-4o-mini"].members[0].target
            assert direct is router._groups["smart"].members[0].target  # one breaker, one stats
        assert r.deployment == router.deployments["smart"][0]


async def test_aclose_from_another_task_stops_an_opening_stream() -> None:
    async with servers(2) as [a, b]:
        a.handler = lambda _: Reply.sse([b": ping\n\n"] * 100, delay=0.05)
        router = aa.Router({"smart": [dep("openai", a), dep("anthropic", b)]})
        async with router:
            s = router.stream(model="smart", messages=USER)

            async def opener() -> None:
                with pytest.raises(StopAsyncIteration):
                    await s.__aenter__()

            with anyio.fail_after(3):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(opener)
                    await a.wait_for_requests(1)
                    await s.aclose()
            assert s.state is StreamState.ENDED
            await a.wait_for_client_disconnects(1)
            await a.wait_for_closed(1)
        assert b.requests == []  # closing is not a failure: no fallback


async def test_round_robin_spreads_calls_over_the_deployments() -> None:
    async with servers(2) as [a, b]:
        router = aa.Router(
            {"smart": [dep("openai", a), dep("anthropic", b)]}, strategy="round_robin"
        )
        async with router:
            got = [(await router.chat(model="smart", messages=USER)).provider for _ in range(4)]
        assert got == ["openai", "anthropic", "openai", "anthropic"]


async def test_least_busy_counts_the_routers_own_calls_in_flight() -> None:
    events = [chunk({"role": "assistant", "content": "a"}), *text_stream("b")]
    async with servers(2) as [a, b]:
        a.handler = b.handler = lambda r: (
            Reply.sse(events, delay=0.2) if r.json().get("stream") else provider_reply(r)
        )
        router = aa.Router({"smart": [dep("openai", a), dep("openai", b)]}, strategy="least_busy")
        async with router:
            async with router.stream(model="smart", messages=USER) as first:
                async with router.stream(model="smart", messages=USER) as second:
                    assert first.deployment != second.deployment  # the first is still open
                    await read(second)
                await read(first)
            r = await router.chat(model="smart", messages=USER)  # both idle again: the first
        assert r.deployment == router.deployments["smart"][0]


async def test_open_breakers_go_last_while_another_deployment_is_available() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1, reset_timeout=30)
    async with servers(2) as [a, b]:
        a.handler = lambda _: DOWN
        router = aa.Router(
            {"smart": [dep("openai", a), dep("anthropic", b)]}, breaker=breaker, retry=NO_RETRY
        )
        async with router:
            first = await router.chat(model="smart", messages=USER)  # a fails: its circuit opens
            assert breaker.state(router.deployments["smart"][0]) == "open"
            again = [await router.chat(model="smart", messages=USER) for _ in range(3)]
        assert router.breaker is breaker
        assert {r.deployment for r in (first, *again)} == {router.deployments["smart"][1]}
        assert len(a.requests) == 1  # skipped, not hammered


async def test_when_every_breaker_is_open_each_is_tried_and_refuses_without_io() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1, reset_timeout=30)
    async with servers(2) as [a, b]:
        a.handler = b.handler = lambda _: DOWN
        router = aa.Router(
            {"smart": [dep("openai", a), dep("anthropic", b)]}, breaker=breaker, retry=NO_RETRY
        )
        async with router:
            with pytest.raises(aa.AllProvidersFailedError):
                await router.chat(model="smart", messages=USER)
            with pytest.raises(aa.AllProvidersFailedError) as info:
                await router.chat(model="smart", messages=USER)
        errors = info.value.errors
        assert [type(e) for e in errors] == [aa.CircuitOpenError, aa.CircuitOpenError]
        assert [e.deployment for e in errors] == list(router.deployments["smart"])
        assert info.value.retry_after is not None and 0 < info.value.retry_after <= 30
        assert len(a.requests) == len(b.requests) == 1


async def test_a_deployment_with_an_empty_rate_bucket_goes_last() -> None:
    async with servers(2) as [a, b]:
        router = aa.Router({"smart": [dep("openai", a, rpm=1), dep("anthropic", b)]})
        async with router:
            got = [(await router.chat(model="smart", messages=USER)).provider for _ in range(3)]
        assert got == ["openai", "anthropic", "anthropic"]
        assert len(a.requests) == 1


async def test_a_full_concurrency_queue_falls_back_at_once() -> None:
    events = [chunk({"role": "assistant", "content": "a"}), *text_stream("b")]
    async with servers(2) as [a, b]:
        a.handler = lambda r: (
            Reply.sse(events, delay=0.2) if r.json().get("stream") else provider_reply(r)
        )
        group = [dep("openai", a, max_concurrency=1, max_queue=0), dep("anthropic", b)]
        async with (
            aa.Router({"smart": group}, retry=NO_RETRY) as router,
            router.stream(model="smart", messages=USER) as held,  # a's only slot
        ):
            r = await router.chat(model="smart", messages=USER)
            await read(held)
        assert held.deployment == router.deployments["smart"][0]
        assert r.deployment == router.deployments["smart"][1]
        assert len(a.requests) == 1  # refused locally, before any I/O


async def test_the_pool_is_shared_and_closed_with_the_router() -> None:
    async with servers(2) as [a, b]:
        router = aa.Router({"smart": [dep("openai", a)], "fast": [dep("anthropic", b)]})
        async with router:
            await router.chat(model="smart", messages=USER)
            await router.chat(model="fast", messages=USER)
            assert router.transport.idle_connections == 2
        await a.wait_for_closed(1)
        await b.wait_for_closed(1)


def test_sync_client_wraps_a_router() -> None:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(MockServer(handler=provider_reply)) as srv,
        aa.SyncClient(aa.Router({"smart": [dep("openai", srv)]})) as client,
    ):
        assert client.chat(model="smart", messages=USER).deployment
        with client.stream(model="smart", messages=USER) as s:
            text = "".join(c.delta for c in s)
        assert text == s.response.content
        assert s.response.deployment


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"strategy": "fastest"}, "strategy"),
        ({"models": {}}, "models"),
        ({"models": {"smart": []}}, "models.smart"),
        ({"models": {"smart": ["gpt-4o"]}}, "models.smart[0].model"),
        ({"models": {"smart": [42]}}, "models.smart[0]"),
        (
            {"models": {"smart": ["openai/a", aa.Deployment("openai/b", weight=0)]}},
            "models.smart[1].weight",
        ),
        (
            {"models": {"smart": ["openai/a", aa.Deployment("openai/b", rpm=-1)]}},
            "models.smart[1].rpm",
        ),
        (
            {"models": {"smart": [aa.Deployment("openai/a", timeouts=-1)]}},
            "models.smart[0].timeouts.total",
        ),
        (
            {"models": {"smart": [aa.Deployment("openai/a", retry=-1)]}},
            "models.smart[0].retry.max_retries",
        ),
        ({"models": {"smart": ["openai/a", "openai/a"]}}, "models.smart[1]"),
        ({"fallbacks": {"smart": ["nope"]}}, "fallbacks.smart[0]"),
        ({"fallbacks": {"nope": ["smart"]}}, "fallbacks.nope"),
        ({"fallbacks": {"smart": ["smart"]}}, "fallbacks.smart[0]"),
        ({"context_window_fallbacks": {"smart": ["big"]}}, "context_window_fallbacks.smart[0]"),
        ({"content_policy_fallbacks": {"smart": [1]}}, "content_policy_fallbacks.smart[0]"),
        ({"hedge": 1.5}, "hedge"),
        ({"breaker": "on"}, "breaker"),
        (
            {"models": {"smart": [aa.Deployment("openai/a", max_queue=3)]}},
            "models.smart[0].max_queue",
        ),
        ({"models": {"smart": [aa.Deployment("openai/a", tpm=0)]}}, "models.smart[0].tpm"),
        ({"timeouts": "slow"}, "timeouts"),
    ],
)
def test_bad_configuration_is_refused_before_any_io_naming_the_field(
    kwargs: dict[str, Any], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    kwargs.setdefault("models", {"smart": ["openai/gpt-4o"]})
    with pytest.raises(aa.ValidationError) as info:
        aa.Router(**kwargs)
    assert info.value.field == field


def test_a_missing_key_names_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    with pytest.raises(aa.ValidationError) as info:
        aa.Router({"smart": ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]})
    assert info.value.field == "models.smart[1].api_key"
    assert "ANTHROPIC_API_KEY" in str(info.value)


def test_one_deployment_in_two_groups_is_one_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    router = aa.Router(
        {
            "smart": ["openai/gpt-4o", "openai/gpt-4o-mini"],
            "fast": [aa.Deployment("openai/gpt-4o-mini", weight=3)],
        }
    )
    assert router.deployments["smart"][1] == router.deployments["fast"][0]
    with pytest.raises(aa.ValidationError) as info:
        aa.Router({"smart": ["openai/gpt-4o"], "fast": [aa.Deployment("openai/gpt-4o", rpm=10)]})
    assert info.value.field == "models.fast[0]"
    assert "models.smart[0]" in str(info.value)


def test_deployment_hides_its_key() -> None:
    d = aa.Deployment("openai/gpt-4o", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(d)


def test_the_routing_package_exports_the_router_names() -> None:
    import agent_adapter.routing as routing

    assert routing.Router is aa.Router
    assert routing.Deployment is aa.Deployment
    assert routing.Hedge is aa.Hedge
    assert routing.RoutedStream is RoutedStream
