"""The Responses API over real HTTP: MockServer + aa.Client with ``api="responses"``.

Each test checks what the server received (path, auth, the body field by
field) and what the caller got. Streams are replayed whole and one byte per
HTTP chunk; the sans-IO split tests are in ``test_responses_adapter.py``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.providers.openai.responses import OpenAIResponsesAdapter
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from responses_builders import (
    ENC,
    ENC2,
    ERROR_EVENT,
    FAILED,
    LYON,
    PARIS,
    STREAMS,
    SUMMARY_1,
    call,
    events,
    message,
    reasoning,
    response,
    sse,
)

pytestmark = pytest.mark.anyio

_encode = msgspec.json.encode
USER = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city", "unit"],
        },
    },
}
NO_RETRY = aa.RetryPolicy(max_retries=0)
_ADAPTER = OpenAIResponsesAdapter(base_url="https://api.openai.com/v1")


def client(srv: MockServer, **kw: Any) -> aa.Client:
    kw.setdefault("retry", NO_RETRY)
    kw.setdefault("api", "responses")
    return aa.Client("openai", api_key="sk-wire", base_url=srv.base_url + "/v1", **kw)


def expected(name: str) -> aa.ChatResponse:
    """What the transcript ``name`` must give: its non-streamed twin, read sans-IO."""
    return _ADAPTER.decode(200, [], _encode(STREAMS[name][-1][1]["response"]))


def summary(r: aa.ChatResponse) -> tuple[Any, ...]:
    return (
        r.content, r.reasoning, r.refusal, r.tool_calls, r.finish_reason, r.raw_finish_reason,
        r.usage, r.id, r.model, r.reasoning_items,
    )  # fmt: skip


async def drain(c: aa.Client, **kw: Any) -> aa.ChatResponse:
    async with c.stream(**kw) as s:
        async for _ in s:
            pass
    return s.response


def sent(srv: MockServer, n: int = 0) -> tuple[RecordedRequest, dict[str, Any]]:
    request = srv.requests[n]
    body: dict[str, Any] = request.json()
    return request, body


# -- every transcript, over loopback ------------------------------------------------


@pytest.mark.parametrize("name", sorted(STREAMS))
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "byte-per-chunk"])
async def test_transcript_over_loopback(name: str, bytewise: bool) -> None:
    blocks = sse(STREAMS[name])
    if bytewise:
        data = b"".join(blocks)
        reply = Reply.sse([data[i : i + 1] for i in range(len(data))], coalesce=False)
    else:
        reply = Reply.sse(blocks)
    async with MockServer() as srv:
        srv.enqueue(reply)
        async with client(srv) as c:
            r = await drain(c, model="gpt-5", messages=USER, tools=[WEATHER])
        request, body = sent(srv)
    assert request.path == "/v1/responses"
    assert body["stream"] is True
    assert summary(r) == summary(expected(name))
    assert r.provider == "openai"
    assert r.metrics.ttft is not None


@pytest.mark.parametrize("name", sorted(STREAMS))
async def test_non_streamed_twin_over_loopback(name: str) -> None:
    async with MockServer() as srv:
        srv.enqueue(
            Reply.json(STREAMS[name][-1][1]["response"], headers={"x-request-id": "req_r1"})
        )
        async with client(srv) as c:
            r = await c.chat(model="gpt-5", messages=USER, tools=[WEATHER])
        _, body = sent(srv)
    assert "stream" not in body
    assert summary(r) == summary(expected(name))
    assert r.request_id == "req_r1"


# -- the request, field by field ---------------------------------------------------


async def test_request_body_every_mapping() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    async with MockServer() as srv:
        srv.enqueue(Reply.json(response([message('{"city": "Paris"}')])))
        async with client(srv) as c:
            r = await c.chat(
                model="gpt-5",
                messages=[
                    {"role": "system", "content": "You are a concise weather assistant."},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Weather here?"},
                            {"type": "image_url", "image_url": {"url": "https://x.test/sky.jpg"}},
                        ],
                    },
                ],
                tools=[WEATHER],
                tool_choice={"type": "function", "function": {"name": "get_weather"}},
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "w", "schema": schema},
                },
                reasoning="low",
                max_tokens=256,
                temperature=1.0,
                top_p=0.5,
                parallel_tool_calls=False,
                extra={"store": False, "previous_response_id": None, "service_tier": "flex"},
            )
        request, body = sent(srv)
    assert request.method == "POST"
    assert request.path == "/v1/responses"
    assert request.headers["authorization"] == "Bearer sk-wire"
    assert body == {
        "model": "gpt-5",
        "instructions": "You are a concise weather assistant.",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Weather here?"},
                    {
                        "type": "input_image",
                        "detail": "auto",
                        "image_url": "https://x.test/sky.jpg",
                    },
                ],
            }
        ],
        "temperature": 1.0,
        "top_p": 0.5,
        "max_output_tokens": 256,
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": WEATHER["function"]["parameters"],  # type: ignore[index]
                "strict": False,
            }
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "text": {"format": {"type": "json_schema", "name": "w", "schema": schema, "strict": True}},
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "previous_response_id": None,
        "service_tier": "flex",
    }
    assert r.parsed == {"city": "Paris"}


# -- the reasoning round trip of a tool loop without store --------------------------


RS_1 = reasoning("rs_turn1", ENC, SUMMARY_1, "**Units**\n\nCelsius.")
RS_2 = reasoning("rs_turn2", ENC2, "**Second city**\n\nNow Lyon.")
RS_3 = reasoning("rs_turn3", "gAAAAABoxPa3VGhpcmQtdHVybg==", "**Answer**")
TURNS = [
    [RS_1, call("call_paris", PARIS, "fc_turn1")],
    [RS_2, call("call_lyon", LYON, "fc_turn2a"), call("call_nice", PARIS, "fc_turn2b")],
    [RS_3, message("Paris 18 °C, Lyon 17 °C, Nice 21 °C.")],
]


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_three_turn_tool_loop_without_store_sends_every_reasoning_item_back(
    streamed: bool,
) -> None:
    async with MockServer() as srv:
        for n, output in enumerate(TURNS):
            rid = f"resp_turn{n + 1}"
            if streamed:
                srv.enqueue(Reply.sse(sse(events(output))))
            else:
                srv.enqueue(Reply.json(response(output, rid=rid)))
        messages: list[Any] = [{"role": "user", "content": "Weather in Paris, Lyon and Nice?"}]
        async with client(srv) as c:
            for _ in TURNS:
                kw = {"model": "gpt-5", "messages": messages, "tools": [WEATHER]}
                kw |= {"reasoning": "medium", "extra": {"store": False}}
                r = await (drain(c, **kw) if streamed else c.chat(**kw))
                messages.append(r.message)
                for tool_call in r.tool_calls:
                    messages.append(
                        {"role": "tool", "tool_call_id": tool_call.id, "content": '{"temp_c": 18}'}
                    )
        assert r.content == "Paris 18 °C, Lyon 17 °C, Nice 21 °C."
        bodies = [request.json() for request in srv.requests]
    for body in bodies:
        assert body["store"] is False
        assert body["include"] == ["reasoning.encrypted_content"]
    assert [i["type"] for i in bodies[0]["input"]] == ["message"]

    def turn_items(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A turn's items as they must come back: unchanged but for the status."""
        return [{k: v for k, v in item.items() if k != "status"} for item in output]

    one, two = turn_items(TURNS[0]), turn_items(TURNS[1])
    result = {"type": "function_call_output", "output": '{"temp_c": 18}'}
    assert bodies[1]["input"][1:] == [*one, {**result, "call_id": "call_paris"}]
    assert bodies[2]["input"][1:] == [
        *one,
        {**result, "call_id": "call_paris"},
        *two,
        {**result, "call_id": "call_lyon"},
        {**result, "call_id": "call_nice"},
    ]
    # Byte for byte: each reasoning item, as the server sent it, is in the next requests.
    for n, item in ((1, RS_1), (2, RS_1), (2, RS_2)):
        assert item in bodies[n]["input"]
        assert item["encrypted_content"].encode() in srv.requests[n].body


