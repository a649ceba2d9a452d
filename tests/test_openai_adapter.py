"""Sans-IO tests of the OpenAI Chat Completions adapter and its compatible presets.

Transcripts follow the Chat Completions reference
(https://platform.openai.com/docs/api-reference/chat) as OpenAI, Azure, Groq,
DeepSeek, Mistral, Moonshot, Qwen, OpenRouter, vLLM and xAI serve it, and the
error bodies those services document
(https://platform.openai.com/docs/guides/error-codes for OpenAI's own).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from agent_adapter.accumulate import Accumulator
from agent_adapter.errors import (
    AdapterError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextLengthError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    ValidationError,
)
from agent_adapter.providers.openai import OpenAIAdapter
from agent_adapter.types import (
    AudioPart,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    FilePart,
    ImagePart,
    Message,
    ResponseFormat,
    StreamChunk,
    TextPart,
    Tool,
    ToolCall,
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
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    strict=True,
)
BASES = {
    "openai": "https://api.openai.com/v1",
    "azure": "https://res.openai.azure.com",
    "groq": "https://api.groq.com",
    "deepseek": "https://api.deepseek.com",
    "mistral": "https://api.mistral.ai",
    "together": "https://api.together.xyz/v1",
    "xai": "https://api.x.ai/v1",
    "moonshot": "https://api.moonshot.ai/v1",
    "qwen": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "cohere": "https://api.cohere.ai/compatibility/v1",
    "ollama_openai": "http://localhost:11434",
    "vllm": "http://localhost:8000/v1",
    "spark": "https://spark-api-open.xf-yun.com/v1",
}


def make(name: str = "openai", **options: Any) -> OpenAIAdapter:
    return OpenAIAdapter(name=name, base_url=BASES[name], api_key=KEY, options=options)


def req(**kw: Any) -> ChatRequest:
    kw.setdefault("model", "gpt-4o")
    kw.setdefault("messages", [Message(role="user", content="Weather in Paris?")])
    return ChatRequest(**kw)


def body_of(adapter: OpenAIAdapter, request: ChatRequest) -> dict[str, Any]:
    result: dict[str, Any] = _decode(adapter.encode(request).body)
    return result


def headers_of(adapter: OpenAIAdapter, request: ChatRequest) -> dict[bytes, bytes]:
    return dict(adapter.encode(request).headers)


# ---------------------------------------------------------------------------
# SSE transcript builders
# ---------------------------------------------------------------------------

CID = "chatcmpl-C1dR2w"


def ev(obj: Any) -> bytes:
    return b"data: " + _encode(obj) + b"\n\n"


def ch(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "id": CID,
        "object": "chat.completion.chunk",
        "created": 1755600200,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    return ev(body)


def usage_ev(prompt: int = 85, completion: int = 48, **details: Any) -> bytes:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    usage["total_tokens"] = prompt + completion
    usage.update(details)
    return ev({"id": CID, "object": "chat.completion.chunk", "choices": [], "usage": usage})


DONE = b"data: [DONE]\n\n"

TEXT_STREAM = b"".join(
    [
        ch({"role": "assistant", "content": "", "refusal": None}, usage=None, obfuscation="Xq1"),
        ch({"content": "Hello"}, usage=None, obfuscation="k9PzQ"),
        ch({"content": " there!"}, usage=None),
        ch({}, "stop", usage=None),
        usage_ev(
            9,
            3,
            prompt_tokens_details={"cached_tokens": 4, "audio_tokens": 0},
            completion_tokens_details={"reasoning_tokens": 1},
        ),
        DONE,
    ]
)


def call(index: int, id: str | None = None, name: str | None = None, args: str = "") -> dict:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    tc: dict[str, Any] = {"index": index, "function": fn}
    if id is not None:
        tc["id"] = id
        tc["type"] = "function"
    return {"tool_calls": [tc]}


PARIS = '{"city":"Paris","unit":"celsius"}'
LYON = '{"city":"Lyon","unit":"celsius"}'
TOOL_STREAM = b"".join(
    [
        ch({"role": "assistant", "content": None, "refusal": None}),
        ch(call(0, "call_7hQe2VdS9x1LmN4pKc0bTz3A", "get_weather")),
        ch(call(0, args='{"ci')),
        ch(call(0, args='ty":"Pa')),
        ch(call(0, args='ris","un')),
        ch(call(0, args='it":"cel')),
        ch(call(0, args='sius"}')),
        ch(call(1, "call_Zb8PqR4sT6uV0wX2yA4cE6gI", "get_weather")),
        ch(call(1, args=LYON)),
        ch({}, "tool_calls"),
        usage_ev(85, 48, completion_tokens_details={"reasoning_tokens": 0}),
        DONE,
    ]
)


def feed_all(
    adapter: OpenAIAdapter, data: bytes, cuts: list[int] | None = None
) -> tuple[list[StreamChunk], bool]:
    dec = adapter.stream_decoder(req(stream=True))
    chunks: list[StreamChunk] = []
    prev = 0
    for cut in [*(cuts or []), len(data)]:
        chunks.extend(dec.feed(data[prev:cut]))
        prev = cut
    return chunks, dec.end()


def accumulate(chunks: list[StreamChunk], provider: str = "openai") -> ChatResponse:
    acc = Accumulator()
    for c in chunks:
        acc.add(c)
    return acc.response(provider)


def stream(adapter: OpenAIAdapter, data: bytes, cuts: list[int] | None = None) -> ChatResponse:
    chunks, ended = feed_all(adapter, data, cuts)
    assert ended
    return accumulate(chunks, adapter.name)


# ---------------------------------------------------------------------------
# encode: OpenAI proper
# ---------------------------------------------------------------------------


def test_minimal_request_sends_only_what_was_set() -> None:
    adapter = make()
    http = adapter.encode(req())
    assert http.method == "POST"
    assert http.url == "https://api.openai.com/v1/chat/completions"
    assert _decode(http.body) == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    }
    headers = dict(http.headers)
    assert headers[b"authorization"] == b"Bearer " + KEY.encode()
    assert headers[b"content-type"] == b"application/json"
    assert KEY not in repr(http)


def test_every_sampling_field_and_name() -> None:
    body = body_of(
        make(),
        req(
            temperature=0.2,
            top_p=0.9,
            max_tokens=300,
            stop=["\n\n", "END"],
            seed=42,
            presence_penalty=0.5,
            frequency_penalty=-0.5,
            parallel_tool_calls=False,
            user="user-1234",
            tools=[WEATHER],
            tool_choice="auto",
        ),
    )
    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["max_completion_tokens"] == 300
    assert "max_tokens" not in body
    assert body["stop"] == ["\n\n", "END"]
    assert body["seed"] == 42
    assert body["presence_penalty"] == 0.5
    assert body["frequency_penalty"] == -0.5
    assert body["parallel_tool_calls"] is False
    assert body["user"] == "user-1234"
    assert body["tool_choice"] == "auto"
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": WEATHER.parameters,
                "strict": True,
            },
        }
    ]
    assert "stream" not in body


def test_tool_without_description_or_strict_omits_them() -> None:
    body = body_of(make(), req(tools=[Tool(name="ping")], tool_choice="required"))
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    assert body["tool_choice"] == "required"


def test_named_tool_choice_passes_through() -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    body = body_of(make(), req(tools=[WEATHER], tool_choice=choice))
    assert body["tool_choice"] == choice


def test_full_history_with_tool_round_trip() -> None:
    messages = [
        Message(role="system", content="You are a concise weather assistant."),
        Message(role="user", content="Weather in Paris?", name="alice"),
        Message(
            role="assistant",
            tool_calls=[ToolCall("call_7hQe2VdS9x1LmN4pKc0bTz3A", "get_weather", PARIS)],
            reasoning="hidden thoughts",
        ),
        Message(
            role="tool",
            tool_call_id="call_7hQe2VdS9x1LmN4pKc0bTz3A",
            content='{"temp_c":18,"sky":"overcast"}',
        ),
        Message(role="assistant", content="18 °C and overcast."),
        Message(role="user", content="And should I bring an umbrella?"),
    ]
    body = body_of(make(), req(messages=messages))
    assert body["messages"] == [
        {"role": "system", "content": "You are a concise weather assistant."},
        {"role": "user", "content": "Weather in Paris?", "name": "alice"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_7hQe2VdS9x1LmN4pKc0bTz3A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": PARIS},
                }
            ],
        },
        {
            "role": "tool",
            "content": '{"temp_c":18,"sky":"overcast"}',
            "tool_call_id": "call_7hQe2VdS9x1LmN4pKc0bTz3A",
        },
        {"role": "assistant", "content": "18 °C and overcast."},
        {"role": "user", "content": "And should I bring an umbrella?"},
    ]


def test_assistant_text_and_tool_calls_keeps_both() -> None:
    m = Message(role="assistant", content="Checking.", tool_calls=[ToolCall("c1", "f", "{}")])
    out = body_of(make(), req(messages=[Message(role="user", content="x"), m]))["messages"][1]
    assert out["content"] == "Checking."
    assert out["tool_calls"][0]["id"] == "c1"


def test_content_parts_every_kind() -> None:
    parts = [
        TextPart("What is in this picture, and what does the recording say?"),
        ImagePart(url="https://example.com/cat.png", detail="low"),
        ImagePart(data=PNG),
        ImagePart(data=b"\xff\xd8\xff\xe0jpeg", media_type="image/jpeg", detail="high"),
        AudioPart(data=b"RIFF$\x00\x00\x00WAVE", format="wav"),
        FilePart(data=b"%PDF-1.4\n", media_type="application/pdf", filename="report.pdf"),
        FilePart(file_id="file-abc123"),
        FilePart(data=b"%PDF-1.4\n"),
    ]
    content = body_of(make(), req(messages=[Message(role="user", content=parts)]))["messages"][0][
        "content"
    ]
    assert content[0] == {"type": "text", "text": parts[0].text}  # type: ignore[union-attr]
    assert content[1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    assert content[2] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    }
    assert content[3]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert content[3]["image_url"]["detail"] == "high"
    assert content[4] == {
        "type": "input_audio",
        "input_audio": {
            "data": base64.b64encode(b"RIFF$\x00\x00\x00WAVE").decode(),
            "format": "wav",
        },
    }
    assert content[5] == {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
    }
    assert content[6] == {"type": "file", "file": {"file_id": "file-abc123"}}
    assert content[7]["file"]["filename"] == "file.pdf"


def test_file_by_url_is_rejected_before_io() -> None:
    m = Message(role="user", content=[FilePart(url="https://example.com/a.pdf")])
    with pytest.raises(ValidationError) as info:
        make().encode(req(messages=[m]))
    assert info.value.field == "messages[0].content[0]"


def test_response_format_json_schema_and_json_object() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
        "required": ["city", "temp_c"],
        "additionalProperties": False,
    }
    fmt = ResponseFormat(name="city_weather", schema=schema)
    assert body_of(make(), req(response_format=fmt))["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city_weather", "schema": schema, "strict": True},
    }
    obj = ResponseFormat(type="json_object")
    assert body_of(make(), req(response_format=obj))["response_format"] == {"type": "json_object"}
    with pytest.raises(ValidationError):
        make().encode(req(response_format=ResponseFormat(schema=None)))


def test_stream_asks_for_usage() -> None:
    body = body_of(make(), req(stream=True))
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_reasoning_effort_and_budget() -> None:
    assert body_of(make(), req(reasoning="high"))["reasoning_effort"] == "high"
    assert body_of(make(), req(reasoning={"effort": "low"}))["reasoning_effort"] == "low"
    with pytest.raises(ValidationError) as info:
        make().encode(req(reasoning={"budget_tokens": 2048}))
    assert info.value.field == "reasoning"


def test_extra_is_merged_last_and_wins() -> None:
    body = body_of(make(), req(temperature=0.1, extra={"temperature": 0.7, "service_tier": "flex"}))
    assert body["temperature"] == 0.7
    assert body["service_tier"] == "flex"


def test_developer_role_kept_for_openai_mapped_for_compatibles() -> None:
    msgs = [Message(role="developer", content="Be brief."), Message(role="user", content="hi")]
    assert body_of(make(), req(messages=msgs))["messages"][0]["role"] == "developer"
    for name in ("groq", "deepseek", "mistral", "qwen", "vllm"):
        assert body_of(make(name), req(messages=msgs))["messages"][0]["role"] == "system", name


def test_refusal_history_native_vs_compatible() -> None:
    m = Message(role="assistant", refusal="I can't help with that.")
    msgs = [Message(role="user", content="x"), m, Message(role="user", content="y")]
    native = body_of(make(), req(messages=msgs))["messages"][1]
    assert native == {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    compat = body_of(make("vllm"), req(messages=msgs))["messages"][1]
    assert compat == {"role": "assistant", "content": "I can't help with that."}


def test_top_k_rejected_by_openai_accepted_by_vllm() -> None:
    with pytest.raises(ValidationError) as info:
        make().encode(req(top_k=40))
    assert info.value.field == "top_k"
    assert body_of(make("vllm"), req(top_k=40))["top_k"] == 40


def test_openai_org_and_project_headers() -> None:
    headers = headers_of(make(organization="org-AbC123", project="proj_x"), req())
    assert headers[b"openai-organization"] == b"org-AbC123"
    assert headers[b"openai-project"] == b"proj_x"


def test_no_key_sends_no_auth_header() -> None:
    adapter = OpenAIAdapter(name="vllm", base_url="http://localhost:8000/v1")
    assert b"authorization" not in headers_of(adapter, req())


# ---------------------------------------------------------------------------
# encode: presets
# ---------------------------------------------------------------------------


def test_azure_url_header_and_api_version() -> None:
    adapter = make("azure")
    http = adapter.encode(req(model="my-gpt4o", stream=True, max_tokens=50))
    assert http.url == (
        "https://res.openai.azure.com/openai/deployments/my-gpt4o/chat/completions"
        "?api-version=2024-10-21"
    )
    headers = dict(http.headers)
    assert headers[b"api-key"] == KEY.encode()
    assert b"authorization" not in headers
    body = _decode(http.body)
    assert body["max_completion_tokens"] == 50
    assert body["stream_options"] == {"include_usage": True}


def test_azure_deployment_option_version_and_embeddings_path() -> None:
    adapter = make("azure", deployment="prod east", api_version="2025-04-01-preview")
    assert adapter.encode(req()).url == (
        "https://res.openai.azure.com/openai/deployments/prod%20east/chat/completions"
        "?api-version=2025-04-01-preview"
    )
    http = adapter.encode_embed(EmbedRequest(model="text-embedding-3-small", input=["a"]))
    assert http.url.endswith(
        "/openai/deployments/prod%20east/embeddings?api-version=2025-04-01-preview"
    )


def test_azure_base_url_forms() -> None:
    fixed = OpenAIAdapter(
        name="azure",
        base_url="https://res.openai.azure.com/openai/deployments/dep1",
        api_key=KEY,
    )
    assert fixed.encode(req()).url == (
        "https://res.openai.azure.com/openai/deployments/dep1/chat/completions"
        "?api-version=2024-10-21"
    )
    with_openai = OpenAIAdapter(name="azure", base_url="https://res.openai.azure.com/openai/")
    assert with_openai.encode(req()).url.startswith(
        "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?"
    )
    v1 = OpenAIAdapter(name="azure", base_url="https://res.openai.azure.com/openai/v1")
    assert v1.encode(req()).url == "https://res.openai.azure.com/openai/v1/chat/completions"


def test_groq_and_mistral_path_prefix_either_base_convention() -> None:
    for base in ("https://api.groq.com", "https://api.groq.com/openai/v1"):
        adapter = OpenAIAdapter(name="groq", base_url=base, api_key=KEY)
        assert adapter.encode(req()).url == "https://api.groq.com/openai/v1/chat/completions"
    for base in ("https://api.mistral.ai", "https://api.mistral.ai/v1/"):
        adapter = OpenAIAdapter(name="mistral", base_url=base, api_key=KEY)
        assert adapter.encode(req()).url == "https://api.mistral.ai/v1/chat/completions"


def test_compatibles_use_max_tokens() -> None:
    for name in ("groq", "deepseek", "mistral", "together", "xai", "qwen", "vllm", "spark"):
        body = body_of(make(name), req(max_tokens=64))
        assert body["max_tokens"] == 64, name
        assert "max_completion_tokens" not in body


def test_mistral_quirks() -> None:
    adapter = make("mistral")
    body = body_of(
        adapter,
        req(
            model="mistral-large-latest",
            seed=7,
            tools=[WEATHER],
            tool_choice="required",
            stream=True,
        ),
    )
    assert body["random_seed"] == 7
    assert "seed" not in body
    assert body["tool_choice"] == "any"
    assert body["stream"] is True
    assert "stream_options" not in body
    with pytest.raises(ValidationError) as info:
        adapter.encode(req(user="u1"))
    assert info.value.field == "user"


@pytest.mark.parametrize("name", ["cohere", "together", "openrouter", "moonshot", "spark"])
def test_presets_without_stream_options(name: str) -> None:
    body = body_of(make(name), req(stream=True))
    assert body["stream"] is True
    assert "stream_options" not in body


@pytest.mark.parametrize("name", ["groq", "deepseek", "xai", "qwen", "vllm", "ollama_openai"])
def test_presets_with_stream_options(name: str) -> None:
    assert body_of(make(name), req(stream=True))["stream_options"] == {"include_usage": True}


def test_deepseek_reasoning_echo_only_on_tool_call_turns_and_thinking_toggle() -> None:
    msgs = [
        Message(role="user", content="Weather in Paris?"),
        Message(
            role="assistant",
            reasoning="The user wants Paris weather; call the tool.",
            tool_calls=[ToolCall("call_00_abc", "get_weather", PARIS)],
        ),
        Message(role="tool", tool_call_id="call_00_abc", content='{"temp_c":18}'),
        Message(role="assistant", content="18 °C.", reasoning="Summarise."),
        Message(role="user", content="Thanks"),
    ]
    body = body_of(make("deepseek"), req(model="deepseek-chat", messages=msgs, reasoning="high"))
    assert (
        body["messages"][1]["reasoning_content"] == "The user wants Paris weather; call the tool."
    )
    assert "reasoning_content" not in body["messages"][3]
    assert body["thinking"] == {"type": "enabled"}
    assert body["reasoning_effort"] == "high"
    off = body_of(make("deepseek"), req(reasoning="none"))
    assert off["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in off
    # OpenAI proper never receives reasoning text back.
    assert "reasoning_content" not in body_of(make(), req(messages=msgs))["messages"][1]


def test_deepseek_rejects_images_and_embeddings() -> None:
    m = Message(role="user", content=[ImagePart(url="https://example.com/a.png")])
    with pytest.raises(ValidationError):
        make("deepseek").encode(req(messages=[m]))
    with pytest.raises(ValidationError):
        make("deepseek").encode_embed(EmbedRequest(model="x", input=["a"]))


def test_audio_part_needs_an_audio_preset() -> None:
    m = Message(role="user", content=[AudioPart(data=b"RIFF", format="wav")])
    assert body_of(make(), req(messages=[m]))["messages"][0]["content"][0]["type"] == "input_audio"
    with pytest.raises(ValidationError) as info:
        make("groq").encode(req(messages=[m]))
    assert info.value.field == "messages[0].content[0]"


def test_qwen_enable_thinking_and_budget() -> None:
    body = body_of(make("qwen"), req(model="qwen-plus", reasoning="medium", stream=True))
    assert body["enable_thinking"] is True
    assert "reasoning_effort" not in body
    budget = body_of(make("qwen"), req(reasoning={"budget_tokens": 4000}))
    assert budget["enable_thinking"] is True
    assert budget["thinking_budget"] == 4000
    assert body_of(make("qwen"), req(reasoning="none"))["enable_thinking"] is False


def test_openrouter_reasoning_object() -> None:
    assert body_of(make("openrouter"), req(reasoning="high"))["reasoning"] == {"effort": "high"}
    budget = body_of(make("openrouter"), req(reasoning={"budget_tokens": 2000}))
    assert budget["reasoning"] == {"max_tokens": 2000}


def test_moonshot_thinking_toggle() -> None:
    assert body_of(make("moonshot"), req(reasoning="high"))["thinking"] == {"type": "enabled"}
    assert body_of(make("moonshot"), req(reasoning="none"))["thinking"] == {"type": "disabled"}


def test_ollama_openai_wants_image_bytes() -> None:
    adapter = make("ollama_openai")
    assert adapter.encode(req()).url == "http://localhost:11434/v1/chat/completions"
    m = Message(role="user", content=[ImagePart(url="https://example.com/a.png")])
    with pytest.raises(ValidationError, match="image"):
        adapter.encode(req(messages=[m]))
    ok = Message(role="user", content=[ImagePart(data=PNG, media_type="image/png")])
    assert adapter.encode(req(messages=[ok])).body.count(b"data:image/png;base64,") == 1


def test_quirk_override_through_options() -> None:
    adapter = OpenAIAdapter(
        name="mycompat",
        base_url="http://gw.local/v1",
        options={"stream_usage": False, "max_tokens_field": "max_completion_tokens"},
    )
    body = body_of(adapter, req(stream=True, max_tokens=5))
    assert "stream_options" not in body
    assert body["max_completion_tokens"] == 5


# ---------------------------------------------------------------------------
# decode
# ---------------------------------------------------------------------------


def completion(message: dict[str, Any], finish: str | None = "stop", **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl-BqZ4m1tYk2fXw9sVq0aLr7pN3e",
        "object": "chat.completion",
        "created": 1755600000,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        **extra,
    }
    return _encode(body)


def test_decode_text_with_usage_details() -> None:
    body = completion(
        {"content": "Yes - light rain is likely after 15:00.", "refusal": None, "annotations": []},
        usage={
            "prompt_tokens": 112,
            "completion_tokens": 14,
            "total_tokens": 126,
            "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0},
        },
        service_tier="default",
        system_fingerprint="fp_07871e2ad8",
    )
    r = make().decode(200, [], body)
    assert r.content == "Yes - light rain is likely after 15:00."
    assert r.finish_reason == "stop"
    assert r.raw_finish_reason == "stop"
    assert r.id == "chatcmpl-BqZ4m1tYk2fXw9sVq0aLr7pN3e"
    assert r.model == "gpt-4o-2024-08-06"
    assert r.provider == "openai"
    assert r.tool_calls == []
    assert r.refusal is None
    assert r.reasoning is None
    u = r.usage
    assert u is not None
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (112, 14, 126)
    assert (u.cached_tokens, u.reasoning_tokens) == (64, 5)


def test_decode_parallel_tool_calls() -> None:
    body = completion(
        {
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": "call_7hQe2VdS9x1LmN4pKc0bTz3A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": PARIS},
                },
                {
                    "id": "call_Zb8PqR4sT6uV0wX2yA4cE6gI",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": LYON},
                },
            ],
        },
        "tool_calls",
    )
    r = make().decode(200, [], body)
    assert r.content == ""
    assert r.tool_calls == [
        ToolCall("call_7hQe2VdS9x1LmN4pKc0bTz3A", "get_weather", PARIS),
        ToolCall("call_Zb8PqR4sT6uV0wX2yA4cE6gI", "get_weather", LYON),
    ]
    assert r.finish_reason == "tool_calls"
    assert r.message.tool_calls == r.tool_calls


def test_decode_tool_calls_force_finish_reason_and_fill_gaps() -> None:
    # Ollama says "stop" next to tool calls; some servers omit the id or send object args.
    body = completion(
        {"content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
        "stop",
    )
    r = make("ollama_openai").decode(200, [], body)
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "stop"
    assert r.tool_calls == [ToolCall("call_0", "f", '{"x":1}')]


def test_decode_legacy_function_call() -> None:
    body = completion({"function_call": {"name": "f", "arguments": "{}"}}, "function_call")
    r = make().decode(200, [], body)
    assert r.tool_calls == [ToolCall("call_0", "f", "{}")]
    assert r.finish_reason == "tool_calls"


def test_decode_refusal() -> None:
    body = completion({"content": None, "refusal": "I can't assist with that."})
    r = make().decode(200, [], body)
    assert r.refusal == "I can't assist with that."
    assert r.content == ""


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_decode_reasoning_field(field: str) -> None:
    body = completion({"content": "9.11 < 9.8", field: "Compare 9.11 and 9.80..."})
    r = make("deepseek").decode(200, [], body)
    assert r.reasoning == "Compare 9.11 and 9.80..."
    assert r.content == "9.11 < 9.8"


def test_decode_empty_reasoning_content_falls_back_to_reasoning() -> None:
    body = completion({"content": "ok", "reasoning_content": "", "reasoning": "thought"})
    assert make("vllm").decode(200, [], body).reasoning == "thought"


def test_decode_deepseek_keepalive_blank_lines_and_cache_usage() -> None:
    body = b"\n\n\n" + completion(
        {"content": "Hi"},
        usage={
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "total_tokens": 105,
            "prompt_cache_hit_tokens": 80,
            "prompt_cache_miss_tokens": 20,
        },
    )
    r = make("deepseek").decode(200, [], body)
    assert r.content == "Hi"
    assert r.usage is not None
    assert r.usage.cached_tokens == 80
    assert r.usage.prompt_tokens == 100


def test_decode_mistral_thinking_parts_and_model_length() -> None:
    content = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Let me think. "}]},
        {"type": "thinking", "thinking": [{"type": "text", "text": "Done."}]},
        {"type": "text", "text": "The answer is 4."},
    ]
    r = make("mistral").decode(200, [], completion({"content": content}, "model_length"))
    assert r.content == "The answer is 4."
    assert r.reasoning == "Let me think. Done."
    assert r.finish_reason == "length"
    assert r.raw_finish_reason == "model_length"


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("model_length", "length"),
        ("content_filter", "content_filter"),
        ("error", "error"),
        ("insufficient_system_resource", "error"),
        ("eos", "stop"),
    ],
)
def test_finish_reasons(raw: str, unified: str) -> None:
    r = make().decode(200, [], completion({"content": "x"}, raw))
    assert r.finish_reason == unified
    assert r.raw_finish_reason == raw


def test_decode_moonshot_usage_inside_choice() -> None:
    body = _encode(
        {
            "id": "cmpl-1",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "你好"},
                    "finish_reason": "stop",
                    "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10},
                }
            ],
        }
    )
    r = make("moonshot").decode(200, [], body)
    assert r.usage is not None
    assert r.usage.total_tokens == 10


def test_decode_integral_float_counts_are_accepted() -> None:
    body = completion({"content": "x"}, usage={"prompt_tokens": 3.0, "completion_tokens": 2.0})
    usage = make("vllm").decode(200, [], body).usage
    assert usage is not None
    assert usage.total_tokens == 5


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"id": "x", "choices": []}',
        b'{"object": "list"}',
        b'{"choices": "nope"}',
        b"",
    ],
)
def test_decode_malformed_is_a_server_error(body: bytes) -> None:
    with pytest.raises(ServerError) as info:
        make().decode(200, [(b"x-request-id", b"req_1")], body)
    assert info.value.provider == "openai"
    assert info.value.request_id == "req_1"
    assert info.value.body == body.decode()


def test_decode_error_body_with_200() -> None:
    body = _encode({"error": {"code": 502, "message": "Provider returned error"}})
    with pytest.raises(ServerError) as info:
        make("openrouter").decode(200, [], body)
    assert info.value.status == 502
    assert "Provider returned error" in str(info.value)


# ---------------------------------------------------------------------------
# stream decode
# ---------------------------------------------------------------------------


def test_text_stream() -> None:
    chunks, ended = feed_all(make(), TEXT_STREAM)
    assert ended
    assert [c.delta for c in chunks if c.delta] == ["Hello", " there!"]
    r = accumulate(chunks)
    assert r.content == "Hello there!"
    assert r.finish_reason == "stop"
    assert r.id == CID
    assert r.model == "gpt-4o-2024-08-06"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (9, 3, 12)
    assert (r.usage.cached_tokens, r.usage.reasoning_tokens) == (4, 1)


def test_role_only_header_chunk_yields_nothing() -> None:
    dec = make().stream_decoder(req(stream=True))
    assert dec.feed(ch({"role": "assistant", "content": ""})) == []
    assert not dec.done


def test_tool_call_stream_two_parallel_calls() -> None:
    chunks, ended = feed_all(make(), TOOL_STREAM)
    assert ended
    fragments = [tc for c in chunks for tc in c.tool_calls or ()]
    assert {f.index for f in fragments} == {0, 1}
    r = accumulate(chunks)
    assert r.tool_calls == [
        ToolCall("call_7hQe2VdS9x1LmN4pKc0bTz3A", "get_weather", PARIS),
        ToolCall("call_Zb8PqR4sT6uV0wX2yA4cE6gI", "get_weather", LYON),
    ]
    assert r.finish_reason == "tool_calls"
    assert r.usage is not None
    assert r.usage.total_tokens == 133


INTERLEAVED = b"".join(
    [
        ch(call(0, "call_a", "get_weather")),
        ch(call(1, "call_b", "get_time")),
        ch(call(0, args='{"city":')),
        ch(call(1, args='{"tz":')),
        ch(call(1, args='"CET"}')),
        ch(call(0, args='"Rome"}')),
        ch({}, "tool_calls"),
        DONE,
    ]
)


def test_interleaved_parallel_calls() -> None:
    r = stream(make(), INTERLEAVED)
    assert r.tool_calls == [
        ToolCall("call_a", "get_weather", '{"city":"Rome"}'),
        ToolCall("call_b", "get_time", '{"tz":"CET"}'),
    ]


def test_whole_call_in_one_chunk_and_ids_repeated_on_every_fragment() -> None:
    data = b"".join(
        [
            ev(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "call_x",
                                        "type": "function",
                                        "function": {"name": "f", "arguments": '{"a":1}'},
                                    }
                                ]
                            },
                        }
                    ]
                }
            ),
            ev(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 1,
                                        "id": "call_y",
                                        "function": {"name": "g", "arguments": '{"b"'},
                                    }
                                ]
                            },
                        }
                    ]
                }
            ),
            ev(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {"index": 1, "id": "call_y", "function": {"arguments": ":2}"}}
                                ]
                            },
                        }
                    ]
                }
            ),
            ev({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            DONE,
        ]
    )
    chunks, _ = feed_all(make("vllm"), data)
    indices = [tc.index for c in chunks for tc in c.tool_calls or ()]
    assert indices == [0, 1, 1]
    r = accumulate(chunks)
    assert r.tool_calls == [ToolCall("call_x", "f", '{"a":1}'), ToolCall("call_y", "g", '{"b":2}')]


def test_every_call_numbered_zero_with_distinct_ids() -> None:
    data = b"".join(
        [
            ch(call(0, "call_1", "f", '{"q":1}')),
            ch(call(0, "call_2", "f", '{"q":2}')),
            ch({}, "tool_calls"),
            DONE,
        ]
    )
    chunks, _ = feed_all(make("vllm"), data)
    assert [tc.index for c in chunks for tc in c.tool_calls or ()] == [0, 1]
    r = accumulate(chunks)
    assert [c.id for c in r.tool_calls] == ["call_1", "call_2"]
    assert [c.arguments for c in r.tool_calls] == ['{"q":1}', '{"q":2}']


def test_tool_fragments_without_index_or_id() -> None:
    def frag(**tc: Any) -> bytes:
        return ev({"choices": [{"index": 0, "delta": {"tool_calls": [tc]}}]})

    data = b"".join(
        [
            frag(id="call_1", function={"name": "f", "arguments": '{"a"'}),
            frag(function={"arguments": ":1}"}),
            frag(id="call_2", function={"name": "g", "arguments": "{}"}),
            ev({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            DONE,
        ]
    )
    r = stream(make("vllm"), data)
    assert r.tool_calls == [ToolCall("call_1", "f", '{"a":1}'), ToolCall("call_2", "g", "{}")]


def test_usage_only_final_chunk_and_vllm_null_choices() -> None:
    data = b"".join(
        [
            ch({"content": "ok"}, "stop"),
            ev({"id": CID, "choices": None, "usage": {"prompt_tokens": 5, "completion_tokens": 1}}),
            DONE,
        ]
    )
    chunks, ended = feed_all(make("vllm"), data)
    assert ended
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 6
    assert chunks[-1].delta == ""


def test_azure_prompt_filter_chunk_is_skipped() -> None:
    first = ev(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [
                {
                    "prompt_index": 0,
                    "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
                }
            ],
        }
    )
    chunks, ended = feed_all(make("azure"), first + TEXT_STREAM)
    assert ended
    r = accumulate(chunks, "azure")
    assert r.content == "Hello there!"
    assert r.id == CID
    assert r.usage is not None
    assert r.usage.prompt_tokens == 9


def test_azure_content_filter_finish() -> None:
    data = ch({"content": "Partial"}) + ch({}, "content_filter") + DONE
    r = stream(make("azure"), data)
    assert r.finish_reason == "content_filter"


def test_deepseek_reasoning_stream_with_keepalive_comments() -> None:
    data = b"".join(
        [
            b": keep-alive\n\n",
            b": keep-alive\n\n",
            ch({"role": "assistant", "content": None, "reasoning_content": ""}),
            ch({"content": None, "reasoning_content": "9.11 vs 9.8: "}),
            ch({"content": None, "reasoning_content": "compare decimals."}),
            ch({"content": "9.8 is greater.", "reasoning_content": None}),
            ch(
                {"content": ""},
                "stop",
                usage={
                    "prompt_tokens": 20,
                    "completion_tokens": 40,
                    "total_tokens": 60,
                    "prompt_cache_hit_tokens": 16,
                    "completion_tokens_details": {"reasoning_tokens": 30},
                },
            ),
            DONE,
        ]
    )
    r = stream(make("deepseek"), data)
    assert r.reasoning == "9.11 vs 9.8: compare decimals."
    assert r.content == "9.8 is greater."
    assert r.usage is not None
    assert (r.usage.cached_tokens, r.usage.reasoning_tokens) == (16, 30)
    assert r.message.reasoning == r.reasoning


def test_openrouter_processing_comments_and_reasoning() -> None:
    data = b"".join(
        [
            b": OPENROUTER PROCESSING\n\n",
            ch(
                {"role": "assistant", "content": "", "reasoning": "Thinking..."},
                provider="Anthropic",
            ),
            ch({"content": "Answer."}, native_finish_reason=None),
            ch({}, "stop", native_finish_reason="end_turn"),
            usage_ev(10, 5),
            DONE,
        ]
    )
    r = stream(make("openrouter"), data)
    assert r.reasoning == "Thinking..."
    assert r.content == "Answer."
    assert r.usage is not None
    assert r.usage.total_tokens == 15


def test_mistral_thinking_deltas() -> None:
    data = b"".join(
        [
            ch(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "Hmm. "}]}
                    ],
                }
            ),
            ch({"content": "Four."}),
            ch({}, "stop", usage={"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}),
            DONE,
        ]
    )
    r = stream(make("mistral"), data)
    assert r.reasoning == "Hmm. "
    assert r.content == "Four."
    assert r.usage is not None
    assert r.usage.completion_tokens == 6


def test_groq_x_groq_usage() -> None:
    data = b"".join(
        [
            ch({"role": "assistant", "content": ""}, x_groq={"id": "req_01abc"}),
            ch({"content": "Hi"}),
            ch(
                {},
                "stop",
                x_groq={
                    "id": "req_01abc",
                    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
                },
            ),
            DONE,
        ]
    )
    r = stream(make("groq"), data)
    assert r.usage is not None
    assert r.usage.total_tokens == 13


def test_moonshot_stream_usage_in_choice() -> None:
    data = (
        ch({"content": "好"})
        + ev(
            {
                "id": CID,
                "choices": [
                    {
                        "index": 0,
                        "delta": {},
                        "finish_reason": "stop",
                        "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
                    }
                ],
            }
        )
        + DONE
    )
    r = stream(make("moonshot"), data)
    assert r.usage is not None
    assert r.usage.total_tokens == 9


def test_refusal_deltas() -> None:
    data = ch({"refusal": "I can't "}) + ch({"refusal": "help with that."}) + ch({}, "stop") + DONE
    r = stream(make(), data)
    assert r.refusal == "I can't help with that."
    assert r.content == ""


def test_other_choice_indices_are_ignored() -> None:
    data = b"".join(
        [
            ev({"choices": [{"index": 0, "delta": {"content": "A"}}]}),
            ev({"choices": [{"index": 1, "delta": {"content": "B"}}]}),
            ev({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            DONE,
        ]
    )
    assert stream(make(), data).content == "A"


def test_truncated_stream_end_false() -> None:
    cut = TEXT_STREAM[: TEXT_STREAM.index(b"data: [DONE]")]
    chunks, ended = feed_all(make(), cut)
    assert not ended
    assert accumulate(chunks).content == "Hello there!"
    # even mid-event, nothing is invented and end() still says False
    chunks, ended = feed_all(make(), TEXT_STREAM[:100])
    assert not ended
    assert chunks == []


def test_done_and_nothing_after_done_counts() -> None:
    dec = make().stream_decoder(req(stream=True))
    assert dec.feed(ch({"content": "a"}) + DONE + ch({"content": "late"})) != []
    assert dec.done
    assert dec.feed(ch({"content": "later"})) == []
    assert dec.end()


def test_empty_data_events_are_ignored() -> None:
    data = b"data: \n\n" + b"data:\n\n" + ch({"content": "x"}, "stop") + DONE
    assert stream(make(), data).content == "x"


@pytest.mark.parametrize(
    "payload",
    [
        b'data: {"choices": [{"delta": {"content": "x"\n\n',
        b"data: not json at all\n\n",
        b'data: {"choices": "oops"}\n\n',
        b'data: {"choices": [{"delta": {"tool_calls": [{"index": "zero"}]}}]}\n\n',
        b"data: [1, 2, 3]\n\n",
    ],
)
def test_malformed_chunk_is_stream_error(payload: bytes) -> None:
    dec = make().stream_decoder(req(stream=True))
    with pytest.raises(StreamError) as info:
        dec.feed(payload)
    assert info.value.provider == "openai"


def in_stream_error(adapter: OpenAIAdapter, payload: bytes) -> AdapterError:
    dec = adapter.stream_decoder(req(stream=True))
    dec.feed(ch({"content": "partial"}))
    with pytest.raises(AdapterError) as info:
        dec.feed(payload)
    assert not isinstance(info.value, StreamError)
    return info.value


def test_in_stream_server_error() -> None:
    e = in_stream_error(
        make(),
        ev(
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        ),
    )
    assert isinstance(e, ServerError)
    assert e.retryable
    assert e.status is None
    assert "server had an error" in e.message


def test_in_stream_overloaded_and_string_error() -> None:
    e = in_stream_error(
        make(), ev({"error": {"message": "Model is overloaded", "code": "overloaded"}})
    )
    assert isinstance(e, ServerError)
    assert e.retryable
    e = in_stream_error(make("vllm"), ev({"error": "engine died"}))
    assert isinstance(e, ServerError)
    assert e.message == "engine died"


def test_in_stream_rate_limit_and_context_errors() -> None:
    e = in_stream_error(
        make(),
        ev(
            {
                "error": {
                    "message": "Rate limit reached",
                    "type": "tokens",
                    "code": "rate_limit_exceeded",
                }
            }
        ),
    )
    assert isinstance(e, RateLimitError)
    e = in_stream_error(
        make(),
        ev(
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens.",
                    "type": "invalid_request_error",
                }
            }
        ),
    )
    assert isinstance(e, ContextLengthError)
    assert not e.retryable


def test_openrouter_mid_stream_error_with_finish_error() -> None:
    payload = ev(
        {
            "id": "gen-1755600300-Ab12Cd34Ef56",
            "object": "chat.completion.chunk",
            "created": 1755600300,
            "model": "anthropic/claude-sonnet-4.5",
            "provider": "Anthropic",
            "error": {"code": "server_error", "message": "Provider returned error"},
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": ""},
                    "finish_reason": "error",
                    "native_finish_reason": "error",
                }
            ],
        }
    )
    e = in_stream_error(make("openrouter"), payload)
    assert isinstance(e, ServerError)
    assert e.code == "server_error"
    assert e.provider == "openrouter"


def test_openrouter_numeric_code_in_stream_sets_status() -> None:
    e = in_stream_error(
        make("openrouter"), ev({"error": {"code": 429, "message": "Rate limited upstream"}})
    )
    assert isinstance(e, RateLimitError)
    assert e.status == 429


def test_groq_x_groq_error() -> None:
    e = in_stream_error(make("groq"), ch({}, x_groq={"id": "req_1", "error": "upstream failure"}))
    assert isinstance(e, ServerError)
    assert e.message == "upstream failure"


def test_event_error_line() -> None:
    e = in_stream_error(make("vllm"), b'event: error\ndata: {"message": "boom"}\n\n')
    assert isinstance(e, ServerError)
    assert e.message == "boom"


# -- split invariance ---------------------------------------------------------

TRANSCRIPTS = {
    "text": TEXT_STREAM,
    "tools": TOOL_STREAM,
    "interleaved": INTERLEAVED,
    "crlf": TEXT_STREAM.replace(b"\n", b"\r\n"),
    "unicode": ch({"content": "héllo wörld ✓ 你好"}) + ch({}, "stop") + DONE,
}


def summary(r: ChatResponse) -> tuple[Any, ...]:
    return (r.content, r.reasoning, r.refusal, r.tool_calls, r.finish_reason, r.usage, r.id)


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_split_at_every_byte_boundary(name: str) -> None:
    data = TRANSCRIPTS[name]
    whole = summary(stream(make(), data))
    for cut in range(1, len(data)):
        assert summary(stream(make(), data, [cut])) == whole, cut


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_byte_by_byte(name: str) -> None:
    data = TRANSCRIPTS[name]
    assert summary(stream(make(), data, list(range(1, len(data))))) == summary(stream(make(), data))


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(TRANSCRIPTS)),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40),
)
def test_any_split_gives_the_same_response(name: str, cuts: list[int]) -> None:
    data = TRANSCRIPTS[name]
    points = sorted({c % (len(data) + 1) for c in cuts})
    assert summary(stream(make(), data, points)) == summary(stream(make(), data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_adapter_errors(data: bytes) -> None:
    dec = make().stream_decoder(req(stream=True))
    try:
        dec.feed(data)
        dec.end()
    except AdapterError:
        pass


# ---------------------------------------------------------------------------
# error bodies
# ---------------------------------------------------------------------------


def err(
    adapter: OpenAIAdapter, status: int, body: Any, headers: dict[str, str] | None = None
) -> AdapterError:
    raw = body if isinstance(body, bytes) else _encode(body)
    hdrs = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    e = adapter.error(status, hdrs, raw)
    assert e.status == status
    assert e.provider == adapter.name
    assert e.body == raw.decode("utf-8", "replace")
    assert KEY not in str(e)
    assert KEY not in repr(e)
    return e


def oa(
    message: str, type: str | None = "invalid_request_error", code: Any = None, param: Any = None
) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def test_openai_context_length() -> None:
    e = err(
        make(),
        400,
        oa(
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 131072 tokens. Please reduce the length of the messages.",
            code="context_length_exceeded",
            param="messages",
        ),
        {"x-request-id": "req_abc"},
    )
    assert isinstance(e, ContextLengthError)
    assert not e.retryable
    assert e.code == "context_length_exceeded"
    assert e.request_id == "req_abc"


def test_openai_auth_permission_not_found() -> None:
    e = err(
        make(), 401, oa("Incorrect API key provided: sk-proj-****abcd.", code="invalid_api_key")
    )
    assert isinstance(e, AuthenticationError)
    assert not e.retryable
    assert isinstance(
        err(make(), 403, oa("Country, region, or territory not supported")), PermissionDeniedError
    )
    e = err(make(), 404, oa("The model `gpt-9` does not exist", code="model_not_found"))
    assert isinstance(e, NotFoundError)


def test_openai_rate_limit_with_retry_after_ms() -> None:
    e = err(
        make(),
        429,
        oa(
            "Rate limit reached for gpt-4o in organization org-AbC123 on tokens per min (TPM): "
            "Limit 30000, Used 29510, Requested 1200.",
            type="tokens",
            code="rate_limit_exceeded",
        ),
        {"retry-after-ms": "1420", "retry-after": "2"},
    )
    assert isinstance(e, RateLimitError)
    assert e.retryable
    assert e.retry_after == pytest.approx(1.42)


def test_openai_insufficient_quota_is_not_retryable() -> None:
    e = err(
        make(),
        429,
        oa(
            "You exceeded your current quota, please check your plan and billing details.",
            type="insufficient_quota",
            code="insufficient_quota",
        ),
    )
    assert isinstance(e, RateLimitError)
    assert not e.retryable


def test_openai_overloaded_and_server_errors() -> None:
    e = err(make(), 503, oa("Slow Down", type=None, code="slow_down"))
    assert isinstance(e, ServerError)
    assert e.retryable
    e = err(make(), 500, oa("The server had an error", type="server_error"))
    assert isinstance(e, ServerError)
    assert e.retryable


def test_x_should_retry_header_overrides() -> None:
    e = err(make(), 500, oa("x", type="server_error"), {"x-should-retry": "false"})
    assert not e.retryable
    e = err(make(), 409, oa("lock timeout"))
    assert isinstance(e, BadRequestError)
    assert e.retryable


def test_non_json_html_body() -> None:
    e = err(make(), 502, b"<html><head><title>502 Bad Gateway</title></head></html>")
    assert isinstance(e, ServerError)
    assert e.retryable
    assert "502 Bad Gateway" in e.message


def test_bare_json_string_body() -> None:
    e = err(make("vllm"), 500, b'"Internal Server Error"')
    assert isinstance(e, ServerError)
    assert e.message == "Internal Server Error"


def test_empty_body() -> None:
    e = err(make(), 504, b"")
    assert isinstance(e, ServerError)
    assert e.message == "HTTP 504"


def test_azure_content_filter_400() -> None:
    body = {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
            "content management policy. Please modify your prompt and retry.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {"violence": {"filtered": True, "severity": "medium"}},
            },
        }
    }
    e = err(make("azure"), 400, body)
    assert isinstance(e, ContentFilterError)
    assert not e.retryable
    inner_only = {
        "error": {
            "message": "filtered",
            "code": "400",
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        }
    }
    assert isinstance(err(make("azure"), 400, inner_only), ContentFilterError)


def test_azure_429_retry_after() -> None:
    e = err(
        make("azure"),
        429,
        {
            "error": {
                "code": "429",
                "message": "Requests to the ChatCompletions_Create Operation have "
                "exceeded token rate limit of your current tier. Please retry after 7 seconds.",
            }
        },
        {"retry-after": "7"},
    )
    assert isinstance(e, RateLimitError)
    assert e.retry_after == 7.0


def test_xai_invalid_key_400_string_error() -> None:
    body = {
        "code": "Client specified an invalid argument",
        "error": "Incorrect API key provided: xa***1. You can obtain an API key from https://console.x.ai.",
    }
    e = err(make("xai"), 400, body)
    assert isinstance(e, AuthenticationError)
    assert not e.retryable
    assert e.message.startswith("Incorrect API key provided")


def test_xai_context_message() -> None:
    e = err(
        make("xai"),
        400,
        {
            "code": "Client specified an invalid argument",
            "error": "This model's maximum prompt "
            "length is 131072 but the request contains 140000 tokens.",
        },
    )
    assert isinstance(e, ContextLengthError)


def test_openrouter_errors() -> None:
    e = err(make("openrouter"), 402, {"error": {"code": 402, "message": "Insufficient credits"}})
    assert isinstance(e, RateLimitError)
    assert not e.retryable
    e = err(
        make("openrouter"),
        403,
        {
            "error": {
                "code": 403,
                "message": "Input was flagged",
                "metadata": {
                    "reasons": ["violence"],
                    "flagged_input": "...",
                    "provider_name": "OpenAI",
                },
            }
        },
    )
    assert isinstance(e, ContentFilterError)
    e = err(make("openrouter"), 403, {"error": {"code": 403, "message": "Key disabled"}})
    assert isinstance(e, PermissionDeniedError)
    e = err(make("openrouter"), 502, {"error": {"code": 502, "message": "Upstream down"}})
    assert isinstance(e, ServerError)
    e = err(
        make("openrouter"), 401, {"error": {"code": 401, "message": "No auth credentials found"}}
    )
    assert isinstance(e, AuthenticationError)


def test_deepseek_errors() -> None:
    e = err(make("deepseek"), 402, oa("Insufficient Balance", type="unknown_error"))
    assert isinstance(e, RateLimitError)
    assert not e.retryable
    e = err(make("deepseek"), 400, oa("Content Exists Risk", type="invalid_request_error"))
    assert isinstance(e, ContentFilterError)
    e = err(make("deepseek"), 503, oa("Server Overloaded", type="service_unavailable_error"))
    assert isinstance(e, ServerError)
    assert e.retryable
    e = err(make("deepseek"), 422, oa("Invalid max_tokens value, the valid range is [1, 8192]"))
    assert isinstance(e, BadRequestError)
    assert not isinstance(e, ContextLengthError)


def test_dashscope_data_inspection_failed() -> None:
    body = {
        "error": {
            "code": "data_inspection_failed",
            "param": None,
            "message": "Input data may contain inappropriate content.",
            "type": "data_inspection_failed",
        },
        "id": "chatcmpl-xxx",
        "request_id": "xxx",
    }
    assert isinstance(err(make("qwen"), 400, body), ContentFilterError)


def test_vllm_numeric_code_context_overflow() -> None:
    body = {
        "object": "error",
        "message": "This model's maximum context length is 32768 tokens. However, you requested "
        "40000 tokens in the messages. Please reduce the length of the messages.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    e = err(make("vllm"), 400, body)
    assert isinstance(e, ContextLengthError)
    assert e.code == "400"
    body2 = {"error": {"message": body["message"], "type": "BadRequestError", "code": 400}}
    assert isinstance(err(make("vllm"), 400, body2), ContextLengthError)


def test_moonshot_and_groq_context_messages() -> None:
    e = err(
        make("moonshot"), 400, oa("Invalid request: Your request exceeded model token limit: 8192")
    )
    assert isinstance(e, ContextLengthError)
    e = err(make("groq"), 400, oa("Please reduce the length of the messages or completion."))
    assert isinstance(e, ContextLengthError)


def test_rate_limit_message_with_token_words_is_not_context() -> None:
    e = err(make("azure"), 429, {"error": {"code": "429", "message": "exceeded token rate limit"}})
    assert isinstance(e, RateLimitError)


def test_mistral_and_cohere_shapes() -> None:
    e = err(
        make("mistral"),
        422,
        {
            "object": "error",
            "message": {"detail": [{"msg": "extra fields"}]},
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
    )
    assert isinstance(e, BadRequestError)
    assert "extra fields" in e.message
    e = err(make("cohere"), 401, {"message": "invalid api token"})
    assert isinstance(e, AuthenticationError)
    assert e.message == "invalid api token"


def test_gateway_list_body() -> None:
    e = err(make("vllm"), 503, [{"error": {"message": "Service Unavailable", "code": 503}}])
    assert isinstance(e, ServerError)
    assert e.message == "Service Unavailable"


# ---------------------------------------------------------------------------
# embeddings
# ---------------------------------------------------------------------------


def test_embed_request() -> None:
    http = make().encode_embed(
        EmbedRequest(
            model="text-embedding-3-small", input=["first text", "second text"], dimensions=512
        )
    )
    assert http.url == "https://api.openai.com/v1/embeddings"
    assert _decode(http.body) == {
        "model": "text-embedding-3-small",
        "input": ["first text", "second text"],
        "encoding_format": "float",
        "dimensions": 512,
    }
    extra = make().encode_embed(EmbedRequest(model="m", input=["a"], extra={"user": "u"}))
    assert _decode(extra.body)["user"] == "u"


def test_mistral_embed_request() -> None:
    http = make("mistral").encode_embed(
        EmbedRequest(model="mistral-embed", input=["a"], dimensions=256)
    )
    assert http.url == "https://api.mistral.ai/v1/embeddings"
    assert _decode(http.body) == {"model": "mistral-embed", "input": ["a"], "output_dimension": 256}


def test_embed_decode_orders_by_index() -> None:
    body = _encode(
        {
            "object": "list",
            "model": "text-embedding-3-small",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [-0.0311, 0.0042, 0.0655]},
                {"object": "embedding", "index": 0, "embedding": [0.0123, -0.0456, 0.0789]},
            ],
            "usage": {"prompt_tokens": 5, "total_tokens": 5},
        }
    )
    r = make().decode_embed(200, [], body)
    assert r.vectors == [[0.0123, -0.0456, 0.0789], [-0.0311, 0.0042, 0.0655]]
    assert r.model == "text-embedding-3-small"
    assert r.provider == "openai"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.total_tokens) == (5, 5)


def test_embed_decode_base64_vectors() -> None:
    packed = base64.b64encode(struct.pack("<3f", 0.5, -1.0, 2.0)).decode()
    body = _encode({"data": [{"index": 0, "embedding": packed}], "model": "m"})
    assert make().decode_embed(200, [], body).vectors == [[0.5, -1.0, 2.0]]


def test_embed_decode_malformed() -> None:
    with pytest.raises(ServerError):
        make().decode_embed(200, [], b'{"object": "list"}')
    with pytest.raises(ServerError):
        make().decode_embed(200, [], b"oops")
