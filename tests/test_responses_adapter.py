"""Sans-IO tests of the OpenAI Responses API adapter: request bodies, replies, streams, errors.

Shapes follow the Responses reference
(https://platform.openai.com/docs/api-reference/responses) and its streaming
events (https://platform.openai.com/docs/api-reference/responses-streaming);
the transcripts are built in ``responses_builders``, each stream with a
non-streamed twin that must read the same.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from agent_adapter.accumulate import Accumulator
from agent_adapter.errors import (
    AdapterError,
    BadRequestError,
    ContentFilterError,
    ContextLengthError,
    RateLimitError,
    ServerError,
    StreamError,
    ValidationError,
)
from agent_adapter.providers.openai.responses import OpenAIResponsesAdapter
from agent_adapter.types import (
    AudioPart,
    ChatRequest,
    ChatResponse,
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
from responses_builders import (
    CACHED_USAGE,
    ENC,
    ENC2,
    ERROR_EVENT,
    FAILED,
    LYON,
    MODEL,
    NESTED_ERROR_EVENT,
    PARIS,
    RID,
    STREAMS,
    SUMMARY_1,
    SUMMARY_2,
    body,
    call,
    events,
    message,
    reasoning,
    response,
    sse,
    usage,
)

_encode = msgspec.json.encode
_decode = msgspec.json.decode

KEY = "sk-proj-SECRETSECRETSECRET"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
WEATHER = Tool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    strict=True,
)


def make(
    name: str = "openai", base_url: str = "https://api.openai.com/v1", **options: Any
) -> OpenAIResponsesAdapter:
    return OpenAIResponsesAdapter(name=name, base_url=base_url, api_key=KEY, options=options)


def req(**kw: Any) -> ChatRequest:
    kw.setdefault("model", "gpt-5")
    kw.setdefault("messages", [Message(role="user", content="Weather in Paris?")])
    return ChatRequest(**kw)


def body_of(request: ChatRequest, adapter: OpenAIResponsesAdapter | None = None) -> dict:
    result: dict[str, Any] = _decode((adapter or make()).encode(request).body)
    return result


def feed_all(data: bytes, cuts: list[int] | None = None) -> tuple[list[StreamChunk], bool]:
    dec = make().stream_decoder(req(stream=True))
    chunks: list[StreamChunk] = []
    prev = 0
    for cut in [*(cuts or []), len(data)]:
        chunks.extend(dec.feed(data[prev:cut]))
        prev = cut
    return chunks, dec.end()


def accumulate(chunks: list[StreamChunk]) -> ChatResponse:
    acc = Accumulator()
    acc.extend(chunks)
    return acc.response("openai")


def stream(data: bytes, cuts: list[int] | None = None) -> ChatResponse:
    chunks, ended = feed_all(data, cuts)
    assert ended
    return accumulate(chunks)


def decode(obj: Any) -> ChatResponse:
    return make().decode(200, [], obj if isinstance(obj, bytes) else _encode(obj))


def summary(r: ChatResponse) -> tuple[Any, ...]:
    return (
        r.content, r.reasoning, r.refusal, r.tool_calls, r.finish_reason, r.raw_finish_reason,
        r.usage, r.id, r.model, r.reasoning_items,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# encode: the request body, field by field
# ---------------------------------------------------------------------------


def test_minimal_request_url_headers_and_body() -> None:
    http = make().encode(req())
    assert http.method == "POST"
    assert http.url == "https://api.openai.com/v1/responses"
    headers = dict(http.headers)
    assert headers[b"authorization"] == b"Bearer " + KEY.encode()
    assert headers[b"content-type"] == b"application/json"
    assert KEY not in repr(http)
    assert _decode(http.body) == {
        "model": "gpt-5",
        "input": [{"type": "message", "role": "user", "content": "Weather in Paris?"}],
    }


def test_every_mapped_field() -> None:
    body = body_of(
        req(
            stream=True,
            temperature=0.2,
            top_p=0.9,
            max_tokens=300,
            parallel_tool_calls=False,
            user="user-1234",
            prompt_cache_key="weather-agent-v2",
            tools=[WEATHER],
            tool_choice="required",
            reasoning="high",
        )
    )
    assert body["stream"] is True
    assert "stream_options" not in body  # usage always comes on response.completed
    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["max_output_tokens"] == 300
    assert "max_tokens" not in body
    assert "max_completion_tokens" not in body
    assert body["parallel_tool_calls"] is False
    assert body["user"] == "user-1234"
    assert body["prompt_cache_key"] == "weather-agent-v2"
    assert body["tool_choice"] == "required"
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": WEATHER.parameters,
            "strict": True,
        }
    ]
    assert "include" not in body
    assert "instructions" not in body


def test_function_tool_is_flat_and_not_strict_unless_asked() -> None:
    # Responses makes an unmarked schema strict; Chat Completions does not: keep ours non-strict.
    body = body_of(req(tools=[Tool(name="ping")], tool_choice="auto"))
    assert body["tools"] == [
        {
            "type": "function",
            "name": "ping",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        }
    ]


def test_named_tool_choice_is_flat() -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    assert body_of(req(tools=[WEATHER], tool_choice=choice))["tool_choice"] == {
        "type": "function",
        "name": "get_weather",
    }
    assert body_of(req(tools=[WEATHER], tool_choice="none"))["tool_choice"] == "none"


def test_response_format_is_text_format() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = ResponseFormat(name="weather", schema=schema, strict=True)
    assert body_of(req(response_format=fmt))["text"] == {
        "format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}
    }
    json_object = ResponseFormat(type="json_object")
    assert body_of(req(response_format=json_object))["text"] == {"format": {"type": "json_object"}}
    with pytest.raises(ValidationError) as info:
        make().encode(req(response_format=ResponseFormat(schema=None)))
    assert info.value.field == "response_format"


@pytest.mark.parametrize(
    ("reasoning", "sent"),
    [
        ("low", {"effort": "low", "summary": "auto"}),
        ("none", {"effort": "none"}),
        ({"effort": "medium", "summary": "detailed"}, {"effort": "medium", "summary": "detailed"}),
        ({"effort": "minimal", "budget_tokens": 100}, {"effort": "minimal", "summary": "auto"}),
    ],
)
def test_reasoning_effort_and_summary(reasoning: Any, sent: dict[str, str]) -> None:
    assert body_of(req(reasoning=reasoning))["reasoning"] == sent


def test_leading_system_and_developer_messages_are_instructions() -> None:
    messages = [
        Message(role="system", content="You are a concise weather assistant."),
        Message(role="developer", content=[TextPart("Answer in Celsius.")]),
        Message(role="user", content="Weather in Paris?"),
        Message(role="assistant", content="18 °C."),
        Message(role="developer", content="From now on, answer in Fahrenheit."),
        Message(role="user", content="And Lyon?"),
    ]
    body = body_of(req(messages=messages))
    assert body["instructions"] == "You are a concise weather assistant.\n\nAnswer in Celsius."
    assert body["input"] == [
        {"type": "message", "role": "user", "content": "Weather in Paris?"},
        {"type": "message", "role": "assistant", "content": "18 °C."},
        {"type": "message", "role": "developer", "content": "From now on, answer in Fahrenheit."},
        {"type": "message", "role": "user", "content": "And Lyon?"},
    ]


def test_user_parts_text_image_file() -> None:
    parts = [
        TextPart("Compare these."),
        ImagePart(url="https://example.com/sky.jpg", detail="high"),
        ImagePart(data=PNG),
        FilePart(data=b"%PDF-1.7", media_type="application/pdf", filename="report.pdf"),
        FilePart(file_id="file-6F2ksmvXxt4VdoqmHRw6kL"),
        FilePart(url="https://example.com/spec.pdf"),
        FilePart(data=b"a,b\n1,2", media_type="text/csv"),
    ]
    body = body_of(req(messages=[Message(role="user", content=parts)]))
    assert body["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Compare these."},
                {
                    "type": "input_image",
                    "detail": "high",
                    "image_url": "https://example.com/sky.jpg",
                },
                {
                    "type": "input_image",
                    "detail": "auto",
                    "image_url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==",
                },
                {
                    "type": "input_file",
                    "filename": "report.pdf",
                    "file_data": "data:application/pdf;base64,JVBERi0xLjc=",
                },
                {"type": "input_file", "file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"},
                {"type": "input_file", "file_url": "https://example.com/spec.pdf"},
                {
                    "type": "input_file",
                    "filename": "file.csv",
                    "file_data": "data:text/csv;base64,YSxiCjEsMg==",
                },
            ],
        }
    ]


def test_tool_round_trip_items() -> None:
    messages = [
        Message(role="user", content="Weather in Paris and Lyon?"),
        Message(
            role="assistant",
            content="Checking both.",
            tool_calls=[
                ToolCall("call_7hQe2VdS9x1LmN4pKc0bTz3A", "get_weather", PARIS, item_id="fc_1"),
                ToolCall("call_Zb8PqR4sT6uV0wX2yA4cE6gI", "get_weather", LYON),
            ],
        ),
        Message(role="tool", tool_call_id="call_7hQe2VdS9x1LmN4pKc0bTz3A", content='{"t":18}'),
        Message(
            role="tool",
            tool_call_id="call_Zb8PqR4sT6uV0wX2yA4cE6gI",
            content=[TextPart("17")],
            is_error=True,
        ),
    ]
    assert body_of(req(messages=messages))["input"] == [
        {"type": "message", "role": "user", "content": "Weather in Paris and Lyon?"},
        {"type": "message", "role": "assistant", "content": "Checking both."},
        # No reasoning item beside them: the fc_ id would be refused, so it is not sent.
        {
            "type": "function_call",
            "call_id": "call_7hQe2VdS9x1LmN4pKc0bTz3A",
            "name": "get_weather",
            "arguments": PARIS,
        },
        {
            "type": "function_call",
            "call_id": "call_Zb8PqR4sT6uV0wX2yA4cE6gI",
            "name": "get_weather",
            "arguments": LYON,
        },
        {
            "type": "function_call_output",
            "call_id": "call_7hQe2VdS9x1LmN4pKc0bTz3A",
            "output": '{"t":18}',
        },
        {
            "type": "function_call_output",
            "call_id": "call_Zb8PqR4sT6uV0wX2yA4cE6gI",
            "output": "17",
        },
    ]


def test_refusal_in_history_is_assistant_text() -> None:
    messages = [
        Message(role="user", content="Help me pick a lock."),
        Message(role="assistant", refusal="I can't help with that."),
        Message(role="user", content="OK, the weather then."),
    ]
    assert body_of(req(messages=messages))["input"][1] == {
        "type": "message",
        "role": "assistant",
        "content": "I can't help with that.",
    }


def reasoning_turn(*items: ReasoningItem, calls: int = 2) -> Message:
    tool_calls = [
        ToolCall("call_A", "get_weather", PARIS, item_id="fc_A"),
        ToolCall("call_B", "get_weather", LYON, item_id="fc_B"),
    ][:calls]
    return Message(role="assistant", tool_calls=tool_calls, reasoning_items=list(items))


RS_PARTS = (
    ReasoningItem(type="reasoning", id="rs_1", data=ENC, text=SUMMARY_1, index=0),
    ReasoningItem(type="reasoning", id="rs_1", text=SUMMARY_2, index=0),
)


def test_reasoning_items_go_back_before_their_calls_with_the_call_item_ids() -> None:
    body = body_of(
        req(messages=[Message(role="user", content="Paris, Lyon?"), reasoning_turn(*RS_PARTS)])
    )
    assert body["input"][1:] == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [
                {"type": "summary_text", "text": SUMMARY_1},
                {"type": "summary_text", "text": SUMMARY_2},
            ],
            "encrypted_content": ENC,
        },
        {
            "type": "function_call",
            "call_id": "call_A",
            "name": "get_weather",
            "arguments": PARIS,
            "id": "fc_A",
        },
        {
            "type": "function_call",
            "call_id": "call_B",
            "name": "get_weather",
            "arguments": LYON,
            "id": "fc_B",
        },
    ]


def test_reasoning_items_keep_their_place_between_calls() -> None:
    first = ReasoningItem(type="reasoning", id="rs_1", data=ENC, index=0)
    second = ReasoningItem(type="reasoning", id="rs_2", data=ENC2, text="", index=2)
    body = body_of(req(messages=[Message(role="user", content="?"), reasoning_turn(second, first)]))
    assert [(i["type"], i.get("id")) for i in body["input"][1:]] == [
        ("reasoning", "rs_1"),
        ("function_call", "fc_A"),
        ("reasoning", "rs_2"),
        ("function_call", "fc_B"),
    ]
    assert body["input"][1]["summary"] == []
    assert body["input"][3]["summary"] == [{"type": "summary_text", "text": ""}]


def test_without_store_a_reasoning_item_needs_its_encrypted_content() -> None:
    bare = ReasoningItem(type="reasoning", id="rs_0", text="Lost.", index=0)
    second = ReasoningItem(type="reasoning", id="rs_2", data=ENC2, index=2)
    turn = reasoning_turn(bare, second)
    stored = body_of(req(messages=[Message(role="user", content="?"), turn]))
    assert [i.get("id") for i in stored["input"][1:]] == ["rs_0", "fc_A", "rs_2", "fc_B"]
    assert "include" not in stored
    stateless = body_of(
        req(messages=[Message(role="user", content="?"), turn], extra={"store": False})
    )
    assert [i.get("id") for i in stateless["input"][1:]] == ["fc_A", "rs_2", "fc_B"]
    assert stateless["store"] is False
    assert stateless["include"] == ["reasoning.encrypted_content"]
    # None kept: the calls go without their fc_ ids, which would need it.
    alone = body_of(
        req(
            messages=[Message(role="user", content="?"), reasoning_turn(bare)],
            extra={"store": False},
        )
    )
    assert [i.get("id") for i in alone["input"][1:]] == [None, None]


def test_reasoning_items_of_a_text_turn_and_of_other_providers_stay_home() -> None:
    text_turn = Message(role="assistant", content="18 °C.", reasoning_items=list(RS_PARTS))
    thinking = ReasoningItem(type="thinking", text="hmm", signature="sig")
    body = body_of(
        req(
            messages=[
                Message(role="user", content="?"),
                text_turn,
                Message(role="user", content="and?"),
                reasoning_turn(thinking, calls=1),
            ]
        )
    )
    assert [i["type"] for i in body["input"]] == ["message", "message", "message", "function_call"]
    assert "id" not in body["input"][3]


def test_include_from_extra_is_joined_and_extra_wins() -> None:
    body = body_of(
        req(
            extra={
                "store": False,
                "include": ["message.output_text.logprobs"],
                "previous_response_id": "resp_prev",
                "truncation": "auto",
            }
        )
    )
    assert body["include"] == ["message.output_text.logprobs", "reasoning.encrypted_content"]
    assert body["previous_response_id"] == "resp_prev"
    assert body["truncation"] == "auto"
    assert body_of(req(extra={"include": ["reasoning.encrypted_content"], "store": False}))[
        "include"
    ] == ["reasoning.encrypted_content"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stop", ["\n"]),
        ("seed", 7),
        ("presence_penalty", 0.5),
        ("frequency_penalty", 0.5),
        ("top_k", 5),
    ],
)
def test_fields_the_responses_api_lacks_are_rejected_before_io(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        make().encode(req(**{field: value}))
    assert info.value.field == field


def test_budget_only_reasoning_audio_and_empty_image_are_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        make().encode(req(reasoning={"budget_tokens": 1024}))
    assert info.value.field == "reasoning"
    audio = Message(role="user", content=[TextPart("hi"), AudioPart(data=b"RIFF", format="wav")])
    with pytest.raises(ValidationError) as info:
        make().encode(req(messages=[audio]))
    assert info.value.field == "messages[0].content[1]"
    empty = Message(role="user", content=[ImagePart()])
    with pytest.raises(ValidationError) as info:
        make().encode(req(messages=[empty]))
    assert info.value.field == "messages[0].content[0]"


AZURE = "https://res.openai.azure.com"
AZURE_V1 = AZURE + "/openai/v1/responses"


@pytest.mark.parametrize(
    ("base_url", "options", "model"),
    [
        (AZURE, {}, "gpt-5"),
        (AZURE + "/openai/", {"deployment": "prod-5"}, "prod-5"),
        (AZURE + "/openai/v1", {}, "gpt-5"),
        (AZURE + "/openai/deployments/my%20dep", {}, "my dep"),
    ],
)
def test_azure_v1_route_deployment_as_model_and_api_key(
    base_url: str, options: dict[str, str], model: str
) -> None:
    adapter = make("azure", base_url, api_version="2024-10-21", **options)
    http = adapter.encode(req())
    assert http.url == AZURE_V1  # the v1 route takes no api-version
    assert _decode(http.body)["model"] == model
    headers = dict(http.headers)
    assert headers[b"api-key"] == KEY.encode()
    assert b"authorization" not in headers


def test_embeddings_stay_on_the_embeddings_endpoint() -> None:
    from agent_adapter.types import EmbedRequest

    http = make().encode_embed(EmbedRequest(model="text-embedding-3-small", input=["a"]))
    assert http.url == "https://api.openai.com/v1/embeddings"


# ---------------------------------------------------------------------------
# decode: the non-streamed response object
# ---------------------------------------------------------------------------


def test_decode_text_with_usage() -> None:
    r = decode(response([message("Hello there!")], use=usage(12, 3)))
    assert r.content == "Hello there!"
    assert r.finish_reason == "stop"
    assert r.raw_finish_reason == "completed"
    assert r.id == RID
    assert r.model == MODEL
    assert r.provider == "openai"
    assert r.reasoning is None
    assert r.reasoning_items is None
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (12, 3, 15)


def test_decode_usage_cached_and_reasoning_tokens_stay_inside_the_totals() -> None:
    r = decode(response([message("ok")], use=CACHED_USAGE))
    assert r.usage is not None
    assert r.usage.prompt_tokens == 2048  # cached ones included, as input_tokens counts them
    assert r.usage.cached_tokens == 1920
    assert r.usage.completion_tokens == 300  # reasoning included, as output_tokens counts it
    assert r.usage.reasoning_tokens == 192
    assert r.usage.total_tokens == 2348
    written = dict(
        CACHED_USAGE, input_tokens_details={"cached_tokens": 0, "cache_write_tokens": 512}
    )
    written_usage = decode(response([message("ok")], use=written)).usage
    assert written_usage is not None
    assert written_usage.cache_creation_tokens == 512


def test_decode_reasoning_tool_calls_and_item_ids() -> None:
    output = [
        reasoning("rs_1", ENC, SUMMARY_1, SUMMARY_2),
        call("call_A", PARIS, "fc_A"),
        {
            "id": "ws_1",
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search"},
        },
        call("call_B", LYON, "fc_B"),
    ]
    r = decode(response(output))
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "completed"
    assert r.tool_calls == [
        ToolCall("call_A", "get_weather", PARIS, item_id="fc_A"),
        ToolCall("call_B", "get_weather", LYON, item_id="fc_B"),
    ]
    assert r.reasoning == SUMMARY_1 + "\n\n" + SUMMARY_2
    assert r.reasoning_items == [
        ReasoningItem(type="reasoning", id="rs_1", data=ENC, text=SUMMARY_1, index=0),
        ReasoningItem(type="reasoning", id="rs_1", text=SUMMARY_2, index=0),
    ]
    assert r.message.reasoning_items == r.reasoning_items


def test_decode_reasoning_without_summary_or_encrypted_content() -> None:
    r = decode(response([reasoning("rs_1", None), message("42")]))
    assert r.reasoning is None
    assert r.reasoning_items == [ReasoningItem(type="reasoning", id="rs_1", index=0)]


def test_decode_refusal() -> None:
    r = decode(response([message(refusal="I can't help with that.")]))
    assert r.refusal == "I can't help with that."
    assert r.content == ""
    assert r.finish_reason == "stop"


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("max_output_tokens", "length"), ("content_filter", "content_filter"), ("steered", "stop")],
)
def test_decode_incomplete_reason(reason: str, finish: str) -> None:
    r = decode(response([message("The history of")], status="incomplete", incomplete=reason))
    assert r.finish_reason == finish
    assert r.raw_finish_reason == reason
    assert r.content == "The history of"


def test_decode_background_and_cancelled_status() -> None:
    assert decode(response([], status="queued")).finish_reason is None
    assert decode(response([], status="cancelled")).finish_reason == "error"


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        ("server_error", ServerError, True),
        ("rate_limit_exceeded", RateLimitError, True),
        ("vector_store_timeout", ServerError, True),
        ("invalid_prompt", BadRequestError, False),
        ("invalid_image_url", BadRequestError, False),
        ("image_content_policy_violation", ContentFilterError, False),
        ("bio_policy", ContentFilterError, False),
        ("context_length_exceeded", ContextLengthError, False),
        ("some_new_code", ServerError, True),
    ],
)
def test_decode_failed_response_is_its_classified_error(
    code: str, cls: type[AdapterError], retryable: bool
) -> None:
    raw = _encode(response(status="failed", error={"code": code, "message": f"{code} happened"}))
    with pytest.raises(cls) as info:
        make().decode(200, [(b"x-request-id", b"req_failed")], raw)
    e = info.value
    assert type(e) is cls
    assert e.retryable is retryable
    assert e.code == code
    assert e.message == f"{code} happened"
    assert e.request_id == "req_failed"
    assert e.provider == "openai"


@pytest.mark.parametrize(
    "raw",
    [
        b"<html>nginx</html>",
        b'{"object": "list", "data": []}',
        b'{"output": [{"type": "message", "content": 5}]}',
    ],
)
def test_decode_unreadable_is_a_non_retryable_server_error(raw: bytes) -> None:
    with pytest.raises(ServerError) as info:
        make().decode(200, [], raw)
    assert info.value.retryable is False
    assert info.value.status == 200


# ---------------------------------------------------------------------------
# streams: every transcript, and its non-streamed twin
# ---------------------------------------------------------------------------


CALL_PARIS = ToolCall(
    "call_7hQe2VdS9x1LmN4pKc0bTz3A", "get_weather", PARIS, item_id="fc_68c1f0a4e1f481909f"
)
CALL_LYON = ToolCall(
    "call_Zb8PqR4sT6uV0wX2yA4cE6gI", "get_weather", LYON, item_id="fc_68c1f0a4e1f48190a0"
)
RS_ID = "rs_68c1f0a3b2c08190aa"
RS_FIRST = ReasoningItem(type="reasoning", id=RS_ID, data=ENC, text=SUMMARY_1, index=0)
REFUSAL = "I'm sorry, I can't help with that."

EXPECTED: dict[str, dict[str, Any]] = {
    "text": {"content": "Hello there! It is 18 °C in Paris.", "finish_reason": "stop"},
    "tool": {
        "tool_calls": [CALL_PARIS],
        "finish_reason": "tool_calls",
    },
    "parallel": {
        "tool_calls": [
            CALL_PARIS,
            CALL_LYON,
        ],
        "finish_reason": "tool_calls",
    },
    "reasoning": {
        "content": "Both are mild today.",
        "reasoning": SUMMARY_1 + "\n\n" + SUMMARY_2,
        "reasoning_items": [
            RS_FIRST,
            ReasoningItem(type="reasoning", id=RS_ID, text=SUMMARY_2, index=0),
        ],
        "finish_reason": "stop",
    },
    "reasoning_tool": {
        "reasoning": SUMMARY_1,
        "reasoning_items": [
            RS_FIRST
        ],
        "finish_reason": "tool_calls",
    },
    "refusal": {"refusal": REFUSAL, "content": "", "finish_reason": "stop"},
    "incomplete": {
        "content": "The history of Paris begins with",
        "finish_reason": "length",
        "raw_finish_reason": "max_output_tokens",
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_transcript(name: str) -> None:
    evs = STREAMS[name]
    r = stream(body(evs))
    for field, value in EXPECTED[name].items():
        assert getattr(r, field) == value, field
    assert r.id == RID
    assert r.model == MODEL
    assert r.usage == decode(evs[-1][1]["response"]).usage
    assert r.usage is not None
    # The same answer as the non-streamed reply with the same output.
    assert summary(r) == summary(decode(evs[-1][1]["response"]))


def test_stream_usage_with_cached_and_reasoning_tokens() -> None:
    r = stream(body(STREAMS["reasoning"]))
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.cached_tokens) == (2048, 1920)
    assert (r.usage.completion_tokens, r.usage.reasoning_tokens) == (300, 192)
    assert r.usage.total_tokens == 2348


def test_tool_arguments_in_many_deltas_arrive_as_fragments_of_one_call() -> None:
    chunks, ended = feed_all(body(STREAMS["tool"]))
    assert ended
    fragments = [f for c in chunks for f in c.tool_calls or ()]
    assert {f.index for f in fragments} == {0}
    assert fragments[0].id == "call_7hQe2VdS9x1LmN4pKc0bTz3A"
    assert fragments[0].name == "get_weather"
    assert fragments[0].item_id == "fc_68c1f0a4e1f481909f"
    assert len(fragments) == 1 + len(PARIS) // 2 + 1
    assert "".join(f.arguments for f in fragments) == PARIS
    assert chunks[-1].finish_reason == "tool_calls"


def test_parallel_calls_are_numbered_in_output_order() -> None:
    chunks, _ = feed_all(body(STREAMS["reasoning_tool"]))
    indices = [f.index for c in chunks for f in c.tool_calls or ()]
    assert indices == sorted(indices)
    assert set(indices) == {0, 1}


def test_reasoning_item_arrives_whole_with_its_done_event() -> None:
    chunks, _ = feed_all(body(STREAMS["reasoning"]))
    carrying = [c for c in chunks if c.reasoning_items]
    assert len(carrying) == 1
    assert carrying[0].reasoning_items is not None
    assert carrying[0].reasoning_items[0].data == ENC
    text = "".join(c.reasoning for c in chunks)
    assert text == SUMMARY_1 + "\n\n" + SUMMARY_2
    assert all(c.id == RID for c in chunks)


def test_terminal_event_only_ends_it_and_nothing_after_counts() -> None:
    data = body(STREAMS["text"]) + body(
        [("response.output_text.delta", {"output_index": 0, "delta": "late"})]
    )
    chunks, ended = feed_all(data)
    assert ended
    assert "late" not in accumulate(chunks).content


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_truncated_stream_end_false(name: str) -> None:
    blocks = sse(STREAMS[name])
    chunks, ended = feed_all(b"".join(blocks[:-1]))
    assert not ended
    assert accumulate(chunks).finish_reason is None
    half = b"".join(blocks)[: -len(blocks[-1]) // 2]  # cut inside the terminal event
    assert feed_all(half)[1] is False


def test_done_events_alone_give_the_same_answer() -> None:
    # A server that sends no deltas: the .done events and output_item.done carry everything.
    for name in ("text", "parallel", "reasoning", "refusal"):
        evs = [e for e in STREAMS[name] if not e[0].endswith(".delta")]
        assert summary(stream(body(evs))) == summary(stream(body(STREAMS[name]))), name
        only_items = [
            e
            for e in evs
            if e[0].startswith("response.output_item.done")
            or e[0] in ("response.created", "response.completed")
        ]
        assert summary(stream(body(only_items))) == summary(stream(body(STREAMS[name]))), name


def test_unknown_events_and_done_marker_are_ignored() -> None:
    extra = [
        (
            "response.output_text.annotation.added",
            {"output_index": 0, "annotation": {"type": "url_citation"}},
        ),
        ("response.web_search_call.searching", {"output_index": 0, "item_id": "ws_1"}),
        ("response.future_event", {"delta": {"an": "object"}, "text": 5, "item": 7}),
        ("response.audio.delta", {"delta": "UklGRg=="}),
    ]
    evs = STREAMS["text"]
    data = body(evs[:3] + extra + evs[3:]) + b"data: [DONE]\n\n"
    assert summary(stream(data)) == summary(stream(body(evs)))
    comments = b": keep-alive\n\n" + body(evs)
    assert summary(stream(comments)) == summary(stream(body(evs)))


def test_stream_without_event_lines_uses_the_data_type() -> None:
    data = body(STREAMS["parallel"]).replace(b"event: ", b": was-event ")
    assert summary(stream(data)) == summary(stream(body(STREAMS["parallel"])))


@pytest.mark.parametrize(
    "payload",
    [
        b'{"type": "response.output_text.delta", "delta": 5}',
        b'{"type": "response.output_item.done", "item": {"type": "message", "content": 3}}',
        b'{"type": "response.completed", "response": 5}',
        b'{"type": "response.completed"}',
        b"{not json",
        b'"a string"',
    ],
)
def test_malformed_known_event_is_a_stream_error(payload: bytes) -> None:
    dec = make().stream_decoder(req(stream=True))
    with pytest.raises(StreamError):
        dec.feed(b"data: " + payload + b"\n\n")


def test_response_failed_raises_its_error() -> None:
    with pytest.raises(ServerError) as info:
        feed_all(body(FAILED))
    assert info.value.code == "server_error"
    assert info.value.retryable is True
    rate = [
        *FAILED[:2],
        (
            "response.failed",
            {
                "response": response(
                    status="failed", error={"code": "rate_limit_exceeded", "message": "slow down"}
                )
            },
        ),
    ]
    with pytest.raises(RateLimitError):
        feed_all(body(rate))
    prompt = [
        (
            "response.failed",
            {
                "response": response(
                    status="failed",
                    error={"code": "invalid_prompt", "message": "Invalid prompt: flagged"},
                )
            },
        )
    ]
    with pytest.raises(BadRequestError) as bad:
        feed_all(body(prompt))
    assert bad.value.retryable is False


def test_error_event_documented_and_nested_shapes() -> None:
    with pytest.raises(RateLimitError) as info:
        feed_all(body(ERROR_EVENT))
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.message.startswith("Rate limit reached")
    assert info.value.retryable is True
    with pytest.raises(RateLimitError) as quota:
        feed_all(body(NESTED_ERROR_EVENT))
    assert quota.value.code == "insufficient_quota"
    assert quota.value.retryable is False
    context = [
        (
            "error",
            {
                "code": "context_length_exceeded",
                "message": "Your input exceeds the context window of this model.",
                "param": "input",
            },
        )
    ]
    with pytest.raises(ContextLengthError):
        feed_all(body(context))
    bare = [("error", {"message": "An error occurred while processing your request."})]
    with pytest.raises(ServerError) as server:
        feed_all(body(bare))
    assert server.value.retryable is True


def test_error_after_text_keeps_nothing_of_the_terminal() -> None:
    evs = STREAMS["text"][:-1] + ERROR_EVENT[1:]
    dec = make().stream_decoder(req(stream=True))
    blocks = sse(evs)
    chunks = dec.feed(b"".join(blocks[:-1]))
    assert accumulate(chunks).content == "Hello there! It is 18 °C in Paris."
    with pytest.raises(RateLimitError):
        dec.feed(blocks[-1])


# -- split invariance ---------------------------------------------------------

TRANSCRIPTS = {name: body(evs) for name, evs in STREAMS.items()}
TRANSCRIPTS["crlf"] = body(STREAMS["reasoning_tool"], crlf=True)


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_split_at_every_byte_boundary(name: str) -> None:
    data = TRANSCRIPTS[name]
    whole = summary(stream(data))
    for cut in range(1, len(data)):
        assert summary(stream(data, [cut])) == whole, cut


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_byte_by_byte(name: str) -> None:
    data = TRANSCRIPTS[name]
    assert summary(stream(data, list(range(1, len(data))))) == summary(stream(data))


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(TRANSCRIPTS)),
    cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=40),
)
def test_any_split_gives_the_same_response(name: str, cuts: list[int]) -> None:
    data = TRANSCRIPTS[name]
    points = sorted({c % (len(data) + 1) for c in cuts})
    assert summary(stream(data, points)) == summary(stream(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_adapter_errors(data: bytes) -> None:
    dec = make().stream_decoder(req(stream=True))
    try:
        dec.feed(data)
        dec.end()
    except AdapterError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(STREAMS)), st.integers(min_value=0), st.binary(max_size=40))
def test_corrupted_transcripts_raise_only_adapter_errors(name: str, at: int, junk: bytes) -> None:
    data = TRANSCRIPTS[name]
    at %= len(data)
    dec = make().stream_decoder(req(stream=True))
    try:
        dec.feed(data[:at] + junk + data[at:])
        dec.end()
    except AdapterError:
        pass


def test_events_helper_matches_the_documented_order() -> None:
    kinds = [k for k, _ in events([message("Hi")])]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_an_error_field_on_any_event_raises_but_an_empty_one_does_not() -> None:
    evs = STREAMS["text"]
    empty = [("response.output_text.annotation.added", {"output_index": 0, "error": {}})]
    assert summary(stream(body(evs[:3] + empty + evs[3:]))) == summary(stream(body(evs)))
    nested = [("response.in_progress", {"error": {"code": "server_error", "message": "boom"}})]
    with pytest.raises(ServerError) as info:
        feed_all(body(evs[:1] + nested))
    assert info.value.message == "boom"
    with pytest.raises(ServerError) as text:
        feed_all(body([("response.in_progress", {"error": "upstream timed out"})]))
    assert text.value.message == "upstream timed out"


def test_positions_skip_items_that_do_not_go_back_streamed_or_not() -> None:
    output = [
        {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "x"}},
        message("Let me check."),
        reasoning("rs_1", ENC, "Now the tool."),
        call("call_A", PARIS, "fc_A"),
        message("And one more.", mid="msg_2"),
        reasoning("rs_2", ENC2),
        call("call_B", LYON, "fc_B"),
    ]
    twin = decode(response(output, use=usage()))
    assert summary(stream(body(events(output)))) == summary(twin)
    assert twin.reasoning_items is not None
    assert [(r.id, r.index) for r in twin.reasoning_items] == [("rs_1", 1), ("rs_2", 3)]
    assert twin.content == "Let me check.And one more."
    later = body_of(req(messages=[Message(role="user", content="?"), twin.message]))
    assert [(i["type"], i.get("id")) for i in later["input"][1:]] == [
        ("message", None),
        ("reasoning", "rs_1"),
        ("function_call", "fc_A"),
        ("reasoning", "rs_2"),
        ("function_call", "fc_B"),
    ]


def test_call_id_from_the_item_done_event_when_the_added_event_is_missing() -> None:
    evs = [e for e in STREAMS["tool"] if e[0] != "response.output_item.added"]
    assert summary(stream(body(evs))) == summary(stream(body(STREAMS["tool"])))
    args_done_first = [e for e in evs if not e[0].endswith(".delta")]
    r = stream(body(args_done_first))
    assert r.tool_calls == [CALL_PARIS]
