"""A Router of direct models only (``models={}``, ``allow_direct=True``), as the gateway runs bare.

Without a config file the gateway serves whatever ``provider/model`` a caller
names, for the providers whose key is in the environment; the Router then has
no groups at all, and its deployments appear as callers use them.
"""

from __future__ import annotations

import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply

pytestmark = pytest.mark.anyio


async def test_no_groups_serves_direct_models(monkeypatch: pytest.MonkeyPatch) -> None:
    async with MockServer(handler=provider_reply) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")
        async with aa.Router({}, allow_direct=True) as router:
            assert router.deployments == {}
            assert router.deployment_ids == ()
            r = await router.chat(
                model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
            assert r.content.startswith("You said: hi")
            assert router.deployment_ids == (r.deployment,)
            assert srv.requests[0].json()["model"] == "gpt-4o"


def test_no_groups_needs_allow_direct() -> None:
    with pytest.raises(aa.ValidationError, match="models"):
        aa.Router({})


def test_deployment_ids_list_the_groups_deployments() -> None:
    gpt = aa.Deployment("openai/gpt-4o", api_key="sk-a")
    llama = aa.Deployment("groq/llama", api_key="gsk-b")
    router = aa.Router({"a": [gpt], "b": [gpt, llama]})
    ids = router.deployment_ids
    assert len(ids) == 2
    assert set(ids) == {*router.deployments["a"], *router.deployments["b"]}
