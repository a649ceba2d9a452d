"""The Anthropic adapter over real loopback HTTP: aa.Client against the mock server."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake_anthropic import reply as fake_reply
from test_anthropic_adapter import (
    ERROR_STREAM,
    RESPONSE_THINKING_TOOL,
    SIG,
    TEXT_STREAM,
    TOOL_STREAM,
    UNICODE_STREAM,
    message_start,
    sse,
)

pytestmark = pytest.mark.anyio

KEY = "sk-ant-test"
FAST = aa.RetryPolicy(max_retries=1, initial_backoff=0.01, max_backoff=0.02)
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
MESSAGES = [
    {"role": "system", "content": "You are a concise weather assistant."},
    {"role": "user", "content": "What's the weather in Paris?"},
]
OVERLOADED = {
    "type": "error",
    "error": {"type": "overloaded_error", "message": "Overloaded"},
    "request_id": "req_011CWb4zQm5nT8pKx2Ls7VrE",
}


def client_for(srv: MockServer, retry: aa.RetryPolicy = FAST) -> aa.Client:
    return aa.Client("anthropic", api_key=KEY, base_url=srv.base_url, retry=retry)


async def drain(client: aa.Client, seen: list[str]) -> None:
    async with client.stream(model="claude-sonnet-4-5", messages=MESSAGES) as s:
        async for chunk in s:
            seen.append(chunk.delta)


def pieces(data: bytes) -> list[bytes]:
    """The stream cut at awkward places: inside UTF-8 sequences, between CR and LF, mid-JSON."""
    cuts = {7, 61, len(data) // 2, len(data) - 5}
    for i in range(len(data) - 1):
        if data[i] == 0x0D or (data[i] >= 0xC0 and len(cuts) < 40):
            cuts.add(i + 1)
    points = sorted(c for c in cuts if 0 < c < len(data))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


async def test_chat_request_on_the_wire_and_unified_result() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(RESPONSE_THINKING_TOOL, headers={"request-id": "req_1"}))
        r = await client.chat(
            model="claude-sonnet-4-5",
            messages=MESSAGES,
            tools=[WEATHER],
            max_tokens=3000,
            reasoning={"budget_tokens": 2048},
            stop=["END"],
        )
    sent = srv.requests[0]
    assert sent.method == "POST"
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    body = sent.json()
    assert body["model"] == "claude-sonnet-4-5"
    assert body["max_tokens"] == 3000
    assert body["system"] == "You are a concise weather assistant."
    assert body["messages"] == [{"role": "user", "content": "What's the weather in Paris?"}]
    assert body["tools"][0]["name"] == "get_weather"
    assert body["tools"][0]["input_schema"]["required"] == ["city"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["stop_sequences"] == ["END"]
    assert "stream" not in body
    assert r.provider == "anthropic"
    assert r.content == "Let me check."
    assert r.reasoning_signature == SIG
    assert r.finish_reason == "tool_calls"
    assert [(c.name, msgspec.json.decode(c.arguments)) for c in r.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})
    ]
    assert r.usage is not None
    assert r.usage.prompt_tokens == 612 + 1840
    assert r.usage.cached_tokens == 1840


async def test_stream_split_at_awkward_boundaries() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(pieces(TOOL_STREAM), delay=0.001, coalesce=False))
        async with client.stream(
            model="claude-sonnet-4-5", messages=MESSAGES, tools=[WEATHER], max_tokens=100
        ) as s:
            deltas = [chunk async for chunk in s]
        r = s.response
    sent = srv.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json()["stream"] is True
    assert any(c.reasoning for c in deltas)
    assert r.content == "Let me check."
    assert r.reasoning == "The user asks about Paris. I'll call get_weather."
    assert r.reasoning_signature == SIG
    assert r.tool_calls[0].id == "toolu_01A09q90qw90lq917835lq9"
    assert msgspec.json.decode(r.tool_calls[0].arguments) == {"city": "Paris", "unit": "celsius"}
    assert r.finish_reason == "tool_calls"
    assert r.usage is not None
    assert r.usage.completion_tokens == 96


async def test_unicode_crlf_stream_byte_by_byte() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        chunks = [UNICODE_STREAM[i : i + 1] for i in range(len(UNICODE_STREAM))]
        srv.enqueue(Reply.sse(chunks, coalesce=False))
        async with client.stream(model="claude-haiku-4-5", messages=MESSAGES) as s:
            text = "".join([c.delta async for c in s])
    assert text == "Grüße aus Köln — 東京は晴れ 🌤️, naïve café ✓"
    assert s.response.finish_reason == "stop"


async def test_529_overloaded_is_retried() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(
            Reply.error(529, OVERLOADED, headers={"request-id": "req_x"}),
            Reply.json(RESPONSE_THINKING_TOOL),
        )
        with anyio.fail_after(5):
            r = await client.chat(model="claude-sonnet-4-5", messages=MESSAGES, tools=[WEATHER])
    assert len(srv.requests) == 2
    assert r.tool_calls


async def test_overloaded_event_before_content_retries_the_stream() -> None:
    early_error = sse(message_start(), {"type": "error", "error": OVERLOADED["error"]})
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse([early_error]), Reply.sse([TEXT_STREAM]))
        with anyio.fail_after(5):
            async with client.stream(model="claude-sonnet-4-5", messages=MESSAGES) as s:
                text = "".join([c.delta async for c in s])
    assert text == "Hello there!"
    assert len(srv.requests) == 2


async def test_overloaded_event_after_content_is_stream_error_with_partial() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        head, _, tail = ERROR_STREAM.partition(b"event: error")
        srv.enqueue(Reply.sse([head, b"event: error" + tail], delay=0.05, coalesce=False))
        seen: list[str] = []
        with pytest.raises(aa.StreamError) as info:
            await drain(client, seen)
    assert "".join(seen) == "Sure, here is"
    assert info.value.partial is not None
    assert info.value.partial.content == "Sure, here is"
    assert len(srv.requests) == 1


async def test_error_event_in_the_same_read_as_content_is_retried() -> None:
    # Nothing reached the caller yet, so the overload is retried like a 529.
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse([ERROR_STREAM]), Reply.sse([TEXT_STREAM]))
        seen: list[str] = []
        with anyio.fail_after(5):
            await drain(client, seen)
    assert "".join(seen) == "Hello there!"
    assert len(srv.requests) == 2


async def test_truncated_stream_is_stream_error() -> None:
    cut = TEXT_STREAM[: TEXT_STREAM.index(b"event: message_stop")]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse([cut]))
        with pytest.raises(aa.StreamError):
            await drain(client, [])


@pytest.mark.parametrize(
    ("status", "kind", "message", "headers", "cls", "requests"),
    [
        (400, "invalid_request_error", "prompt is too long: 210883 tokens > 199999 maximum", {},
         aa.ContextLengthError, 1),
        (401, "authentication_error", "invalid x-api-key", {}, aa.AuthenticationError, 1),
        (429, "rate_limit_error", "monthly spend cap", {}, aa.RateLimitError, 1),
        (429, "rate_limit_error", "rate limited", {"retry-after": "0.05"}, aa.RateLimitError, 2),
    ],
)  # fmt: skip
async def test_error_statuses(
    status: int,
    kind: str,
    message: str,
    headers: dict[str, str],
    cls: type[aa.AdapterError],
    requests: int,
) -> None:
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    async with MockServer() as srv, client_for(srv) as client:
        reply = Reply.error(status, body, headers={"request-id": "req_err", **headers})
        srv.enqueue(reply, reply)
        with pytest.raises(cls) as info, anyio.fail_after(5):
            await client.chat(model="claude-sonnet-4-5", messages=MESSAGES)
    assert info.value.status == status
    assert info.value.request_id == "req_err"
    assert info.value.message == message
    assert len(srv.requests) == requests


async def test_tool_loop_against_the_fake_provider() -> None:
    async with MockServer(handler=fake_reply) as srv, client_for(srv) as client:
        first = await client.chat(
            model="claude-sonnet-4-5",
            messages=MESSAGES,
            tools=[WEATHER],
            reasoning={"budget_tokens": 1024},
        )
        assert first.tool_calls
        assert first.reasoning_signature
        history: list[Any] = [
            *MESSAGES,
            first.message,
            {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "18°C"},
        ]
        async with client.stream(
            model="claude-sonnet-4-5",
            messages=history,
            tools=[WEATHER],
            reasoning={"budget_tokens": 1024},
        ) as s:
            async for _ in s:
                pass
    second = srv.requests[1].json()
    assistant = second["messages"][1]["content"]
    assert assistant[0]["type"] == "thinking"
    assert assistant[0]["signature"] == first.reasoning_signature
    assert assistant[-1]["type"] == "tool_use"
    assert second["messages"][2]["content"][0]["type"] == "tool_result"
    assert s.response.content.startswith("Thanks")
    assert s.response.finish_reason == "stop"
