"""Tool results that report failure (``is_error``): what each provider receives, over loopback."""

from __future__ import annotations

from typing import Any

import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from agent_adapter.types import Message, ToolCall
from agent_adapter.validation import build_chat_request

pytestmark = pytest.mark.anyio

FAILURE = '{"code": "CITY_NOT_FOUND", "detail": "no station named Atlantis"}'
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def history(call_id: str, content: str = FAILURE) -> list[Any]:
    return [
        {"role": "user", "content": "Weather in Atlantis?"},
        Message(
            role="assistant",
            tool_calls=[ToolCall(call_id, "get_weather", '{"city": "Atlantis"}')],
        ),
        {"role": "tool", "tool_call_id": call_id, "content": content, "is_error": True},
    ]


ANTHROPIC_REPLY = {
    "id": "msg_01E",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "I could not find Atlantis."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 80, "output_tokens": 9},
}
GEMINI_REPLY = {
    "candidates": [
        {
            "content": {"parts": [{"text": "I could not find Atlantis."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "responseId": "r-err",
}
COMPLETION = {
    "id": "chatcmpl-e",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "I could not find Atlantis."},
            "finish_reason": "stop",
        }
    ],
}
OLLAMA_REPLY = {
    "model": "qwen3",
    "created_at": "2025-08-21T10:00:00Z",
    "message": {"role": "assistant", "content": "I could not find Atlantis."},
    "done": True,
    "done_reason": "stop",
}


async def test_anthropic_tool_result_is_error() -> None:
    async with (
        MockServer() as srv,
        aa.Client("anthropic", api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(ANTHROPIC_REPLY))
        r = await client.chat(
            model="claude-sonnet-4-5", messages=history("toolu_01Atl"), tools=[WEATHER]
        )
    assert r.content == "I could not find Atlantis."
    turn = srv.requests[0].json()["messages"][2]
    assert turn == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_01Atl",
                "content": FAILURE,
                "is_error": True,
            }
        ],
    }


async def test_anthropic_success_has_no_is_error() -> None:
    messages = history("toolu_ok")
    messages[2] = {"role": "tool", "tool_call_id": "toolu_ok", "content": '{"temp_c": 18}'}
    async with (
        MockServer() as srv,
        aa.Client("anthropic", api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(ANTHROPIC_REPLY))
        await client.chat(model="claude-sonnet-4-5", messages=messages, tools=[WEATHER])
    assert "is_error" not in srv.requests[0].json()["messages"][2]["content"][0]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (FAILURE, {"code": "CITY_NOT_FOUND", "detail": "no station named Atlantis"}),
        ("station offline", "station offline"),
        ('["timeout", 30]', ["timeout", 30]),
    ],
)
async def test_gemini_function_response_error_shape(content: str, error: Any) -> None:
    async with (
        MockServer() as srv,
        aa.Client("gemini", api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(GEMINI_REPLY))
        await client.chat(
            model="gemini-2.5-flash", messages=history("call_a", content), tools=[WEATHER]
        )
    turn = srv.requests[0].json()["contents"][2]
    assert turn == {
        "parts": [
            {
                "functionResponse": {
                    "name": "get_weather",
                    "response": {"error": error},
                    "id": "call_a",
                }
            }
        ],
        "role": "user",
    }


@pytest.mark.parametrize(
    ("provider", "reply", "path"),
    [
        ("openai", COMPLETION, "/chat/completions"),
        ("deepseek", COMPLETION, "/chat/completions"),
        ("zhipu", COMPLETION, "/chat/completions"),
        ("ollama", OLLAMA_REPLY, "/api/chat"),
    ],
)
async def test_providers_without_an_error_flag_get_the_content_unchanged(
    provider: str, reply: dict[str, Any], path: str
) -> None:
    async with (
        MockServer() as srv,
        aa.Client(provider, api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(reply))
        r = await client.chat(model="m", messages=history("call_x"), tools=[WEATHER])
    assert r.content == "I could not find Atlantis."
    sent = srv.requests[0]
    assert sent.path == path
    tool = sent.json()["messages"][2]
    assert tool["role"] == "tool"
    assert tool["content"] == FAILURE
    assert "is_error" not in tool


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "user", "content": "hi", "is_error": True}, "messages[0].is_error"),
        (
            {"role": "tool", "tool_call_id": "c", "content": "x", "is_error": "yes"},
            "messages[0].is_error",
        ),
    ],
)
def test_is_error_only_on_tool_messages_and_only_a_bool(
    message: dict[str, Any], field: str
) -> None:
    with pytest.raises(aa.ValidationError) as info:
        build_chat_request("m", [message])
    assert info.value.field == field


def test_is_error_is_kept_on_the_message() -> None:
    request = build_chat_request("m", history("c1"))
    assert request.messages[2].is_error is True
    assert request.messages[0].is_error is False
