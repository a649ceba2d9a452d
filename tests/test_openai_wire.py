"""The OpenAI adapter over real HTTP: MockServer + aa.Client, for OpenAI, Azure, DeepSeek, Mistral.

Each test checks both what the server received (path, auth header, body
fields) and the unified result the caller got.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.testing.fake_openai import reply as fake_reply

pytestmark = pytest.mark.anyio

_encode = msgspec.json.encode
USER = [{"role": "user", "content": "Weather in Paris?"}]
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
NO_RETRY = aa.RetryPolicy(max_retries=0)


def completion(message: dict[str, Any], finish: str = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-wire1",
        "object": "chat.completion",
        "created": 1755600000,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 7,
            "total_tokens": 27,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        **extra,
    }


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl-wire2",
        "object": "chat.completion.chunk",
        "created": 1755600100,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + _encode(body) + b"\n\n"


def usage_chunk(prompt: int, completion_tokens: int) -> bytes:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
    return b"data: " + _encode({"id": "chatcmpl-wire2", "choices": [], "usage": usage}) + b"\n\n"


DONE = b"data: [DONE]\n\n"
TOOL_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_w1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty":"Paris"}'}}]}),
    chunk({}, "tool_calls"),
    usage_chunk(30, 12),
    DONE,
]


def sent(srv: MockServer) -> tuple[RecordedRequest, dict[str, Any]]:
    assert len(srv.requests) == 1
    request = srv.requests[0]
    body: dict[str, Any] = request.json()
    return request, body


async def drain(client: aa.Client, **kw: Any) -> aa.ChatResponse:
    """Stream a call to its end and return the assembled response."""
    async with client.stream(**kw) as s:
        async for _ in s:
            pass
    return s.response


# -- OpenAI ------------------------------------------------------------------


async def test_openai_chat() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json(completion({"content": "18 °C and overcast."})))
        async with aa.Client(
            "openai", api_key="sk-wire", base_url=srv.base_url + "/v1", retry=NO_RETRY
        ) as client:
            r = await client.chat(
                model="gpt-4o",
                messages=[{"role": "developer", "content": "Be brief."}, *USER],
                max_tokens=100,
                temperature=0.3,
                seed=7,
            )
        request, body = sent(srv)
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-wire"
    assert request.headers["content-type"] == "application/json"
    assert body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        "temperature": 0.3,
        "max_completion_tokens": 100,
        "seed": 7,
    }
    assert r.content == "18 °C and overcast."
    assert r.finish_reason == "stop"
    assert r.provider == "openai"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.cached_tokens, r.usage.total_tokens) == (20, 8, 27)


async def test_openai_stream_tool_call() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(TOOL_STREAM, delay=0.001, coalesce=False))
        async with aa.Client(
            "openai", api_key="sk-wire", base_url=srv.base_url + "/v1", retry=NO_RETRY
        ) as client:
            async with client.stream(
                model="gpt-4o", messages=USER, tools=[WEATHER], tool_choice="required"
            ) as s:
                fragments = [tc async for c in s for tc in c.tool_calls or ()]
            r = s.response
        request, body = sent(srv)
    assert request.path == "/v1/chat/completions"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert [f.index for f in fragments] == [0, 0, 0]
    assert r.tool_calls == [aa.ToolCall("call_w1", "get_weather", '{"city":"Paris"}')]
    assert r.finish_reason == "tool_calls"
    assert r.usage is not None
    assert r.usage.total_tokens == 42


async def test_openai_insufficient_quota_is_not_retried() -> None:
    quota = {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    async with MockServer() as srv:
        srv.enqueue(Reply.error(429, quota, headers={"x-request-id": "req_q1"}))
        async with aa.Client(
            "openai", api_key="sk-wire", base_url=srv.base_url + "/v1", retry=3
        ) as client:
            with pytest.raises(aa.RateLimitError) as info:
                await client.chat(model="gpt-4o", messages=USER)
        assert len(srv.requests) == 1
    assert not info.value.retryable
    assert info.value.request_id == "req_q1"
    assert "sk-wire" not in str(info.value)


async def test_openai_truncated_stream_raises_stream_error() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.sse([chunk({"content": "Hel"}), chunk({"content": "lo"})]))
        async with aa.Client(
            "openai", api_key="sk-wire", base_url=srv.base_url + "/v1", retry=NO_RETRY
        ) as client:
            with pytest.raises(aa.StreamError) as info:
                await drain(client, model="gpt-4o", messages=USER)
    partial = info.value.partial
    assert partial is not None
    assert partial.content == "Hello"


async def test_openai_embeddings() -> None:
    async with MockServer() as srv:
        srv.enqueue(
            Reply.json(
                {
                    "object": "list",
                    "model": "text-embedding-3-small",
                    "data": [
                        {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
                        {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                    ],
                    "usage": {"prompt_tokens": 4, "total_tokens": 4},
                }
            )
        )
        async with aa.Client(
            "openai", api_key="sk-wire", base_url=srv.base_url + "/v1", retry=NO_RETRY
        ) as client:
            e = await client.embed(model="text-embedding-3-small", input=["a", "b"], dimensions=2)
        request, body = sent(srv)
    assert request.path == "/v1/embeddings"
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert e.vectors == [[0.1, 0.2], [0.3, 0.4]]


# -- Azure -------------------------------------------------------------------


async def test_azure_chat() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json(completion({"content": "Hi from Azure"})))
        async with aa.Client(
            "azure",
            api_key="az-key",
            base_url=srv.base_url,
            options={"api_version": "2024-10-21"},
            retry=NO_RETRY,
        ) as client:
            r = await client.chat(model="gpt4o-deploy", messages=USER, max_tokens=20)
        request, body = sent(srv)
    assert request.path == (
        "/openai/deployments/gpt4o-deploy/chat/completions?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == "az-key"
    assert "authorization" not in request.headers
    assert body["max_completion_tokens"] == 20
    assert r.content == "Hi from Azure"
    assert r.provider == "azure"


async def test_azure_stream_skips_prompt_filter_chunk() -> None:
    filter_chunk = (
        b"data: "
        + _encode(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [
                    {
                        "prompt_index": 0,
                        "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
                    }
                ],
            }
        )
        + b"\n\n"
    )
    events = [
        filter_chunk,
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Bonjour"}),
        chunk({}, "stop"),
        usage_chunk(11, 2),
        DONE,
    ]
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(events, delay=0.001))
        env = {"AZURE_OPENAI_API_KEY": "az-env", "AZURE_OPENAI_ENDPOINT": srv.base_url}
        async with aa.Client("azure", env=env, retry=NO_RETRY) as client:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                deltas = [c.delta async for c in s if c.delta]
            r = s.response
        request, body = sent(srv)
    assert request.path.startswith("/openai/deployments/gpt-4o/chat/completions?api-version=")
    assert request.headers["api-key"] == "az-env"
    assert body["stream_options"] == {"include_usage": True}
    assert deltas == ["Bonjour"]
    assert r.content == "Bonjour"
    assert r.usage is not None
    assert r.usage.total_tokens == 13


async def test_azure_content_filter_error() -> None:
    body = {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
            "content management policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        }
    }
    async with MockServer() as srv:
        srv.enqueue(Reply.error(400, body))
        async with aa.Client(
            "azure", api_key="az-key", base_url=srv.base_url, retry=NO_RETRY
        ) as client:
            with pytest.raises(aa.ContentFilterError) as info:
                await client.chat(model="gpt-4o", messages=USER)
    assert info.value.status == 400
    assert info.value.provider == "azure"


# -- DeepSeek ----------------------------------------------------------------


async def test_deepseek_chat_with_keepalive_lines_and_reasoning_echo() -> None:
    payload = b"\n\n" + _encode(
        completion(
            {"content": "It is 18 °C.", "reasoning_content": "The tool said 18."},
            usage={
                "prompt_tokens": 50,
                "completion_tokens": 9,
                "total_tokens": 59,
                "prompt_cache_hit_tokens": 32,
                "prompt_cache_miss_tokens": 18,
            },
        )
    )
    history = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Call the weather tool.",
            "tool_calls": [
                {
                    "id": "call_00_x",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_00_x", "content": '{"temp_c": 18}'},
    ]
    async with MockServer() as srv:
        srv.enqueue(Reply.raw(200, {"content-type": "application/json"}, payload))
        async with aa.Client(
            "deepseek", api_key="ds-key", base_url=srv.base_url, retry=NO_RETRY
        ) as client:
            r = await client.chat(
                model="deepseek-chat", messages=history, tools=[WEATHER], reasoning="high"
            )
        request, body = sent(srv)
    assert request.path == "/chat/completions"
    assert request.headers["authorization"] == "Bearer ds-key"
    assert body["messages"][1]["reasoning_content"] == "Call the weather tool."
    assert body["thinking"] == {"type": "enabled"}
    assert body["reasoning_effort"] == "high"
    assert r.content == "It is 18 °C."
    assert r.reasoning == "The tool said 18."
    assert r.usage is not None
    assert r.usage.cached_tokens == 32


async def test_deepseek_stream_with_keepalive_comments() -> None:
    events = [
        b": keep-alive\n\n",
        chunk({"role": "assistant", "content": None, "reasoning_content": "Think"}),
        chunk({"content": "Done."}),
        chunk({}, "stop"),
        usage_chunk(5, 4),
        DONE,
    ]
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(events, delay=0.001))
        async with aa.Client(
            "deepseek", api_key="ds-key", base_url=srv.base_url, retry=NO_RETRY
        ) as client:
            async with client.stream(model="deepseek-reasoner", messages=USER) as s:
                async for _ in s:
                    pass
            r = s.response
        _, body = sent(srv)
    assert body["stream_options"] == {"include_usage": True}
    assert r.reasoning == "Think"
    assert r.content == "Done."


# -- Mistral -----------------------------------------------------------------


async def test_mistral_chat_and_stream() -> None:
    stream_events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Bonjour"}),
        chunk(
            {},
            "stop",
            usage={"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8},
        ),
        DONE,
    ]
    async with MockServer() as srv:
        srv.enqueue(
            Reply.json(completion({"content": "Salut"}, "model_length")),
            Reply.sse(stream_events),
        )
        async with aa.Client(
            "mistral", api_key="mi-key", base_url=srv.base_url, retry=NO_RETRY
        ) as client:
            r = await client.chat(
                model="mistral-large-latest",
                messages=USER,
                tools=[WEATHER],
                tool_choice="required",
                seed=3,
                max_tokens=5,
            )
            async with client.stream(model="mistral-large-latest", messages=USER) as s:
                async for _ in s:
                    pass
            streamed = s.response
        first, second = srv.requests
    assert first.path == "/v1/chat/completions"
    assert first.headers["authorization"] == "Bearer mi-key"
    body = first.json()
    assert body["random_seed"] == 3
    assert body["tool_choice"] == "any"
    assert body["max_tokens"] == 5
    assert r.finish_reason == "length"
    assert r.raw_finish_reason == "model_length"
    stream_body = second.json()
    assert stream_body["stream"] is True
    assert "stream_options" not in stream_body
    assert streamed.content == "Bonjour"
    assert streamed.usage is not None
    assert streamed.usage.total_tokens == 8


# -- the fake server used by `agent-adapter mock` ----------------------------


async def test_fake_openai_chat_stream_and_embeddings() -> None:
    async with (
        MockServer(handler=fake_reply) as srv,
        aa.Client(
            "openai", api_key="sk-fake", base_url=srv.base_url + "/v1", retry=NO_RETRY
        ) as client,
    ):
        r = await client.chat(model="gpt-4o", messages=USER)
        assert r.content == "You said: Weather in Paris?"
        assert r.finish_reason == "stop"
        assert r.usage is not None
        assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens

        tool = await client.chat(model="gpt-4o", messages=USER, tools=[WEATHER])
        assert tool.finish_reason == "tool_calls"
        assert tool.tool_calls[0].name == "get_weather"
        assert msgspec.json.decode(tool.tool_calls[0].arguments) == {"city": "example"}

        async with client.stream(model="gpt-4o", messages=USER, tools=[WEATHER]) as s:
            async for _ in s:
                pass
        assert s.response.tool_calls[0].name == "get_weather"
        assert s.response.usage is not None

        async with client.stream(model="gpt-4o", messages=USER) as s:
            text = "".join([c.delta async for c in s])
        assert text == "You said: Weather in Paris?"

        e = await client.embed(model="text-embedding-3-small", input=["a", "b", "a"])
        assert len(e.vectors) == 3
        assert e.vectors[0] == e.vectors[2] != e.vectors[1]
        assert abs(sum(x * x for x in e.vectors[0]) - 1.0) < 1e-4


async def test_fake_openai_serves_a_compatible_preset_without_include_usage() -> None:
    async with (
        MockServer(handler=fake_reply) as srv,
        aa.Client("mistral", api_key="k", base_url=srv.base_url, retry=NO_RETRY) as client,
        client.stream(model="mistral-small", messages=USER, max_tokens=2) as s,
    ):
        async for _ in s:
            pass
    assert s.response.content == "You said:"
    assert s.response.finish_reason == "length"
    assert s.response.usage is not None
