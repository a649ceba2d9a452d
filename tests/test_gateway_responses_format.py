"""The Responses API shapes of the gateway, pure: request bodies in, objects and events out.

The request side is checked against its mirror, the client's encoder
(``providers/openai/responses/encode.py``): a conversation read from a
Responses body and encoded again comes back as the same items, reasoning
items in their places. The event side is checked for the order and the
numbering the streaming reference gives, chunk by chunk.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from agent_adapter.errors import ValidationError
from agent_adapter.gateway import errors
from agent_adapter.gateway.http import Problem
from agent_adapter.gateway.responses_format import Echo, ResponsesEncoder, response_object
from agent_adapter.gateway.responses_params import pack_thinking, responses_params, unpack_thinking
from agent_adapter.providers.openai.responses.encode import responses_body
from agent_adapter.types import (
    ChatResponse,
    ReasoningItem,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from agent_adapter.validation import build_chat_request

ENC = "gAAAAABoxPa1Qm9yZW0taXBzdW0tZW5jcnlwdGVkLXJlYXNvbmluZy1ibG9i=="


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "smart", "input": "hi", **fields}


def refused(fields: dict[str, Any]) -> str | None:
    with pytest.raises(ValidationError) as info:
        responses_params(fields)
    return info.value.field


def events(data: bytes) -> list[dict[str, Any]]:
    """The events' data, each checked to repeat its ``event:`` name as its ``type``."""
    out = []
    for block in data.split(b"\n\n"):
        if not block:
            continue
        name, payload = block.split(b"\n")
        event = msgspec.json.decode(payload.removeprefix(b"data: "))
        assert name == b"event: " + event["type"].encode()
        out.append(event)
    return out


# -- requests ---------------------------------------------------------------------------


def test_string_input_instructions_and_plain_fields() -> None:
    params = responses_params(
        body(
            instructions="Be brief.",
            max_output_tokens=64,
            temperature=0.2,
            top_p=0.9,
            user="u-1",
            prompt_cache_key="k",
            parallel_tool_calls=False,
            metadata={"a": "b"},
            store=False,
            truncation="disabled",
            service_tier="auto",
            background=False,
            include=["reasoning.encrypted_content"],
            text={"format": {"type": "text"}, "verbosity": "medium"},
        )
    )
    assert params == {
        "model": "smart",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "max_tokens": 64,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "prompt_cache_key": "k",
        "parallel_tool_calls": False,
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"store": True}, "store"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"truncation": "auto"}, "truncation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"max_tool_calls": 3}, "max_tool_calls"),
        ({"include": ["file_search_call.results"]}, "include"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"text": {"verbosity": "low"}}, "text.verbosity"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format.type"),
        (
            {"reasoning": {"effort": "low", "generate_summary": "auto"}},
            "reasoning.generate_summary",
        ),
        ({"reasoning": {"summary": "long"}}, "reasoning.summary"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        (
            {"tools": [{"type": "function", "name": "f", "defer_loading": True}]},
            "tools[0].defer_loading",
        ),
        ({"tools": [{"type": "function", "parameters": {}}]}, "tools[0].name"),
        ({"tool_choice": {"type": "web_search"}}, "tool_choice"),
        ({"stream_options": {"include_obfuscation": False}}, "stream_options"),
        ({"input": []}, "input"),
        ({"input": [{"type": "computer_call", "id": "c"}]}, "input[0].type"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].image_url",
        ),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "u"}]}]},
            "input[0].content[0]",
        ),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"safety_identifier": "a", "user": "b"}, "safety_identifier"),
        ({"metadata": {"n": 1}}, "metadata"),
    ],
)
def test_what_cannot_be_honoured_is_refused_by_name(fields: dict[str, Any], param: str) -> None:
    assert refused(body(**fields)) == param


def test_stateful_fields_say_why() -> None:
    for field in ("store", "previous_response_id"):
        with pytest.raises(ValidationError, match="stateless"):
            responses_params(body(**{field: True if field == "store" else "resp_1"}))


