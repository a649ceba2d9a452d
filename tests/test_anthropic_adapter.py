"""Sans-IO tests of the Anthropic adapter: request encoding, decoding, streams, errors."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from agent_adapter.accumulate import Accumulator
from agent_adapter.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    ValidationError,
)
from agent_adapter.providers.anthropic import STRUCTURED_TOOL_PREFIX, AnthropicAdapter
from agent_adapter.testing.fake_anthropic import reply as fake_reply
from agent_adapter.testing.replies import RecordedRequest
from agent_adapter.types import (
    AudioPart,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    FilePart,
    ImagePart,
    Message,
    ReasoningItem,
    ResponseFormat,
    StreamChunk,
    TextPart,
    Tool,
    ToolCall,
)

KEY = "sk-ant-test-SECRET"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
SIG = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds0Yv3FQ0Iebr"
WEATHER = Tool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
)


def adapter(**options: Any) -> AnthropicAdapter:
    return AnthropicAdapter(
        name="anthropic", base_url="https://api.anthropic.com", api_key=KEY, options=options
    )


def user(text: str) -> Message:
    return Message(role="user", content=text)


def req(*messages: Message, model: str = "claude-sonnet-4-5", **kw: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=list(messages), **kw)


def body_of(request: ChatRequest, **options: Any) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.json.decode(adapter(**options).encode(request).body)
    return result


def sse(*events: dict[str, Any], crlf: bool = False) -> bytes:
    nl = b"\r\n" if crlf else b"\n"
    out = b""
    for event in events:
        out += b"event: " + event["type"].encode() + nl
        out += b"data: " + msgspec.json.encode(event) + nl + nl
    return out


def run(data: bytes, splits: list[int] | None = None) -> tuple[list[StreamChunk], bool]:
    decoder = adapter().stream_decoder(req(user("x"), stream=True))
    chunks: list[StreamChunk] = []
    cuts = sorted(set(splits or []))
    start = 0
    for cut in [*cuts, len(data)]:
        chunks.extend(decoder.feed(data[start:cut]))
        start = cut
    return chunks, decoder.end()


def accumulate(chunks: list[StreamChunk]) -> ChatResponse:
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.response("anthropic")


def message_start(msg_id: str = "msg_01XFDUDYJgAACzvnptvVoYEL", **usage: int) -> dict[str, Any]:
    counts = {"input_tokens": 25, "output_tokens": 1, **usage}
    return {
        "type": "message_start",
        "message": {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": counts,
        },
    }


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str, **usage: Any) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": usage,
    }


STOP = {"type": "message_stop"}
PING = {"type": "ping"}

# -- realistic transcripts ------------------------------------------------------------

TEXT_STREAM = sse(
    message_start(cache_creation_input_tokens=0, cache_read_input_tokens=0),
    block_start(0, {"type": "text", "text": ""}),
    PING,
    delta(0, type="text_delta", text="Hello"),
    delta(0, type="text_delta", text=" there!"),
    block_stop(0),
    message_delta("end_turn", output_tokens=6),
    STOP,
)

TOOL_STREAM = sse(
    message_start("msg_01Qm3vN7cA8dYh2kT5wRz9Lp", input_tokens=377, output_tokens=3),
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    delta(0, type="thinking_delta", thinking="The user asks about Paris. "),
    delta(0, type="thinking_delta", thinking="I'll call get_weather."),
    delta(0, type="signature_delta", signature=SIG),
    block_stop(0),
    block_start(1, {"type": "text", "text": ""}),
    delta(1, type="text_delta", text="Let me check."),
    block_stop(1),
    block_start(
        2,
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {},
            "caller": {"type": "direct"},
        },
    ),
    delta(2, type="input_json_delta", partial_json=""),
    delta(2, type="input_json_delta", partial_json='{"city": "Par'),
    delta(2, type="input_json_delta", partial_json='is", "unit": "celsius"}'),
    block_stop(2),
    message_delta("tool_use", output_tokens=96),
    STOP,
)

ERROR_STREAM = sse(
    message_start("msg_01HkV2pX8sQe4Zt7Lm1Nb6Wc", input_tokens=40),
    block_start(0, {"type": "text", "text": ""}),
    delta(0, type="text_delta", text="Sure, here is"),
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
)

UNICODE_STREAM = sse(
    message_start(),
    block_start(0, {"type": "text", "text": ""}),
    delta(0, type="text_delta", text="Grüße aus Köln — "),
    delta(0, type="text_delta", text="東京は晴れ 🌤️, "),
    delta(0, type="text_delta", text="naïve café ✓"),
    block_stop(0),
    message_delta("stop_sequence", output_tokens=21),
    STOP,
    crlf=True,
)

CACHE_STREAM = sse(
    message_start(input_tokens=612, cache_read_input_tokens=1840, cache_creation_input_tokens=100),
    block_start(0, {"type": "text", "text": "It's "}),
    delta(0, type="text_delta", text="18°C."),
    block_stop(0),
    message_delta(
        "max_tokens",
        input_tokens=612,
        cache_read_input_tokens=1840,
        cache_creation_input_tokens=100,
        output_tokens=143,
        output_tokens_details={"thinking_tokens": 0},
    ),
    STOP,
)

PARALLEL_TOOLS_STREAM = sse(
    message_start(),
    block_start(0, {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {}}),
    delta(0, type="input_json_delta", partial_json='{"city":'),
    delta(0, type="input_json_delta", partial_json=' "Paris"}'),
    block_stop(0),
    block_start(1, {"type": "tool_use", "id": "toolu_B", "name": "get_time", "input": {}}),
    block_stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_C", "name": "get_weather", "input": {}}),
    delta(2, type="input_json_delta", partial_json='{"city": "Oslo"}'),
    block_stop(2),
    message_delta("tool_use", output_tokens=80),
    STOP,
)

SERVER_TOOL_STREAM = sse(
    message_start(),
    block_start(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"}),
    delta(0, type="input_json_delta", partial_json='{"query": "paris weather"}'),
    block_stop(0),
    {"type": "brand_new_event", "payload": {"x": 1}},
    block_start(1, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
    block_stop(1),
    block_start(2, {"type": "text", "text": ""}),
    delta(2, type="text_delta", text="Paris is mild today."),
    delta(2, type="citations_delta", citation={"type": "web_search_result_location"}),
    block_stop(2),
    message_delta("pause_turn", output_tokens=30),
    STOP,
)

REFUSAL_STREAM = sse(
    message_start(),
    block_start(0, {"type": "text", "text": ""}),
    delta(0, type="text_delta", text="I can't"),
    block_stop(0),
    {
        "type": "message_delta",
        "delta": {
            "stop_reason": "refusal",
            "stop_details": {"type": "refusal", "category": "cyber", "explanation": "Declined."},
        },
        "usage": {"output_tokens": 4},
    },
    STOP,
)

STRUCTURED_STREAM = sse(
    message_start(),
    block_start(
        0,
        {"type": "tool_use", "id": "toolu_S", "name": STRUCTURED_TOOL_PREFIX + "city", "input": {}},
    ),
    delta(0, type="input_json_delta", partial_json=""),
    delta(0, type="input_json_delta", partial_json='{"name": "Pa'),
    delta(0, type="input_json_delta", partial_json='ris", "population": 2102650}'),
    block_stop(0),
    message_delta("tool_use", output_tokens=20),
    STOP,
)

REDACTED_STREAM = sse(
    message_start(),
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    delta(0, type="thinking_delta", thinking="First thought."),
    delta(0, type="signature_delta", signature="sigA"),
    block_stop(0),
    block_start(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
    block_stop(1),
    block_start(2, {"type": "text", "text": ""}),
    delta(2, type="text_delta", text="Done."),
    block_stop(2),
    message_delta("end_turn", output_tokens=50),
    STOP,
)

ALL_STREAMS = {
    "text": TEXT_STREAM,
    "tool": TOOL_STREAM,
    "unicode_crlf": UNICODE_STREAM,
    "cache": CACHE_STREAM,
    "parallel": PARALLEL_TOOLS_STREAM,
    "server_tool": SERVER_TOOL_STREAM,
    "refusal": REFUSAL_STREAM,
    "structured": STRUCTURED_STREAM,
    "redacted": REDACTED_STREAM,
}

RESPONSE_THINKING_TOOL = {
    "id": "msg_01Aq9w938a90dw8qK3pvfJ6n",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {
            "type": "thinking",
            "thinking": "The user wants current Paris weather. I should call get_weather.",
            "signature": SIG,
        },
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"city": "Paris", "unit": "celsius"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 612,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1840,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 143,
        "service_tier": "standard",
    },
}


def decode(obj: Any, status: int = 200) -> ChatResponse:
    return adapter().decode(status, [(b"request-id", b"req_1")], msgspec.json.encode(obj))


# -- encoding -------------------------------------------------------------------------


def test_endpoint_headers_and_no_key_in_repr() -> None:
    http = adapter().encode(req(user("hi")))
    assert http.method == "POST"
    assert http.url == "https://api.anthropic.com/v1/messages"
    headers = dict(http.headers)
    assert headers[b"x-api-key"] == KEY.encode()
    assert headers[b"anthropic-version"] == b"2023-06-01"
    assert headers[b"content-type"] == b"application/json"
    assert b"authorization" not in headers
    assert KEY not in repr(http)
    assert KEY not in repr(adapter())
    streamed = dict(adapter().encode(req(user("hi"), stream=True)).headers)
    assert streamed[b"accept"] == b"text/event-stream"
    bearer = dict(adapter(auth="bearer").encode(req(user("hi"))).headers)
    assert bearer[b"authorization"] == b"Bearer " + KEY.encode()
    assert b"x-api-key" not in bearer


def test_user_anthropic_version_header_is_not_duplicated() -> None:
    a = AnthropicAdapter(
        name="anthropic",
        base_url="https://gw.example/anthropic/",
        api_key=KEY,
        headers={"anthropic-version": "2023-06-01", "anthropic-beta": "context-1m-2025-08-07"},
    )
    http = a.encode(req(Message(role="user", content=[FilePart(file_id="file_011")])))
    assert http.url == "https://gw.example/anthropic/v1/messages"
    assert [n for n, _ in http.headers].count(b"anthropic-version") == 1
    beta = dict(http.headers)[b"anthropic-beta"]
    assert beta == b"context-1m-2025-08-07,files-api-2025-04-14"


def test_multi_turn_conversation_with_tool_image_and_thinking() -> None:
    messages = [
        Message(role="system", content="You are a concise weather assistant."),
        Message(
            role="user",
            content=[
                ImagePart(url="https://example.com/paris-sky.jpg"),
                ImagePart(data=PNG, media_type="image/png"),
                FilePart(data=PDF, media_type="application/pdf", filename="itinerary.pdf"),
                TextPart("Given this sky and my plan, what's the weather in Paris?"),
            ],
        ),
        Message(
            role="assistant",
            content="Let me check.",
            reasoning="The user wants current Paris weather. I should call get_weather.",
            reasoning_signature=SIG,
            tool_calls=[
                ToolCall(
                    id="toolu_01A09q90qw90lq917835lq9",
                    name="get_weather",
                    arguments='{"city": "Paris", "unit": "celsius"}',
                )
            ],
        ),
        Message(
            role="tool",
            tool_call_id="toolu_01A09q90qw90lq917835lq9",
            content="18°C, overcast, 60% chance of rain after 15:00",
        ),
    ]
    body = body_of(
        req(
            *messages, tools=[WEATHER], reasoning={"budget_tokens": 2048}, model="claude-sonnet-4-5"
        )
    )
    assert body["system"] == "You are a concise weather assistant."
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert "tool_choice" not in body
    first, second, third = body["messages"]
    assert first["role"] == "user"
    assert first["content"][0] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/paris-sky.jpg"},
    }
    assert first["content"][1]["source"]["type"] == "base64"
    assert first["content"][1]["source"]["media_type"] == "image/png"
    assert first["content"][2] == {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": "JVBERi0xLjcKJeLjz9MK",
        },
        "title": "itinerary.pdf",
    }
    assert first["content"][3]["type"] == "text"
    assert second == {
        "role": "assistant",
        "content": [
            {
                "type": "thinking",
                "thinking": "The user wants current Paris weather. I should call get_weather.",
                "signature": SIG,
            },
            {"type": "text", "text": "Let me check."},
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "get_weather",
                "input": {"city": "Paris", "unit": "celsius"},
            },
        ],
    }
    assert third == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                "content": "18°C, overcast, 60% chance of rain after 15:00",
            }
        ],
    }


def test_round_trip_decoded_thinking_and_tool_use_back_to_wire() -> None:
    response = decode(RESPONSE_THINKING_TOOL)
    assert response.reasoning_signature == SIG
    history = [
        user("Weather in Paris?"),
        response.message,
        Message(role="tool", tool_call_id=response.tool_calls[0].id, content="18°C"),
    ]
    body = body_of(req(*history, tools=[WEATHER], reasoning={"budget_tokens": 2048}))
    assert body["messages"][1]["content"] == RESPONSE_THINKING_TOOL["content"]
    assert body["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
        "content": "18°C",
    }


def test_round_trip_from_stream_sends_thinking_unchanged() -> None:
    chunks, ok = run(TOOL_STREAM)
    assert ok
    response = accumulate(chunks)
    history = [
        user("Paris?"),
        response.message,
        Message(role="tool", tool_call_id="toolu_01A09q90qw90lq917835lq9", content="18°C"),
    ]
    body = body_of(req(*history, reasoning="high", model="claude-sonnet-4-5"))
    thinking = body["messages"][1]["content"][0]
    assert thinking == {
        "type": "thinking",
        "thinking": "The user asks about Paris. I'll call get_weather.",
        "signature": SIG,
    }
    assert body["messages"][1]["content"][2]["input"] == {"city": "Paris", "unit": "celsius"}


def test_redacted_and_multiple_thinking_blocks_round_trip_exactly() -> None:
    content = [
        {"type": "thinking", "thinking": "First.", "signature": "sigA"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "text", "text": "Done."},
    ]
    response = decode({**RESPONSE_THINKING_TOOL, "content": content, "stop_reason": "end_turn"})
    assert response.reasoning == "First."
    assert response.content == "Done."
    assert response.reasoning_signature == "sigA"
    assert response.reasoning_items == [
        ReasoningItem(type="thinking", text="First.", signature="sigA", index=0),
        ReasoningItem(type="redacted_thinking", data="EmwKAhgBEgy3va3pzix", index=1),
    ]
    body = body_of(req(user("q"), response.message, user("and then?")))
    assert body["messages"][1]["content"] == content
    streamed = accumulate(run(REDACTED_STREAM)[0])
    assert streamed.reasoning_signature == "sigA"
    assert streamed.reasoning_items == [
        ReasoningItem(type="thinking", text="First thought.", signature="sigA", index=0),
        ReasoningItem(type="redacted_thinking", data="EmwKAhgBEgy3va3pzix", index=1),
    ]
    assert body_of(req(user("q"), streamed.message, user("more")))["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "First thought.", "signature": "sigA"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "text", "text": "Done."},
    ]


INTERLEAVED = [
    {"type": "thinking", "thinking": "Need the forecast first.", "signature": "sigA"},
    {"type": "text", "text": "Checking both cities."},
    {
        "type": "redacted_thinking",
        "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8c",
    },
    {"type": "thinking", "thinking": "Tokyo too: two calls.", "signature": "sigB"},
    {"type": "tool_use", "id": "toolu_P", "name": "get_weather", "input": {"city": "Paris"}},
    {"type": "tool_use", "id": "toolu_T", "name": "get_weather", "input": {"city": "Tokyo"}},
]


def interleaved_stream() -> bytes:
    events: list[dict[str, Any]] = [message_start()]
    for i, block in enumerate(INTERLEAVED):
        kind = block["type"]
        if kind == "thinking":
            events += [
                block_start(i, {"type": "thinking", "thinking": "", "signature": ""}),
                delta(i, type="thinking_delta", thinking=block["thinking"][:5]),
                delta(i, type="thinking_delta", thinking=block["thinking"][5:]),
                delta(i, type="signature_delta", signature=block["signature"]),
            ]
        elif kind == "redacted_thinking":
            events.append(block_start(i, block))
        elif kind == "text":
            events += [
                block_start(i, {"type": "text", "text": ""}),
                delta(i, type="text_delta", text=block["text"]),
            ]
        else:
            events += [
                block_start(i, {**block, "input": {}}),
                delta(
                    i,
                    type="input_json_delta",
                    partial_json=msgspec.json.encode(block["input"]).decode(),
                ),
            ]
        events.append(block_stop(i))
    events += [message_delta("tool_use", output_tokens=90), STOP]
    return sse(*events)


def test_interleaved_thinking_goes_back_in_place_non_streamed_and_streamed() -> None:
    response = decode({**RESPONSE_THINKING_TOOL, "content": INTERLEAVED})
    assert [item.index for item in response.reasoning_items or ()] == [0, 2, 3]
    chunks, ok = run(interleaved_stream())
    assert ok
    streamed = accumulate(chunks)
    assert streamed.reasoning_items == response.reasoning_items
    assert (
        streamed.reasoning == response.reasoning == "Need the forecast first.Tokyo too: two calls."
    )
    for answer in (response, streamed):
        history = [
            user("Weather in Paris and Tokyo?"),
            answer.message,
            Message(role="tool", tool_call_id="toolu_P", content="18°C"),
            Message(role="tool", tool_call_id="toolu_T", content="25°C"),
        ]
        body = body_of(req(*history, tools=[WEATHER], reasoning={"budget_tokens": 2048}))
        assert body["messages"][1]["content"] == INTERLEAVED


def test_items_from_another_provider_are_not_sent_and_old_packed_histories_still_work() -> None:
    packed = "anthropic-thinking-blocks:" + msgspec.json.encode(INTERLEAVED[2:4]).decode()
    old = Message(role="assistant", content="Done.", reasoning_signature=packed)
    body = body_of(req(user("q"), old, user("more")))
    assert body["messages"][1]["content"] == [*INTERLEAVED[2:4], {"type": "text", "text": "Done."}]
    foreign = Message(
        role="assistant",
        content="Hi",
        reasoning_items=[ReasoningItem(type="reasoning", id="rs_1", data="gAAAA")],
    )
    assert body_of(req(user("a"), foreign, user("b")))["messages"][1] == {
        "role": "assistant",
        "content": "Hi",
    }


def test_reasoning_without_signature_is_not_sent() -> None:
    msg = Message(role="assistant", content="Hi", reasoning="from another provider")
    body = body_of(req(user("a"), msg, user("b")))
    assert body["messages"][1] == {"role": "assistant", "content": "Hi"}


def test_bad_packed_signature_is_validation_error() -> None:
    msg = Message(role="assistant", content="x", reasoning_signature="anthropic-thinking-blocks:[{")
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(user("a"), msg, user("b")))
    assert info.value.field == "messages[1].reasoning_signature"


def test_system_and_developer_messages_are_lifted() -> None:
    body = body_of(
        req(
            Message(role="system", content="Rule one."),
            user("hi"),
            Message(role="developer", content=[TextPart("Rule two.")]),
            user("again"),
        )
    )
    assert body["system"] == [
        {"type": "text", "text": "Rule one."},
        {"type": "text", "text": "Rule two."},
    ]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "again"}],
        }
    ]


def test_system_with_image_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(
            req(Message(role="system", content=[ImagePart(url="https://x/a.png")]), user("x"))
        )
    assert info.value.field == "messages[0].content[0]"


def test_merging_tool_results_go_first_and_consecutive_tools_share_a_turn() -> None:
    calls = [ToolCall(id="t1", name="a", arguments=""), ToolCall(id="t2", name="b", arguments="{}")]
    body = body_of(
        req(
            user("go"),
            Message(role="assistant", tool_calls=calls),
            Message(role="tool", tool_call_id="t1", content="one"),
            Message(role="tool", tool_call_id="t2", content=[TextPart("two"), ImagePart(data=PNG)]),
            user("now summarise"),
            Message(role="assistant", content="Part 1."),
            Message(role="assistant", content="Part 2."),
        )
    )
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "a", "input": {}},
        {"type": "tool_use", "id": "t2", "name": "b", "input": {}},
    ]
    turn = msgs[2]["content"]
    assert [b["type"] for b in turn] == ["tool_result", "tool_result", "text"]
    assert turn[1]["content"][1]["source"]["media_type"] == "image/png"
    assert msgs[3]["content"] == [
        {"type": "text", "text": "Part 1."},
        {"type": "text", "text": "Part 2."},
    ]


def test_text_after_tool_result_in_one_user_message_is_reordered() -> None:
    body = body_of(
        req(
            user("go"),
            Message(role="assistant", tool_calls=[ToolCall(id="t1", name="a", arguments="{}")]),
            user("(note first)"),
            Message(role="tool", tool_call_id="t1", content="done"),
        )
    )
    assert [b["type"] for b in body["messages"][2]["content"]] == ["tool_result", "text"]


@pytest.mark.parametrize(
    ("arguments", "why"),
    [('{"city": "Par', "not valid JSON"), ('["Paris"]', "JSON object")],
)
def test_invalid_tool_arguments_name_the_field(arguments: str, why: str) -> None:
    msg = Message(
        role="assistant",
        tool_calls=[
            ToolCall(id="t", name="w", arguments="{}"),
            ToolCall(id="u", name="w", arguments=arguments),
        ],
    )
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(user("q"), msg))
    assert info.value.field == "messages[1].tool_calls[1].arguments"
    assert why in str(info.value)


def test_tool_message_needs_an_id() -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(user("q"), Message(role="tool", content="x")))
    assert info.value.field == "messages[1].tool_call_id"


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None,
         {"type": "tool", "name": "get_weather"}),
        ({"type": "tool", "name": "get_weather"}, None, {"type": "tool", "name": "get_weather"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, None, None),
    ],
)  # fmt: skip
def test_tool_choice_mapping(choice: Any, parallel: bool | None, expected: Any) -> None:
    body = body_of(
        req(user("q"), tools=[WEATHER], tool_choice=choice, parallel_tool_calls=parallel)
    )
    assert body.get("tool_choice") == expected


def test_bad_tool_choice() -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(user("q"), tools=[WEATHER], tool_choice={"type": "weird"}))
    assert info.value.field == "tool_choice"


def test_sampling_stop_user_extra_and_default_max_tokens() -> None:
    body = body_of(
        req(
            user("q"),
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            stop=["\n\nHuman:"],
            seed=7,
            user="user-1234",
            extra={"service_tier": "standard_only", "top_k": 41},
        )
    )
    assert body["max_tokens"] == 4096
    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["top_k"] == 41  # extra wins
    assert body["stop_sequences"] == ["\n\nHuman:"]
    assert body["metadata"] == {"user_id": "user-1234"}
    assert body["service_tier"] == "standard_only"
    assert "seed" not in body
    assert "stream" not in body
    assert body_of(req(user("q"), max_tokens=77))["max_tokens"] == 77
    assert body_of(req(user("q")), max_tokens=1000)["max_tokens"] == 1000


@pytest.mark.parametrize(
    ("model", "reasoning", "thinking", "effort", "max_tokens"),
    [
        (
            "claude-sonnet-4-5-20250929",
            "low",
            {"type": "enabled", "budget_tokens": 2048},
            None,
            6144,
        ),
        (
            "claude-3-7-sonnet-20250219",
            "high",
            {"type": "enabled", "budget_tokens": 16384},
            None,
            20480,
        ),
        ("claude-opus-4-1", "medium", {"type": "enabled", "budget_tokens": 8192}, None, 12288),
        ("claude-sonnet-4-6", "medium", {"type": "adaptive"}, "medium", 16384),
        (
            "claude-opus-4-6",
            {"budget_tokens": 4000},
            {"type": "enabled", "budget_tokens": 4000},
            None,
            8096,
        ),
        ("claude-opus-4-7", {"budget_tokens": 4000}, {"type": "adaptive"}, "medium", 16384),
        ("claude-opus-4-7", "minimal", {"type": "adaptive"}, "low", 16384),
        ("claude-mythos-preview", "xhigh", {"type": "adaptive"}, "xhigh", 16384),
        ("anthropic.claude-opus-4-6-v1", {"effort": "max"}, {"type": "adaptive"}, "max", 16384),
        ("claude-sonnet-4-5", "none", {"type": "disabled"}, None, 4096),
    ],
)
def test_reasoning_mapping(
    model: str, reasoning: Any, thinking: Any, effort: str | None, max_tokens: int
) -> None:
    body = body_of(req(user("q"), model=model, reasoning=reasoning))
    assert body["thinking"] == thinking
    assert body.get("output_config", {}).get("effort") == effort
    assert body["max_tokens"] == max_tokens


def test_thinking_style_override_and_max_tokens_rules() -> None:
    body = body_of(req(user("q"), model="my-gateway-alias", reasoning="high"), thinking="budget")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    # an effort budget shrinks to fit a small max_tokens
    body = body_of(req(user("q"), model="claude-sonnet-4-5", reasoning="high", max_tokens=3000))
    assert body["thinking"]["budget_tokens"] < 3000 <= body["max_tokens"]
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(user("q"), reasoning={"budget_tokens": 4000}, max_tokens=4000))
    assert info.value.field == "max_tokens"
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(user("q"), reasoning={"budget_tokens": 500}))
    assert info.value.field == "reasoning.budget_tokens"
    with pytest.raises(ValidationError):
        adapter().encode(req(user("q"), reasoning="extreme"))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"temperature": 0.3}, "temperature"),
        ({"top_k": 5}, "top_k"),
        ({"tools": [WEATHER], "tool_choice": "required"}, "tool_choice"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_thinking_conflicts_are_caught_before_io(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(user("q"), reasoning="high", **kw))
    assert info.value.field == field


def test_structured_output_is_a_forced_tool_and_decodes_to_content() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    fmt = ResponseFormat(name="city info", schema=schema)
    body = body_of(req(user("Capital of France?"), response_format=fmt))
    name = STRUCTURED_TOOL_PREFIX + "city_info"
    assert body["tools"][-1]["name"] == name
    assert body["tools"][-1]["input_schema"] == schema
    assert body["tool_choice"] == {"type": "tool", "name": name}
    response = decode(
        {
            **RESPONSE_THINKING_TOOL,
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": name, "input": {"name": "Paris"}}
            ],
            "stop_reason": "tool_use",
        }
    )
    assert msgspec.json.decode(response.content) == {"name": "Paris"}
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.raw_finish_reason == "tool_use"
    # with other tools the model may call one of them or answer
    for choice in ("auto", "required"):
        body = body_of(req(user("q"), tools=[WEATHER], tool_choice=choice, response_format=fmt))
        assert [t["name"] for t in body["tools"]] == ["get_weather", name]
        assert body["tool_choice"] == {"type": "any"}
    body = body_of(req(user("q"), tools=[WEATHER], tool_choice="none", response_format=fmt))
    assert body["tool_choice"] == {"type": "tool", "name": name}
    # thinking switched off explicitly still allows the forced tool
    body = body_of(req(user("q"), reasoning="none", response_format=fmt))
    assert body["tool_choice"] == {"type": "tool", "name": name}


def test_structured_output_with_thinking_uses_output_config_format() -> None:
    fmt = ResponseFormat(name="x", schema={"type": "object", "properties": {}})
    body = body_of(req(user("q"), reasoning={"budget_tokens": 2048}, response_format=fmt))
    assert "tools" not in body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": fmt.schema}}
    body = body_of(req(user("q"), response_format=fmt), structured_output="native")
    assert body["output_config"]["format"]["type"] == "json_schema"


def test_files_images_and_unsupported_parts() -> None:
    body = body_of(
        req(
            Message(
                role="user",
                content=[
                    ImagePart(url="data:image/webp;base64,UklGRgAAAABXRUJQ"),
                    FilePart(url="https://example.com/report.pdf"),
                    FilePart(data=b"plain notes", media_type="text/plain"),
                    FilePart(data=PDF),
                    FilePart(file_id="file_011CNha8iCJcU1wXNR6q4V8w"),
                ],
            )
        )
    )
    blocks = body["messages"][0]["content"]
    assert blocks[0]["source"] == {
        "type": "base64",
        "media_type": "image/webp",
        "data": "UklGRgAAAABXRUJQ",
    }
    assert blocks[1] == {
        "type": "document",
        "source": {"type": "url", "url": "https://example.com/report.pdf"},
    }
    assert blocks[2]["source"] == {
        "type": "text",
        "media_type": "text/plain",
        "data": "plain notes",
    }
    assert blocks[3]["source"]["media_type"] == "application/pdf"
    assert blocks[4]["source"] == {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}
    cases = [
        (AudioPart(data=b"RIFF", format="wav"), "messages[0].content[0]"),
        (
            ImagePart(data=b"BM not a png", media_type="image/bmp"),
            "messages[0].content[0].media_type",
        ),
        (
            FilePart(data=b"PK\x03\x04", media_type="application/zip"),
            "messages[0].content[0].media_type",
        ),
        (ImagePart(url="ftp://x/y.png"), "messages[0].content[0]"),
    ]
    for part, field in cases:
        with pytest.raises(ValidationError) as info:
            adapter().encode(req(Message(role="user", content=[part])))
        assert info.value.field == field


def test_empty_history_and_empty_user_content() -> None:
    with pytest.raises(ValidationError):
        adapter().encode(req())
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(Message(role="system", content="only system")))
    assert info.value.field == "messages"
    with pytest.raises(ValidationError) as info:
        adapter().encode(req(Message(role="user", content="")))
    assert info.value.field == "messages[0].content"


def test_no_embeddings() -> None:
    with pytest.raises(ValidationError):
        adapter().encode_embed(EmbedRequest(model="claude", input=["a"]))
    assert adapter().capabilities.embeddings is False
    assert adapter().capabilities.files is True


# -- decoding -------------------------------------------------------------------------


def test_decode_thinking_tool_use_and_cache_usage() -> None:
    r = decode(RESPONSE_THINKING_TOOL)
    assert r.id == "msg_01Aq9w938a90dw8qK3pvfJ6n"
    assert r.model == "claude-sonnet-4-5-20250929"
    assert r.content == "Let me check."
    assert r.reasoning == "The user wants current Paris weather. I should call get_weather."
    assert r.reasoning_signature == SIG
    assert r.tool_calls == [
        ToolCall(
            id="toolu_01A09q90qw90lq917835lq9",
            name="get_weather",
            arguments='{"city":"Paris","unit":"celsius"}',
        )
    ]
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "tool_use"
    assert r.usage is not None
    assert r.usage.prompt_tokens == 612 + 1840
    assert r.usage.cached_tokens == 1840
    assert r.usage.cache_creation_tokens == 0
    assert r.usage.completion_tokens == 143
    assert r.usage.total_tokens == 612 + 1840 + 143
    assert r.provider == "anthropic"


def test_decode_usage_with_cache_creation_and_thinking_tokens() -> None:
    r = decode(
        {
            **RESPONSE_THINKING_TOOL,
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 2000,
                "cache_read_input_tokens": 300,
                "output_tokens": 50,
                "output_tokens_details": {"thinking_tokens": 30},
            },
        }
    )
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.cached_tokens, r.usage.cache_creation_tokens) == (
        2310,
        300,
        2000,
    )
    assert (r.usage.completion_tokens, r.usage.reasoning_tokens, r.usage.total_tokens) == (
        50,
        30,
        2360,
    )


@pytest.mark.parametrize(
    ("raw", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        ("some_future_reason", "stop"),
    ],
)
def test_stop_reasons(raw: str, finish: str) -> None:
    r = decode(
        {**RESPONSE_THINKING_TOOL, "content": [{"type": "text", "text": "x"}], "stop_reason": raw}
    )
    assert r.finish_reason == finish
    assert r.raw_finish_reason == raw


def test_decode_refusal_details_and_unknown_blocks() -> None:
    r = decode(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"q": 1},
                },
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "I won't", "citations": None},
            ],
            "stop_reason": "refusal",
            "stop_details": {"type": "refusal", "category": "cyber", "explanation": None},
            "usage": {"input_tokens": 3, "output_tokens": 2},
        }
    )
    assert r.content == "I won't"
    assert r.tool_calls == []
    assert r.finish_reason == "content_filter"
    assert r.refusal == "cyber"


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"content": "not a list"}', b'{"content": [{"text": "no type"}]}'],
)
def test_decode_malformed_body_is_server_error(body: bytes) -> None:
    with pytest.raises(ServerError) as info:
        adapter().decode(200, [], body)
    assert info.value.retryable is False


# -- errors ---------------------------------------------------------------------------


INPUT_TOO_LONG = (
    "input length and `max_tokens` exceed context limit: 189136 + 20000 > 204648, "
    "decrease input length or `max_tokens` and try again"
)


def err_body(
    kind: str, message: str, request_id: str | None = "req_011CSHoEeqs5C35K2UUqR7Fy"
) -> bytes:
    obj: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id:
        obj["request_id"] = request_id
    return msgspec.json.encode(obj)


@pytest.mark.parametrize(
    ("status", "kind", "message", "headers", "cls", "retryable"),
    [
        (401, "authentication_error", "invalid x-api-key", [], AuthenticationError, False),
        (
            403,
            "permission_error",
            "Your API key does not have permission",
            [],
            PermissionDeniedError,
            False,
        ),
        (404, "not_found_error", "model: claude-nope", [], NotFoundError, False),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
            [],
            BadRequestError,
            False,
        ),
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            [(b"retry-after", b"17")],
            RateLimitError,
            True,
        ),
        (
            429,
            "rate_limit_error",
            "You have reached your monthly spend limit",
            [],
            RateLimitError,
            False,
        ),
        (
            429,
            "rate_limit_error",
            "rate limited",
            [(b"x-should-retry", b"true")],
            RateLimitError,
            True,
        ),
        (402, "billing_error", "Payment required", [], RateLimitError, False),
        (
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API.",
            [],
            RateLimitError,
            False,
        ),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210883 tokens > 199999 maximum",
            [],
            ContextLengthError,
            False,
        ),
        (400, "invalid_request_error", INPUT_TOO_LONG, [], ContextLengthError, False),
        (
            400,
            "invalid_request_error",
            "messages.1.content.0.type: Field required",
            [],
            BadRequestError,
            False,
        ),
        (409, "conflict_error", "conflict", [], BadRequestError, True),
        (500, "api_error", "Internal server error", [], ServerError, True),
        (504, "timeout_error", "Request timed out", [], ServerError, True),
        (529, "overloaded_error", "Overloaded", [], ServerError, True),
    ],
)
def test_error_classification(
    status: int,
    kind: str,
    message: str,
    headers: list[tuple[bytes, bytes]],
    cls: type[Exception],
    retryable: bool,
) -> None:
    error = adapter().error(status, headers, err_body(kind, message))
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status == status
    assert error.code == kind
    assert error.message == message
    assert error.provider == "anthropic"
    assert error.request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
    assert KEY not in str(error)
    assert KEY not in repr(error)


def test_error_retry_after_and_header_request_id() -> None:
    error = adapter().error(
        429,
        [(b"Retry-After", b"17"), (b"request-id", b"req_header")],
        err_body("rate_limit_error", "slow down", None),
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 17.0
    assert error.request_id == "req_header"


def test_error_without_json_body_falls_back_to_status() -> None:
    error = adapter().error(529, [], b"")
    assert isinstance(error, ServerError)
    assert error.retryable
    error = adapter().error(502, [], b"<html>Bad Gateway</html>")
    assert isinstance(error, ServerError)
    assert "Bad Gateway" in error.message
    error = adapter().error(413, [], b"request entity too large")
    assert type(error) is BadRequestError


# -- streaming ------------------------------------------------------------------------


def test_text_stream() -> None:
    chunks, ok = run(TEXT_STREAM)
    assert ok
    assert chunks[0].id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert chunks[0].model == "claude-sonnet-4-5-20250929"
    r = accumulate(chunks)
    assert r.content == "Hello there!"
    assert r.finish_reason == "stop"
    assert r.raw_finish_reason == "end_turn"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (25, 6, 31)


def test_thinking_text_tool_stream() -> None:
    chunks, ok = run(TOOL_STREAM)
    assert ok
    fragments = [f for c in chunks for f in c.tool_calls or ()]
    assert {f.index for f in fragments} == {0}
    assert fragments[0].id == "toolu_01A09q90qw90lq917835lq9"
    assert fragments[0].name == "get_weather"
    assert all(f.arguments for f in fragments[1:])  # the empty first fragment is not emitted
    r = accumulate(chunks)
    assert r.reasoning == "The user asks about Paris. I'll call get_weather."
    assert r.reasoning_signature == SIG
    assert r.content == "Let me check."
    assert r.tool_calls == [
        ToolCall(
            id="toolu_01A09q90qw90lq917835lq9",
            name="get_weather",
            arguments='{"city": "Paris", "unit": "celsius"}',
        )
    ]
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "tool_use"
    assert r.usage is not None
    assert r.usage.prompt_tokens == 377
    assert r.usage.completion_tokens == 96


def test_parallel_tool_calls_get_ordinals() -> None:
    r = accumulate(run(PARALLEL_TOOLS_STREAM)[0])
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [
        ("toolu_A", "get_weather", '{"city": "Paris"}'),
        ("toolu_B", "get_time", "{}"),
        ("toolu_C", "get_weather", '{"city": "Oslo"}'),
    ]


def test_cache_usage_in_stream_is_a_running_total() -> None:
    chunks, ok = run(CACHE_STREAM)
    assert ok
    first = chunks[0].usage
    assert first is not None
    assert first.prompt_tokens == 612 + 1840 + 100
    assert first.completion_tokens == 1
    r = accumulate(chunks)
    assert r.content == "It's 18°C."
    assert r.finish_reason == "length"
    assert r.usage is not None
    assert r.usage.prompt_tokens == 2552
    assert r.usage.cached_tokens == 1840
    assert r.usage.cache_creation_tokens == 100
    assert r.usage.completion_tokens == 143
    assert r.usage.total_tokens == 2552 + 143


def test_server_tools_unknown_events_and_citations_are_ignored() -> None:
    chunks, ok = run(SERVER_TOOL_STREAM)
    assert ok
    r = accumulate(chunks)
    assert r.content == "Paris is mild today."
    assert r.tool_calls == []
    assert r.finish_reason == "stop"
    assert r.raw_finish_reason == "pause_turn"


def test_refusal_stream() -> None:
    r = accumulate(run(REFUSAL_STREAM)[0])
    assert r.content == "I can't"
    assert r.finish_reason == "content_filter"
    assert r.refusal == "Declined."


def test_structured_output_stream_is_content() -> None:
    r = accumulate(run(STRUCTURED_STREAM)[0])
    assert msgspec.json.decode(r.content) == {"name": "Paris", "population": 2102650}
    assert r.tool_calls == []
    assert r.finish_reason == "stop"


def test_mid_stream_error_event_is_classified() -> None:
    decoder = adapter().stream_decoder(req(user("x"), stream=True))
    head, _, tail = ERROR_STREAM.partition(b"event: error")
    chunks = decoder.feed(head)
    assert accumulate(chunks).content == "Sure, here is"
    with pytest.raises(ServerError) as info:
        decoder.feed(b"event: error" + tail)
    assert info.value.retryable is True
    assert info.value.code == "overloaded_error"
    assert info.value.status is None
    assert decoder.end() is False


@pytest.mark.parametrize(
    ("kind", "cls", "retryable"),
    [
        ("api_error", ServerError, True),
        ("rate_limit_error", RateLimitError, True),
        ("invalid_request_error", BadRequestError, False),
        ("authentication_error", AuthenticationError, False),
    ],
)
def test_error_events(kind: str, cls: type[Exception], retryable: bool) -> None:
    data = sse(message_start(), {"type": "error", "error": {"type": kind, "message": "m"}})
    with pytest.raises(cls) as info:
        run(data)
    assert info.value.retryable is retryable


def test_truncated_stream_end_is_false() -> None:
    cut = TOOL_STREAM[: TOOL_STREAM.index(b"event: message_stop")]
    chunks, ok = run(cut)
    assert ok is False
    assert accumulate(chunks).finish_reason == "tool_calls"
    chunks, ok = run(TEXT_STREAM[:-3])  # inside the last event
    assert ok is False


def test_done_turns_true_at_message_stop_and_later_bytes_are_ignored() -> None:
    decoder = adapter().stream_decoder(req(user("x"), stream=True))
    decoder.feed(TEXT_STREAM)
    assert decoder.done
    assert (
        decoder.feed(sse(message_start(), {"type": "error", "error": {"type": "api_error"}})) == []
    )
    assert decoder.end() is True


@pytest.mark.parametrize(
    "data",
    [
        b'event: message_start\ndata: {"type":"message_start","message":{\n\n',
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":"zero","delta":{}}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0}\n\n',
        b'event: message_delta\ndata: {"type":"no_such_type"}\n\n',
        b"event: ping\ndata: [1, 2]\n\n",
    ],
)
def test_malformed_events_raise_stream_error(data: bytes) -> None:
    with pytest.raises(StreamError):
        run(data)


def test_event_without_event_line_and_unknown_type_without_event_line() -> None:
    data = TEXT_STREAM.replace(b"event: content_block_delta\n", b"")
    data = data.replace(b"event: ping\n", b'data: {"type":"future_thing"}\n\n')
    chunks, ok = run(data)
    assert ok
    assert accumulate(chunks).content == "Hello there!"


def _fingerprint(chunks: list[StreamChunk]) -> Any:
    r = accumulate(chunks)
    return msgspec.to_builtins(r)


@pytest.mark.parametrize("name", sorted(ALL_STREAMS))
def test_every_single_split_point_gives_the_same_response(name: str) -> None:
    data = ALL_STREAMS[name]
    whole, ok = run(data)
    assert ok
    expected = _fingerprint(whole)
    for cut in range(1, len(data)):
        chunks, ok = run(data, [cut])
        assert ok
        assert _fingerprint(chunks) == expected, cut


def test_splits_inside_utf8_and_between_cr_and_lf() -> None:
    data = UNICODE_STREAM
    whole = _fingerprint(run(data)[0])
    assert accumulate(run(data)[0]).content == "Grüße aus Köln — 東京は晴れ 🌤️, naïve café ✓"
    emoji = data.index("🌤".encode())
    crs = [i + 1 for i in range(len(data)) if data[i : i + 2] == b"\r\n"]
    assert crs
    splits = [emoji + 1, emoji + 2, emoji + 3, data.index("東".encode()) + 1, *crs]
    chunks, ok = run(data, splits)
    assert ok
    assert _fingerprint(chunks) == whole
    chunks, ok = run(data, list(range(1, len(data))))  # one byte at a time
    assert ok
    assert _fingerprint(chunks) == whole


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(ALL_STREAMS)),
    cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=30),
)
def test_split_invariance_property(name: str, cuts: list[int]) -> None:
    data = ALL_STREAMS[name]
    whole, _ = run(data)
    chunks, ok = run(data, [c for c in cuts if c < len(data)])
    assert ok
    assert _fingerprint(chunks) == _fingerprint(whole)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_adapter_errors(data: bytes) -> None:
    decoder = adapter().stream_decoder(req(user("x"), stream=True))
    try:
        decoder.feed(b"event: content_block_delta\ndata: " + data + b"\n\n")
        decoder.feed(data)
        decoder.end()
    except (StreamError, ServerError, RateLimitError, BadRequestError, AuthenticationError,
            PermissionDeniedError, NotFoundError):  # fmt: skip
        pass


# -- the fake server's replies decode with this adapter -------------------------------


def recorded(body: dict[str, Any], headers: dict[str, str] | None = None) -> RecordedRequest:
    return RecordedRequest(
        method="POST",
        path="/v1/messages",
        headers={"x-api-key": "k", **(headers or {})},
        header_list=[],
        body=msgspec.json.encode(body),
        connection_id=1,
    )


def test_fake_reply_tool_use_then_text_streaming_and_not() -> None:
    a = adapter()
    request = req(user("Weather in Paris?"), tools=[WEATHER], reasoning={"budget_tokens": 2048})
    body = msgspec.json.decode(a.encode(request).body)
    r = fake_reply(recorded(body))
    assert r.status == 200
    first = a.decode(200, [], r.body)
    assert first.tool_calls
    assert first.tool_calls[0].name == "get_weather"
    assert msgspec.json.decode(first.tool_calls[0].arguments) == {"city": "Paris"}
    assert first.reasoning
    assert first.reasoning_signature
    history = [
        *request.messages,
        first.message,
        Message(role="tool", tool_call_id=first.tool_calls[0].id, content="18°C"),
    ]
    body = msgspec.json.decode(a.encode(req(*history, tools=[WEATHER], stream=True)).body)
    streamed = fake_reply(recorded(body))
    decoder = a.stream_decoder(request)
    chunks = [c for piece in streamed.chunks for c in decoder.feed(piece)]
    assert decoder.end()
    second = accumulate(chunks)
    assert second.content.startswith("Thanks")
    assert second.finish_reason == "stop"


def test_fake_reply_structured_and_errors() -> None:
    a = adapter()
    fmt = ResponseFormat(
        name="city", schema={"type": "object", "properties": {"n": {"type": "integer"}}}
    )
    body = msgspec.json.decode(a.encode(req(user("q"), response_format=fmt)).body)
    assert msgspec.json.decode(a.decode(200, [], fake_reply(recorded(body)).body).content) == {
        "n": 1
    }
    missing = fake_reply(recorded({"model": "m", "messages": []}))
    assert isinstance(a.error(missing.status, [], missing.body), BadRequestError)
    no_key = RecordedRequest("POST", "/v1/messages", {}, [], b"{}", 1)
    r = fake_reply(no_key)
    assert isinstance(a.error(r.status, [], r.body), AuthenticationError)