# -- failures ------------------------------------------------------------------------


async def test_response_failed_before_content_is_retried() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(sse(FAILED)), Reply.sse(sse(STREAMS["text"])))
        async with client(srv, retry=aa.RetryPolicy(max_retries=1, initial_backoff=0.0)) as c:
            r = await drain(c, model="gpt-5", messages=USER)
    assert r.content == "Hello there! It is 18 °C in Paris."
    assert len(srv.requests) == 2


async def test_failure_after_content_is_a_stream_error_with_the_partial() -> None:
    blocks = sse(STREAMS["text"][:-1] + FAILED[-1:])
    delays = [0.0] * (len(blocks) - 1) + [0.05]  # the text reaches the caller first
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(blocks, delay=delays))
        async with client(srv, retry=aa.RetryPolicy(max_retries=2, initial_backoff=0.0)) as c:
            with pytest.raises(aa.StreamError) as info:
                await drain(c, model="gpt-5", messages=USER)
    assert info.value.partial is not None
    assert info.value.partial.content == "Hello there! It is 18 °C in Paris."
    assert info.value.retryable is False
    assert info.value.code == "server_error"
    assert len(srv.requests) == 1


async def test_error_event_is_a_rate_limit_error() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(sse(ERROR_EVENT)))
        async with client(srv) as c:
            with pytest.raises(aa.RateLimitError) as info:
                await drain(c, model="gpt-5", messages=USER)
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.provider == "openai"


