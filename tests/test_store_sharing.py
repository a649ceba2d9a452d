"""``store=`` on Client and Router: gates built on one store under one key share their counters.

These run on ``MemoryStore`` (two clients in one process); the same plumbing
shares limits between processes with ``aa.RedisStore`` (test_redis_store.py).
"""

from __future__ import annotations

from typing import Any

import pytest

import agent_adapter as aa
from agent_adapter.resilience import RateLimiter
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from sse_builders import USER, completion

pytestmark = pytest.mark.anyio


def client_for(srv: MockServer, **kwargs: Any) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", **kwargs)


async def test_two_clients_on_one_store_share_one_rate_limit() -> None:
    store = aa.MemoryStore()
    limit = aa.RateLimit(rpm=2, max_wait=0)
    async with (
        MockServer(lambda _: Reply.json(completion())) as srv,
        client_for(srv, store=store, rate_limit=limit) as a,
        client_for(srv, store=store, rate_limit=limit) as b,
        client_for(srv, store=store, rate_limit=limit, store_key="another") as c,
    ):
        assert a.store is store and a.rate_limiter is not None
        await a.chat(model="gpt-4o", messages=USER)
        await b.chat(model="gpt-4o", messages=USER)
        with pytest.raises(aa.RateLimitError) as refused:
            await a.chat(model="gpt-4o", messages=USER)
        assert refused.value.local
        await c.chat(model="gpt-4o", messages=USER)  # its own key: its own buckets
        assert len(srv.requests) == 3


async def test_two_clients_on_one_store_share_one_concurrency_counter() -> None:
    store = aa.MemoryStore()
    async with (
        MockServer(lambda _: Reply.json(completion())) as srv,
        client_for(srv, store=store, max_concurrency=3) as a,
        client_for(srv, store=store, max_concurrency=3) as b,
    ):
        assert a.concurrency is not None and b.concurrency is not None
        assert a.concurrency._key == b.concurrency._key
        assert a.concurrency._key.startswith("concurrency:openai:*@http://127.0.0.1:")


def test_store_settings_are_checked_naming_the_keyword() -> None:
    store = aa.MemoryStore()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"store": object()}, "store"),
        ({"store_key": "k"}, "store_key"),
        ({"store": store, "store_key": ""}, "store_key"),
        ({"store": store, "breaker": aa.CircuitBreaker()}, "breaker"),
        ({"store": store, "rate_limit": RateLimiter(aa.RateLimit(rpm=1))}, "rate_limit"),
    ]
    for kwargs, field in cases:
        with pytest.raises(aa.ValidationError) as error:
            aa.Client("openai", api_key="sk-test", **kwargs)
        assert error.value.field == field, kwargs
    shared = aa.Client(
        "openai", api_key="sk-test", store=store, breaker=aa.CircuitBreaker(store=store)
    )
    assert shared.breaker is not None


async def test_a_router_keys_each_deployments_counters_by_its_id_in_its_store() -> None:
    store = aa.MemoryStore()
    async with MockServer(handler=provider_reply) as srv:
        base = srv.base_url + "/v1"

        def router() -> aa.Router:
            return aa.Router(
                {
                    "smart": [
                        aa.Deployment("openai/gpt-4o", api_key="sk-a", base_url=base, rpm=1),
                        aa.Deployment("openai/gpt-4o-mini", api_key="sk-a", base_url=base, rpm=1),
                    ]
                },
                store=store,
                retry=0,
            )

        async with router() as one, router() as two:
            assert one.breaker is not None and one.breaker._store is store
            first, second = one.deployments["smart"]
            limiter = one._targets[first].limiter
            assert limiter is not None and limiter._requests.key == f"ratelimit:{first}:requests"
            await one.chat(model="smart", messages=USER)  # takes gpt-4o's only request
            await two.chat(model="smart", messages=USER)  # the other router sees it: the mini
            models = [r.json()["model"] for r in srv.requests]
            assert models == ["gpt-4o", "gpt-4o-mini"]
            assert second.startswith("openai:gpt-4o-mini@")
