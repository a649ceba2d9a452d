"""Per-call extra_headers, extra_query and extra_body, over loopback: what the server saw."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.extras import with_extras
from agent_adapter.providers.base import HttpRequest
from agent_adapter.testing import MockServer, Reply
from agent_adapter.validation import build_chat_request

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "Weather in Paris?"}]
NO_RETRY = aa.RetryPolicy(max_retries=0)
COMPLETION = {
    "id": "chatcmpl-x1",
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Sunny."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}
OPENAI_STREAM = [
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Sunny."}}]}\n\n',
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]
ANTHROPIC_MESSAGE = {
    "id": "msg_01X",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Sunny."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 12, "output_tokens": 3},
}
GEMINI_STREAM = [
    b'data: {"candidates":[{"content":{"parts":[{"text":"Sunny."}],"role":"model"},'
    b'"finishReason":"STOP","index":0}],"responseId":"r1"}\n\n'
]


def query_of(path: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(path).query, keep_blank_values=True)


def openai(srv: MockServer, **kw: Any) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", **kw)


async def test_chat_headers_query_and_body_reach_the_server() -> None:
    async with MockServer() as srv, openai(srv, headers={"X-Team": "search", "X-Trace": "c"}) as c:
        srv.enqueue(Reply.json(COMPLETION))
        r = await c.chat(
            model="gpt-4o",
            messages=USER,
            extra_headers={"X-Trace": "call-7", "OpenAI-Beta": "assistants=v2"},
            extra_query={"tag": "a b&c", "flag": True, "ids": [1, 2]},
            extra_body={"service_tier": "flex", "metadata": {"run": "42"}},
        )
    sent = srv.requests[0]
    assert r.content == "Sunny."
    assert sent.headers["x-trace"] == "call-7"  # per call wins over the client's
    assert sent.headers["x-team"] == "search"
    assert sent.headers["openai-beta"] == "assistants=v2"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert [name.lower() for name, _ in sent.header_list].count("x-trace") == 1
    assert urlsplit(sent.path).path == "/v1/chat/completions"
    assert query_of(sent.path) == [("tag", "a b&c"), ("flag", "true"), ("ids", "1"), ("ids", "2")]
    assert "tag=a+b%26c" in sent.path  # encoded, not pasted
    body = sent.json()
    assert body["service_tier"] == "flex"
    assert body["metadata"] == {"run": "42"}
    assert body["messages"] == USER


async def test_extra_is_still_an_alias_of_extra_body() -> None:
    async with MockServer() as srv, openai(srv) as c:
        srv.enqueue(Reply.json(COMPLETION))
        await c.chat(model="gpt-4o", messages=USER, extra={"service_tier": "priority"})
    assert srv.requests[0].json()["service_tier"] == "priority"


async def test_stream_carries_the_extras() -> None:
    async with MockServer() as srv, openai(srv) as c:
        srv.enqueue(Reply.sse(OPENAI_STREAM))
        async with c.stream(
            model="gpt-4o",
            messages=USER,
            extra_headers={"x-request-tag": "s1"},
            extra_query={"trace": "on"},
            extra_body={"store": True},
        ) as s:
            text = "".join([chunk.delta async for chunk in s])
    sent = srv.requests[0]
    assert text == "Sunny."
    assert sent.headers["x-request-tag"] == "s1"
    assert query_of(sent.path) == [("trace", "on")]
    assert sent.json()["store"] is True
    assert sent.json()["stream"] is True


async def test_embed_carries_the_extras() -> None:
    reply = {"object": "list", "data": [{"index": 0, "embedding": [0.5, 0.25]}], "model": "e3"}
    async with MockServer() as srv, openai(srv) as c:
        srv.enqueue(Reply.json(reply))
        e = await c.embed(
            model="text-embedding-3-small",
            input="hello",
            extra_headers={"x-tenant": "t9"},
            extra_query={"region": "eu"},
            extra_body={"user": "u-1"},
        )
    sent = srv.requests[0]
    assert e.vectors == [[0.5, 0.25]]
    assert sent.headers["x-tenant"] == "t9"
    assert query_of(sent.path) == [("region", "eu")]
    assert sent.json()["user"] == "u-1"


async def test_query_merges_with_azure_api_version() -> None:
    async with (
        MockServer() as srv,
        aa.Client("azure", api_key="az", base_url=srv.base_url, retry=NO_RETRY) as c,
    ):
        srv.enqueue(Reply.json(COMPLETION), Reply.json(COMPLETION))
        await c.chat(model="gpt4o", messages=USER, extra_query={"trace": "1"})
        await c.chat(model="gpt4o", messages=USER, extra_query={"api-version": "2025-04-01"})
    first, second = srv.requests
    assert urlsplit(first.path).path == "/openai/deployments/gpt4o/chat/completions"
    assert query_of(first.path) == [("api-version", "2024-10-21"), ("trace", "1")]
    assert query_of(second.path) == [("api-version", "2025-04-01")]  # per call wins
    assert first.headers["api-key"] == "az"


async def test_gemini_stream_keeps_alt_sse() -> None:
    async with (
        MockServer() as srv,
        aa.Client("gemini", api_key="g-key", base_url=srv.base_url) as c,
    ):
        srv.enqueue(Reply.sse(GEMINI_STREAM))
        async with c.stream(
            model="gemini-2.5-flash", messages=USER, extra_query={"x-trace": "9"}
        ) as s:
            async for _ in s:
                pass
    sent = srv.requests[0]
    assert urlsplit(sent.path).path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert query_of(sent.path) == [("alt", "sse"), ("x-trace", "9")]
    assert sent.headers["x-goog-api-key"] == "g-key"


async def test_anthropic_beta_per_call_adds_to_the_files_beta() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Summarise."},
                {"type": "file", "file": {"file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}},
            ],
        }
    ]
    async with (
        MockServer() as srv,
        aa.Client("anthropic", api_key="sk-ant", base_url=srv.base_url) as c,
    ):
        srv.enqueue(Reply.json(ANTHROPIC_MESSAGE), Reply.json(ANTHROPIC_MESSAGE))
        await c.chat(
            model="claude-sonnet-4-5",
            messages=messages,
            extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
        )
        await c.chat(
            model="claude-sonnet-4-5",
            messages=USER,
            extra_headers={"anthropic-version": "2023-06-01", "anthropic-beta": "a,b"},
        )
    first, second = srv.requests
    assert first.headers["anthropic-beta"] == "files-api-2025-04-14,context-1m-2025-08-07"
    assert second.headers["anthropic-beta"] == "a,b"
    assert second.headers["anthropic-version"] == "2023-06-01"
    assert first.headers["x-api-key"] == "sk-ant"


@pytest.mark.parametrize(
    "name",
    ["Authorization", "x-api-key", "api-key", "X-Goog-Api-Key", "Host", "Content-Length",
     "transfer-encoding", "Connection", "proxy-authorization"],
)  # fmt: skip
async def test_headers_that_would_override_auth_or_framing_fail_before_io(name: str) -> None:
    async with MockServer() as srv, openai(srv) as c:
        with pytest.raises(aa.ValidationError) as info:
            await c.chat(model="gpt-4o", messages=USER, extra_headers={name: "x"})
        with pytest.raises(aa.ValidationError):
            c.stream(model="gpt-4o", messages=USER, extra_headers={name: "x"})
        with pytest.raises(aa.ValidationError):
            await c.embed(model="text-embedding-3-small", input="a", extra_headers={name: "x"})
    assert info.value.field == f"extra_headers.{name.lower()}"
    assert srv.requests == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"extra": {"a": 1}, "extra_body": {"b": 2}}, "extra_body"),
        ({"extra_body": ["not", "a", "mapping"]}, "extra_body"),
        ({"extra_headers": {"x-ok": "line\r\nInjected: 1"}}, "extra_headers.x-ok"),
        ({"extra_headers": {"bad name": "v"}}, "extra_headers"),
        ({"extra_headers": {"x-num": 5}}, "extra_headers.x-num"),
        ({"extra_headers": {"x-euro": "€"}}, "extra_headers.x-euro"),
        ({"extra_query": {"q": {"nested": 1}}}, "extra_query.q"),
        ({"extra_query": {"q": None}}, "extra_query.q"),
        ({"extra_query": "a=b"}, "extra_query"),
    ],
)
async def test_bad_extras_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    async with MockServer() as srv, openai(srv) as c:
        with pytest.raises(aa.ValidationError) as info:
            await c.chat(model="gpt-4o", messages=USER, **kwargs)
    assert info.value.field == field
    assert srv.requests == []


def test_with_extras_leaves_a_request_without_extras_untouched() -> None:
    http = HttpRequest("POST", "https://h/v1/x?alt=sse", [(b"accept", b"*/*")], b"{}")
    assert with_extras(http, None, None) is http
    out = with_extras(http, {"accept": "text/event-stream"}, [("k", "v w")])
    assert out.headers == [(b"accept", b"text/event-stream")]
    assert out.url == "https://h/v1/x?alt=sse&k=v+w"
    assert out.body == b"{}"


def test_extras_land_on_the_request() -> None:
    request = build_chat_request(
        "m", USER, extra_headers={"X-A": "1"}, extra_query={"b": 2}, extra_body={"c": 3}
    )
    assert request.extra_headers == {"x-a": "1"}
    assert request.extra_query == [("b", "2")]
    assert request.extra == {"c": 3}
    assert msgspec.json.decode(msgspec.json.encode(request.extra)) == {"c": 3}
