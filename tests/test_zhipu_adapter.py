"""Sans-IO tests of the Zhipu GLM / Z.ai adapter against realistic transcripts."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from agent_adapter.accumulate import Accumulator
from agent_adapter.errors import (
    AdapterError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextLengthError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    ValidationError,
)
from agent_adapter.providers.zhipu import ZhipuAdapter
from agent_adapter.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    ImagePart,
    Message,
    ResponseFormat,
    StreamChunk,
    TextPart,
    Tool,
    ToolCall,
)

BASE = "https://open.bigmodel.cn/api/paas/v4"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
WEATHER = Tool(
    name="get_weather",
    description="Get the weather for a city",
    parameters={
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)


@pytest.fixture
def adapter() -> ZhipuAdapter:
    return ZhipuAdapter(name="zhipu", base_url=BASE, api_key="0123abcd.s3cr3t")


def body_of(adapter: ZhipuAdapter, request: ChatRequest) -> Any:
    return msgspec.json.decode(adapter.encode(request).body)


def sse(*payloads: Any) -> bytes:
    out = []
    for p in payloads:
        data = p if isinstance(p, bytes) else msgspec.json.encode(p)
        out.append(b"data: " + data + b"\n\n")
    return b"".join(out)


def run(adapter: ZhipuAdapter, pieces: list[bytes]) -> tuple[list[StreamChunk], bool, ChatResponse]:
    decoder = adapter.stream_decoder(ChatRequest(model="glm-4.6", messages=[]))
    chunks: list[StreamChunk] = []
    for piece in pieces:
        chunks.extend(decoder.feed(piece))
    ok = decoder.end()
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    return chunks, ok, acc.response("zhipu")


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", **delta}}
    if finish is not None:
        choice["finish_reason"] = finish
    return {
        "id": "20250821153530c1d2e3f4a5b6c7d8",
        "created": 1755761730,
        "model": "glm-4.6",
        "choices": [choice],
        **extra,
    }


REASONING_STREAM = sse(
    chunk({"reasoning_content": "用户问"}),
    chunk({"reasoning_content": "一加一。"}),
    chunk({"content": "1 + 1 = 2，这是"}),
    chunk({"content": "基础算术。"}),
    chunk(
        {"content": ""},
        "stop",
        usage={
            "prompt_tokens": 10,
            "completion_tokens": 23,
            "total_tokens": 33,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 16},
        },
    ),
    b"[DONE]",
)

TOOL_STREAM = sse(
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_3b7a2f9e1c4d4f0a8e6b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"location": "北'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '京", "unit": "celsius"}'}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_9d1e5c7b3a2f4e6d8c0a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "上海"}'},
                }
            ]
        }
    ),
    chunk(
        {"content": ""},
        "tool_calls",
        usage={"prompt_tokens": 180, "completion_tokens": 24, "total_tokens": 204},
    ),
    b"[DONE]",
)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def test_encode_url_auth_and_basic_fields(adapter: ZhipuAdapter) -> None:
    request = ChatRequest(
        model="glm-4.6",
        messages=[
            Message(role="developer", content="You are a concise weather assistant."),
            Message(role="user", content=[TextPart("北京和上海的天气"), TextPart("怎么样？")]),
        ],
        tools=[WEATHER],
        temperature=0.6,
        top_p=0.9,
        max_tokens=2048,
        stop=["<END>"],
        seed=7,
        user="user_000123",
        reasoning="high",
        stream=True,
    )
    http = adapter.encode(request)
    assert http.method == "POST"
    assert http.url == BASE + "/chat/completions"
    headers = dict(http.headers)
    assert headers[b"authorization"] == b"Bearer 0123abcd.s3cr3t"
    assert headers[b"content-type"] == b"application/json"
    assert "s3cr3t" not in repr(http)
    assert "s3cr3t" not in repr(adapter)
    body = msgspec.json.decode(http.body)
    assert body["messages"] == [
        {"role": "system", "content": "You are a concise weather assistant."},
        # text-only parts become a plain string: text models accept nothing else
        {"role": "user", "content": "北京和上海的天气怎么样？"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather for a city",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == "auto"
    assert body["tool_stream"] is True
    assert body["stream"] is True
    assert body["thinking"] == {"type": "enabled"}
    assert body["temperature"] == 0.6
    assert body["top_p"] == 0.9
    assert body["max_tokens"] == 2048
    assert body["stop"] == ["<END>"]
    assert body["seed"] == 7
    assert body["user_id"] == "user_000123"
    assert "stream_options" not in body
    assert "user" not in body


def test_zai_base_url_is_the_same_class() -> None:
    zai = ZhipuAdapter(name="zai", base_url="https://api.z.ai/api/paas/v4/", api_key="k.s")
    http = zai.encode(ChatRequest(model="glm-4.6", messages=[Message(role="user", content="hi")]))
    assert http.url == "https://api.z.ai/api/paas/v4/chat/completions"
    body = msgspec.json.decode(http.body)
    assert body == {
        "model": "glm-4.6",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }


def test_no_tool_stream_without_streaming_and_tool_choice_none_drops_tools(
    adapter: ZhipuAdapter,
) -> None:
    msgs = [Message(role="user", content="hi")]
    body = body_of(adapter, ChatRequest(model="glm-4.6", messages=msgs, tools=[WEATHER]))
    assert "tool_stream" not in body
    assert body["tool_choice"] == "auto"
    body = body_of(
        adapter,
        ChatRequest(model="glm-4.6", messages=msgs, tools=[WEATHER], tool_choice="none"),
    )
    assert "tools" not in body
    assert "tool_choice" not in body


def test_temperature_zero_means_greedy_and_top_p_floor(adapter: ZhipuAdapter) -> None:
    msgs = [Message(role="user", content="hi")]
    body = body_of(adapter, ChatRequest(model="glm-4.6", messages=msgs, temperature=0.0, top_p=0))
    assert body["do_sample"] is False
    assert "temperature" not in body
    assert body["top_p"] == 0.01
    body = body_of(adapter, ChatRequest(model="glm-4.6", messages=msgs, temperature=1.0))
    assert body["temperature"] == 1.0  # documented range is (0, 1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": 1.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.2}, "top_p"),
        ({"stop": ["a", "b"]}, "stop"),
        ({"top_k": 40}, "top_k"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
        ({"user": "abc"}, "user"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_validation_before_io(adapter: ZhipuAdapter, kwargs: dict[str, Any], field: str) -> None:
    request = ChatRequest(model="glm-4.6", messages=[Message(role="user", content="hi")], **kwargs)
    with pytest.raises(ValidationError) as info:
        adapter.encode(request)
    assert info.value.field == field


def test_tool_message_needs_an_id(adapter: ZhipuAdapter) -> None:
    msgs = [Message(role="user", content="hi"), Message(role="tool", content="11°C")]
    with pytest.raises(ValidationError) as info:
        adapter.encode(ChatRequest(model="glm-4.6", messages=msgs))
    assert info.value.field == "messages[1].tool_call_id"


def test_reasoning_switch(adapter: ZhipuAdapter) -> None:
    msgs = [Message(role="user", content="hi")]
    for reasoning, expected in [
        ("low", "enabled"),
        ("none", "disabled"),
        ({"budget_tokens": 0}, "disabled"),
        ({"budget_tokens": 2048}, "enabled"),
    ]:
        body = body_of(adapter, ChatRequest(model="glm-4.6", messages=msgs, reasoning=reasoning))
        assert body["thinking"] == {"type": expected}


def test_structured_output_and_extra(adapter: ZhipuAdapter) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    request = ChatRequest(
        model="glm-4.6",
        messages=[Message(role="user", content="Which city?")],
        response_format=ResponseFormat(name="answer", schema=schema),
        extra={"request_id": "agent-adapter-7f3c2a", "do_sample": True},
    )
    body = body_of(adapter, request)
    assert body["response_format"] == {"type": "json_object"}
    first = body["messages"][0]
    assert first["role"] == "system"
    assert '"required":["city"]' in first["content"]
    assert "answer" in first["content"]
    assert body["messages"][1] == {"role": "user", "content": "Which city?"}
    with_system = ChatRequest(
        model="glm-4.6",
        messages=[Message(role="system", content="Be terse."), Message(role="user", content="?")],
        response_format=ResponseFormat(name="answer", schema=schema),
    )
    msgs = body_of(adapter, with_system)["messages"]
    assert len(msgs) == 2
    assert msgs[0]["content"].startswith("Be terse.\n\nReply with a single JSON object")
    assert body["request_id"] == "agent-adapter-7f3c2a"
    assert body["do_sample"] is True
    body = body_of(
        adapter,
        ChatRequest(
            model="glm-4.6",
            messages=[Message(role="user", content="JSON please")],
            response_format=ResponseFormat(type="json_object"),
        ),
    )
    assert body["response_format"] == {"type": "json_object"}
    assert len(body["messages"]) == 1


def test_images_are_raw_base64_or_url(adapter: ZhipuAdapter) -> None:
    msgs = [
        Message(
            role="user",
            content=[
                TextPart("这张图和这张图有什么不同？"),
                ImagePart(data=PNG, media_type="image/png"),
                ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
                ImagePart(url="https://example.com/cat.jpg"),
            ],
        )
    ]
    body = body_of(adapter, ChatRequest(model="glm-4.5v", messages=msgs))
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "这张图和这张图有什么不同？"},
        {"type": "image_url", "image_url": {"url": "iVBORw0KGgoAAAANSUhEUg=="}},
        {"type": "image_url", "image_url": {"url": "iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]


# ---------------------------------------------------------------------------
# Non-streaming decoding and the round trip
# ---------------------------------------------------------------------------

TOOL_RESPONSE = {
    "id": "20250821153012ab34cd56ef7890abcd",
    "request_id": "agent-adapter-7f3c2a",
    "created": 1755761412,
    "model": "glm-4.6",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "",
                "reasoning_content": "用户想知道北京和上海的天气，需要分别调用 get_weather。",
                "tool_calls": [
                    {
                        "id": "call_3b7a2f9e1c4d4f0a8e6b",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"location": "北京", "unit": "celsius"}',
                        },
                    },
                    {
                        "id": "call_9d1e5c7b3a2f4e6d8c0a",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"location": "上海", "unit": "celsius"}',
                        },
                    },
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 212,
        "completion_tokens": 86,
        "total_tokens": 298,
        "prompt_tokens_details": {"cached_tokens": 128},
        "completion_tokens_details": {"reasoning_tokens": 41},
    },
}


def test_decode_tool_calls_reasoning_usage(adapter: ZhipuAdapter) -> None:
    r = adapter.decode(200, [], msgspec.json.encode(TOOL_RESPONSE))
    assert r.provider == "zhipu"
    assert r.id == "20250821153012ab34cd56ef7890abcd"
    assert r.model == "glm-4.6"
    assert r.content == ""
    assert r.reasoning == "用户想知道北京和上海的天气，需要分别调用 get_weather。"
    assert r.tool_calls == [
        ToolCall(
            "call_3b7a2f9e1c4d4f0a8e6b", "get_weather", '{"location": "北京", "unit": "celsius"}'
        ),
        ToolCall(
            "call_9d1e5c7b3a2f4e6d8c0a", "get_weather", '{"location": "上海", "unit": "celsius"}'
        ),
    ]
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "tool_calls"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (
        212,
        86,
        298,
    )
    assert r.usage.cached_tokens == 128
    assert r.usage.reasoning_tokens == 41


def test_multi_turn_round_trip(adapter: ZhipuAdapter) -> None:
    """decode → response.message → history → encode: reasoning and calls go back as sent."""
    first = adapter.decode(200, [], msgspec.json.encode(TOOL_RESPONSE))
    history = [
        Message(role="system", content="You are a concise weather assistant."),
        Message(
            role="user",
            content=[TextPart("这是北京的照片。北京和上海的天气怎么样？"), ImagePart(data=PNG)],
        ),
        first.message,
        Message(role="tool", tool_call_id="call_3b7a2f9e1c4d4f0a8e6b", content="北京：晴，26°C"),
        Message(role="tool", tool_call_id="call_9d1e5c7b3a2f4e6d8c0a", content="上海：小雨，22°C"),
    ]
    body = body_of(
        adapter, ChatRequest(model="glm-4.5v", messages=history, tools=[WEATHER], stream=True)
    )
    msgs = body["messages"]
    assert msgs[1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "iVBORw0KGgoAAAANSUhEUg=="},
    }
    assert msgs[2] == {
        "role": "assistant",
        "content": "",
        "reasoning_content": "用户想知道北京和上海的天气，需要分别调用 get_weather。",
        "tool_calls": [
            {
                "id": "call_3b7a2f9e1c4d4f0a8e6b",
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": '{"location": "北京", "unit": "celsius"}',
                },
            },
            {
                "id": "call_9d1e5c7b3a2f4e6d8c0a",
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": '{"location": "上海", "unit": "celsius"}',
                },
            },
        ],
    }
    assert msgs[3] == {
        "role": "tool",
        "content": "北京：晴，26°C",
        "tool_call_id": "call_3b7a2f9e1c4d4f0a8e6b",
    }
    assert msgs[4]["tool_call_id"] == "call_9d1e5c7b3a2f4e6d8c0a"

    # Second turn answers in text; its reasoning goes back on the next request too.
    second = adapter.decode(
        200,
        [],
        msgspec.json.encode(
            {
                "id": "2",
                "model": "glm-4.5v",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {
                            "role": "assistant",
                            "content": "北京晴，26°C；上海小雨，22°C。",
                            "reasoning_content": "两个结果都有了。",
                        },
                    }
                ],
                "usage": {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330},
            }
        ),
    )
    history += [second.message, Message(role="user", content="谢谢")]
    msgs = body_of(adapter, ChatRequest(model="glm-4.5v", messages=history))["messages"]
    assert msgs[5] == {
        "role": "assistant",
        "content": "北京晴，26°C；上海小雨，22°C。",
        "reasoning_content": "两个结果都有了。",
    }
    assert msgs[6] == {"role": "user", "content": "谢谢"}


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("sensitive", "content_filter"),
        ("network_error", "error"),
        ("model_context_window_exceeded", "length"),
        ("something_new", "stop"),
    ],
)
def test_finish_reasons(adapter: ZhipuAdapter, raw: str, normalised: str) -> None:
    body = {
        "choices": [{"index": 0, "finish_reason": raw, "message": {"content": "部分回答"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
    r = adapter.decode(200, [], msgspec.json.encode(body))
    assert r.finish_reason == normalised
    assert r.raw_finish_reason == raw
    assert r.content == "部分回答"
    assert r.usage is not None
    assert r.usage.total_tokens == 8
    assert r.usage.cached_tokens == 0


def test_decode_malformed_and_error_in_200(adapter: ZhipuAdapter) -> None:
    with pytest.raises(ServerError):
        adapter.decode(200, [], b"<html>bad gateway</html>")
    with pytest.raises(ServerError):
        adapter.decode(200, [], b'{"choices": []}')
    with pytest.raises(RateLimitError):
        adapter.decode(200, [], b'{"error": {"code": "1302", "message": "Rate limit reached"}}')


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls", "retryable"),
    [
        (401, "1000", AuthenticationError, False),
        (401, "1001", AuthenticationError, False),
        (401, "1002", AuthenticationError, False),
        (401, "1003", AuthenticationError, False),
        (401, "1004", AuthenticationError, False),
        (401, "1005", AuthenticationError, False),
        (429, "1113", RateLimitError, False),
        (400, "1261", ContextLengthError, False),
        (429, "1302", RateLimitError, True),
        (429, "1303", RateLimitError, True),
        (429, "1304", RateLimitError, False),
        (429, "1305", ServerError, True),
        (429, "1308", RateLimitError, False),
        (429, "1310", RateLimitError, False),
        (429, "1312", ServerError, True),
        (429, "1313", RateLimitError, False),
        (400, "1210", BadRequestError, False),
        (400, "1211", NotFoundError, False),
        (400, "1213", BadRequestError, False),
        (400, "1214", BadRequestError, False),
        (400, "1215", BadRequestError, False),
        (500, "500", ServerError, True),
        (500, "1200", ServerError, True),
        (500, "1234", ServerError, True),
        (403, "1311", PermissionDeniedError, False),
        (429, "9999", RateLimitError, True),  # unknown code: the status decides
    ],
)
def test_business_codes(
    adapter: ZhipuAdapter, status: int, code: str, cls: type[AdapterError], retryable: bool
) -> None:
    body = msgspec.json.encode({"error": {"code": code, "message": "消息"}})
    err = adapter.error(status, [(b"x-request-id", b"req-42")], body)
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.code == code
    assert err.status == status
    assert err.provider == "zhipu"
    assert err.request_id == "req-42"


def test_content_filter_body(adapter: ZhipuAdapter) -> None:
    body = msgspec.json.encode(
        {
            "contentFilter": [{"level": 1, "role": "user"}],
            "error": {
                "code": "1301",
                "message": (
                    "系统检测到输入或生成内容可能包含不安全或敏感内容，"
                    "请您避免输入易产生敏感内容的提示语，感谢您的配合。"
                ),
            },
        }
    )
    err = adapter.error(400, [], body)
    assert isinstance(err, ContentFilterError)
    assert not err.retryable
    assert err.body is not None
    assert "contentFilter" in err.body
    assert "不安全" in err.message


def test_error_fallbacks(adapter: ZhipuAdapter) -> None:
    err = adapter.error(503, [(b"retry-after", b"3")], b"<html>503 Service Unavailable</html>")
    assert isinstance(err, ServerError)
    assert err.retryable
    assert err.retry_after == 3.0
    err = adapter.error(400, [], b'{"error": {"message": "Prompt exceeds max length"}}')
    assert isinstance(err, ContextLengthError)
    err = adapter.error(429, [], b'{"error": {"code": 1302, "message": "numeric code"}}')
    assert isinstance(err, RateLimitError)
    assert err.code == "1302"


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


def test_stream_reasoning_then_text(adapter: ZhipuAdapter) -> None:
    chunks, ok, r = run(adapter, [REASONING_STREAM])
    assert ok
    assert r.reasoning == "用户问一加一。"
    assert r.content == "1 + 1 = 2，这是基础算术。"
    assert r.finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (10, 23, 33)
    assert r.usage.cached_tokens == 4
    assert r.usage.reasoning_tokens == 16
    assert r.id == "20250821153530c1d2e3f4a5b6c7d8"
    assert r.model == "glm-4.6"
    assert [c.reasoning for c in chunks if c.reasoning] == ["用户问", "一加一。"]


def test_stream_every_byte_boundary(adapter: ZhipuAdapter) -> None:
    """Splits inside multi-byte UTF-8 (Chinese) and inside ``data:`` lines change nothing."""
    whole, _, expected = run(adapter, [REASONING_STREAM])
    for cut in range(1, len(REASONING_STREAM)):
        chunks, ok, r = run(adapter, [REASONING_STREAM[:cut], REASONING_STREAM[cut:]])
        assert ok
        assert chunks == whole, cut
        assert r == expected
    one_by_one, ok, r = run(adapter, [bytes([b]) for b in TOOL_STREAM])
    assert ok
    assert one_by_one == run(adapter, [TOOL_STREAM])[0]


def test_stream_tool_fragments(adapter: ZhipuAdapter) -> None:
    chunks, ok, r = run(adapter, [TOOL_STREAM])
    assert ok
    fragments = [tc for c in chunks for tc in c.tool_calls or ()]
    assert [f.index for f in fragments] == [0, 0, 0, 1]
    assert fragments[0].id == "call_3b7a2f9e1c4d4f0a8e6b"
    assert fragments[0].name == "get_weather"
    assert r.tool_calls == [
        ToolCall(
            "call_3b7a2f9e1c4d4f0a8e6b", "get_weather", '{"location": "北京", "unit": "celsius"}'
        ),
        ToolCall("call_9d1e5c7b3a2f4e6d8c0a", "get_weather", '{"location": "上海"}'),
    ]
    assert r.finish_reason == "tool_calls"
    assert r.usage is not None
    assert r.usage.total_tokens == 204


def test_stream_whole_tool_calls_without_tool_stream(adapter: ZhipuAdapter) -> None:
    """Without ``tool_stream`` calls arrive complete, here both numbered 0 by the server."""
    stream = sse(
        chunk({"reasoning_content": "需要查两个城市。"}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "北京"}'},
                    }
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "上海"}'},
                    }
                ]
            },
            "tool_calls",
            usage={"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140},
        ),
        b"[DONE]",
    )
    chunks, ok, r = run(adapter, [stream])
    assert ok
    assert [tc.index for c in chunks for tc in c.tool_calls or ()] == [0, 1]
    assert [(c.id, c.arguments) for c in r.tool_calls] == [
        ("call_a", '{"location": "北京"}'),
        ("call_b", '{"location": "上海"}'),
    ]


def test_stream_sensitive_is_content_filter(adapter: ZhipuAdapter) -> None:
    stream = sse(
        chunk({"content": "这个问题"}),
        {
            "id": "202408121950062bfd5bf951d24169",
            "created": 1723463407,
            "model": "glm-4-0520",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "sensitive",
                    "delta": {"role": "assistant", "content": ""},
                }
            ],
            "content_filter": [{"role": "assistant", "level": 1}],
        },
        b"[DONE]",
    )
    _, ok, r = run(adapter, [stream])
    assert ok
    assert r.finish_reason == "content_filter"
    assert r.raw_finish_reason == "sensitive"
    assert r.content == "这个问题"


@pytest.mark.parametrize(
    ("error", "cls", "retryable"),
    [
        ({"code": "1302", "message": "Rate limit reached for requests"}, RateLimitError, True),
        ({"code": "1312", "message": "模型过载"}, ServerError, True),
        ({"code": "1301", "message": "敏感内容"}, ContentFilterError, False),
        ({"message": "An error occurred during streaming"}, ServerError, True),
    ],
)
def test_stream_error_event(
    adapter: ZhipuAdapter, error: dict[str, Any], cls: type[AdapterError], retryable: bool
) -> None:
    decoder = adapter.stream_decoder(ChatRequest(model="glm-4.6", messages=[]))
    assert decoder.feed(sse(chunk({"content": "你好"})))[0].delta == "你好"
    with pytest.raises(cls) as info:
        decoder.feed(sse({"error": error}))
    assert type(info.value) is cls
    assert info.value.retryable is retryable
    assert info.value.status is None


def test_stream_truncated_and_malformed(adapter: ZhipuAdapter) -> None:
    body = REASONING_STREAM[: REASONING_STREAM.index(b"data: [DONE]")]
    _, ok, r = run(adapter, [body])
    assert not ok
    assert r.content == "1 + 1 = 2，这是基础算术。"
    decoder = adapter.stream_decoder(ChatRequest(model="glm-4.6", messages=[]))
    assert not decoder.done
    decoder.feed(REASONING_STREAM[:40])
    assert decoder.end() is False
    decoder = adapter.stream_decoder(ChatRequest(model="glm-4.6", messages=[]))
    with pytest.raises(StreamError):
        decoder.feed(b'data: {"choices": [{"delta": \n\n')
    with pytest.raises(StreamError):
        adapter.stream_decoder(ChatRequest(model="m", messages=[])).feed(b"data: [1, 2]\n\n")


def test_stream_done_then_only_drains(adapter: ZhipuAdapter) -> None:
    decoder = adapter.stream_decoder(ChatRequest(model="glm-4.6", messages=[]))
    decoder.feed(sse(chunk({"content": "好"}), b"[DONE]"))
    assert decoder.done
    assert decoder.feed(b"data: garbage\n\n") == []
    assert decoder.end() is True


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_split_invariance(data: st.DataObject) -> None:
    adapter = ZhipuAdapter(name="zhipu", base_url=BASE, api_key="k.s")
    stream = data.draw(st.sampled_from([REASONING_STREAM, TOOL_STREAM]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert run(adapter, pieces)[0] == run(adapter, [stream])[0]


# ---------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------


def test_embeddings(adapter: ZhipuAdapter) -> None:
    http = adapter.encode_embed(
        EmbedRequest(model="embedding-3", input=["第一段文字", "second text"], dimensions=512)
    )
    assert http.url == BASE + "/embeddings"
    assert msgspec.json.decode(http.body) == {
        "model": "embedding-3",
        "input": ["第一段文字", "second text"],
        "dimensions": 512,
    }
    body = {
        "object": "list",
        "model": "embedding-3",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [-0.0087, 0.0251, 0.0119]},
            {"object": "embedding", "index": 0, "embedding": [0.0213, -0.0145, 0.0367]},
        ],
        "usage": {"prompt_tokens": 6, "completion_tokens": 0, "total_tokens": 6},
    }
    r = adapter.decode_embed(200, [], msgspec.json.encode(body))
    assert r.vectors == [[0.0213, -0.0145, 0.0367], [-0.0087, 0.0251, 0.0119]]
    assert r.usage is not None
    assert r.usage.prompt_tokens == 6
    assert r.usage.total_tokens == 6
    assert r.model == "embedding-3"
    assert r.provider == "zhipu"
    with pytest.raises(ValidationError):
        adapter.encode_embed(EmbedRequest(model="embedding-3", input=[]))
    with pytest.raises(ServerError):
        adapter.decode_embed(200, [], b'{"data": "nope"}')
