"""OpenAI chat bodies into chat keywords, and our responses and errors back into OpenAI's shapes."""

from __future__ import annotations

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.openai_format import (
    chat_completion,
    chat_params,
    error_body,
    error_code,
    error_status,
)
from agent_adapter.validation import CHAT_PARAMS

MESSAGES = [{"role": "user", "content": "hi"}]


def test_a_body_maps_onto_chat_keywords() -> None:
    same = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "auto",
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 3,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.1,
        "parallel_tool_calls": False,
        "user": "u1",
        "prompt_cache_key": "tenant-7",
        "response_format": {"type": "json_object"},
    }
    renamed = {"max_completion_tokens": 64, "reasoning_effort": "low", "n": 1, "stream": False}
    params = chat_params({**same, **renamed})
    assert params == {**same, "max_tokens": 64, "reasoning": "low"}
    assert set(params) - {"model", "messages", "tools"} <= CHAT_PARAMS


def test_what_means_nothing_is_left_out() -> None:
    body = {"model": "m", "messages": MESSAGES, "response_format": {"type": "text"}, "seed": None}
    assert chat_params(body) == {"model": "m", "messages": MESSAGES}
    same = {"model": "m", "messages": MESSAGES, "max_tokens": 5, "max_completion_tokens": 5}
    assert chat_params(same)["max_tokens"] == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "m", "messages": MESSAGES, "logprobs": True}, "body.logprobs: is not supported"),
        ({"messages": MESSAGES}, "body.model: is missing"),
        ({"model": "m"}, "body.messages: is missing"),
        ({"model": 5, "messages": MESSAGES}, "body.model: must be a non-empty string"),
        ({"model": "m", "messages": MESSAGES, "stream": True}, "body.stream: streaming is not"),
        ({"model": "m", "messages": MESSAGES, "n": 2}, "body.n: only n = 1"),
        (
            {"model": "m", "messages": MESSAGES, "max_tokens": 5, "max_completion_tokens": 6},
            "body.max_completion_tokens: disagrees with max_tokens",
        ),
    ],
)
def test_a_field_we_cannot_honour_is_an_error(body: dict[str, object], message: str) -> None:
    with pytest.raises(aa.ValidationError) as info:
        chat_params(body)
    assert str(info.value).startswith(message)


def test_a_text_answer_renders_as_a_chat_completion() -> None:
    response = aa.ChatResponse(
        content="Hello.",
        finish_reason="stop",
        id="msg_1",
        model="claude-sonnet-4-5",
        usage=aa.Usage(prompt_tokens=10, completion_tokens=3, total_tokens=13, cached_tokens=4),
    )
    assert chat_completion(response, created=1) == {
        "id": "msg_1",
        "object": "chat.completion",
        "created": 1,
        "model": "claude-sonnet-4-5",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "total_tokens": 13,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_tool_calls_and_reasoning_render_as_openai_and_deepseek_send_them() -> None:
    response = aa.ChatResponse(
        tool_calls=[aa.ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')],
        finish_reason="tool_calls",
        reasoning="The user wants weather.",
    )
    completion = chat_completion(response, model="gpt-4o")
    assert completion["model"] == "gpt-4o"
    assert completion["id"].startswith("chatcmpl-") and isinstance(completion["created"], int)
    assert "usage" not in completion
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
        "reasoning_content": "The user wants weather.",
    }
    msgspec.json.encode(completion)  # plain JSON values only


def test_errors_render_as_openai_error_bodies() -> None:
    bad = aa.ValidationError("must be between 0 and 2", field="temperature")
    assert error_status(bad) == 400
    assert error_body(bad) == {
        "error": {
            "message": "temperature: must be between 0 and 2",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": None,
        }
    }
    limited = aa.RateLimitError("slow down", status=429, code="rate_limit_exceeded")
    assert error_status(limited) == 429
    assert error_body(limited)["error"]["type"] == "rate_limit_error"
    assert error_code(limited) == "rate_limit_exceeded"
    late = aa.TimeoutError("total timeout", which="total")
    assert (error_status(late), error_code(late)) == (504, "timeout_error")
    refused = aa.APIConnectionError("refused")
    assert (error_status(refused), error_code(refused)) == (502, "api_connection_error")
    assert error_status(aa.ServerError("x", status=529)) == 529
    assert error_status(aa.StreamError("cut")) == 500
