"""Switching providers is a change of the model string: one agent loop, every wire format.

The same conversation (a user turn with an image, a tool call, its result, a
final answer) runs through each native adapter and the OpenAI adapter against
the fake provider of that wire format, over real loopback HTTP, streamed and
not. What comes back has the same shape whichever provider produced it.
"""

from __future__ import annotations

from typing import Any

import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply

pytestmark = pytest.mark.anyio

PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
    "hgGAWjR9awAAAABJRU5ErkJggg=="
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
PROVIDERS = {
    # provider: (model, base URL suffix on the mock server, key)
    "openai": ("gpt-4o", "/v1", "sk-test"),
    "anthropic": ("claude-sonnet-4-5", "", "sk-ant-test"),
    "gemini": ("gemini-2.5-flash", "", "test-key"),
    "zhipu": ("glm-4.6", "/api/paas/v4", "id.secret"),
    "ollama": ("llama3.2", "", None),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_one_agent_loop_runs_on_every_provider(provider: str, streamed: bool) -> None:
    model, suffix, key = PROVIDERS[provider]
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is the weather in Paris? Here is the sky."},
                {"type": "image_url", "image_url": {"url": PNG}},
            ],
        }
    ]
    async with (
        MockServer(handler=provider_reply) as srv,
        aa.Client(provider, api_key=key, base_url=srv.base_url + suffix) as client,
    ):

        async def turn() -> aa.ChatResponse:
            if not streamed:
                return await client.chat(model=model, messages=messages, tools=TOOLS)
            async with client.stream(model=model, messages=messages, tools=TOOLS) as s:
                async for _ in s:
                    pass
            return s.response

        first = await turn()
        assert first.finish_reason == "tool_calls"
        assert first.provider == provider
        assert [call.name for call in first.tool_calls] == ["get_weather"]
        call = first.tool_calls[0]
        assert call.id
        assert aa.ToolCall is type(call)
        messages.append(first.message)
        messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'})

        second = await turn()
        assert second.finish_reason == "stop"
        assert second.content
        assert not second.tool_calls
        assert second.usage is not None
        assert second.usage.total_tokens == second.usage.prompt_tokens + (
            second.usage.completion_tokens
        )
    assert len(srv.requests) == 2
    # The second request carried the tool call and its result back in the provider's shape.
    sent = srv.requests[1].body
    assert call.name.encode() in sent
    assert b"18" in sent


WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="


@pytest.mark.parametrize(
    ("provider", "call", "field"),
    [
        ("anthropic", "embed", "model"),
        ("anthropic", "audio", "messages[0].content[1]"),
        ("ollama", "audio", "messages[0].content[1]"),
        ("deepseek", "image", "messages[0].content[1]"),
    ],
)
async def test_asking_a_provider_for_what_it_lacks_fails_before_any_io(
    provider: str, call: str, field: str
) -> None:
    parts: dict[str, Any] = {
        "audio": {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
        "image": {"type": "image_url", "image_url": {"url": PNG}},
    }
    async with MockServer(handler=provider_reply) as srv:
        async with aa.Client(provider, api_key="k", base_url=srv.base_url) as client:
            with pytest.raises(aa.ValidationError) as info:
                if call == "embed":
                    await client.embed(model="m", input=["x"])
                else:
                    content = [{"type": "text", "text": "listen"}, parts[call]]
                    await client.chat(model="m", messages=[{"role": "user", "content": content}])
            assert info.value.field == field
        assert srv.requests == []