async def test_truncated_stream_raises_stream_error() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(sse(STREAMS["tool"])[:-1]))
        async with client(srv) as c:
            with pytest.raises(aa.StreamError) as info:
                await drain(c, model="gpt-5", messages=USER, tools=[WEATHER])
    assert info.value.truncated is True


async def test_http_error_uses_the_openai_error_body() -> None:
    body = {
        "error": {
            "message": "Your input exceeds the context window of this model.",
            "type": "invalid_request_error",
            "param": "input",
            "code": "context_length_exceeded",
        }
    }
    async with MockServer() as srv:
        srv.enqueue(Reply.error(400, body))
        async with client(srv) as c:
            with pytest.raises(aa.ContextLengthError):
                await c.chat(model="gpt-5", messages=USER)


@pytest.mark.parametrize("raw", [b"<html><body>nginx</body></html>", b'{"object": "list"}'])
async def test_unreadable_200_is_not_retried(raw: bytes) -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.raw(200, {"content-type": "text/html", "x-request-id": "req_bad"}, raw))
        async with client(srv, retry=2) as c:
            with pytest.raises(aa.ServerError) as info:
                await c.chat(model="gpt-5", messages=USER)
    assert info.value.retryable is False
    assert info.value.request_id == "req_bad"
    assert info.value.body == raw.decode()
    assert len(srv.requests) == 1


# -- choosing the API -----------------------------------------------------------------


async def test_api_per_call_overrides_the_client_default() -> None:
    async with MockServer() as srv:
        srv.enqueue(
            Reply.json(response([message("from responses")])),
            Reply.json(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": "gpt-4o",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "from chat"},
                            "finish_reason": "stop",
                        }
                    ],
                }
            ),
        )
        async with client(srv, api="chat") as c:
            first = await c.chat(model="gpt-5", messages=USER, api="responses")
            second = await c.chat(model="gpt-4o", messages=USER)
    assert [q.path for q in srv.requests] == ["/v1/responses", "/v1/chat/completions"]
    assert (first.content, second.content) == ("from responses", "from chat")


async def test_model_prefix_client_with_responses() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json(response([message("hi")])))
        async with aa.Client(
            api_key="k", base_url=srv.base_url + "/v1", retry=NO_RETRY, api="responses"
        ) as c:
            r = await c.chat(model="openai/gpt-5", messages=USER)
        _, body = sent(srv)
    assert body["model"] == "gpt-5"
    assert r.content == "hi"


