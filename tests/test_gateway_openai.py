"""The gateway's OpenAI endpoints, driven by the official ``openai`` client, on asyncio and trio.

The gateway runs for real (hypercorn on a loopback port) in front of
MockServer upstreams that answer as the fake providers do: OpenAI's format
for group ``smart``, Anthropic's for ``claude``, so a chat completion served
by Claude is checked too. The client's exception classes are the check on
our statuses and error bodies.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import openai
import pytest

from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, OTHER_KEY, UPSTREAM_ENV, config_text, make_app, running
from sse_builders import chunk

pytestmark = [
    pytest.mark.anyio,
    # On trio, the SDK's own stream generators (openai, its HTTP client) are finalized by the
    # garbage collector after a stream ends, and trio warns about each: not ours to fix.
    pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning"),
]

USER = [{"role": "user", "content": "hi"}]
WEATHER = {
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
KEYS = {
    "team-a": {"key": KEY, "models": ["smart", "claude", "embed"], "rpm": 1000},
    "team-b": {"key": OTHER_KEY, "models": ["claude"], "rpm": 1},
}


@asynccontextmanager
async def gateway(
    tmp_path: Path, backend: str, *, handler: Any = provider_reply, **options: Any
) -> AsyncIterator[tuple[openai.AsyncOpenAI, MockServer, str]]:
    """(an openai client with team-a's key, the upstream, the gateway's base URL)."""
    async with MockServer(handler=handler) as up:
        text = config_text(up.base_url, up.base_url, keys=options.pop("keys", KEYS), **options)
        async with running(make_app(tmp_path, text), backend) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
            try:
                yield client, up, url
            finally:
                await client.close()


def other(url: str, key: str = OTHER_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


async def test_chat_completion(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        r = await client.chat.completions.create(model="smart", messages=USER, max_tokens=50)
        assert r.object == "chat.completion"
        assert r.choices[0].message.content == "You said: hi"
        assert r.choices[0].finish_reason == "stop"
        assert r.usage is not None and r.usage.total_tokens > 0
        assert r.model == "gpt-4o"
        sent = up.requests[0]
        assert sent.json()["model"] == "gpt-4o"  # the group's deployment, not "smart"
        assert sent.headers["authorization"] == "Bearer " + UPSTREAM_ENV["UP_OPENAI"]
        assert KEY not in str(sent.header_list)  # the client's key never goes upstream


async def test_chat_served_by_claude_keeps_openai_shape(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        r = await client.chat.completions.create(model="claude", messages=USER, tools=[WEATHER])
        message = r.choices[0].message
        assert r.choices[0].finish_reason == "tool_calls"
        assert message.tool_calls and message.tool_calls[0].function.name == "get_weather"
        assert msgspec.json.decode(message.tool_calls[0].function.arguments) == {"city": "Paris"}
        assert up.requests[0].path == "/v1/messages"


async def test_stream_with_tools_and_usage(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, _):
        stream = await client.chat.completions.create(
            model="smart",
            messages=USER,
            tools=[WEATHER],
            tool_choice="auto",
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        assert chunks[0].choices[0].delta.role == "assistant"
        arguments = "".join(
            call.function.arguments or ""
            for c in chunks
            for choice in c.choices
            for call in choice.delta.tool_calls or ()
            if call.function is not None
        )
        first = next(
            c.choices[0].delta.tool_calls[0]
            for c in chunks
            if c.choices and c.choices[0].delta.tool_calls
        )
        assert first.id and first.type == "function"
        assert first.function is not None and first.function.name == "get_weather"
        assert msgspec.json.decode(arguments) == {"city": "example"}
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_usage_and_the_sdk_helper(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, _):
        stream = await client.chat.completions.create(model="smart", messages=USER, stream=True)
        chunks = [c async for c in stream]
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: hi"
        )
        assert all(c.usage is None for c in chunks)
        async with client.chat.completions.stream(model="claude", messages=USER) as s:
            final = await s.get_final_completion()
        assert final.choices[0].message.content == "Hello! You said: hi"


async def test_reasoning_images_and_response_format(tmp_path: Path, anyio_backend: str) -> None:
    thinking = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Let me think."}),
        chunk({"content": "42"}),
        chunk({}, "stop"),
        b"data: [DONE]\n\n",
    ]
    script = iter([Reply.sse(thinking)])

    def handler(request: Any) -> Reply:
        return next(script, None) or provider_reply(request)

    async with gateway(tmp_path, anyio_backend, handler=handler) as (client, up, _):
        stream = await client.chat.completions.create(
            model="smart", messages=USER, stream=True, reasoning_effort="low"
        )
        deltas = [c.choices[0].delta async for c in stream if c.choices]
        assert (
            "".join(getattr(d, "reasoning_content", None) or "" for d in deltas) == "Let me think."
        )
        assert up.requests[0].json()["reasoning_effort"] == "low"
        image = "data:image/png;base64,iVBORw0KGgo="
        r = await client.chat.completions.create(
            model="smart",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {"type": "image_url", "image_url": {"url": image}},
                    ],
                }
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "schema": {
                        "type": "object",
                        "properties": {"thing": {"type": "string"}},
                        "required": ["thing"],
                        "additionalProperties": False,
                    },
                },
            },
        )
        assert msgspec.json.decode(r.choices[0].message.content or "") == {"thing": "Paris"}
        sent = up.requests[1].json()
        assert sent["messages"][0]["content"][1]["image_url"]["url"] == image
        assert sent["response_format"]["type"] == "json_schema"


async def test_embeddings_float_and_base64(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, _):
        packed = await client.embeddings.create(model="embed", input=["a", "b"])  # base64 asked
        plain = await client.embeddings.create(model="embed", input="a", encoding_format="float")
        assert len(packed.data) == 2 and len(packed.data[0].embedding) == 8
        assert packed.data[0].embedding == pytest.approx(plain.data[0].embedding, abs=1e-6)
        assert packed.usage.prompt_tokens > 0


async def test_models_are_those_the_key_may_use(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, url):
        assert [m.id async for m in client.models.list()] == ["smart", "embed", "claude"]
        b = other(url)
        assert [m.id async for m in b.models.list()] == ["claude"]
        assert (await b.models.retrieve("claude")).id == "claude"
        with pytest.raises(openai.NotFoundError):
            await b.models.retrieve("smart")
        await b.close()


async def test_client_errors_have_the_sdk_classes(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, url):
        bad = other(url, "aa-not-a-key")  # a missing key: the raw-socket tests (the SDK needs one)
        with pytest.raises(openai.AuthenticationError) as auth:
            await bad.chat.completions.create(model="smart", messages=USER)
        await bad.close()
        assert auth.value.code == "invalid_api_key"
        b = other(url)
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await b.chat.completions.create(model="smart", messages=USER)
        assert denied.value.code == "model_not_allowed"
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(model="gpt-5-nonexistent", messages=USER)
        assert missing.value.code == "model_not_found"
        with pytest.raises(openai.BadRequestError) as bad_value:
            await client.chat.completions.create(model="smart", messages=USER, temperature=5)
        assert bad_value.value.param == "temperature"
        with pytest.raises(openai.BadRequestError) as unsupported:
            await client.chat.completions.create(model="smart", messages=USER, logprobs=True)
        assert unsupported.value.param == "logprobs"
        await b.chat.completions.create(model="claude", messages=USER)  # rpm = 1: the first passes
        with pytest.raises(openai.RateLimitError) as limited:
            await b.chat.completions.create(model="claude", messages=USER)
        assert int(limited.value.response.headers["retry-after"]) >= 1
        await b.close()
        assert len(up.requests) == 1  # only the one allowed call went upstream


async def test_upstream_failures_are_5xx_with_their_class(
    tmp_path: Path, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_adapter.gateway")
    secret = UPSTREAM_ENV["UP_OPENAI"]
    failures = iter(
        [
            Reply.error(
                500, {"error": {"message": f"boom for key {secret}", "type": "server_error"}}
            ),
            Reply.error(
                401,
                {"error": {"message": f"Incorrect API key {secret}", "code": "invalid_api_key"}},
            ),
            Reply.error(503, {"error": {"message": "overloaded", "type": "server_error"}}),
        ]
    )

    def handler(request: Any) -> Reply:
        return next(failures)

    async with gateway(
        tmp_path, anyio_backend, handler=handler, extra="[breaker]\nfailure_threshold = 100"
    ) as (
        client,
        _,
        _,
    ):
        with pytest.raises(openai.InternalServerError) as first:
            await client.chat.completions.create(model="smart", messages=USER)
        assert first.value.status_code == 502
        assert first.value.type == "server_error"
        assert secret not in first.value.response.text and "[redacted]" in first.value.message
        with pytest.raises(openai.InternalServerError) as second:
            await client.chat.completions.create(model="smart", messages=USER)
        assert second.value.status_code == 502 and second.value.type == "authentication_error"
        assert secret not in second.value.response.text
        with pytest.raises(openai.InternalServerError) as third:
            await client.chat.completions.create(model="smart", messages=USER)
        assert third.value.status_code == 503
    logged = [r.getMessage() for r in caplog.records if r.name == "agent_adapter.gateway"]
    assert len(logged) == 3 and "-> 502 server_error" in logged[0]
    assert all(secret not in line and KEY not in line for line in logged)


async def test_upstream_timeout_is_504(tmp_path: Path, anyio_backend: str) -> None:
    def handler(request: Any) -> Reply:
        return Reply.stall()

    async with gateway(
        tmp_path, anyio_backend, handler=handler, extra="[timeouts]\ntotal = 0.3"
    ) as (
        client,
        _,
        _,
    ):
        with pytest.raises(openai.APIStatusError) as timed_out:
            await client.chat.completions.create(model="smart", messages=USER)
        assert timed_out.value.status_code == 504
        assert timed_out.value.type == "timeout_error"


async def test_stream_failing_after_content_ends_with_an_error_event(
    tmp_path: Path, anyio_backend: str
) -> None:
    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "partial"})]

    def handler(request: Any) -> Reply:
        return Reply.reset_mid_body(events, after=2)

    async with gateway(tmp_path, anyio_backend, handler=handler) as (client, _, _):
        stream = await client.chat.completions.create(model="smart", messages=USER, stream=True)
        seen = []
        with pytest.raises(openai.APIError) as failed:
            async for c in stream:
                seen.append(c.choices[0].delta.content if c.choices else None)
        assert "partial" in seen
        assert failed.value.type in ("api_connection_error", "stream_error")


async def test_tpm_counts_the_estimate_then_the_usage(tmp_path: Path, anyio_backend: str) -> None:
    keys = {"team-a": {"key": KEY, "tpm": 300}}
    async with gateway(tmp_path, anyio_backend, keys=keys) as (client, up, _):
        for _ in range(4):  # ~110 tokens reserved each; the real usage (~10) is what stays taken
            await client.chat.completions.create(model="smart", messages=USER, max_tokens=100)
        with pytest.raises(openai.RateLimitError) as limited:  # more than a minute's tokens
            await client.chat.completions.create(model="smart", messages=USER, max_tokens=400)
        assert "rate limit of key 'team-a'" in limited.value.message
        assert int(limited.value.response.headers["retry-after"]) >= 1
        assert len(up.requests) == 4