def test_parts_tools_formats_and_reasoning() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    params = responses_params(
        body(
            input=[
                {"role": "developer", "content": "Use tools."},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is this"},
                        {"type": "input_image", "image_url": image, "detail": "high"},
                        {"type": "input_file", "file_url": "https://x.test/a.pdf"},
                    ],
                },
            ],
            tools=[{"type": "function", "name": "f", "parameters": None, "strict": False}],
            tool_choice={"type": "function", "name": "f"},
            text={"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}},
            reasoning={"effort": "high", "summary": "detailed"},
            safety_identifier="s-1",
        )
    )
    assert params["messages"][1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": image, "detail": "high"}},
        {"type": "file", "file": {"url": "https://x.test/a.pdf"}},
    ]
    assert params["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
            },
        }
    ]
    assert params["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert params["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": False},
    }
    assert params["reasoning"] == {"effort": "high", "summary": "detailed"}
    assert params["user"] == "s-1"
    request = build_chat_request(**params)  # what chat() will make of it: no complaint
    assert request.messages[0].role == "developer"
    assert responses_params(body(reasoning={"effort": "low"}))["reasoning"] == "low"
    assert responses_params(body(reasoning={"summary": "auto"}))["reasoning"] == "medium"
    assert "reasoning" not in responses_params(body(reasoning={}))
    json_object = responses_params(body(text={"format": {"type": "json_object"}}))
    assert json_object["response_format"] == {"type": "json_object"}


def test_a_turn_comes_back_as_its_items() -> None:
    """Read a Responses conversation, encode it again: the same items, in the same places."""
    turn = [
        {"type": "message", "role": "user", "content": "weather in Paris and Lyon?"},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Two cities."}],
            "encrypted_content": ENC,
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "w",
            "arguments": "{}",
        },
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": ENC + "2"},
        {
            "type": "function_call",
            "id": "fc_2",
            "call_id": "call_2",
            "name": "w",
            "arguments": "{}",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": [{"type": "input_text", "text": "rain"}],
        },
    ]
    params = responses_params(body(input=turn))
    assistant = params["messages"][1]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_1", "call_2"]
    assert [(r.id, r.index) for r in assistant["reasoning_items"]] == [("rs_1", 0), ("rs_2", 2)]
    request = build_chat_request(**params, extra={"store": False})
    sent = msgspec.json.decode(responses_body(request, "gpt-5"))["input"]
    expected = [
        {**item, "output": "rain"} if item.get("output") == turn[-1]["output"] else item
        for item in turn
    ]
    assert sent == expected


def test_assistant_messages_and_lone_reasoning() -> None:
    params = responses_params(
        body(
            input=[
                {"role": "user", "content": "hi"},
                {"type": "reasoning", "id": "rs_0", "summary": []},
                {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "status": "completed",
                    "content": [
                        {"type": "output_text", "text": "Hello", "annotations": []},
                        {"type": "refusal", "refusal": "but no"},
                    ],
                },
                {"role": "user", "content": "again"},
                {"type": "reasoning", "id": "rs_9", "summary": []},  # nothing follows it
            ]
        )
    )
    messages = params["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "Hello" and messages[1]["refusal"] == "but no"
    assert [r.id for r in messages[1]["reasoning_items"]] == ["rs_0"]


# -- answers -----------------------------------------------------------------------------


def answer(**fields: Any) -> ChatResponse:
    usage = Usage(
        prompt_tokens=30, completion_tokens=12, total_tokens=42, cached_tokens=8, reasoning_tokens=5
    )
    return ChatResponse(**{"content": "Done.", "usage": usage, **fields})


def test_response_object_puts_reasoning_items_in_their_places() -> None:
    items = [
        ReasoningItem(type="reasoning", id="rs_1", text="First.", data=ENC, index=0),
        ReasoningItem(type="reasoning", id="rs_1", text="Second.", index=0),
        ReasoningItem(type="reasoning", id="rs_2", data=ENC + "2", index=2),
    ]
    calls = [ToolCall("call_1", "w", "{}", item_id="fc_1"), ToolCall("call_2", "w", "{}")]
    response = answer(content="", tool_calls=calls, reasoning_items=items, id="resp_up")
    echo = Echo(body(include=["reasoning.encrypted_content"]))
    obj = response_object(response, model="smart", echo=echo, created=7)
    assert obj["id"] == "resp_up" and obj["created_at"] == 7 and obj["model"] == "smart"
    assert [(i["type"], i["id"]) for i in obj["output"]][:3] == [
        ("reasoning", "rs_1"),
        ("function_call", "fc_1"),
        ("reasoning", "rs_2"),
    ]
    assert obj["output"][3]["id"].startswith("fc_") and obj["output"][3]["call_id"] == "call_2"
    assert [p["text"] for p in obj["output"][0]["summary"]] == ["First.", "Second."]
    assert obj["output"][0]["encrypted_content"] == ENC
    assert obj["usage"] == {
        "input_tokens": 30,
        "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 42,
    }
    hidden = response_object(response, model="smart", echo=Echo(body()))
    assert all("encrypted_content" not in i for i in hidden["output"])  # not asked for


def test_response_object_status_refusal_and_other_reasoning() -> None:
    cut = response_object(answer(finish_reason="length"), model="m", echo=Echo(body()))
    assert cut["status"] == "incomplete"
    assert cut["incomplete_details"] == {"reason": "max_output_tokens"}
    assert cut["output"][0]["status"] == "incomplete"
    filtered = answer(content="", refusal="I can't.", finish_reason="content_filter")
    obj = response_object(filtered, model="m", echo=Echo(body()))
    assert obj["incomplete_details"] == {"reason": "content_filter"}
    assert obj["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't."}]
    thinking = [ReasoningItem(type="thinking", text="Hmm.", signature="sig", index=0)]
    claude = answer(reasoning="Hmm.", reasoning_items=thinking)
    obj = response_object(claude, model="m", echo=Echo(body(tool_choice="required")))
    assert [i["type"] for i in obj["output"]] == ["reasoning", "message"]
    assert obj["output"][0]["summary"] == [{"type": "summary_text", "text": "Hmm."}]
    assert obj["tool_choice"] == "required" and obj["tools"] == [] and obj["store"] is False
    empty = response_object(answer(content=""), model="m", echo=Echo(body()))
    assert empty["output"][0]["content"][0]["text"] == ""


