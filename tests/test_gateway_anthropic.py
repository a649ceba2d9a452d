"""The gateway's Anthropic endpoints, driven by the official ``anthropic`` client, both backends.

``/v1/messages`` answers in Anthropic's shape and event protocol whichever
upstream served it: the fake Anthropic provider for group ``claude`` (with
thinking blocks and their signatures, which must come back verbatim on the
next turn) and the fake OpenAI provider for group ``smart``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anthropic
import msgspec
import pytest

from agent_adapter.testing import MockServer, Reply, fake_anthropic
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, OTHER_KEY, config_text, make_app, running
from sse_builders import chunk

pytestmark = [
    pytest.mark.anyio,
    # On trio, the SDK's own stream generators are finalized by the garbage collector after a
    # stream ends, and trio warns about each: not ours to fix.
    pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning"),
]

USER = [{"role": "user", "content": "hi"}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
KEYS = {
    "team-a": {"key": KEY, "models": ["smart", "claude"]},
    "team-b": {"key": OTHER_KEY, "models": ["claude"], "rpm": 1},
}


@asynccontextmanager
async def gateway(
    tmp_path: Path, backend: str, *, handler: Any = provider_reply
) -> AsyncIterator[tuple[anthropic.AsyncAnthropic, MockServer, str]]:
    """(an anthropic client with team-a's key, the upstream, the gateway's base URL)."""
    async with MockServer(handler=handler) as up:
        text = config_text(up.base_url, up.base_url, keys=KEYS)
        async with running(make_app(tmp_path, text), backend) as url:
            client = anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0)
            try:
                yield client, up, url
            finally:
                await client.close()


async def test_messages_from_claude_and_from_openai(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        claude = await client.messages.create(model="claude", max_tokens=100, messages=USER)
        assert claude.type == "message" and claude.role == "assistant"
        assert claude.content[0].type == "text"
        assert claude.content[0].text == "Hello! You said: hi"
        assert claude.stop_reason == "end_turn"
        assert claude.usage.input_tokens > 0 and claude.usage.output_tokens > 0
        gpt = await client.messages.create(
            model="smart", max_tokens=100, system="Be brief.", messages=USER
        )
        assert gpt.content[0].type == "text" and gpt.content[0].text == "You said: hi"
        assert gpt.id.startswith("msg_")
        sent = up.requests[1].json()
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert (sent.get("max_completion_tokens") or sent.get("max_tokens")) == 100


async def test_stream_with_thinking_and_tools_round_trips(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        async with client.messages.stream(
            model="claude",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            tools=[WEATHER],
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        ) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_message()
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        assert "content_block_start" in kinds and "message_delta" in kinds
        thinking, tool = final.content
        assert thinking.type == "thinking" and thinking.signature and thinking.thinking
        assert tool.type == "tool_use" and tool.name == "get_weather"
        assert tool.input == {"city": "Paris"}
        assert final.stop_reason == "tool_use"
        assert final.usage.output_tokens > 0
        answer = await client.messages.create(
            model="claude",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            tools=[WEATHER],
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": final.content},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": tool.id, "content": "18 C"},
                    ],
                },
            ],
        )
        assert answer.content[-1].type == "text"
        turn = up.requests[1].json()["messages"][1]["content"]
        assert turn[0] == {
            "type": "thinking",
            "thinking": thinking.thinking,
            "signature": thinking.signature,
        }
        assert turn[1]["type"] == "tool_use" and turn[1]["id"] == tool.id
        result = up.requests[1].json()["messages"][2]["content"][0]
        assert result["type"] == "tool_result" and result["tool_use_id"] == tool.id


async def test_stream_from_an_openai_upstream(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, _):
        async with client.messages.stream(
            model="smart", max_tokens=100, tools=[WEATHER], messages=USER
        ) as stream:
            final = await stream.get_final_message()
        assert [b.type for b in final.content] == ["tool_use"]
        assert final.content[0].input == {"city": "example"}
        assert final.stop_reason == "tool_use"
        async with client.messages.stream(model="smart", max_tokens=100, messages=USER) as stream:
            text = "".join([t async for t in stream.text_stream])
        assert text == "You said: hi"


async def test_count_tokens_is_the_providers_count(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        raw = await client.messages.with_raw_response.count_tokens(
            model="claude", system="Be brief.", messages=USER, tools=[WEATHER]
        )
        assert "x-token-count" not in raw.headers
        assert msgspec.json.decode(await raw.read()) == {
            "input_tokens": fake_anthropic.count(up.requests[0].body)
        }
        counted = await raw.parse()
        assert counted.input_tokens == fake_anthropic.count(up.requests[0].body)
    assert [r.path for r in up.requests] == ["/v1/messages/count_tokens"]
    assert up.requests[0].headers["x-api-key"] == "sk-ant-upstream-secret"
    assert up.requests[0].json() == {
        "model": "claude-sonnet-4-5",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER],
    }


async def test_count_tokens_estimates_for_an_openai_upstream(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        raw = await client.messages.with_raw_response.count_tokens(
            model="smart", system="Be brief.", messages=USER, tools=[WEATHER]
        )
        assert raw.headers["x-token-count"] == "estimate"
        body = msgspec.json.decode(await raw.read())
        assert body["estimated"] is True
        assert 10 < body["input_tokens"] < 200
        assert (await raw.parse()).input_tokens == body["input_tokens"]
        assert up.requests == []  # no upstream call


async def test_count_tokens_upstream_failure(tmp_path: Path, anyio_backend: str) -> None:
    def handler(request: Any) -> Reply:
        error = {"type": "error", "error": {"type": "api_error", "message": "boom"}}
        return Reply.error(500, error)

    async with gateway(tmp_path, anyio_backend, handler=handler) as (client, up, url):
        with pytest.raises(anthropic.InternalServerError) as failed:
            await client.messages.count_tokens(model="claude", messages=USER)
        assert failed.value.status_code == 502
        assert failed.value.body["type"] == "error"  # type: ignore[index]
        assert "sk-ant-upstream-secret" not in failed.value.response.text
        other = anthropic.AsyncAnthropic(base_url=url, api_key=OTHER_KEY, max_retries=0)
        with pytest.raises(anthropic.PermissionDeniedError):  # team-b may not use smart
            await other.messages.count_tokens(model="smart", messages=USER)
        await other.close()
    assert [r.path for r in up.requests] == ["/v1/messages/count_tokens"]


async def test_errors_have_anthropic_shapes(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, url):
        bad = anthropic.AsyncAnthropic(base_url=url, api_key="aa-wrong", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError) as auth:
            await bad.messages.create(model="claude", max_tokens=10, messages=USER)
        assert auth.value.body == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "invalid API key"},
        }
        await bad.close()
        b = anthropic.AsyncAnthropic(base_url=url, auth_token=OTHER_KEY, max_retries=0)  # Bearer
        with pytest.raises(anthropic.PermissionDeniedError):
            await b.messages.create(model="smart", max_tokens=10, messages=USER)
        await b.messages.create(model="claude", max_tokens=10, messages=USER)
        with pytest.raises(anthropic.RateLimitError) as limited:
            await b.messages.create(model="claude", max_tokens=10, messages=USER)
        assert int(limited.value.response.headers["retry-after"]) >= 1
        await b.close()
        with pytest.raises(anthropic.NotFoundError) as missing:
            await client.messages.create(model="claude-9", max_tokens=10, messages=USER)
        assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
        with pytest.raises(anthropic.BadRequestError) as bad_value:
            await client.messages.create(
                model="claude", max_tokens=10, messages=USER, extra_body={"temperature": 5}
            )
        assert "temperature" in bad_value.value.message


async def test_upstream_failures(tmp_path: Path, anyio_backend: str) -> None:
    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "partial"})]
    replies = iter(
        [
            Reply.error(500, {"error": {"message": "boom", "type": "server_error"}}),
            Reply.reset_mid_body(events, after=2),
        ]
    )

    def handler(request: Any) -> Reply:
        return next(replies)

    async with gateway(tmp_path, anyio_backend, handler=handler) as (client, _, _):
        with pytest.raises(anthropic.InternalServerError) as failed:
            await client.messages.create(model="smart", max_tokens=10, messages=USER)
        assert failed.value.status_code == 502
        assert failed.value.body["error"]["type"] == "server_error"  # type: ignore[index]
        seen = []
        with pytest.raises(anthropic.APIStatusError) as cut:
            async with client.messages.stream(model="smart", max_tokens=10, messages=USER) as s:
                async for text in s.text_stream:
                    seen.append(text)
        assert seen == ["partial"]
        assert cut.value.body["error"]["type"] in ("api_connection_error", "stream_error")  # type: ignore[index]
