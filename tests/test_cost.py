"""``response.cost``: the deployment's or client's ``aa.Price``, else genai-prices, else None."""

from __future__ import annotations

import subprocess
import sys
import types
from decimal import Decimal
from typing import Any

import pytest

import agent_adapter as aa
from agent_adapter import catalog
from agent_adapter.registry import create_adapter
from agent_adapter.testing import MockServer, Reply
from sse_builders import USER, completion, text_stream

pytestmark = pytest.mark.anyio

GPT4O = aa.Price(input=2.5, output=10.0, cached_input=1.25)
EMBEDDING = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 1000, "total_tokens": 1000},
}


def client_for(srv: MockServer, **kwargs: Any) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", **kwargs)


@pytest.fixture(autouse=True)
def no_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unless a test installs one, genai-prices is absent (whether or not it is installed)."""
    monkeypatch.setattr(catalog, "_available", False)
    monkeypatch.setattr(catalog, "_module", None)
    monkeypatch.setattr(catalog, "_misses", set())


async def test_chat_stream_and_embed_are_priced_from_the_client_prices() -> None:
    cached = completion()
    cached["usage"] = {
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "total_tokens": 1100,
        "prompt_tokens_details": {"cached_tokens": 400},
    }
    prices = {"gpt-4o": GPT4O, "openai/text-embedding-3-small": aa.Price(input=0.02, output=0)}
    async with MockServer() as srv, client_for(srv, prices=prices) as client:
        srv.enqueue(Reply.json(cached), Reply.sse(text_stream("a", "b")), Reply.json(EMBEDDING))
        chat = await client.chat(model="gpt-4o", messages=USER)
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
        embedded = await client.embed(model="text-embedding-3-small", input="x")
    assert chat.cost == pytest.approx((600 * 2.5 + 400 * 1.25 + 100 * 10.0) / 1e6)
    assert s.response.cost == pytest.approx((9 * 2.5 + 2 * 10.0) / 1e6)  # usage_chunk: 9 + 2
    assert embedded.cost == pytest.approx(1000 * 0.02 / 1e6)


async def test_the_response_model_name_is_a_price_key_too() -> None:
    async with MockServer() as srv, client_for(srv, prices={"gpt-4o-2024-08-06": GPT4O}) as c:
        srv.enqueue(Reply.json(completion()))
        response = await c.chat(model="my-alias", messages=USER)
    assert response.cost == pytest.approx((12 * 2.5 + 3 * 10.0) / 1e6)


async def test_an_unknown_price_is_none_and_hooks_see_the_cost() -> None:
    seen: list[float | None] = []

    class Costs(aa.Hooks):
        def on_end(self, call: aa.CallInfo) -> None:
            seen.append(call.cost)

    async with MockServer() as srv, client_for(srv, prices={"gpt-4o": GPT4O}) as client:
        srv.enqueue(Reply.json(completion()), Reply.json(completion()))
        assert (await client.chat(model="o3", messages=USER)).cost is None
        await client.chat(model="gpt-4o", messages=USER, hooks=[Costs()])
    assert seen == [pytest.approx((12 * 2.5 + 3 * 10.0) / 1e6)]


async def test_a_router_deployment_price_wins() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json(completion()))
        deployment = aa.Deployment(
            "openai/gpt-4o",
            api_key="sk-test",
            base_url=srv.base_url + "/v1",
            price=aa.Price(input=1.0, output=2.0),
        )
        async with aa.Router(models={"smart": [deployment]}) as router:
            response = await router.chat(model="smart", messages=USER)
    assert response.cost == pytest.approx((12 * 1.0 + 3 * 2.0) / 1e6)


def test_prices_are_checked_before_any_io() -> None:
    with pytest.raises(aa.ValidationError) as info:
        aa.Client("openai", api_key="k", prices={"gpt-4o": 2.5})  # type: ignore[dict-item]
    assert info.value.field == "prices['gpt-4o']"


class FakeCatalog(types.ModuleType):
    """Stands in for genai_prices: records each lookup, knows only gpt-4o at OpenAI."""

    def __init__(self) -> None:
        super().__init__("genai_prices")
        self.lookups: list[tuple[str, dict[str, Any]]] = []

    class Usage:
        def __init__(self, **tokens: int) -> None:
            self.tokens = tokens

    def calc_price(self, usage: Usage, model: str, **where: Any) -> Any:
        self.lookups.append((model, where))
        if model != "gpt-4o" or where.get("provider_id") != "openai":
            raise LookupError(model)
        total = Decimal(usage.tokens["input_tokens"]) * Decimal("0.0000025")
        return types.SimpleNamespace(total_price=total)


@pytest.fixture
def fake_catalog(monkeypatch: pytest.MonkeyPatch) -> FakeCatalog:
    fake = FakeCatalog()
    monkeypatch.setitem(sys.modules, "genai_prices", fake)
    monkeypatch.setattr(catalog, "_available", True)
    return fake


def test_genai_prices_is_asked_by_provider_id_on_the_providers_own_endpoint(
    fake_catalog: FakeCatalog,
) -> None:
    adapter = create_adapter("openai", api_key="k")
    usage = aa.Usage(prompt_tokens=1000, completion_tokens=10, total_tokens=1010)
    assert catalog.cost(adapter, ("gpt-4o-2024-08-06", "gpt-4o"), usage) == pytest.approx(0.0025)
    assert [m for m, _ in fake_catalog.lookups] == ["gpt-4o-2024-08-06", "gpt-4o"]
    assert fake_catalog.lookups[0][1] == {"provider_id": "openai"}
    catalog.cost(adapter, ("gpt-4o-2024-08-06",), usage)  # a miss is remembered
    assert len(fake_catalog.lookups) == 2


async def test_elsewhere_genai_prices_is_asked_by_url_and_no_match_is_none(
    fake_catalog: FakeCatalog,
) -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(completion()))
        response = await client.chat(model="gpt-4o", messages=USER)
    assert response.cost is None  # the same model name on another server is not OpenAI's price
    assert {tuple(where) for _, where in fake_catalog.lookups} == {("provider_api_url",)}


def test_real_genai_prices_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("genai_prices")
    monkeypatch.setattr(catalog, "_available", None)
    adapter = create_adapter("openai", api_key="k")
    usage = aa.Usage(
        prompt_tokens=1000, completion_tokens=100, total_tokens=1100, cached_tokens=400
    )
    found = catalog.cost(adapter, ("gpt-4o",), usage)
    assert found == pytest.approx((600 * 2.5 + 400 * 1.25 + 100 * 10.0) / 1e6)
    assert catalog.cost(adapter, ("no-such-model-anywhere",), usage) is None


def test_import_agent_adapter_pulls_no_genai_prices() -> None:
    code = (
        "import sys, agent_adapter as aa\n"
        "aa.Client('openai', api_key='k', prices={'x': aa.Price(input=1, output=1)})\n"
        "assert 'genai_prices' not in sys.modules and 'pydantic' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
