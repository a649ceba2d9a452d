"""Token counting: the provider's own count where it has an endpoint, else our estimate, marked.

The adapters' counting requests are checked sans-IO (URL, headers, body);
``Client.count_tokens`` and ``Router.count_tokens`` run over real loopback
HTTP against the fake providers, whose counts are deterministic
(``fake_anthropic.count``, ``fake_gemini.count``), on both backends.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.counting import estimate_input_tokens
from agent_adapter.errors import ServerError
from agent_adapter.providers.anthropic import AnthropicAdapter
from agent_adapter.providers.gemini import GeminiAdapter
from agent_adapter.registry import create_adapter
from agent_adapter.testing import MockServer, Reply, fake_anthropic, fake_gemini
from agent_adapter.testing.fake import provider_reply
from agent_adapter.testing.replies import RecordedRequest
from agent_adapter.validation import build_chat_request

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the weather in Paris?"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def _request(model: str, **params: Any) -> aa.ChatRequest:
    return build_chat_request(model, MESSAGES, tools=TOOLS, **params)


# -- adapters, sans-IO -----------------------------------------------------------------


def test_anthropic_counts_the_prompt_fields_of_a_messages_body() -> None:
    adapter = AnthropicAdapter(name="anthropic", base_url="https://api.anthropic.com/", api_key="k")
    request = _request(
        "claude-sonnet-4-5",
        max_tokens=3000,
        top_p=0.9,
        reasoning={"budget_tokens": 2048},
        tool_choice="auto",
        user="u-1",
        extra_headers={"anthropic-beta": "some-beta"},
    )
    http = adapter.build_count(request)
    assert http is not None
    assert (http.method, http.url) == ("POST", "https://api.anthropic.com/v1/messages/count_tokens")
    headers = dict(http.headers)
    assert headers[b"x-api-key"] == b"k" and headers[b"anthropic-version"] == b"2023-06-01"
    assert headers[b"accept"] == b"application/json"
    assert headers[b"anthropic-beta"] == b"some-beta"
    body = msgspec.json.decode(http.body)
    messages_body = msgspec.json.decode(adapter.encode(request).body)
    # The same encoding as the Messages request, minus what the endpoint rejects.
    assert set(body) == {"model", "system", "messages", "tools", "tool_choice", "thinking"}
    assert {k: messages_body[k] for k in body} == body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["system"] == "Be brief."
    assert adapter.decode_count(200, [], b'{"input_tokens": 42}') == 42


def test_anthropic_malformed_count_is_a_server_error() -> None:
    adapter = AnthropicAdapter(name="anthropic", base_url="https://api.anthropic.com", api_key="k")
    with pytest.raises(ServerError) as caught:
        adapter.decode_count(200, [], b"<html>")
    assert caught.value.retryable is False and "token count" in caught.value.message


def test_gemini_wraps_the_generate_content_body_with_its_model() -> None:
    adapter = GeminiAdapter(
        name="gemini", base_url="https://generativelanguage.googleapis.com", api_key="AIza-k"
    )
    request = _request("gemini-2.5-flash", max_tokens=100)
    http = adapter.build_count(request)
    assert http is not None
    assert http.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens"
    )
    assert dict(http.headers)[b"x-goog-api-key"] == b"AIza-k"
    body = msgspec.json.decode(http.body)
    assert list(body) == ["generateContentRequest"]
    inner = body["generateContentRequest"]
    assert inner.pop("model") == "models/gemini-2.5-flash"
    assert inner == msgspec.json.decode(adapter.encode(request).body)
    assert inner["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert inner["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    reply = b'{"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}]}'
    assert adapter.decode_count(200, [], reply) == 31
    with pytest.raises(ServerError):
        adapter.decode_count(200, [], b'{"cachedContentTokenCount": 3}')


@pytest.mark.parametrize("provider", ["openai", "groq", "ollama", "zhipu"])
def test_openai_format_providers_have_no_counting_endpoint(provider: str) -> None:
    adapter = create_adapter(provider, api_key="k", base_url="http://localhost:1")
    assert adapter.build_count(_request("some-model")) is None


# -- Client and Router, over loopback ---------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("provider", "model", "path", "count"),
    [
        (
            "anthropic",
            "claude-sonnet-4-5",
            "/v1/messages/count_tokens",
            fake_anthropic.count,
        ),
        (
            "gemini",
            "gemini-2.5-flash",
            "/v1beta/models/gemini-2.5-flash:countTokens",
            fake_gemini.count,
        ),
    ],
)
async def test_client_counts_with_the_provider(
    provider: str, model: str, path: str, count: Any, anyio_backend: str
) -> None:
    async with (
        MockServer(handler=provider_reply) as up,
        aa.Client(provider, api_key="k", base_url=up.base_url, retry=0) as client,
    ):
        counted = await client.count_tokens(model=model, messages=MESSAGES, tools=TOOLS)
    assert isinstance(counted, aa.TokenCount)
    assert [r.path for r in up.requests] == [path]
    assert counted == aa.TokenCount(input_tokens=count(up.requests[0].body), estimated=False)


@pytest.mark.anyio
async def test_client_estimates_for_openai_without_a_request(anyio_backend: str) -> None:
    async with (
        MockServer(handler=provider_reply) as up,
        aa.Client("openai", api_key="k", base_url=up.base_url + "/v1") as client,
    ):
        counted = await client.count_tokens(
            model="gpt-4o", messages=MESSAGES, tools=TOOLS, max_tokens=50
        )
    expected = estimate_input_tokens(_request("gpt-4o", max_tokens=50))
    assert counted == aa.TokenCount(input_tokens=expected, estimated=True)
    assert expected > 10
    assert up.requests == []


@pytest.mark.anyio
async def test_client_count_errors_map_and_retry_as_chat(anyio_backend: str) -> None:
    def failing(request: RecordedRequest) -> Reply:
        return Reply.error(
            503, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        )

    async with (
        MockServer(handler=failing) as up,
        aa.Client(
            "anthropic",
            api_key="sk-ant-secret-key",
            base_url=up.base_url,
            retry=aa.RetryPolicy(max_retries=1, initial_backoff=0.0, max_backoff=0.0),
        ) as client,
    ):
        with pytest.raises(ServerError) as caught:
            await client.count_tokens(model="claude-sonnet-4-5", messages=MESSAGES)
    assert caught.value.status == 503 and caught.value.provider == "anthropic"
    assert len(up.requests) == 2  # the client's retry policy applies
    assert "sk-ant-secret-key" not in repr(caught.value) + str(caught.value)


@pytest.mark.anyio
async def test_client_count_rejects_bad_input_before_io(anyio_backend: str) -> None:
    async with (
        MockServer(handler=provider_reply) as up,
        aa.Client("anthropic", api_key="k", base_url=up.base_url) as client,
    ):
        with pytest.raises(aa.ValidationError) as caught:
            await client.count_tokens(model="claude-sonnet-4-5", messages=MESSAGES, nope=1)
    assert caught.value.field == "nope"
    assert up.requests == []


@pytest.mark.anyio
async def test_router_counts_on_the_first_deployment(anyio_backend: str) -> None:
    async with MockServer(handler=provider_reply) as up:
        claude = aa.Deployment("anthropic/claude-sonnet-4-5", base_url=up.base_url, api_key="k")
        gpt = aa.Deployment("openai/gpt-4o", base_url=up.base_url + "/v1", api_key="k")
        async with aa.Router(models={"claude": [claude, gpt], "smart": [gpt, claude]}) as router:
            provider = await router.count_tokens(model="claude", messages=MESSAGES)
            estimate = await router.count_tokens(model="smart", messages=MESSAGES)
    assert [r.path for r in up.requests] == ["/v1/messages/count_tokens"]
    assert up.requests[0].json()["model"] == "claude-sonnet-4-5"
    assert provider == aa.TokenCount(
        input_tokens=fake_anthropic.count(up.requests[0].body), estimated=False
    )
    expected = estimate_input_tokens(build_chat_request("gpt-4o", MESSAGES))
    assert estimate == aa.TokenCount(input_tokens=expected, estimated=True)


def test_sync_client_counts_too() -> None:
    async def scenario() -> None:
        async with MockServer(handler=provider_reply) as up:

            def blocking() -> aa.TokenCount:
                with aa.SyncClient("anthropic", api_key="k", base_url=up.base_url) as client:
                    return client.count_tokens(model="claude-sonnet-4-5", messages=MESSAGES)

            counted = await anyio.to_thread.run_sync(blocking)
            assert counted.input_tokens == fake_anthropic.count(up.requests[0].body)
            assert not counted.estimated

    anyio.run(scenario)
