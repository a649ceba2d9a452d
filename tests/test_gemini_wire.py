"""The Gemini adapter over real HTTP: ``aa.Client("gemini")`` against the mock server."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake_gemini import reply as fake_reply

pytestmark = pytest.mark.anyio

KEY = "test-key"
CHAT_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
SIGNATURE = "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbd"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
FAST_RETRY = aa.RetryPolicy(max_retries=2, initial_backoff=0.0, max_backoff=0.0)


def client(srv: MockServer, **kw: Any) -> aa.Client:
    return aa.Client("gemini", api_key=KEY, base_url=srv.base_url, **kw)


def candidate(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return cand


def response(
    parts: list[dict[str, Any]], finish: str | None = "STOP", **usage: int
) -> dict[str, Any]:
    return {
        "candidates": [candidate(parts, finish)],
        "usageMetadata": {
            "promptTokenCount": usage.get("prompt", 10),
            "candidatesTokenCount": usage.get("out", 5),
            "thoughtsTokenCount": usage.get("thoughts", 0),
            "totalTokenCount": sum(
                usage.get(k, d) for k, d in (("prompt", 10), ("out", 5), ("thoughts", 0))
            ),
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "wireR1",
    }


def event(obj: Any) -> bytes:
    return b"data: " + msgspec.json.encode(obj) + b"\r\n\r\n"


async def consume(c: aa.Client, **kw: Any) -> aa.ChatStream:
    """Read a whole stream, as an agent loop would."""
    async with c.stream(**kw) as s:
        async for _ in s:
            pass
    return s


def split_awkwardly(data: bytes) -> list[bytes]:
    """Cut inside CRLFs and multi-byte characters, and every few bytes elsewhere."""
    cuts = {i + 1 for i in range(len(data)) if data[i] in (0x0D, 0xC3, 0xE2, 0xF0)}
    cuts |= set(range(7, len(data), 23))
    points = sorted(c for c in cuts if 0 < c < len(data))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


async def test_chat_tool_call_round_trip() -> None:
    async with MockServer() as srv, client(srv) as c:
        srv.enqueue(
            Reply.json(
                response(
                    [
                        {"text": "Need the weather.", "thought": True},
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": SIGNATURE,
                        },
                    ],
                    thoughts=30,
                )
            )
        )
        history: list[Any] = [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris?"},
        ]
        r = await c.chat(
            model="gemini-2.5-flash",
            messages=history,
            tools=[WEATHER],
            tool_choice="required",
            max_tokens=256,
            temperature=0.2,
            reasoning="low",
        )
        sent = srv.requests[0]
        assert sent.method == "POST"
        assert sent.path == CHAT_PATH
        assert sent.headers["x-goog-api-key"] == KEY
        assert "authorization" not in sent.headers
        assert KEY not in sent.path
        body = sent.json()
        assert body["systemInstruction"] == {"parts": [{"text": "You are a weather bot."}]}
        assert body["contents"] == [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]
        assert body["tools"][0]["functionDeclarations"][0]["parameters"] == {
            "type": "OBJECT",
            "properties": {"city": {"type": "STRING"}},
            "required": ["city"],
        }
        assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
        assert body["generationConfig"] == {
            "temperature": 0.2,
            "maxOutputTokens": 256,
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
        }

        assert r.finish_reason == "tool_calls"
        assert r.provider == "gemini"
        assert r.reasoning == "Need the weather."
        (call,) = r.tool_calls
        assert call.signature == SIGNATURE
        assert call.name == "get_weather"
        assert msgspec.json.decode(call.arguments) == {"city": "Paris"}
        assert call.id == "gcall_wireR1_0"
        assert r.usage is not None
        assert r.usage.completion_tokens == 35
        assert r.usage.reasoning_tokens == 30

        # Second turn: the answer goes back with its signature; the result is matched by name.
        srv.enqueue(Reply.json(response([{"text": "18°C and cloudy in Paris."}])))
        history += [
            r.message,
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
        ]
        r2 = await c.chat(model="gemini-2.5-flash", messages=history, tools=[WEATHER])
        contents = srv.requests[1].json()["contents"]
        assert contents[1] == {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": SIGNATURE,
                }
            ],
        }
        assert contents[2] == {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}}],
        }
        assert r2.content == "18°C and cloudy in Paris."
        assert r2.finish_reason == "stop"


async def test_image_is_sent_inline() -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # noqa: E501
    async with MockServer() as srv, client(srv) as c:
        srv.enqueue(Reply.json(response([{"text": "A single pixel."}])))
        await c.chat(
            model="models/gemini-2.5-flash",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                    ],
                }
            ],
        )
        assert srv.requests[0].path == CHAT_PATH  # "models/" is not doubled
        parts = srv.requests[0].json()["contents"][0]["parts"]
        assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": png}}


async def test_stream_text_split_awkwardly() -> None:
    rid = "wireS1"
    body = b"".join(
        [
            event(
                {
                    **response(
                        [{"text": "Thinking about Zürich…", "thought": True}], None, thoughts=12
                    ),
                    "responseId": rid,
                }
            ),
            event(
                {
                    **response([{"text": "Zürich: 12 °C, "}], None, out=4, thoughts=12),
                    "responseId": rid,
                }
            ),
            event(
                {
                    **response(
                        [{"text": "light rain ☔ — 東京 is sunny."}], "STOP", out=11, thoughts=12
                    ),
                    "responseId": rid,
                }
            ),
        ]
    )
    async with MockServer() as srv, client(srv) as c:
        srv.enqueue(Reply.sse(split_awkwardly(body), coalesce=False))
        deltas: list[str] = []
        async with c.stream(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "Weather?"}]
        ) as s:
            async for chunk in s:
                deltas.append(chunk.delta)
        assert srv.requests[0].path == STREAM_PATH
        assert srv.requests[0].headers["x-goog-api-key"] == KEY
        r = s.response
        assert "".join(deltas) == "Zürich: 12 °C, light rain ☔ — 東京 is sunny."
        assert r.content == "Zürich: 12 °C, light rain ☔ — 東京 is sunny."
        assert r.reasoning == "Thinking about Zürich…"
        assert r.finish_reason == "stop"
        assert r.raw_finish_reason == "STOP"
        assert r.usage is not None
        assert r.usage.prompt_tokens == 10
        assert r.usage.completion_tokens == 23
        assert r.usage.total_tokens == 33
        assert r.id == rid


async def test_stream_function_call() -> None:
    async with MockServer() as srv, client(srv) as c:
        srv.enqueue(
            Reply.sse(
                [
                    event(
                        response(
                            [
                                {
                                    "functionCall": {
                                        "name": "get_weather",
                                        "args": {"city": "Tokyo"},
                                    },
                                    "thoughtSignature": SIGNATURE,
                                }
                            ],
                            "STOP",
                        )
                    )
                ]
            )
        )
        async with c.stream(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "Tokyo?"}],
            tools=[WEATHER],
        ) as s:
            chunks = [chunk async for chunk in s]
        deltas = [d for ch in chunks for d in ch.tool_calls or ()]
        assert [(d.index, d.name) for d in deltas] == [(0, "get_weather")]
        r = s.response
        assert r.finish_reason == "tool_calls"
        assert r.tool_calls[0].id == "gcall_wireR1_0"
        assert msgspec.json.decode(r.tool_calls[0].arguments) == {"city": "Tokyo"}
        assert r.tool_calls[0].signature == SIGNATURE


async def test_stream_truncated_raises_with_partial() -> None:
    async with MockServer() as srv, client(srv, retry=0) as c:
        srv.enqueue(Reply.sse([event(response([{"text": "Half an ans"}], None))]))
        with pytest.raises(aa.StreamError) as info:
            await consume(c, model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}])
        assert info.value.partial is not None
        assert info.value.partial.content == "Half an ans"


async def test_in_stream_overload_before_content_is_retried() -> None:
    overload = {
        "error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    }
    async with MockServer() as srv, client(srv, retry=FAST_RETRY) as c:
        srv.enqueue(Reply.sse([event(overload)]))
        srv.enqueue(Reply.sse([event(response([{"text": "ok"}]))]))
        async with c.stream(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}]
        ) as s:
            text = "".join([chunk.delta async for chunk in s])
        assert text == "ok"
        assert len(srv.requests) == 2


async def test_in_stream_error_after_content_is_a_stream_error() -> None:
    overload = {
        "error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    }
    async with MockServer() as srv, client(srv, retry=FAST_RETRY) as c:
        # Separate writes, so the content reaches the caller before the error event is read.
        srv.enqueue(
            Reply.sse([event(response([{"text": "Partial"}], None)), event(overload)], delay=0.05)
        )
        with pytest.raises(aa.StreamError) as info:
            await consume(c, model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}])
        assert info.value.status == 503
        assert info.value.partial is not None
        assert info.value.partial.content == "Partial"
        assert len(srv.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "cls", "retryable"),
    [
        (
            400,
            {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                    }
                ],
            },
            aa.AuthenticationError,
            False,
        ),
        (
            403,
            {"code": 403, "message": "Permission denied.", "status": "PERMISSION_DENIED"},
            aa.PermissionDeniedError,
            False,
        ),
        (
            404,
            {"code": 404, "message": "models/x is not found.", "status": "NOT_FOUND"},
            aa.NotFoundError,
            False,
        ),
        (
            400,
            {
                "code": 400,
                "message": "The input token count (1196265) exceeds the maximum number of tokens"
                " allowed (1048575).",
                "status": "INVALID_ARGUMENT",
            },
            aa.ContextLengthError,
            False,
        ),
        (
            429,
            {
                "code": 429,
                "message": "You exceeded your current quota.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}
                        ],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "50000s"},
                ],
            },
            aa.RateLimitError,
            False,
        ),
        (
            500,
            {"code": 500, "message": "Internal error.", "status": "INTERNAL"},
            aa.ServerError,
            True,
        ),
    ],
)
async def test_http_errors(
    status: int, error: dict[str, Any], cls: type[aa.AdapterError], retryable: bool
) -> None:
    async with MockServer() as srv, client(srv, retry=0) as c:
        srv.enqueue(Reply.error(status, {"error": error}))
        with pytest.raises(cls) as info:
            await c.chat(model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}])
        assert type(info.value) is cls
        assert info.value.status == status
        assert info.value.retryable is retryable
        assert info.value.provider == "gemini"
        assert KEY not in str(info.value)


async def test_rate_limit_retry_delay_is_honoured() -> None:
    limited = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.05s"}
            ],
        }
    }
    async with MockServer() as srv, client(srv, retry=FAST_RETRY) as c:
        srv.enqueue(Reply.error(429, limited))
        srv.enqueue(Reply.json(response([{"text": "done"}])))
        r = await c.chat(model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}])
        assert r.content == "done"
        assert len(srv.requests) == 2


async def test_embeddings() -> None:
    async with MockServer() as srv, client(srv) as c:
        srv.enqueue(
            Reply.json({"embeddings": [{"values": [0.1, -0.2, 0.3]}, {"values": [0.0, 0.5, -0.5]}]})
        )
        e = await c.embed(model="gemini-embedding-001", input=["first", "second"], dimensions=3)
        sent = srv.requests[0]
        assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
        assert sent.headers["x-goog-api-key"] == KEY
        assert sent.json() == {
            "requests": [
                {
                    "model": "models/gemini-embedding-001",
                    "content": {"parts": [{"text": "first"}]},
                    "outputDimensionality": 3,
                },
                {
                    "model": "models/gemini-embedding-001",
                    "content": {"parts": [{"text": "second"}]},
                    "outputDimensionality": 3,
                },
            ]
        }
        assert e.vectors == [[0.1, -0.2, 0.3], [0.0, 0.5, -0.5]]


async def test_fake_gemini_end_to_end() -> None:
    async with MockServer(handler=fake_reply) as srv, client(srv) as c:
        messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
        r = await c.chat(
            model="gemini-2.5-flash", messages=messages, tools=[WEATHER], reasoning="low"
        )
        assert r.finish_reason == "tool_calls"
        assert r.tool_calls[0].name == "get_weather"
        assert r.reasoning
        assert r.tool_calls[0].signature
        messages += [
            r.message,
            {"role": "tool", "tool_call_id": r.tool_calls[0].id, "content": "18C"},
        ]
        async with c.stream(model="gemini-2.5-flash", messages=messages, tools=[WEATHER]) as s:
            async for _ in s:
                pass
        assert "get_weather" in s.response.content
        assert s.response.finish_reason == "stop"
        assert s.response.usage is not None
        assert s.response.usage.total_tokens > 0
        e1 = await c.embed(model="gemini-embedding-001", input=["a", "b"])
        e2 = await c.embed(model="gemini-embedding-001", input=["a"])
        assert len(e1.vectors) == 2
        assert e1.vectors[0] == e2.vectors[0]
        assert e1.vectors[0] != e1.vectors[1]