async def test_azure_responses_route_over_loopback() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json(response([message("hi from Azure")])))
        async with aa.Client(
            "azure",
            api_key="azure-key",
            base_url=srv.base_url,
            options={"deployment": "gpt5-prod"},
            api="responses",
            retry=NO_RETRY,
        ) as c:
            r = await c.chat(model="gpt-5", messages=USER)
        request, body = sent(srv)
    assert request.path == "/openai/v1/responses"
    assert request.headers["api-key"] == "azure-key"
    assert "authorization" not in request.headers
    assert body["model"] == "gpt5-prod"
    assert r.content == "hi from Azure"
    assert r.provider == "azure"


async def test_api_on_a_provider_without_it_fails_before_any_io() -> None:
    async with MockServer() as srv:
        with pytest.raises(aa.ValidationError) as info:
            aa.Client("anthropic", api_key="k", base_url=srv.base_url, api="responses")
        assert info.value.field == "api"
        with pytest.raises(aa.ValidationError) as bad:
            aa.Client("openai", api_key="k", base_url=srv.base_url, api="completions")
        assert bad.value.field == "api"
        async with aa.Client(api_key="k", base_url=srv.base_url) as c:
            for model, api in (("groq/llama-3.3-70b", "responses"), ("openai/gpt-5", "nope")):
                with pytest.raises(aa.ValidationError) as per_call:
                    await c.chat(model=model, messages=USER, api=api)
                assert per_call.value.field == "api"
            with pytest.raises(aa.ValidationError) as streamed:
                c.stream(model="gemini/gemini-2.5-flash", messages=USER, api="responses")
            assert streamed.value.field == "api"
        assert srv.requests == []


async def test_embeddings_from_a_responses_client() -> None:
    async with MockServer() as srv:
        srv.enqueue(
            Reply.json(
                {"object": "list", "data": [{"index": 0, "embedding": [0.5, 0.5]}], "model": "e"}
            )
        )
        async with client(srv) as c:
            r = await c.embed(model="text-embedding-3-small", input="hi")
    assert srv.requests[0].path == "/v1/embeddings"
    assert r.vectors == [[0.5, 0.5]]


def test_sync_client_passes_api_through() -> None:
    import anyio

    async def scenario() -> None:
        async with MockServer() as srv:
            srv.enqueue(Reply.json(response([message("sync hi")])))
            base = srv.base_url + "/v1"

            def blocking() -> str:
                with aa.SyncClient("openai", api_key="k", base_url=base, api="responses") as c:
                    return c.chat(model="gpt-5", messages=USER).content

            assert await anyio.to_thread.run_sync(blocking) == "sync hi"
            assert srv.requests[0].path == "/v1/responses"

    anyio.run(scenario)


def test_registry_builds_the_responses_adapter_for_openai_and_azure_only() -> None:
    from agent_adapter.registry import create_adapter, get_spec

    adapter = create_adapter("openai", api_key="k", api="responses")
    assert type(adapter) is OpenAIResponsesAdapter
    azure = create_adapter(
        "azure", api_key="k", base_url="https://res.openai.azure.com", api="responses"
    )
    assert type(azure) is OpenAIResponsesAdapter
    assert type(create_adapter("openai", api_key="k")).__name__ == "OpenAIAdapter"
    with pytest.raises(aa.ValidationError) as info:
        get_spec("groq").adapter_class("responses")
    assert info.value.field == "api"
    assert "chat" in info.value.message


# -- the fake provider serves the Responses API too -----------------------------------

PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
    "hgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_agent_loop_against_the_fake_provider(streamed: bool) -> None:
    from agent_adapter.testing.fake import provider_reply

    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is the weather in Paris? Here is the sky."},
                {"type": "image_url", "image_url": {"url": PNG}},
            ],
        }
    ]
    async with MockServer(handler=provider_reply) as srv, client(srv) as c:

        async def turn() -> aa.ChatResponse:
            kw = {"model": "gpt-5", "messages": messages, "tools": [WEATHER]}
            kw |= {"reasoning": "low", "extra": {"store": False}}
            return await (drain(c, **kw) if streamed else c.chat(**kw))

        first = await turn()
        assert first.finish_reason == "tool_calls"
        assert [tool_call.name for tool_call in first.tool_calls] == ["get_weather"]
        assert (
            first.reasoning
            == "**Planning the answer**\n\nI should answer briefly and use a tool if needed."
        )
        assert first.reasoning_items is not None
        assert first.reasoning_items[0].data is not None
        assert first.tool_calls[0].item_id is not None
        messages.append(first.message)
        call_id = first.tool_calls[0].id
        messages.append({"role": "tool", "tool_call_id": call_id, "content": '{"temp_c": 18}'})
        second = (
            await turn()
        )  # the fake refuses reasoning it could not resolve: this passing shows it
        assert second.finish_reason == "stop"
        assert second.content == 'Here is what the tool returned: {"temp_c": 18}'
        assert second.usage is not None
        assert second.usage.reasoning_tokens > 0
        assert (
            second.usage.total_tokens == second.usage.prompt_tokens + second.usage.completion_tokens
        )
    assert [q.path for q in srv.requests] == ["/v1/responses"] * 2
    sent_items = srv.requests[1].json()["input"]
    assert [i["type"] for i in sent_items] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]


def test_fake_provider_refuses_what_the_api_refuses() -> None:
    from agent_adapter.testing import fake_openai_responses

    lost = {"type": "reasoning", "id": "rs_1", "summary": []}
    orphan = {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAAAAB"}
    unpaired = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    cases = [
        ({"store": False, "input": [lost, unpaired]}, "not found"),
        ({"input": [orphan, unpaired]}, "without its required following item"),
        ({"input": []}, "'input'"),
        ({"input": "hi", "model": ""}, "'model'"),
    ]
    for fields, words in cases:
        body = {"model": "gpt-5", **fields}
        reply = fake_openai_responses.reply(body, _encode(body))
        assert reply.status == 400
        assert words in reply.body.decode()
    ok = fake_openai_responses.reply({"model": "gpt-5", "input": "hi"}, b"{}")
    assert ok.status == 200
    assert _ADAPTER.decode(200, [], ok.body).content == "You said: hi"


async def test_fake_provider_structured_and_incomplete() -> None:
    from agent_adapter.testing.fake import provider_reply

    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    async with MockServer(handler=provider_reply) as srv, client(srv) as c:
        r = await c.chat(model="gpt-5", messages=USER, response_format=schema)
        assert r.parsed == {"city": "Paris"}
        cut = await drain(c, model="gpt-5", messages=USER, max_tokens=2)
        assert cut.finish_reason == "length"
        assert cut.raw_finish_reason == "max_output_tokens"
        assert cut.content == "You said:"


async def test_a_history_saved_as_json_goes_back_the_same() -> None:
    """Messages stored with msgspec.to_builtins and loaded as dicts send the same request."""
    async with MockServer() as srv:
        srv.enqueue(Reply.json(response(TURNS[1])), Reply.json(response(TURNS[2])))
        srv.enqueue(Reply.json(response(TURNS[2])))
        async with client(srv) as c:
            kw: dict[str, Any] = {"model": "gpt-5", "tools": [WEATHER], "extra": {"store": False}}
            first = await c.chat(messages=USER, **kw)
            history: list[Any] = [*USER, first.message]
            history += [
                {"role": "tool", "tool_call_id": t.id, "content": "18"} for t in first.tool_calls
            ]
            await c.chat(messages=history, **kw)
            saved = msgspec.json.decode(msgspec.json.encode(history))
            await c.chat(messages=saved, **kw)
        direct, loaded = srv.requests[1].json(), srv.requests[2].json()
    assert loaded == direct
    assert [i["type"] for i in direct["input"]][1:3] == ["reasoning", "function_call"]
    assert direct["input"][2]["id"] == "fc_turn2a"
