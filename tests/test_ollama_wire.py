"""The Ollama native adapter over real loopback HTTP: aa.Client against the mock server."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake_ollama import reply as fake_reply
from test_ollama_adapter import DONE, PNG_B64, THINKING_STREAM, TOOL_STREAM, line, ndjson

pytestmark = pytest.mark.anyio

FAST = aa.RetryPolicy(max_retries=1, initial_backoff=0.01, max_backoff=0.02)
NDJSON = "application/x-ndjson"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
MESSAGES = [
    {"role": "system", "content": "You are a concise weather assistant."},
    {"role": "user", "content": "What's the weather in Toronto?"},
]


def client_for(srv: MockServer, retry: aa.RetryPolicy = FAST) -> aa.Client:
    return aa.Client("ollama", base_url=srv.base_url, retry=retry)


async def drain(client: aa.Client) -> None:
    async with client.stream(model="qwen3:8b", messages=MESSAGES) as s:
        async for _ in s:
            pass


async def test_chat_sends_stream_false_and_no_auth() -> None:
    reply = {
        "model": "qwen3:8b",
        "created_at": "2025-07-07T20:43:37.688511Z",
        "message": {
            "role": "assistant",
            "content": "It's 11°C in Toronto right now.",
            "thinking": "Answer briefly.",
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 94,
        "eval_count": 11,
    }
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(reply))
        r = await client.chat(
            model="qwen3:8b",
            messages=MESSAGES,
            temperature=0.2,
            max_tokens=512,
            reasoning="high",
            extra={"keep_alive": "10m", "options": {"num_ctx": 8192}},
        )
        assert r.provider == "ollama"
        assert r.content == "It's 11°C in Toronto right now."
        assert r.reasoning == "Answer briefly."
        assert r.finish_reason == "stop"
        assert r.usage is not None
        assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (94, 11)
        req = srv.requests[0]
        assert req.method == "POST"
        assert req.path == "/api/chat"
        assert "authorization" not in req.headers
        body = req.json()
        assert body["stream"] is False
        assert body["think"] == "high"
        assert body["keep_alive"] == "10m"
        assert body["options"] == {"temperature": 0.2, "num_predict": 512, "num_ctx": 8192}
        assert body["messages"] == MESSAGES


async def test_tool_call_round_trip_with_image() -> None:
    first_reply = {
        "model": "llava",
        "created_at": "2025-07-07T20:22:19.184789Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}],
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 169,
        "eval_count": 15,
    }
    photo = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Where is this, and what's the weather there?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_B64}},
        ],
    }
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(first_reply))
        r = await client.chat(model="llava", messages=[photo], tools=[WEATHER])
        assert r.finish_reason == "tool_calls"
        call = r.tool_calls[0]
        assert call.id.startswith("call_")
        assert msgspec.json.decode(call.arguments) == {"city": "Toronto"}
        sent = srv.requests[0].json()
        assert sent["messages"][0] == {
            "role": "user",
            "content": "Where is this, and what's the weather there?",
            "images": [PNG_B64],
        }
        assert sent["tools"][0]["function"]["name"] == "get_weather"

        srv.enqueue(Reply.json(dict(DONE, message={"role": "assistant", "content": "11°C."})))
        history = [
            photo,
            r.message,
            {"role": "tool", "tool_call_id": call.id, "content": "11 degrees celsius"},
        ]
        second = await client.chat(model="llava", messages=history, tools=[WEATHER])
        assert second.content == "11°C."
        msgs = srv.requests[1].json()["messages"]
        assert msgs[1]["tool_calls"] == [
            {"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}, "id": call.id}
        ]
        assert msgs[2] == {
            "role": "tool",
            "content": "11 degrees celsius",
            "tool_name": "get_weather",
            "tool_call_id": call.id,
        }


async def test_stream_ndjson() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        cut = THINKING_STREAM.index("こ".encode()) + 2  # inside a multi-byte character
        srv.enqueue(
            Reply.stream(
                [THINKING_STREAM[:cut], THINKING_STREAM[cut:]],
                content_type=NDJSON,
                delay=0.01,
                coalesce=False,
            )
        )
        deltas: list[str] = []
        async with client.stream(model="qwen3:8b", messages=MESSAGES, reasoning="low") as s:
            async for c in s:
                deltas.append(c.delta)
        r = s.response
        assert r.content == "こんにちは！ It's 11°C 🌤"
        assert "".join(deltas) == r.content
        assert r.reasoning == "The user wants a short greeting — in Japanese."
        assert r.finish_reason == "stop"
        assert r.usage is not None
        assert r.usage.total_tokens == 26
        body = srv.requests[0].json()
        assert body["stream"] is True
        assert body["think"] == "low"


async def test_stream_tool_calls() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.stream([TOOL_STREAM], content_type=NDJSON))
        async with client.stream(model="llama3.2", messages=MESSAGES, tools=[WEATHER]) as s:
            async for _ in s:
                pass
        assert [c.id for c in s.response.tool_calls] == ["call_k3v9x2a1", "call_p0q8w7e6"]
        assert s.response.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (404, "model 'llama9' not found, try pulling it first", aa.NotFoundError),
        (400, "invalid options", aa.BadRequestError),
        (400, "the input length exceeds the context length", aa.ContextLengthError),
    ],
)
async def test_http_errors(status: int, message: str, cls: type[Exception]) -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.error(status, {"error": message}))
        with pytest.raises(cls) as info:
            await client.chat(model="llama9", messages=MESSAGES)
        assert isinstance(info.value, aa.AdapterError)
        assert info.value.status == status
        assert len(srv.requests) == 1


async def test_server_error_is_retried() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(
            Reply.error(500, {"error": "llama runner process has terminated"}),
            Reply.json(dict(DONE, message={"role": "assistant", "content": "ok"})),
        )
        r = await client.chat(model="qwen3:8b", messages=MESSAGES)
        assert r.content == "ok"
        assert len(srv.requests) == 2


async def test_in_stream_error_and_truncation() -> None:
    async with MockServer() as srv, client_for(srv, aa.RetryPolicy(max_retries=0)) as client:
        error = b'{"error":"an error was encountered while running the model"}\n'
        srv.enqueue(Reply.stream([ndjson(line(" Yes")) + error], content_type=NDJSON))
        with pytest.raises(aa.AdapterError) as info:
            await drain(client)
        assert isinstance(info.value, aa.ServerError | aa.StreamError)
        assert "running the model" in str(info.value) or info.value.__cause__ is not None

        srv.enqueue(Reply.stream([ndjson(line("Hel"), line("lo"))], content_type=NDJSON))
        with pytest.raises(aa.StreamError) as truncated:
            await drain(client)
        partial: Any = truncated.value.partial
        assert partial is not None
        assert partial.content == "Hello"


async def test_embeddings() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(
            Reply.json(
                {
                    "model": "all-minilm",
                    "embeddings": [[0.01, -0.02], [0.03, 0.04]],
                    "prompt_eval_count": 16,
                }
            )
        )
        e = await client.embed(
            model="all-minilm",
            input=["Why is the sky blue?", "Why is the grass green?"],
            dimensions=2,
            extra={"truncate": True},
        )
        assert e.vectors == [[0.01, -0.02], [0.03, 0.04]]
        assert e.usage is not None
        assert e.usage.prompt_tokens == 16
        req = srv.requests[0]
        assert req.path == "/api/embed"
        assert "authorization" not in req.headers
        assert req.json() == {
            "model": "all-minilm",
            "input": ["Why is the sky blue?", "Why is the grass green?"],
            "dimensions": 2,
            "truncate": True,
        }


async def test_against_the_fake_provider() -> None:
    """The canned fake answers a whole agent loop, streamed and not."""
    async with MockServer(handler=fake_reply) as srv, client_for(srv) as client:
        async with client.stream(
            model="qwen3:8b", messages=MESSAGES, tools=[WEATHER], reasoning="medium"
        ) as s:
            async for _ in s:
                pass
        first = s.response
        assert first.finish_reason == "tool_calls"
        assert first.reasoning
        call = first.tool_calls[0]
        assert call.name == "get_weather"
        assert "city" in msgspec.json.decode(call.arguments)
        history = [
            *MESSAGES,
            first.message,
            {"role": "tool", "tool_call_id": call.id, "content": "11 degrees celsius"},
        ]
        second = await client.chat(model="qwen3:8b", messages=history, tools=[WEATHER])
        assert "11 degrees celsius" in second.content
        assert second.finish_reason == "stop"
        assert second.usage is not None
        assert second.usage.completion_tokens > 0
        sent = srv.requests[1].json()
        assert sent["messages"][3]["tool_name"] == "get_weather"
        e = await client.embed(model="all-minilm", input=["a", "b", "c"])
        assert len(e.vectors) == 3
        assert e.vectors[0] != e.vectors[1]
        again = await client.embed(model="all-minilm", input=["a"])
        assert again.vectors[0] == e.vectors[0]


@pytest.mark.anyio
async def test_last_line_without_newline_still_delivers_usage_and_finish() -> None:
    lines = [
        b'{"model":"llama3.2","created_at":"2026-11-21T00:00:00Z","message":{"role":"assistant","content":"Hi"},"done":false}\n',
        b'{"model":"llama3.2","created_at":"2026-11-21T00:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":7,"eval_count":2}',
    ]  # fmt: skip
    async with MockServer() as srv, aa.Client("ollama", base_url=srv.base_url) as client:
        srv.enqueue(Reply.stream(lines, content_type="application/x-ndjson"))
        async with client.stream(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}]
        ) as s:
            text = "".join([c.delta async for c in s])
        assert text == "Hi"
        assert s.response.finish_reason == "stop"
        assert s.response.usage is not None
        assert s.response.usage.total_tokens == 9
