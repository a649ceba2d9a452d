"""The gateway's ``POST /v1/responses``, driven by the official ``openai`` client (asyncio, trio).

The gateway runs for real (hypercorn on a loopback port) in front of
MockServer upstreams answering as the fake providers do (OpenAI's Chat
Completions for group ``smart``, Anthropic's Messages for ``claude``) or with
scripted streams. The SDK's own parsing, its stream accumulator
(``client.responses.stream``) and its exception classes are the check on our
objects, events and error bodies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import openai
import pydantic
import pytest

from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, Raw, config_text, make_app, request, running
from sse_builders import chunk

pytestmark = [
    pytest.mark.anyio,
    # On trio, the SDK's own stream generators are finalized by the garbage collector after
    # a stream ends, and trio warns about each: not ours to fix.
    pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning"),
]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
ANSWER = {
    "type": "object",
    "properties": {"thing": {"type": "string"}},
    "required": ["thing"],
    "additionalProperties": False,
}
KEYS = {"team-a": {"key": KEY, "models": ["smart", "claude"], "rpm": 1000}}
TEXT_EVENTS = [
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


@asynccontextmanager
async def gateway(
    tmp_path: Path, backend: str, *, handler: Any = provider_reply
) -> AsyncIterator[tuple[openai.AsyncOpenAI, MockServer, str]]:
    """(an openai client with team-a's key, the upstream, the gateway's base URL)."""
    async with MockServer(handler=handler) as up:
        text = config_text(up.base_url, up.base_url, keys=KEYS)
        async with running(make_app(tmp_path, text), backend) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
            try:
                yield client, up, url
            finally:
                await client.close()


def scripted(*replies: Reply) -> Any:
    """A handler answering with ``replies`` in turn, then as the fake providers do."""
    script = iter(replies)

    def handler(request: Any) -> Reply:
        return next(script, None) or provider_reply(request)

    return handler


def collapse(types: list[str]) -> list[str]:
    """The event types with runs of one delta type folded into one (their count varies)."""
    out: list[str] = []
    for kind in types:
        if not (out and kind == out[-1] and kind.endswith(".delta")):
            out.append(kind)
    return out


async def test_text_with_instructions_and_usage(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        r = await client.responses.create(
            model="smart",
            input="hi",
            instructions="Be brief.",
            temperature=0.5,
            max_output_tokens=50,
            metadata={"run": "7"},
            store=False,
        )
        assert r.object == "response" and r.id.startswith("resp_")
        assert r.status == "completed" and r.incomplete_details is None
        assert r.model == "smart"  # the name asked for, not the deployment's
        assert r.output_text == "You said: hi"
        [message] = r.output
        assert message.type == "message" and message.role == "assistant"
        assert message.id.startswith("msg_") and message.status == "completed"
        assert r.instructions == "Be brief." and r.metadata == {"run": "7"}
        assert r.temperature == 0.5 and r.max_output_tokens == 50
        assert r.usage is not None and r.usage.input_tokens > 0 and r.usage.output_tokens > 0
        assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
        assert r.usage.input_tokens_details.cached_tokens == 0
        assert r.usage.output_tokens_details.reasoning_tokens == 0
        sent = up.requests[0].json()
        assert sent["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ]
        assert sent["model"] == "gpt-4o" and sent["temperature"] == 0.5
        assert sent["max_completion_tokens"] == 50


async def test_function_call_round_trip(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        first = await client.responses.create(
            model="smart",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "Paris?"}]}],
            tools=[WEATHER],
            tool_choice={"type": "function", "name": "get_weather"},
            parallel_tool_calls=False,
        )
        [call] = first.output
        assert call.type == "function_call" and call.name == "get_weather"
        assert call.call_id and call.id and call.status == "completed"
        assert msgspec.json.decode(call.arguments) == {"city": "example"}
        assert first.tools[0].type == "function" and first.parallel_tool_calls is False
        sent = up.requests[0].json()
        assert sent["tools"][0]["function"]["name"] == "get_weather"
        assert sent["tools"][0]["function"]["strict"] is True
        assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
        assert sent["parallel_tool_calls"] is False
        history: list[Any] = [
            {"role": "user", "content": "Paris?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "22 C, sunny"},
        ]
        second = await client.responses.create(model="smart", input=history, tools=[WEATHER])
        assert second.output_text == "Here is what the tool returned: 22 C, sunny"
        messages = up.requests[1].json()["messages"]
        assert messages[1]["role"] == "assistant"
        assert messages[1]["tool_calls"][0]["id"] == call.call_id
        assert messages[2] == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "22 C, sunny",
        }


async def test_claude_answers_in_the_responses_shape(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        r = await client.responses.create(model="claude", input="Paris?", tools=[WEATHER])
        assert [item.type for item in r.output] == ["function_call"]
        assert msgspec.json.decode(r.output[0].arguments) == {"city": "Paris"}
        assert up.requests[0].path == "/v1/messages"


async def test_text_formats_and_the_sdk_parse_helper(tmp_path: Path, anyio_backend: str) -> None:
    class Answer(pydantic.BaseModel):
        thing: str

    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        fmt = {"type": "json_schema", "name": "answer", "schema": ANSWER, "strict": True}
        r = await client.responses.create(model="smart", input="what?", text={"format": fmt})
        assert msgspec.json.decode(r.output_text) == {"thing": "Paris"}
        assert r.text is not None and r.text.format is not None
        assert r.text.format.type == "json_schema"
        sent = up.requests[0].json()["response_format"]
        assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "answer"
        assert sent["json_schema"]["strict"] is True
        parsed = await client.responses.parse(model="smart", input="what?", text_format=Answer)
        assert parsed.output_parsed == Answer(thing="Paris")
        plain = await client.responses.create(
            model="smart", input="hi", text={"format": {"type": "text"}, "verbosity": "medium"}
        )
        assert plain.output_text == "You said: hi"
        assert "response_format" not in up.requests[2].json()


async def test_token_limit_makes_it_incomplete(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, _):
        r = await client.responses.create(
            model="smart", input="one two three four five", max_output_tokens=2
        )
        assert r.status == "incomplete"
        assert r.incomplete_details is not None
        assert r.incomplete_details.reason == "max_output_tokens"
        assert r.output[0].type == "message" and r.output[0].status == "incomplete"
        stream = await client.responses.create(
            model="smart", input="one two three four five", max_output_tokens=2, stream=True
        )
        events = [e async for e in stream]
        assert events[-1].type == "response.incomplete"
        assert events[-1].response.incomplete_details is not None
        assert events[-1].response.incomplete_details.reason == "max_output_tokens"


async def test_stream_text_events_in_order(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, _):
        stream = await client.responses.create(
            model="smart", input="hello there, gateway", stream=True
        )
        events = [e async for e in stream]
        assert collapse([e.type for e in events]) == TEXT_EVENTS
        assert [e.sequence_number for e in events] == list(range(len(events)))
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert deltas == "You said: hello there, gateway"
        assert len([e for e in events if e.type == "response.output_text.delta"]) > 1
        created, final = events[0].response, events[-1].response
        assert created.status == "in_progress" and created.output == []
        assert final.id == created.id and final.status == "completed"
        assert final.output_text == deltas and final.model == "smart"
        assert final.usage is not None and final.usage.output_tokens > 0
        item_ids = {e.item_id for e in events if hasattr(e, "item_id")}
        assert item_ids == {final.output[0].id}


async def test_stream_helper_with_a_tool_call(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, _, _):
        async with client.responses.stream(model="smart", input="Paris?", tools=[WEATHER]) as s:
            events = [e async for e in s]
            final = await s.get_final_response()
        assert collapse([e.type for e in events]) == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
        arguments = "".join(
            e.delta for e in events if e.type == "response.function_call_arguments.delta"
        )
        [call] = final.output
        assert call.type == "function_call" and call.arguments == arguments
        assert msgspec.json.decode(arguments) == {"city": "example"}
        assert call.parsed_arguments == {"city": "example"}  # strict: the SDK parses them


async def test_stream_reasoning_text_and_parallel_calls(tmp_path: Path, anyio_backend: str) -> None:
    def call(index: int, arguments: str, head: bool = False) -> dict[str, Any]:
        part: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
        if head:
            part.update(id=f"call_{index}", type="function")
            part["function"]["name"] = "get_weather"
        return {"tool_calls": [part]}

    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Two cities, "}),
        chunk({"reasoning_content": "two calls."}),
        chunk({"content": "Checking both."}),
        chunk(call(0, '{"city":', head=True)),
        chunk(call(1, '{"city":"Lyon"}', head=True)),
        chunk(call(0, '"Paris"}')),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]
    handler = scripted(Reply.sse(events))
    async with gateway(tmp_path, anyio_backend, handler=handler) as (client, _, _):
        async with client.responses.stream(
            model="smart", input="Paris and Lyon?", tools=[WEATHER], reasoning={"effort": "low"}
        ) as s:
            seen = [e async for e in s]
            final = await s.get_final_response()
        summary = "".join(
            e.delta for e in seen if e.type == "response.reasoning_summary_text.delta"
        )
        assert summary == "Two cities, two calls."
        assert [item.type for item in final.output] == [
            "reasoning",
            "message",
            "function_call",
            "function_call",
        ]
        reasoning, message, paris, lyon = final.output
        assert reasoning.summary[0].text == summary
        assert message.content[0].text == "Checking both."
        assert (paris.call_id, paris.arguments) == ("call_0", '{"city":"Paris"}')
        assert (lyon.call_id, lyon.arguments) == ("call_1", '{"city":"Lyon"}')
        assert [e.sequence_number for e in seen] == list(range(len(seen)))


async def test_client_errors_have_the_sdk_classes(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (client, up, url):
        bad = openai.AsyncOpenAI(base_url=url + "/v1", api_key="aa-not-a-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as auth:
            await bad.responses.create(model="smart", input="hi")
        await bad.close()
        assert auth.value.code == "invalid_api_key"
        with pytest.raises(openai.NotFoundError) as missing:
            await client.responses.create(model="gpt-5-nonexistent", input="hi")
        assert missing.value.code == "model_not_found"
        refused: list[tuple[dict[str, Any], str]] = [
            ({"top_logprobs": 5}, "top_logprobs"),
            ({"store": True}, "store"),
            ({"previous_response_id": "resp_123"}, "previous_response_id"),
            ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
            ({"include": ["message.output_text.logprobs"]}, "include"),
            ({"temperature": 5}, "temperature"),
            ({"text": {"verbosity": "high"}}, "text.verbosity"),
        ]
        for options, param in refused:
            with pytest.raises(openai.BadRequestError) as bad_request:
                await client.responses.create(model="smart", input="hi", **options)
            assert bad_request.value.param == param, options
        with pytest.raises(openai.BadRequestError) as kept:
            await client.responses.create(model="smart", input="hi", store=True)
        assert "stateless" in kept.value.message
        with pytest.raises(openai.BadRequestError) as item:
            await client.responses.create(
                model="smart", input=[{"type": "item_reference", "id": "msg_1"}]
            )
        assert item.value.param == "input[0].type"
        assert up.requests == []  # nothing refused went upstream


async def test_stream_failing_after_content_ends_with_error_events(
    tmp_path: Path, anyio_backend: str
) -> None:
    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "partial"})]
    handler = scripted(*[Reply.reset_mid_body(events, after=2)] * 2)
    async with gateway(tmp_path, anyio_backend, handler=handler) as (client, _, url):
        stream = await client.responses.create(model="smart", input="hi", stream=True)
        seen: list[str] = []
        with pytest.raises(openai.APIError) as failed:
            async for e in stream:
                seen.append(e.type)
        assert "response.output_text.delta" in seen and "response.completed" not in seen
        assert failed.value.type in ("api_connection_error", "stream_error")
        # The raw events: an error event numbered in turn, then response.failed.
        body = msgspec.json.encode({"model": "smart", "input": "hi", "stream": True})
        async with Raw.open(url) as raw:
            await raw.send(request("POST", "/v1/responses", body))
            head, data = await raw.response()
        assert head.status_code == 200
        lines = [line for line in data.split(b"\n") if line.startswith(b"data: ")]
        sent = [msgspec.json.decode(line[6:]) for line in lines]
        assert [e["sequence_number"] for e in sent] == list(range(len(sent)))
        error, last = sent[-2], sent[-1]
        assert error["type"] == "error" and error["message"] == error["error"]["message"]
        assert error["code"] == error["error"]["type"] == failed.value.type
        assert last["type"] == "response.failed"
        assert last["response"]["status"] == "failed"
        assert last["response"]["id"] == sent[0]["response"]["id"]
        assert last["response"]["error"]["message"] == error["message"]
        assert b"[DONE]" not in data


async def test_leaving_mid_stream_closes_the_upstream(tmp_path: Path, anyio_backend: str) -> None:
    slow = Reply.sse(
        [chunk({"role": "assistant", "content": ""})]
        + [chunk({"content": f"word{i} "}) for i in range(100)]
        + [chunk({}, "stop"), b"data: [DONE]\n\n"],
        delay=0.1,  # ten seconds in all: the client leaves long before the end
    )
    async with gateway(tmp_path, anyio_backend, handler=scripted(slow)) as (_, up, url):
        body = msgspec.json.encode({"model": "smart", "input": "hi", "stream": True})
        async with Raw.open(url) as raw:
            await raw.send(request("POST", "/v1/responses", body))
            data = b""
            with anyio.fail_after(5):
                while b"word0" not in data:
                    data += await raw.stream.receive()
            assert data.startswith(b"HTTP/1.1 200 ")
        left = anyio.current_time()
        await up.wait_for_client_disconnects(1, timeout=5)
        await up.wait_for_closed(1, timeout=5)
        assert anyio.current_time() - left < 5.0  # at once, not when the stream would end
        assert up.open_connections == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_claude_thinking_goes_back_to_claude(
    tmp_path: Path, anyio_backend: str, stream: bool
) -> None:
    options: dict[str, Any] = {
        "model": "claude",
        "input": "Paris?",
        "tools": [WEATHER],
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 4096,
    }
    async with gateway(tmp_path, anyio_backend) as (client, up, _):
        if stream:
            async with client.responses.stream(**options) as s:
                first = await s.get_final_response()
        else:
            first = await client.responses.create(**options)
        reasoning, call = first.output
        assert reasoning.type == "reasoning" and reasoning.encrypted_content
        assert reasoning.summary[0].text.startswith("The user wants an answer")
        assert call.type == "function_call"
        history: list[Any] = [
            {"role": "user", "content": "Paris?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ]
        options["input"] = history
        second = await client.responses.create(**{**options, "input": history})
        assert second.output_text.startswith("Thanks, I have the tool results")
        turn = up.requests[1].json()["messages"][1]
        thinking = turn["content"][0]
        assert thinking["type"] == "thinking" and thinking["signature"]
        assert thinking["thinking"] == reasoning.summary[0].text
        assert [b["type"] for b in turn["content"]] == ["thinking", "tool_use"]