# -- the stream --------------------------------------------------------------------------


def test_stream_events_numbered_in_order_with_items_whole_at_the_end() -> None:
    encoder = ResponsesEncoder(model="smart", echo=Echo(body()), created=1)
    data = b"".join(
        [
            encoder.chunk(StreamChunk(reasoning="Think", id="chatcmpl-1")),
            encoder.chunk(StreamChunk(reasoning="ing.")),
            encoder.chunk(StreamChunk(delta="Hel")),
            encoder.chunk(StreamChunk(delta="lo", refusal="No.")),
            encoder.chunk(
                StreamChunk(tool_calls=[ToolCallDelta(index=0, id="c0", name="w", item_id="fc_a")])
            ),
            encoder.chunk(StreamChunk(tool_calls=[ToolCallDelta(index=1, id="c1", name="v")])),
            encoder.chunk(StreamChunk(tool_calls=[ToolCallDelta(index=0, arguments="{}")])),
            encoder.chunk(StreamChunk(tool_calls=[ToolCallDelta(index=1, arguments="[]")])),
            encoder.end(answer(finish_reason="tool_calls")),
        ]
    )
    sent = events(data)
    assert [e["sequence_number"] for e in sent] == list(range(len(sent)))
    assert [e["type"] for e in sent] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",  # reasoning
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",  # message
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.content_part.added",  # its refusal part
        "response.refusal.delta",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",  # call 0
        "response.output_item.added",  # call 1, while 0 is still open
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = sent[-1]["response"]
    assert final["id"] == sent[0]["response"]["id"] and final["id"].startswith("resp_")
    assert final["status"] == "completed" and final["usage"]["total_tokens"] == 42
    reasoning, message, first, second = final["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert [p.get("text", p.get("refusal")) for p in message["content"]] == ["Hello", "No."]
    assert (first["id"], first["call_id"], first["arguments"]) == ("fc_a", "c0", "{}")
    assert (second["call_id"], second["name"], second["arguments"]) == ("c1", "v", "[]")
    done = {e["item"]["id"]: e["item"] for e in sent if e["type"] == "response.output_item.done"}
    assert list(done.values()) == final["output"]  # each item as its done event gave it


def test_stream_of_an_openai_upstream_keeps_its_reasoning_items() -> None:
    echo = Echo(body(include=["reasoning.encrypted_content"]))
    encoder = ResponsesEncoder(model="smart", echo=echo)
    streamed = ReasoningItem(type="reasoning", id="rs_up1", text="Plan.", data=ENC, index=0)
    whole = ReasoningItem(type="reasoning", id="rs_up2", text="Again.", data=ENC + "2", index=1)
    data = b"".join(
        [
            encoder.chunk(StreamChunk(reasoning="Plan.", id="resp_up")),
            encoder.chunk(StreamChunk(reasoning_items=[streamed])),  # closes the one streamed
            encoder.chunk(StreamChunk(reasoning_items=[whole])),  # never streamed: sent whole
            encoder.chunk(StreamChunk(delta="Hi")),
            encoder.end(answer()),
        ]
    )
    sent = events(data)
    final = sent[-1]["response"]
    assert final["id"] == "resp_up"
    first, second, message = final["output"]
    assert first["id"].startswith("rs_") and first["encrypted_content"] == ENC
    assert (second["id"], second["encrypted_content"]) == ("rs_up2", ENC + "2")
    assert second["summary"] == [{"type": "summary_text", "text": "Again."}]
    deltas = [e["delta"] for e in sent if e["type"] == "response.reasoning_summary_text.delta"]
    assert deltas == ["Plan.", "Again."] and message["type"] == "message"


def test_a_stream_with_nothing_in_it_still_answers() -> None:
    encoder = ResponsesEncoder(model="smart", echo=Echo(body()))
    sent = events(encoder.end(answer(content="", finish_reason="length")))
    assert sent[0]["type"] == "response.created" and sent[-1]["type"] == "response.incomplete"
    assert sent[-1]["response"]["output"][0]["content"][0]["text"] == ""


def test_a_failed_stream_ends_with_an_error_event_then_response_failed() -> None:
    encoder = ResponsesEncoder(model="smart", echo=Echo(body()))
    start = encoder.chunk(StreamChunk(delta="part"))
    problem = Problem(502, "openai: boom", type="server_error", upstream=True)
    sent = events(start + encoder.failed(problem))
    assert [e["sequence_number"] for e in sent] == list(range(len(sent)))
    error, failed = sent[-2:]
    assert error == {
        "type": "error",
        "code": "server_error",
        "message": "openai: boom",
        "param": None,
        "sequence_number": error["sequence_number"],
        "error": {"message": "openai: boom", "type": "server_error", "param": None, "code": None},
    }
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "openai: boom"}
    assert failed["response"]["output"] == []  # the message never completed
    limited = ResponsesEncoder(model="smart", echo=Echo(body()))
    early = events(limited.failed(Problem(429, "slow down", type="rate_limit_error")))
    assert [e["type"] for e in early] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    assert early[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


def test_error_event_of_each_protocol() -> None:
    problem = Problem(400, "bad", param="x", code="c")
    assert errors.event(problem, "openai").startswith(b'data: {"error":')
    assert errors.event(problem, "anthropic").startswith(b"event: error\ndata: ")
    [sent] = events(errors.event(problem, "responses", sequence=4))
    assert (sent["code"], sent["param"], sent["sequence_number"]) == ("c", "x", 4)
    assert sent["error"]["code"] == "c"


def test_claude_thinking_travels_packed_in_encrypted_content() -> None:
    thinking = ReasoningItem(type="thinking", text="Hmm.", signature="sig-1", index=0)
    redacted = ReasoningItem(type="redacted_thinking", data="opaque", index=1)
    response = answer(reasoning="Hmm.", reasoning_items=[thinking, redacted])
    echo = Echo(body(include=["reasoning.encrypted_content"]))
    output = response_object(response, model="m", echo=echo)["output"]
    assert [i["type"] for i in output] == ["reasoning", "reasoning", "message"]
    assert output[1]["summary"] == []
    back = responses_params(body(input=[*output, {"role": "user", "content": "more"}]))
    assert back["messages"][0]["reasoning_items"] == [thinking, redacted]
    packed = pack_thinking(thinking)
    assert unpack_thinking(packed, 3) == msgspec.structs.replace(thinking, index=3)
    assert unpack_thinking(ENC, 0) is None  # an OpenAI blob is left as it is
    for bad in ("aa-thinking.!!", "aa-thinking." + packed[-8:]):
        item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": bad}
        turn = [item, {"role": "assistant", "content": "x"}]
        assert refused(body(input=turn)) == "input[0].encrypted_content"
