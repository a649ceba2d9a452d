"""Sans-IO tests of the Ollama native adapter against realistic transcripts."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from agent_adapter.accumulate import Accumulator
from agent_adapter.errors import (
    AdapterError,
    BadRequestError,
    ContextLengthError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamError,
    ValidationError,
)
from agent_adapter.providers.ollama import OllamaAdapter
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

BASE = "http://localhost:11434"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUg=="
WEATHER = Tool(
    name="get_weather",
    description="Get the weather in a given city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


@pytest.fixture
def adapter() -> OllamaAdapter:
    return OllamaAdapter(name="ollama", base_url=BASE)


def body_of(adapter: OllamaAdapter, request: ChatRequest) -> Any:
    return msgspec.json.decode(adapter.encode(request).body)


def ndjson(*lines: Any) -> bytes:
    return b"".join(msgspec.json.encode(line) + b"\n" for line in lines)


def run(
    adapter: OllamaAdapter, pieces: list[bytes]
) -> tuple[list[StreamChunk], bool, ChatResponse]:
    decoder = adapter.stream_decoder(ChatRequest(model="qwen3:8b", messages=[], stream=True))
    chunks: list[StreamChunk] = []
    for piece in pieces:
        chunks.extend(decoder.feed(piece))
    ok = decoder.end()
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    return chunks, ok, acc.response("ollama")


def line(content: str = "", thinking: str | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    return {
        "model": "qwen3:8b",
        "created_at": "2025-10-26T17:21:20.903412Z",
        "message": message,
        "done": False,
        **extra,
    }


DONE = {
    "model": "qwen3:8b",
    "created_at": "2025-10-26T17:21:21.219166Z",
    "message": {"role": "assistant", "content": ""},
    "done": True,
    "done_reason": "stop",
    "total_duration": 482210375,
    "load_duration": 21337917,
    "prompt_eval_count": 12,
    "prompt_eval_duration": 61200000,
    "eval_count": 14,
    "eval_duration": 383100000,
}

THINKING_STREAM = ndjson(
    line(thinking="The user wants"),
    line(thinking=" a short greeting — in Japanese."),
    line("こんにちは"),
    line("！ It's 11°C 🌤"),
    DONE,
)

TOOL_STREAM = ndjson(
    line(thinking="I should call the weather tool."),
    {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:22:19.184789Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_k3v9x2a1",
                    "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}},
                },
                {
                    "id": "call_p0q8w7e6",
                    "function": {
                        "index": 1,
                        "name": "get_weather",
                        "arguments": {"city": "東京", "days": 2},
                    },
                },
            ],
        },
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:22:19.19314Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "stop",
        "done": True,
        "prompt_eval_count": 169,
        "eval_count": 15,
    },
)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def test_encode_url_no_auth_explicit_stream(adapter: OllamaAdapter) -> None:
    msgs = [Message(role="user", content="hi")]
    http = adapter.encode(ChatRequest(model="qwen3:8b", messages=msgs))
    assert http.method == "POST"
    assert http.url == BASE + "/api/chat"
    assert b"authorization" not in dict(http.headers)
    body = msgspec.json.decode(http.body)
    assert body == {
        "model": "qwen3:8b",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,  # Ollama streams unless told not to
    }
    assert body_of(adapter, ChatRequest(model="qwen3:8b", messages=msgs, stream=True))["stream"]


def test_hosted_ollama_takes_a_bearer_key() -> None:
    cloud = OllamaAdapter(name="ollama", base_url="https://ollama.com", api_key="olk-secret")
    http = cloud.encode(ChatRequest(model="gpt-oss:120b", messages=[]))
    assert dict(http.headers)[b"authorization"] == b"Bearer olk-secret"
    assert "olk-secret" not in repr(http)


def test_options_think_format_and_extra_merge(adapter: OllamaAdapter) -> None:
    schema = {"type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"]}
    request = ChatRequest(
        model="qwen3:8b",
        messages=[Message(role="system", content="Be brief."), Message(role="user", content="?")],
        tools=[WEATHER],
        tool_choice="auto",
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        max_tokens=512,
        stop=["</answer>", "\n\n"],
        seed=42,
        presence_penalty=0.1,
        frequency_penalty=0.3,
        reasoning="high",
        response_format=ResponseFormat(name="weather", schema=schema),
        extra={"keep_alive": "5m", "options": {"num_ctx": 8192, "temperature": 0.1}},
    )
    body = body_of(adapter, request)
    assert body["options"] == {
        "temperature": 0.1,  # extra options win over the mapped ones
        "top_p": 0.9,
        "top_k": 40,
        "num_predict": 512,
        "stop": ["</answer>", "\n\n"],
        "seed": 42,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.3,
        "num_ctx": 8192,
    }
    assert body["keep_alive"] == "5m"
    assert body["think"] == "high"
    assert body["format"] == schema
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather in a given city",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert "tool_choice" not in body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize(
    ("reasoning", "think"),
    [
        ("low", "low"),
        ("medium", "medium"),
        ("max", "max"),
        ("minimal", "low"),
        ("none", False),
        ({"budget_tokens": 1024}, True),
        ({"budget_tokens": 0}, False),
        ({"effort": "medium"}, "medium"),
    ],
)
def test_think_values(adapter: OllamaAdapter, reasoning: Any, think: Any) -> None:
    msgs = [Message(role="user", content="hi")]
    assert (
        body_of(adapter, ChatRequest(model="m", messages=msgs, reasoning=reasoning))["think"]
        == think
    )


def test_format_json_and_tool_choice_none(adapter: OllamaAdapter) -> None:
    msgs = [Message(role="user", content="hi")]
    body = body_of(
        adapter,
        ChatRequest(
            model="m",
            messages=msgs,
            tools=[WEATHER],
            tool_choice="none",
            response_format=ResponseFormat(type="json_object"),
        ),
    )
    assert body["format"] == "json"
    assert "tools" not in body


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
        ({"reasoning": "turbo"}, "reasoning"),
        ({"reasoning": {"level": 3}}, "reasoning"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_validation(adapter: OllamaAdapter, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        adapter.encode(
            ChatRequest(model="m", messages=[Message(role="user", content="x")], **kwargs)
        )
    assert info.value.field == field


def test_image_urls_are_rejected_naming_the_field(adapter: OllamaAdapter) -> None:
    msgs = [
        Message(role="user", content="first"),
        Message(
            role="user",
            content=[TextPart("What is this?"), ImagePart(url="https://example.com/cat.png")],
        ),
    ]
    with pytest.raises(ValidationError) as info:
        adapter.encode(ChatRequest(model="llava", messages=msgs))
    assert info.value.field == "messages[1].content[1]"


@pytest.mark.parametrize(
    ("arguments", "ok"),
    [('{"city": "Paris"}', True), ("", True), ("[1, 2]", False), ('{"city": ', False)],
)
def test_tool_call_arguments_must_be_objects(
    adapter: OllamaAdapter, arguments: str, ok: bool
) -> None:
    msgs = [
        Message(role="user", content="weather?"),
        Message(role="assistant", tool_calls=[ToolCall("call_1", "get_weather", arguments)]),
    ]
    request = ChatRequest(model="m", messages=msgs)
    if ok:
        sent = body_of(adapter, request)["messages"][1]["tool_calls"][0]["function"]["arguments"]
        assert sent == (msgspec.json.decode(arguments) if arguments else {})
    else:
        with pytest.raises(ValidationError) as info:
            adapter.encode(request)
        assert info.value.field == "messages[1].tool_calls[0].arguments"


def test_audio_and_files_are_refused(adapter: OllamaAdapter) -> None:
    from agent_adapter.types import AudioPart

    msgs = [Message(role="user", content=[AudioPart(data=b"RIFF", format="wav")])]
    with pytest.raises(ValidationError) as info:
        adapter.encode(ChatRequest(model="m", messages=msgs))
    assert info.value.field == "messages[0].content[0]"


# ---------------------------------------------------------------------------
# Decoding and the round trip
# ---------------------------------------------------------------------------

REPLY_WITH_CALLS = {
    "model": "qwen3:8b",
    "created_at": "2025-07-07T20:43:37.688511Z",
    "message": {
        "role": "assistant",
        "content": "",
        "thinking": "The user sent a photo and wants Toronto's weather.",
        "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}},
            {"function": {"name": "get_weather", "arguments": {"city": "Montréal", "units": None}}},
        ],
    },
    "done": True,
    "done_reason": "stop",
    "total_duration": 890771750,
    "prompt_eval_count": 94,
    "eval_count": 31,
}


def test_decode_reply_with_thinking(adapter: OllamaAdapter) -> None:
    body = {
        "model": "qwen3:8b",
        "created_at": "2025-07-07T20:43:37.688511Z",
        "message": {
            "role": "assistant",
            "content": "It's 11°C in Toronto right now.",
            "thinking": "The tool returned 11 degrees celsius; answer briefly.",
        },
        "done": True,
        "done_reason": "stop",
        "total_duration": 890771750,
        "load_duration": 707634750,
        "prompt_eval_count": 94,
        "prompt_eval_duration": 91703208,
        "eval_count": 11,
        "eval_duration": 90282125,
    }
    r = adapter.decode(200, [], msgspec.json.encode(body))
    assert r.content == "It's 11°C in Toronto right now."
    assert r.reasoning == "The tool returned 11 degrees celsius; answer briefly."
    assert r.finish_reason == "stop"
    assert r.raw_finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (94, 11, 105)
    assert r.model == "qwen3:8b"
    assert r.provider == "ollama"
    assert r.tool_calls == []


def test_decode_tool_calls_generates_stable_ids(adapter: OllamaAdapter) -> None:
    raw = msgspec.json.encode(REPLY_WITH_CALLS)
    r = adapter.decode(200, [], raw)
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "stop"
    assert [c.name for c in r.tool_calls] == ["get_weather", "get_weather"]
    assert [msgspec.json.decode(c.arguments) for c in r.tool_calls] == [
        {"city": "Toronto"},
        {"city": "Montréal", "units": None},
    ]
    ids = [c.id for c in r.tool_calls]
    assert all(i.startswith("call_") for i in ids)
    assert len(set(ids)) == 2
    assert [c.id for c in adapter.decode(200, [], raw).tool_calls] == ids  # stable
    later = dict(REPLY_WITH_CALLS, created_at="2025-07-07T20:45:00.000000Z")
    other = adapter.decode(200, [], msgspec.json.encode(later))
    assert not set(ids) & {c.id for c in other.tool_calls}  # unique across turns


def test_multi_turn_round_trip(adapter: OllamaAdapter) -> None:
    """decode → response.message → history → encode: the wire body Ollama expects."""
    first = adapter.decode(200, [], msgspec.json.encode(REPLY_WITH_CALLS))
    toronto, montreal = first.tool_calls
    history = [
        Message(role="system", content="You are a concise weather assistant."),
        Message(
            role="user",
            content=[
                TextPart("What is in this photo, "),
                ImagePart(data=PNG, media_type="image/png"),
                TextPart("and what's the weather in Toronto and Montréal?"),
                ImagePart(url="data:image/png;base64," + PNG_B64),
            ],
        ),
        first.message,
        Message(role="tool", tool_call_id=toronto.id, content="11 degrees celsius"),
        Message(
            role="tool", tool_call_id=montreal.id, tool_name="get_weather", content="8 degrees"
        ),
    ]
    body = body_of(adapter, ChatRequest(model="qwen3:8b", messages=history, tools=[WEATHER]))
    msgs = body["messages"]
    assert msgs[1] == {
        "role": "user",
        "content": "What is in this photo, and what's the weather in Toronto and Montréal?",
        "images": [PNG_B64, PNG_B64],
    }
    assert msgs[2] == {
        "role": "assistant",
        "content": "",
        "thinking": "The user sent a photo and wants Toronto's weather.",
        "tool_calls": [
            {
                "function": {"name": "get_weather", "arguments": {"city": "Toronto"}},
                "id": toronto.id,
            },
            {
                "function": {
                    "name": "get_weather",
                    "arguments": {"city": "Montréal", "units": None},
                },
                "id": montreal.id,
            },
        ],
    }
    assert msgs[3] == {
        "role": "tool",
        "content": "11 degrees celsius",
        "tool_name": "get_weather",  # found from the conversation by tool_call_id
        "tool_call_id": toronto.id,
    }
    assert msgs[4]["tool_name"] == "get_weather"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("stop", "stop"), ("length", "length"), ("load", "stop"), ("unload", "stop"), (None, "stop")],
)
def test_done_reasons(adapter: OllamaAdapter, raw: str | None, normalised: str) -> None:
    body: dict[str, Any] = {"model": "m", "message": {"role": "assistant", "content": "x"}}
    body["done"] = True
    if raw is not None:
        body["done_reason"] = raw
    r = adapter.decode(200, [], msgspec.json.encode(body))
    assert r.finish_reason == normalised
    assert r.raw_finish_reason == raw
    assert r.usage is not None
    assert r.usage.total_tokens == 0


def test_decode_malformed_and_error_body(adapter: OllamaAdapter) -> None:
    with pytest.raises(ServerError):
        adapter.decode(200, [], b"not json")
    with pytest.raises(ServerError) as info:
        adapter.decode(200, [], b'{"error": "an error was encountered while running the model"}')
    assert info.value.status == 200


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "cls", "retryable"),
    [
        (404, "model 'llama9' not found, try pulling it first", NotFoundError, False),
        (400, "invalid options: num_ctx", BadRequestError, False),
        (400, '"qwen2" does not support thinking', BadRequestError, False),
        (400, "the input length exceeds the context length", ContextLengthError, False),
        (429, "too many concurrent requests", RateLimitError, True),
        (500, "llama runner process has terminated", ServerError, True),
        (502, "cloud model unreachable", ServerError, True),
    ],
)
def test_error_bodies(
    adapter: OllamaAdapter, status: int, message: str, cls: type[AdapterError], retryable: bool
) -> None:
    err = adapter.error(status, [], msgspec.json.encode({"error": message}))
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status == status
    assert err.provider == "ollama"
    assert err.message == message


def test_error_non_json(adapter: OllamaAdapter) -> None:
    err = adapter.error(502, [], b"<html>Bad Gateway</html>")
    assert isinstance(err, ServerError)
    assert "Bad Gateway" in err.message


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


def test_stream_thinking_then_text(adapter: OllamaAdapter) -> None:
    chunks, ok, r = run(adapter, [THINKING_STREAM])
    assert ok
    assert r.reasoning == "The user wants a short greeting — in Japanese."
    assert r.content == "こんにちは！ It's 11°C 🌤"
    assert r.finish_reason == "stop"
    assert r.raw_finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (12, 14, 26)
    assert chunks[-1].usage is not None
    assert chunks[-1].finish_reason == "stop"
    assert r.model == "qwen3:8b"


def test_stream_every_byte_boundary(adapter: OllamaAdapter) -> None:
    whole, _, expected = run(adapter, [THINKING_STREAM])
    for cut in range(1, len(THINKING_STREAM)):
        chunks, ok, r = run(adapter, [THINKING_STREAM[:cut], THINKING_STREAM[cut:]])
        assert ok, cut
        assert chunks == whole, cut
        assert r == expected
    one_by_one, ok, _ = run(adapter, [bytes([b]) for b in TOOL_STREAM])
    assert ok
    assert one_by_one == run(adapter, [TOOL_STREAM])[0]


def test_stream_tool_calls(adapter: OllamaAdapter) -> None:
    chunks, ok, r = run(adapter, [TOOL_STREAM])
    assert ok
    deltas = [d for c in chunks for d in c.tool_calls or ()]
    assert [(d.index, d.id) for d in deltas] == [(0, "call_k3v9x2a1"), (1, "call_p0q8w7e6")]
    assert r.tool_calls == [
        ToolCall("call_k3v9x2a1", "get_weather", '{"city":"Tokyo"}'),
        ToolCall("call_p0q8w7e6", "get_weather", '{"city":"東京","days":2}'),
    ]
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "stop"
    assert r.reasoning == "I should call the weather tool."
    assert r.usage is not None
    assert r.usage.total_tokens == 184


def test_stream_calls_without_ids_over_several_lines(adapter: OllamaAdapter) -> None:
    call = {"role": "assistant", "content": ""}
    stream = ndjson(
        dict(
            line(), message={**call, "tool_calls": [{"function": {"name": "a", "arguments": {}}}]}
        ),
        dict(
            line(),
            message={**call, "tool_calls": [{"function": {"name": "b", "arguments": {"x": 1}}}]},
        ),
        DONE,
    )
    chunks, ok, r = run(adapter, [stream])
    assert ok
    assert [d.index for c in chunks for d in c.tool_calls or ()] == [0, 1]
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("a", "{}"), ("b", '{"x":1}')]
    assert len({c.id for c in r.tool_calls}) == 2
    assert [c.id for c in r.tool_calls] == [c.id for c in run(adapter, [stream])[2].tool_calls]


def test_stream_error_line(adapter: OllamaAdapter) -> None:
    decoder = adapter.stream_decoder(ChatRequest(model="m", messages=[], stream=True))
    assert decoder.feed(ndjson(line(" Yes")))[0].delta == " Yes"
    with pytest.raises(ServerError) as info:
        decoder.feed(b'{"error":"an error was encountered while running the model"}\n')
    assert info.value.retryable
    assert info.value.status is None
    assert "running the model" in info.value.message
    decoder = adapter.stream_decoder(ChatRequest(model="m", messages=[], stream=True))
    with pytest.raises(ContextLengthError):
        decoder.feed(b'{"error":"the prompt is longer than the context length"}\n')


def test_stream_truncated(adapter: OllamaAdapter) -> None:
    body = THINKING_STREAM[: THINKING_STREAM.rindex(b'{"model"')]
    _, ok, r = run(adapter, [body])
    assert not ok
    assert r.content == "こんにちは！ It's 11°C 🌤"
    assert r.finish_reason is None
    # cut inside the final line
    _, ok, _ = run(adapter, [THINKING_STREAM[:-20]])
    assert not ok
    # a final done line without its newline still counts as finished
    _, ok, _ = run(adapter, [THINKING_STREAM[:-1]])
    assert ok


def test_stream_malformed_line(adapter: OllamaAdapter) -> None:
    decoder = adapter.stream_decoder(ChatRequest(model="m", messages=[], stream=True))
    with pytest.raises(StreamError):
        decoder.feed(b'data: {"not": "ndjson"}\n')
    decoder = adapter.stream_decoder(ChatRequest(model="m", messages=[], stream=True))
    with pytest.raises(StreamError):
        decoder.feed(b'{"message": {"content": 5}, "done": false}\n')


def test_stream_done_then_drains(adapter: OllamaAdapter) -> None:
    decoder = adapter.stream_decoder(ChatRequest(model="m", messages=[], stream=True))
    decoder.feed(THINKING_STREAM)
    assert decoder.done
    assert decoder.feed(b"trailing garbage\n") == []
    assert decoder.end() is True


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_split_invariance(data: st.DataObject) -> None:
    adapter = OllamaAdapter(name="ollama", base_url=BASE)
    stream = data.draw(st.sampled_from([THINKING_STREAM, TOOL_STREAM]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert run(adapter, pieces)[0] == run(adapter, [stream])[0]


# ---------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------


def test_embeddings(adapter: OllamaAdapter) -> None:
    http = adapter.encode_embed(
        EmbedRequest(
            model="all-minilm",
            input=["Why is the sky blue?", "Why is the grass green?"],
            dimensions=256,
            extra={"truncate": True, "keep_alive": "5m"},
        )
    )
    assert http.url == BASE + "/api/embed"
    assert msgspec.json.decode(http.body) == {
        "model": "all-minilm",
        "input": ["Why is the sky blue?", "Why is the grass green?"],
        "dimensions": 256,
        "truncate": True,
        "keep_alive": "5m",
    }
    body = {
        "model": "all-minilm",
        "embeddings": [
            [0.010071029, -0.0017594862, 0.05007221],
            [-0.0098027075, 0.06042469, 0.025],
        ],
        "total_duration": 14143917,
        "load_duration": 1019500,
        "prompt_eval_count": 16,
    }
    r = adapter.decode_embed(200, [], msgspec.json.encode(body))
    assert r.vectors == body["embeddings"]
    assert r.usage is not None
    assert r.usage.prompt_tokens == 16
    assert r.usage.total_tokens == 16
    assert r.model == "all-minilm"
    assert r.provider == "ollama"
    with pytest.raises(ValidationError):
        adapter.encode_embed(EmbedRequest(model="all-minilm", input=[]))
    with pytest.raises(ServerError):
        adapter.decode_embed(200, [], b'{"model": "all-minilm"}')
