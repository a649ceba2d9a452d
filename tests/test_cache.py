"""Prompt caching: cache markers, prompt_cache_key, Gemini cachedContent, cached-token usage."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.providers.anthropic import AnthropicAdapter
from agent_adapter.testing import MockServer, Reply
from agent_adapter.types import CacheControl, ChatRequest, Message, TextPart, Tool
from agent_adapter.validation import build_chat_request

pytestmark = pytest.mark.anyio

EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}
MANUAL = "You answer questions about the ACME-9000 manual. " * 40
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    "cache": HOUR,
}
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": MANUAL, "cache": HOUR},
    {"role": "user", "content": "How do I reset the device?"},
    {"role": "assistant", "content": "Hold the power button for ten seconds."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "And the network settings?", "cache_control": EPHEMERAL},
            {"type": "text", "text": "Answer briefly."},
        ],
    },
]
ANTHROPIC_REPLY = {
    "id": "msg_01Cache",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Settings → Network → Reset."}],
    "stop_reason": "end_turn",
    "usage": {
        "input_tokens": 21,
        "cache_creation_input_tokens": 188,
        "cache_read_input_tokens": 2051,
        "output_tokens": 9,
    },
}


def anthropic_body(request: ChatRequest) -> dict[str, Any]:
    adapter = AnthropicAdapter(name="anthropic", base_url="https://api.anthropic.com", api_key="k")
    body: dict[str, Any] = msgspec.json.decode(adapter.encode(request).body)
    return body


def chat_request(messages: list[Any], **kw: Any) -> ChatRequest:
    return build_chat_request("claude-sonnet-4-5", messages, **kw)


# -- Anthropic: where the markers go ---------------------------------------------------


async def test_anthropic_breakpoints_on_system_tool_and_message_over_loopback() -> None:
    async with (
        MockServer() as srv,
        aa.Client("anthropic", api_key="sk-ant", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(ANTHROPIC_REPLY))
        r = await client.chat(model="claude-sonnet-4-5", messages=CONVERSATION, tools=[WEATHER])
    body = srv.requests[0].json()
    assert body["system"] == [{"type": "text", "text": MANUAL, "cache_control": HOUR}]
    assert body["tools"][0]["cache_control"] == HOUR
    assert body["messages"] == [
        {"role": "user", "content": "How do I reset the device?"},
        {"role": "assistant", "content": "Hold the power button for ten seconds."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And the network settings?", "cache_control": EPHEMERAL},
                {"type": "text", "text": "Answer briefly."},
            ],
        },
    ]
    assert "anthropic-beta" not in srv.requests[0].headers  # 1h is GA: no beta header
    assert r.usage is not None
    assert r.usage.cached_tokens == 2051
    assert r.usage.cache_creation_tokens == 188
    assert r.usage.prompt_tokens == 21 + 188 + 2051


def test_anthropic_message_marker_goes_on_its_last_block() -> None:
    request = chat_request(
        [
            {
                "role": "system",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "user", "content": "first question", "cache": EPHEMERAL},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [{"id": "toolu_1", "function": {"name": "f", "arguments": "{}"}}],
                "cache": EPHEMERAL,
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "42", "cache": HOUR},
        ]
    )
    body = anthropic_body(request)
    assert body["system"] == "ab"  # no marker: unchanged
    user, assistant, results = body["messages"]
    assert user["content"] == [
        {"type": "text", "text": "first question", "cache_control": EPHEMERAL}
    ]
    assert assistant["content"][-1] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "f",
        "input": {},
        "cache_control": EPHEMERAL,
    }
    assert "cache_control" not in assistant["content"][0]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42", "cache_control": HOUR}
    ]


def test_anthropic_system_parts_keep_their_own_markers() -> None:
    system = Message(
        role="system",
        content=[TextPart("stable rules", cache=CacheControl(ttl="1h")), TextPart("today: Monday")],
        cache=CacheControl(),
    )
    body = anthropic_body(chat_request([system, {"role": "user", "content": "hi"}]))
    assert body["system"] == [
        {"type": "text", "text": "stable rules", "cache_control": HOUR},
        {"type": "text", "text": "today: Monday", "cache_control": EPHEMERAL},
    ]


def test_a_part_and_its_message_marking_one_block_count_once() -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "doc", "cache": HOUR}],
            "cache": EPHEMERAL,
        },
        *({"role": "user", "content": f"q{i}", "cache": EPHEMERAL} for i in range(3)),
    ]
    body = anthropic_body(chat_request(messages))
    blocks = body["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "doc", "cache_control": HOUR}  # the part's wins
    assert sum("cache_control" in b for b in blocks) == 4


def test_more_than_four_breakpoints_is_a_validation_error_naming_the_fifth() -> None:
    tools = [Tool(name=f"t{i}", cache=CacheControl()) for i in range(2)]
    messages = [
        {"role": "system", "content": MANUAL, "cache": EPHEMERAL},
        {"role": "user", "content": "one", "cache": EPHEMERAL},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three", "cache": EPHEMERAL},
    ]
    with pytest.raises(aa.ValidationError) as info:
        anthropic_body(chat_request(messages, tools=tools))
    assert info.value.field == "tools[1].cache"  # tools come after the history's three
    assert "at most 4" in str(info.value)
    anthropic_body(chat_request(messages, tools=tools[:1]))  # four is fine


@pytest.mark.parametrize(
    ("cache", "field"),
    [
        ({"type": "persistent"}, "messages[0].cache.type"),
        ({"type": "ephemeral", "ttl": "2h"}, "messages[0].cache.ttl"),
        ({"ttl": 300}, "messages[0].cache.ttl"),
        ({"type": "ephemeral", "scope": "org"}, "messages[0].cache"),
        ("ephemeral", "messages[0].cache"),
    ],
)
def test_bad_markers_name_the_field(cache: Any, field: str) -> None:
    with pytest.raises(aa.ValidationError) as info:
        build_chat_request("m", [{"role": "user", "content": "hi", "cache": cache}])
    assert info.value.field == field


def test_bad_markers_on_parts_tools_and_structs_name_the_field() -> None:
    part = {"type": "text", "text": "x", "cache": {"ttl": "1d"}}
    with pytest.raises(aa.ValidationError) as info:
        build_chat_request("m", [{"role": "user", "content": [part]}])
    assert info.value.field == "messages[0].content[0].cache.ttl"
    with pytest.raises(aa.ValidationError) as info:
        build_chat_request("m", [{"role": "user", "content": "x"}], tools=[{**WEATHER, "cache": 1}])
    assert info.value.field == "tools[0].cache"
    bad = Message(role="user", content="x", cache=CacheControl(ttl="9m"))  # type: ignore[arg-type]
    with pytest.raises(aa.ValidationError) as info:
        build_chat_request("m", [bad])
    assert info.value.field == "messages[0].cache.ttl"
    both = {"role": "user", "content": "x", "cache": EPHEMERAL, "cache_control": EPHEMERAL}
    with pytest.raises(aa.ValidationError):
        build_chat_request("m", [both])


def test_dict_markers_become_cache_control_structs() -> None:
    request = build_chat_request("m", CONVERSATION, tools=[WEATHER])
    assert request.messages[0].cache == CacheControl(ttl="1h")
    content = request.messages[3].content
    assert isinstance(content, list)
    assert content[0] == TextPart("And the network settings?", cache=CacheControl())
    assert request.tools is not None
    assert request.tools[0].cache == CacheControl(ttl="1h")


# -- providers that cache on their own ignore the markers --------------------------------

COMPLETION = {
    "id": "chatcmpl-c1",
    "object": "chat.completion",
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 2200,
        "completion_tokens": 3,
        "total_tokens": 2203,
        "prompt_tokens_details": {"cached_tokens": 2048},
    },
}
DEEPSEEK_COMPLETION = {
    **COMPLETION,
    "usage": {
        "prompt_tokens": 2200,
        "completion_tokens": 3,
        "total_tokens": 2203,
        "prompt_cache_hit_tokens": 1920,
        "prompt_cache_miss_tokens": 280,
    },
}
GEMINI_RESPONSE = {
    "candidates": [
        {
            "content": {"parts": [{"text": "ok"}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 2200,
        "cachedContentTokenCount": 2048,
        "candidatesTokenCount": 3,
        "totalTokenCount": 2203,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "g1",
}
OLLAMA_REPLY = {
    "model": "qwen3",
    "created_at": "2025-08-21T10:00:00Z",
    "message": {"role": "assistant", "content": "ok"},
    "done": True,
    "done_reason": "stop",
    "prompt_eval_count": 2200,
    "eval_count": 3,
}


def _no_cache_control(value: Any) -> bool:
    if isinstance(value, dict):
        return (
            "cache_control" not in value
            and "cache" not in value
            and all(_no_cache_control(v) for v in value.values())
        )
    if isinstance(value, list):
        return all(_no_cache_control(v) for v in value)
    return True


@pytest.mark.parametrize(
    ("provider", "model", "reply", "cached"),
    [
        ("openai", "gpt-4o", COMPLETION, 2048),
        ("deepseek", "deepseek-chat", DEEPSEEK_COMPLETION, 1920),
        ("zhipu", "glm-4.6", COMPLETION, 2048),
        ("gemini", "gemini-2.5-flash", GEMINI_RESPONSE, 2048),
        ("ollama", "qwen3", OLLAMA_REPLY, 0),
    ],
)
async def test_automatic_cachers_ignore_markers_and_report_cached_tokens(
    provider: str, model: str, reply: dict[str, Any], cached: int
) -> None:
    async with (
        MockServer() as srv,
        aa.Client(provider, api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(reply), Reply.json(reply))
        plain = [{k: v for k, v in m.items() if k != "cache"} for m in CONVERSATION[:3]]
        marked = await client.chat(model=model, messages=CONVERSATION, tools=[WEATHER])
        await client.chat(
            model=model,
            messages=[
                *plain,
                {"role": "user", "content": "And the network settings?\nAnswer briefly."},
            ],
            tools=[{k: v for k, v in WEATHER.items() if k != "cache"}],
        )
    with_markers, without = (r.json() for r in srv.requests)
    assert _no_cache_control(with_markers)
    assert with_markers.keys() == without.keys()
    assert marked.usage is not None
    assert marked.usage.cached_tokens == cached
    assert marked.usage.prompt_tokens == 2200


# -- prompt_cache_key and Gemini cachedContent ---------------------------------------------


@pytest.mark.parametrize(
    ("provider", "sent"),
    [("openai", True), ("mistral", True), ("deepseek", False), ("groq", False), ("zhipu", False)],
)
async def test_prompt_cache_key_goes_where_it_is_read(provider: str, sent: bool) -> None:
    async with (
        MockServer() as srv,
        aa.Client(provider, api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(COMPLETION))
        await client.chat(model="m", messages=CONVERSATION[1:2], prompt_cache_key="tenant-7:manual")
    body = srv.requests[0].json()
    assert ("prompt_cache_key" in body) is sent
    if sent:
        assert body["prompt_cache_key"] == "tenant-7:manual"


async def test_prompt_cache_key_is_ignored_by_anthropic_and_gemini() -> None:
    async with (
        MockServer() as srv,
        aa.Client("anthropic", api_key="k", base_url=srv.base_url) as anthropic,
        aa.Client("gemini", api_key="k", base_url=srv.base_url) as gemini,
    ):
        srv.enqueue(Reply.json(ANTHROPIC_REPLY), Reply.json(GEMINI_RESPONSE))
        await anthropic.chat(
            model="claude-sonnet-4-5", messages=CONVERSATION[1:2], prompt_cache_key="k1"
        )
        await gemini.chat(
            model="gemini-2.5-flash", messages=CONVERSATION[1:2], prompt_cache_key="k1"
        )
    assert all(b"prompt_cache_key" not in r.body for r in srv.requests)


def test_prompt_cache_key_must_be_a_string() -> None:
    with pytest.raises(aa.ValidationError) as info:
        build_chat_request("m", CONVERSATION[1:2], prompt_cache_key=7)  # type: ignore[arg-type]
    assert info.value.field == "prompt_cache_key"


async def test_gemini_cached_content_by_name_through_extra_body() -> None:
    async with (
        MockServer() as srv,
        aa.Client("gemini", api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(GEMINI_RESPONSE))
        r = await client.chat(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "What does chapter 3 say about resets?"}],
            extra_body={"cachedContent": "cachedContents/acme-manual-v9"},
        )
    body = srv.requests[0].json()
    assert body["cachedContent"] == "cachedContents/acme-manual-v9"
    assert body["contents"] == [
        {"parts": [{"text": "What does chapter 3 say about resets?"}], "role": "user"}
    ]
    assert r.usage is not None
    assert r.usage.cached_tokens == 2048
