"""The Zhipu adapter over real loopback HTTP: aa.Client against the mock server."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.testing.fake_zhipu import reply as fake_reply
from test_zhipu_adapter import REASONING_STREAM, TOOL_RESPONSE, TOOL_STREAM, chunk, sse

pytestmark = pytest.mark.anyio

KEY = "test.key"
FAST = aa.RetryPolicy(max_retries=1, initial_backoff=0.01, max_backoff=0.02)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
MESSAGES = [
    {"role": "system", "content": "You are a concise weather assistant."},
    {"role": "user", "content": "北京和上海的天气怎么样？"},
]


def client_for(srv: MockServer, retry: aa.RetryPolicy = FAST) -> aa.Client:
    return aa.Client("zhipu", api_key=KEY, base_url=srv.base_url, retry=retry)


async def drain(client: aa.Client) -> None:
    async with client.stream(model="glm-4.6", messages=MESSAGES) as s:
        async for _ in s:
            pass


async def test_chat_tool_call_round_trip() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(TOOL_RESPONSE))
        r = await client.chat(
            model="glm-4.6", messages=MESSAGES, tools=[WEATHER], reasoning="high", max_tokens=512
        )
        assert r.provider == "zhipu"
        assert r.finish_reason == "tool_calls"
        assert [c.id for c in r.tool_calls] == [
            "call_3b7a2f9e1c4d4f0a8e6b",
            "call_9d1e5c7b3a2f4e6d8c0a",
        ]
        assert r.reasoning is not None
        assert r.reasoning.startswith("用户想知道")
        assert r.usage is not None
        assert r.usage.total_tokens == 298
        req = srv.requests[0]
        assert req.method == "POST"
        assert req.path == "/chat/completions"
        assert req.headers["authorization"] == "Bearer test.key"
        body = req.json()
        assert body["model"] == "glm-4.6"
        assert body["stream"] is False
        assert body["thinking"] == {"type": "enabled"}
        assert body["max_tokens"] == 512
        assert body["tool_choice"] == "auto"
        assert "tool_stream" not in body
        assert body["messages"][1] == {"role": "user", "content": "北京和上海的天气怎么样？"}

        # The next turn sends the reasoning and the calls back, then the tool results.
        srv.enqueue(
            Reply.json(
                {
                    "id": "2",
                    "model": "glm-4.6",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "北京晴，上海雨。"},
                        }
                    ],
                    "usage": {"prompt_tokens": 320, "completion_tokens": 9, "total_tokens": 329},
                }
            )
        )
        history = [
            *MESSAGES,
            r.message,
            {"role": "tool", "tool_call_id": r.tool_calls[0].id, "content": "晴，26°C"},
            {"role": "tool", "tool_call_id": r.tool_calls[1].id, "content": "小雨，22°C"},
        ]
        second = await client.chat(model="glm-4.6", messages=history, tools=[WEATHER])
        assert second.content == "北京晴，上海雨。"
        assert second.finish_reason == "stop"
        sent = srv.requests[1].json()["messages"]
        assert sent[2]["reasoning_content"] == r.reasoning
        assert sent[2]["tool_calls"][0]["function"]["arguments"] == r.tool_calls[0].arguments
        assert sent[3] == {
            "role": "tool",
            "content": "晴，26°C",
            "tool_call_id": "call_3b7a2f9e1c4d4f0a8e6b",
        }


async def test_stream_reasoning_then_text() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        # Cut the body inside a multi-byte character, sent as separate HTTP chunks.
        cut = REASONING_STREAM.index("一".encode()) + 1
        srv.enqueue(
            Reply.sse([REASONING_STREAM[:cut], REASONING_STREAM[cut:]], delay=0.01, coalesce=False)
        )
        deltas: list[str] = []
        async with client.stream(model="glm-4.6", messages=MESSAGES) as s:
            async for c in s:
                deltas.append(c.delta)
        r = s.response
        assert r.content == "1 + 1 = 2，这是基础算术。"
        assert r.reasoning == "用户问一加一。"
        assert r.finish_reason == "stop"
        assert r.usage is not None
        assert r.usage.reasoning_tokens == 16
        assert "".join(deltas) == r.content
        assert srv.requests[0].json()["stream"] is True


async def test_stream_tool_fragments_sends_tool_stream() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse([TOOL_STREAM]))
        async with client.stream(model="glm-4.6", messages=MESSAGES, tools=[WEATHER]) as s:
            async for _ in s:
                pass
        assert [c.name for c in s.response.tool_calls] == ["get_weather", "get_weather"]
        assert s.response.tool_calls[0].arguments == '{"location": "北京", "unit": "celsius"}'
        assert s.response.finish_reason == "tool_calls"
        body = srv.requests[0].json()
        assert body["tool_stream"] is True
        assert body["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "1001", aa.AuthenticationError),
        (400, "1261", aa.ContextLengthError),
        (400, "1301", aa.ContentFilterError),
        (429, "1113", aa.RateLimitError),
        (400, "1211", aa.NotFoundError),
    ],
)
async def test_http_errors_are_classified(status: int, code: str, cls: type[Exception]) -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.error(status, {"error": {"code": code, "message": "错误"}}))
        with pytest.raises(cls) as info:
            await client.chat(model="glm-4.6", messages=MESSAGES)
        assert isinstance(info.value, aa.AdapterError)
        assert info.value.code == code
        assert KEY not in str(info.value)
        assert len(srv.requests) == 1  # none of these is retried


async def test_rate_limit_is_retried_then_succeeds() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(
            Reply.error(
                429,
                {"error": {"code": "1302", "message": "Rate limit reached for requests"}},
                headers={"retry-after": "0"},
            ),
            Reply.json(TOOL_RESPONSE),
        )
        r = await client.chat(model="glm-4.6", messages=MESSAGES, tools=[WEATHER])
        assert len(r.tool_calls) == 2
        assert len(srv.requests) == 2


async def test_in_stream_error_and_truncation() -> None:
    async with MockServer() as srv, client_for(srv, aa.RetryPolicy(max_retries=0)) as client:
        blocked = {"error": {"code": "1301", "message": "x"}}
        srv.enqueue(Reply.sse([sse(chunk({"content": "你好"}), blocked)]))
        with pytest.raises(aa.AdapterError) as info:
            await drain(client)
        assert isinstance(info.value, aa.ContentFilterError | aa.StreamError)

        srv.enqueue(Reply.sse([sse(chunk({"content": "被截断"}))]))
        with pytest.raises(aa.StreamError) as truncated:
            await drain(client)
        partial: Any = truncated.value.partial
        assert partial is not None
        assert partial.content == "被截断"


async def test_embeddings() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(
            Reply.json(
                {
                    "object": "list",
                    "model": "embedding-3",
                    "data": [
                        {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                        {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
                    ],
                    "usage": {"prompt_tokens": 6, "completion_tokens": 0, "total_tokens": 6},
                }
            )
        )
        e = await client.embed(model="embedding-3", input=["第一段", "second"], dimensions=2)
        assert e.vectors == [[0.1, 0.2], [0.3, 0.4]]
        assert e.usage is not None
        assert e.usage.prompt_tokens == 6
        req = srv.requests[0]
        assert req.path == "/embeddings"
        assert req.headers["authorization"] == "Bearer test.key"
        assert req.json() == {
            "model": "embedding-3",
            "input": ["第一段", "second"],
            "dimensions": 2,
        }


async def test_against_the_fake_provider() -> None:
    """The canned fake answers a whole agent loop: tool call, tool result, answer."""
    async with MockServer(handler=fake_reply) as srv, client_for(srv) as client:
        async with client.stream(model="glm-4.6", messages=MESSAGES, tools=[WEATHER]) as s:
            async for _ in s:
                pass
        first = s.response
        assert first.finish_reason == "tool_calls"
        call = first.tool_calls[0]
        assert call.name == "get_weather"
        assert "location" in msgspec.json.decode(call.arguments)
        assert first.reasoning
        history = [
            *MESSAGES,
            first.message,
            {"role": "tool", "tool_call_id": call.id, "content": "晴，26°C"},
        ]
        second = await client.chat(model="glm-4.6", messages=history, tools=[WEATHER])
        assert "晴，26°C" in second.content
        assert second.finish_reason == "stop"
        assert second.usage is not None
        assert second.usage.total_tokens > 0
        e = await client.embed(model="embedding-3", input=["a", "b"], dimensions=4)
        assert len(e.vectors) == 2
        assert all(len(v) == 4 for v in e.vectors)
        again = await client.embed(model="embedding-3", input=["a", "b"], dimensions=4)
        assert again.vectors == e.vectors


def test_fake_provider_wants_a_key() -> None:
    body = msgspec.json.encode({"model": "glm-4.6", "messages": MESSAGES})
    request = RecordedRequest("POST", "/api/paas/v4/chat/completions", {}, [], body, 1)
    reply = fake_reply(request)
    assert reply.status == 401
    assert msgspec.json.decode(reply.body)["error"]["code"] == "1001"
