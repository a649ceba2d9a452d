"""Sans-IO tests of the Gemini adapter: encode, decode, stream decoding, errors, schemas."""

from __future__ import annotations

import base64
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
from agent_adapter.providers.gemini import SKIP_SIGNATURE, GeminiAdapter
from agent_adapter.providers.gemini.schema import to_gemini_schema
from agent_adapter.types import (
    AudioPart,
    ChatRequest,
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
from agent_adapter.validation import build_chat_request

BASE = "https://generativelanguage.googleapis.com"
KEY = "AIzaSy-test-key-0123456789"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER = Tool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
)


def adapter(**options: Any) -> GeminiAdapter:
    return GeminiAdapter(name="gemini", base_url=BASE, api_key=KEY, options=options)


def body_of(request: ChatRequest, **options: Any) -> Any:
    return msgspec.json.decode(adapter(**options).encode(request).body)


def user(text: str) -> Message:
    return Message(role="user", content=text)


def chat(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model=kw.pop("model", "gemini-2.5-flash"), messages=list(messages), **kw)


# ---------------------------------------------------------------------------
# Transcripts (shapes from real captures; values ours)
# ---------------------------------------------------------------------------

TEXT_WITH_THOUGHTS = (
    b'{"candidates": [{"content": {"role": "model", "parts": ['
    b'{"text": "**Checking conditions**\\nThe user wants a short answer about rain.",'
    b' "thought": true},'
    b'{"text": "It\'s 18\xc2\xb0C and overcast in Paris; take an umbrella.",'
    b' "thoughtSignature": "EjQKMgEMOdbHuQZ2mq3Kx8fT9nV0c1R2"}]},'
    b'"finishReason": "STOP", "index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 96, "candidatesTokenCount": 24, "totalTokenCount": 318,'
    b' "thoughtsTokenCount": 198, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 96}]},'
    b'"modelVersion": "gemini-2.5-flash", "responseId": "qpc2afWVFJK4vr0Pq6WiyAU"}'
)

PARALLEL_CALLS = (
    b'{"candidates": [{"content": {"role": "model", "parts": ['
    b'{"text": "Comparing two cities.", "thought": true},'
    b'{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},'
    b' "thoughtSignature": "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbd"},'
    b'{"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}}]},'
    b'"finishReason": "STOP", "index": 0, "finishMessage": "Model generated function call(s)."}],'
    b'"usageMetadata": {"promptTokenCount": 83, "candidatesTokenCount": 22, "totalTokenCount": 209,'
    b' "thoughtsTokenCount": 104},'
    b'"modelVersion": "gemini-2.5-flash", "responseId": "Xk3bQ1v8Lm2Rt7pAa9cYzQ"}'
)

BLOCKED = (
    b'{"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": ['
    b'{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},'
    b'"usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},'
    b'"modelVersion": "gemini-2.5-flash", "responseId": "bL0cAaXq0fP2mR8sWq1nTg"}'
)

CACHED_MAX_TOKENS = (
    b'{"candidates": [{"content": {"role": "model", "parts": [{"text": "The first three'
    b' reasons are"}]}, "finishReason": "MAX_TOKENS", "index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 4100, "cachedContentTokenCount": 4096,'
    b' "candidatesTokenCount": 5, "totalTokenCount": 4105},'
    b'"modelVersion": "gemini-2.5-flash-lite", "responseId": "mx1"}'
)


def sse(*payloads: bytes, crlf: bool = False) -> bytes:
    sep = b"\r\n" if crlf else b"\n"
    return b"".join(b"data: " + p + sep + sep for p in payloads)


STREAM_TEXT = sse(
    b'{"candidates": [{"content": {"parts": [{"text": "**Considering the forecast**\\nLooking up'
    b' Paris.", "thought": true}],"role": "model"},"index": 0}],"usageMetadata":'
    b' {"promptTokenCount": 9,"totalTokenCount": 187,"thoughtsTokenCount": 178},'
    b'"modelVersion": "gemini-2.5-flash","responseId": "IZI2acSKMoWl0-kPmYj2yQc"}',
    b'{"candidates": [{"content": {"parts": [{"text": "Paris is mild today, around 18\xc2\xb0C"}],'
    b'"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,'
    b'"candidatesTokenCount": 8,"totalTokenCount": 195,"thoughtsTokenCount": 178},'
    b'"modelVersion": "gemini-2.5-flash","responseId": "IZI2acSKMoWl0-kPmYj2yQc"}',
    b'{"candidates": [{"content": {"parts": [{"text": ", with rain likely after 15:00."}],'
    b'"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata":'
    b' {"promptTokenCount": 9,"candidatesTokenCount": 17,"totalTokenCount": 204,'
    b'"thoughtsTokenCount": 178},"modelVersion": "gemini-2.5-flash",'
    b'"responseId": "IZI2acSKMoWl0-kPmYj2yQc"}',
    crlf=True,
)

STREAM_CALL = sse(
    b'{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args":'
    b' {"city": "Tokyo"}},"thoughtSignature": "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbd"}],'
    b'"role": "model"},"finishReason": "STOP","index": 0,"finishMessage": "Model generated'
    b' function call(s)."}],"usageMetadata": {"promptTokenCount": 83,"candidatesTokenCount": 14,'
    b'"totalTokenCount": 201,"thoughtsTokenCount": 104},"modelVersion": "gemini-2.5-flash",'
    b'"responseId": "qpc2afWVFJK4vr0Pq6WiyAU"}'
)

# Text, then two calls in separate chunks, multi-byte text, a final empty part with the signature.
STREAM_MIXED = sse(
    '{"candidates":[{"content":{"parts":[{"text":"Je vérifie 東京 et Zürich 🌦"}],"role":"model"},'
    '"index":0}],"usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":6,'
    '"totalTokenCount":46},"modelVersion":"gemini-2.5-pro","responseId":"mixR"}'.encode(),
    b'{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":'
    b'{"city":"\xe6\x9d\xb1\xe4\xba\xac"}}}],"role":"model"},"index":0}],"modelVersion":'
    b'"gemini-2.5-pro","responseId":"mixR"}',
    b'{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_time","args":'
    b'{"tz":"Europe/Zurich"}}},{"text":"","thoughtSignature":"U0lHLW1peA=="}],"role":"model"},'
    b'"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":40,'
    b'"candidatesTokenCount":30,"totalTokenCount":70},"modelVersion":"gemini-2.5-pro",'
    b'"responseId":"mixR"}',
    crlf=True,
)

STREAM_SAFETY = sse(
    b'{"candidates":[{"content":{"parts":[{"text":"Here is how"}],"role":"model"},"index":0}],'
    b'"responseId":"sf1"}',
    b'{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":'
    b'"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}],'
    b'"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,"totalTokenCount":10},'
    b'"responseId":"sf1"}',
)

STREAM_ERROR = sse(
    b'{"candidates":[{"content":{"parts":[{"text":"Partial"}],"role":"model"},"index":0}],'
    b'"responseId":"e1"}',
    b'{"error": {"code": 503, "message": "The model is overloaded. Please try again later.",'
    b' "status": "UNAVAILABLE"}}',
)

STREAM_BLOCKED = sse(BLOCKED)

STREAM_TRUNCATED = STREAM_TEXT[: STREAM_TEXT.rindex(b"data: ")]

ALL_STREAMS = [STREAM_TEXT, STREAM_CALL, STREAM_MIXED, STREAM_SAFETY, STREAM_TRUNCATED]


def run_stream(data: bytes, pieces: list[int] | None = None) -> tuple[list[StreamChunk], bool]:
    decoder = adapter().stream_decoder(chat(user("x"), stream=True))
    chunks: list[StreamChunk] = []
    if pieces is None:
        chunks.extend(decoder.feed(data))
    else:
        start = 0
        for end in [*sorted(pieces), len(data)]:
            chunks.extend(decoder.feed(data[start:end]))
            start = max(start, end)
    return chunks, decoder.end()


def assembled(data: bytes) -> Any:
    chunks, ok = run_stream(data)
    acc = Accumulator()
    for c in chunks:
        acc.add(c)
    return acc.response("gemini"), ok


# ---------------------------------------------------------------------------
# encode
# ---------------------------------------------------------------------------


def test_url_path_and_auth_header() -> None:
    a = adapter()
    req = a.encode(chat(user("hi")))
    assert req.method == "POST"
    assert req.url == f"{BASE}/v1beta/models/gemini-2.5-flash:generateContent"
    headers = dict(req.headers)
    assert headers[b"x-goog-api-key"] == KEY.encode()
    assert b"authorization" not in headers
    assert KEY not in repr(req)
    assert KEY not in repr(a)
    assert KEY not in req.url

    stream = a.encode(chat(user("hi"), model="models/gemini-2.5-pro", stream=True))
    assert stream.url == f"{BASE}/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"


@pytest.mark.parametrize("model", ["", "gemini 2.5", "../x", "foo/bar", "gemini?key=1"])
def test_bad_model_names(model: str) -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("hi"), model=model))
    assert info.value.field == "model"


def test_system_developer_and_turn_merging() -> None:
    body = body_of(
        chat(
            Message(role="system", content="You are a concise weather assistant."),
            Message(role="developer", content=[TextPart("Answer in French.")]),
            user("Bonjour"),
            user("Quel temps fait-il ?"),
            Message(role="assistant", content="Où êtes-vous ?"),
            Message(role="assistant", content="(Ville ?)"),
            user("Paris"),
        )
    )
    assert body["systemInstruction"] == {
        "parts": [{"text": "You are a concise weather assistant."}, {"text": "Answer in French."}]
    }
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Bonjour"}, {"text": "Quel temps fait-il ?"}]},
        {"role": "model", "parts": [{"text": "Où êtes-vous ?"}, {"text": "(Ville ?)"}]},
        {"role": "user", "parts": [{"text": "Paris"}]},
    ]
    assert "generationConfig" not in body
    assert "tools" not in body


def test_generation_config() -> None:
    body = body_of(
        chat(
            user("hi"),
            temperature=0.4,
            top_p=0.95,
            top_k=40,
            max_tokens=1024,
            stop=["\n\nUser:"],
            seed=7,
            presence_penalty=0.5,
            frequency_penalty=0.25,
        )
    )
    assert body["generationConfig"] == {
        "temperature": 0.4,
        "topP": 0.95,
        "topK": 40,
        "maxOutputTokens": 1024,
        "stopSequences": ["\n\nUser:"],
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
    }


def test_media_parts() -> None:
    body = body_of(
        chat(
            Message(
                role="user",
                content=[
                    TextPart("What's in these?"),
                    ImagePart(data=PNG),  # media type sniffed
                    ImagePart(
                        url="data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8jpg").decode()
                    ),
                    ImagePart(url="https://example.com/cat.webp"),
                    AudioPart(data=b"RIFFwav", format="wav"),
                    FilePart(data=b"%PDF-1.7", filename="report.pdf"),
                    FilePart(file_id="files/abc123", media_type="application/pdf"),
                    FilePart(url="gs://bucket/video.mp4"),
                ],
            )
        )
    )
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"text": "What's in these?"}
    assert parts[1] == {
        "inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}
    }
    assert parts[2]["inlineData"]["mimeType"] == "image/jpeg"
    assert base64.b64decode(parts[2]["inlineData"]["data"]) == b"\xff\xd8jpg"
    assert parts[3] == {
        "fileData": {"fileUri": "https://example.com/cat.webp", "mimeType": "image/webp"}
    }
    assert parts[4] == {
        "inlineData": {"mimeType": "audio/wav", "data": base64.b64encode(b"RIFFwav").decode()}
    }
    assert parts[5]["inlineData"]["mimeType"] == "application/pdf"
    assert parts[6] == {
        "fileData": {
            "fileUri": f"{BASE}/v1beta/files/abc123",
            "mimeType": "application/pdf",
        }
    }
    assert parts[7] == {"fileData": {"fileUri": "gs://bucket/video.mp4", "mimeType": "video/mp4"}}


@pytest.mark.parametrize(
    ("part", "field"),
    [
        (ImagePart(data=b"not an image"), "messages[0].content[1]"),
        (ImagePart(url="ftp://example.com/x.png"), "messages[0].content[1]"),
        (ImagePart(url="data:image/png,notbase64"), "messages[0].content[1]"),
        (FilePart(data=b"??"), "messages[0].content[1]"),
    ],
)
def test_media_rejected(part: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(Message(role="user", content=[TextPart("x"), part])))
    assert info.value.field == field


def test_system_with_image_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(Message(role="system", content=[ImagePart(data=PNG)]), user("x")))
    assert info.value.field == "messages[0].content[0]"


def test_empty_user_message_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("")))
    assert info.value.field == "messages[0].content"


def test_tools_and_tool_choice() -> None:
    req = chat(user("Weather in Paris?"), tools=[WEATHER], tool_choice="required")
    body = body_of(req)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": {
                        "type": "OBJECT",
                        "required": ["city"],
                        "properties": {
                            "city": {"type": "STRING", "description": "City name"},
                            "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
                        },
                    },
                }
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    for choice, expected in [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ]:
        req = chat(user("x"), tools=[WEATHER], tool_choice=choice)
        assert body_of(req)["toolConfig"]["functionCallingConfig"] == expected


@pytest.mark.parametrize(
    "choice",
    ["sometimes", {"type": "function", "function": {"name": "nope"}}, {"type": "function"}],
)
def test_bad_tool_choice(choice: Any) -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), tools=[WEATHER], tool_choice=choice))
    assert info.value.field == "tool_choice"


def test_tool_without_parameters_omits_them() -> None:
    body = body_of(chat(user("x"), tools=[Tool(name="now", description="The time.")]))
    assert body["tools"][0]["functionDeclarations"] == [{"name": "now", "description": "The time."}]


def test_native_json_schema_option() -> None:
    schema = {"type": "object", "properties": {"n": {"oneOf": [{"type": "integer"}]}}}
    req = chat(
        user("x"),
        tools=[Tool(name="f", parameters=schema)],
        response_format=ResponseFormat(schema=schema),
    )
    body = body_of(req, json_schema=True)
    decl = body["tools"][0]["functionDeclarations"][0]
    assert decl["parametersJsonSchema"] == schema
    assert "parameters" not in decl
    assert body["generationConfig"]["responseJsonSchema"] == schema
    assert body["generationConfig"]["responseMimeType"] == "application/json"


def test_response_format() -> None:
    schema = {
        "type": "object",
        "title": "Forecast",
        "properties": {"temp_c": {"type": "number"}, "sky": {"type": "string"}},
        "required": ["temp_c", "sky"],
        "additionalProperties": False,
    }
    body = body_of(chat(user("x"), response_format=ResponseFormat(name="forecast", schema=schema)))
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "required": ["temp_c", "sky"],
            "properties": {"temp_c": {"type": "NUMBER"}, "sky": {"type": "STRING"}},
        },
    }
    body = body_of(chat(user("x"), response_format=ResponseFormat(type="json_object")))
    assert body["generationConfig"] == {"responseMimeType": "application/json"}


@pytest.mark.parametrize(
    ("model", "reasoning", "expected"),
    [
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-pro", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-2.5-pro", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        (
            "gemini-3-flash-preview",
            "minimal",
            {"thinkingLevel": "MINIMAL", "includeThoughts": True},
        ),
        ("models/gemini-3-pro-preview", "high", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("gemini-3.1-pro-preview", "LOW", {"thinkingLevel": "LOW", "includeThoughts": True}),
        (
            "gemini-3-flash-preview",
            {"budget_tokens": 2048},
            {"thinkingBudget": 2048, "includeThoughts": True},
        ),
        (
            "gemini-2.5-flash",
            {"budget_tokens": -1},
            {"thinkingBudget": -1, "includeThoughts": True},
        ),
        ("gemini-2.5-flash", {"budget_tokens": 0}, {"thinkingBudget": 0}),
        (
            "gemini-2.5-flash",
            {"effort": "high"},
            {"thinkingBudget": 24576, "includeThoughts": True},
        ),
    ],
)
def test_thinking_config(model: str, reasoning: Any, expected: dict[str, Any]) -> None:
    body = body_of(chat(user("x"), model=model, reasoning=reasoning))
    assert body["generationConfig"]["thinkingConfig"] == expected


@pytest.mark.parametrize("reasoning", ["extreme", {"budget_tokens": "lots"}, {"foo": 1}])
def test_bad_reasoning(reasoning: Any) -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), reasoning=reasoning))
    assert info.value.field is not None
    assert info.value.field.startswith("reasoning")


def test_extra_is_deep_merged() -> None:
    body = body_of(
        chat(
            user("x"),
            max_tokens=50,
            extra={
                "generationConfig": {"candidateCount": 1, "maxOutputTokens": 60},
                "safetySettings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
                ],
            },
        )
    )
    assert body["generationConfig"] == {"maxOutputTokens": 60, "candidateCount": 1}
    assert body["safetySettings"][0]["threshold"] == "BLOCK_ONLY_HIGH"
    assert body["contents"] == [{"role": "user", "parts": [{"text": "x"}]}]


def test_tool_results_name_lookup_and_wrapping() -> None:
    history = [
        user("Weather in Paris and the time?"),
        Message(
            role="assistant",
            tool_calls=[
                ToolCall(id="call_a", name="get_weather", arguments='{"city": "Paris"}'),
                ToolCall(id="gcall_R_1", name="get_time", arguments=""),
            ],
        ),
        Message(role="tool", tool_call_id="call_a", content='{"temp_c": 18, "sky": "overcast"}'),
        Message(role="tool", tool_call_id="gcall_R_1", content="14:05"),
        Message(role="tool", tool_call_id="unknown", tool_name="log", content="[1, 2]"),
        user("Thanks. Umbrella?"),
    ]
    body = body_of(chat(*history))
    model_turn, results = body["contents"][1], body["contents"][2]
    assert model_turn == {
        "role": "model",
        "parts": [
            # Foreign ids are echoed; ids this adapter generated are not.
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_a"}},
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    assert results == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "get_weather",
                    "response": {"temp_c": 18, "sky": "overcast"},
                    "id": "call_a",
                }
            },
            {"functionResponse": {"name": "get_time", "response": {"result": "14:05"}}},
            {"functionResponse": {"name": "log", "response": {"result": [1, 2]}, "id": "unknown"}},
            {"text": "Thanks. Umbrella?"},
        ],
    }
    assert len(body["contents"]) == 3


def test_tool_result_with_unknown_call_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), Message(role="tool", tool_call_id="nope", content="1")))
    assert info.value.field == "messages[1].tool_call_id"


def test_invalid_tool_call_arguments() -> None:
    bad = Message(role="assistant", tool_calls=[ToolCall(id="c", name="f", arguments="{oops")])
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), bad))
    assert info.value.field == "messages[1].tool_calls[0].arguments"
    arr = Message(role="assistant", tool_calls=[ToolCall(id="c", name="f", arguments="[1]")])
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), arr))
    assert info.value.field == "messages[1].tool_calls[0].arguments"


def test_signature_on_text_turn_and_gemini3_placeholder() -> None:
    body = body_of(
        chat(
            user("hi"),
            Message(
                role="assistant", content="Hello!", reasoning="greet", reasoning_signature="S1"
            ),
            user("call it"),
            Message(role="assistant", tool_calls=[ToolCall(id="c1", name="f", arguments="{}")]),
            Message(role="tool", tool_call_id="c1", content="ok"),
            model="gemini-3-flash-preview",
        )
    )
    # Reasoning text is not sent back; the signature stays on the turn's last text part.
    assert body["contents"][1] == {
        "role": "model",
        "parts": [{"text": "Hello!", "thoughtSignature": "S1"}],
    }
    # A Gemini 3 tool-calling turn that lost its signature gets Google's documented placeholder.
    assert body["contents"][3]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    # Gemini 2.5 does not need it.
    body = body_of(
        chat(
            user("x"),
            Message(role="assistant", tool_calls=[ToolCall(id="c1", name="f", arguments="{}")]),
        )
    )
    assert "thoughtSignature" not in body["contents"][1]["parts"][0]


SIGNED_TURN = (
    b'{"candidates": [{"content": {"role": "model", "parts": ['
    b'{"text": "Checking the forecast first."},'
    b'{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},'
    b' "thoughtSignature": "SIG_CALL_A"},'
    b'{"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}},'
    b'{"text": "", "thoughtSignature": "SIG_TAIL"}]},'
    b'"finishReason": "STOP", "index": 0}],'
    b'"modelVersion": "gemini-3-flash-preview", "responseId": "seq1"}'
)


def test_each_call_keeps_its_own_signature_and_the_text_one_stays_on_the_turn() -> None:
    r = adapter().decode(200, [], SIGNED_TURN)
    assert [c.signature for c in r.tool_calls] == ["SIG_CALL_A", None]
    assert r.reasoning_signature == "SIG_TAIL"  # not on a call: the turn's
    body = body_of(chat(user("Paris and Lyon?"), r.message, model="gemini-3-flash-preview"))
    assert body["contents"][1]["parts"] == [
        {"text": "Checking the forecast first.", "thoughtSignature": "SIG_TAIL"},
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": "SIG_CALL_A",
        },
        {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}},
    ]


def test_streamed_calls_carry_their_signatures_to_the_response() -> None:
    data = sse(
        b'{"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name":'
        b' "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "SIG_P"}]},'
        b' "index": 0}], "responseId": "s2"}',
        b'{"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name":'
        b' "get_weather", "args": {"city": "Lyon"}}}]}, "index": 0}], "responseId": "s2"}',
        b'{"candidates": [{"content": {"role": "model", "parts": [{"text": "",'
        b' "thoughtSignature": "SIG_END"}]}, "finishReason": "STOP", "index": 0}],'
        b' "responseId": "s2"}',
    )
    r, ok = assembled(data)
    assert ok
    assert [(c.id, c.signature) for c in r.tool_calls] == [
        ("gcall_s2_0", "SIG_P"),
        ("gcall_s2_1", None),
    ]
    assert r.reasoning_signature == "SIG_END"


def test_history_from_before_per_call_signatures_still_goes_on_the_first_call() -> None:
    old = Message(
        role="assistant",
        tool_calls=[
            ToolCall(id="c1", name="f", arguments="{}"),
            ToolCall(id="c2", name="f", arguments="{}"),
        ],
        reasoning_signature="OLD_SIG",
    )
    for model in ("gemini-2.5-flash", "gemini-3-pro-preview"):
        parts = body_of(chat(user("x"), old, model=model))["contents"][1]["parts"]
        assert [p.get("thoughtSignature") for p in parts] == ["OLD_SIG", None]
    signed = Message(
        role="assistant",
        tool_calls=[
            ToolCall(id="c1", name="f", arguments="{}"),
            ToolCall(id="c2", name="f", arguments="{}", signature="SIG_2"),
        ],
    )
    parts = body_of(chat(user("x"), signed, model="gemini-3-pro-preview"))["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in parts] == [SKIP_SIGNATURE, "SIG_2"]


def test_tool_call_dicts_may_carry_a_signature() -> None:
    request = build_chat_request(
        "gemini-2.5-flash",
        [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                        "signature": "SIG_D",
                    }
                ],
            },
        ],
    )
    calls = request.messages[1].tool_calls or []
    assert calls[0].signature == "SIG_D"
    with pytest.raises(ValidationError) as info:
        build_chat_request(
            "m",
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [{"id": "c", "name": "f", "signature": 1}]},
            ],
        )
    assert info.value.field == "messages[1].tool_calls[0].signature"


def test_round_trip_thought_signature_tool_result_and_image() -> None:
    """Decode a thinking+call response, put it in history, answer the call, encode again."""
    a = adapter()
    first = [
        Message(role="system", content="You are a concise weather assistant."),
        Message(
            role="user",
            content=[
                TextPart("What's the weather where this photo was taken?"),
                ImagePart(data=PNG),
            ],
        ),
    ]
    response = a.decode(200, [], PARALLEL_CALLS)
    assert response.finish_reason == "tool_calls"
    history = [
        *first,
        response.message,
        Message(role="tool", tool_call_id=response.tool_calls[0].id, content='{"temp_c": 18}'),
        Message(role="tool", tool_call_id=response.tool_calls[1].id, content="rain"),
    ]
    body = msgspec.json.decode(a.encode(chat(*history, tools=[WEATHER])).body)
    assert body["systemInstruction"] == {
        "parts": [{"text": "You are a concise weather assistant."}]
    }
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "What's the weather where this photo was taken?"},
                {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbd",
                },
                {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                {"functionResponse": {"name": "get_weather", "response": {"result": "rain"}}},
            ],
        },
    ]


def test_tool_message_with_image_adds_a_sibling_part() -> None:
    body = body_of(
        chat(
            user("draw"),
            Message(role="assistant", tool_calls=[ToolCall(id="c", name="render", arguments="{}")]),
            Message(role="tool", tool_call_id="c", content=[TextPart("done"), ImagePart(data=PNG)]),
        )
    )
    parts = body["contents"][2]["parts"]
    assert parts[0] == {
        "functionResponse": {"name": "render", "response": {"result": "done"}, "id": "c"}
    }
    assert parts[1]["inlineData"]["mimeType"] == "image/png"


# ---------------------------------------------------------------------------
# decode
# ---------------------------------------------------------------------------


def test_decode_text_with_thoughts() -> None:
    r = adapter().decode(200, [], TEXT_WITH_THOUGHTS)
    assert r.content == "It's 18°C and overcast in Paris; take an umbrella."
    assert r.reasoning == "**Checking conditions**\nThe user wants a short answer about rain."
    assert r.reasoning_signature == "EjQKMgEMOdbHuQZ2mq3Kx8fT9nV0c1R2"
    assert r.finish_reason == "stop"
    assert r.raw_finish_reason == "STOP"
    assert r.tool_calls == []
    assert r.id == "qpc2afWVFJK4vr0Pq6WiyAU"
    assert r.model == "gemini-2.5-flash"
    assert r.provider == "gemini"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (
        96,
        222,
        318,
    )
    assert r.usage.reasoning_tokens == 198
    assert r.usage.cached_tokens == 0


def test_decode_parallel_calls_stable_ids() -> None:
    a = adapter()
    r = a.decode(200, [], PARALLEL_CALLS)
    assert r.finish_reason == "tool_calls"
    assert r.raw_finish_reason == "STOP"
    assert [(c.name, msgspec.json.decode(c.arguments)) for c in r.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Lyon"}),
    ]
    ids = [c.id for c in r.tool_calls]
    assert ids == ["gcall_Xk3bQ1v8Lm2Rt7pAa9cYzQ_0", "gcall_Xk3bQ1v8Lm2Rt7pAa9cYzQ_1"]
    assert [c.id for c in a.decode(200, [], PARALLEL_CALLS).tool_calls] == ids  # deterministic
    # parallel calls: the signature is the first call's own; the second has none
    assert [c.signature for c in r.tool_calls] == [
        "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbd",
        None,
    ]
    assert r.reasoning_signature is None
    assert r.usage is not None
    assert r.usage.completion_tokens == 126
    assert r.usage.total_tokens == 209


def test_decode_server_ids_and_no_response_id() -> None:
    with_id = (
        b'{"candidates":[{"content":{"parts":[{"functionCall":{"id":"fc-77","name":"f","args":{}}}]},'
        b'"finishReason":"STOP"}]}'
    )
    assert adapter().decode(200, [], with_id).tool_calls[0].id == "fc-77"
    anon = (
        b'{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}},'
        b'{"functionCall":{"name":"f","args":null}}]},"finishReason":"STOP"}]}'
    )
    calls = adapter().decode(200, [], anon).tool_calls
    assert calls[0].id.startswith("gcall_")
    assert calls[0].id != calls[1].id
    assert calls[1].arguments == "{}"
    assert [c.id for c in adapter().decode(200, [], anon).tool_calls] == [c.id for c in calls]


def test_decode_cached_usage_and_max_tokens() -> None:
    r = adapter().decode(200, [], CACHED_MAX_TOKENS)
    assert r.finish_reason == "length"
    assert r.raw_finish_reason == "MAX_TOKENS"
    assert r.usage is not None
    assert r.usage.prompt_tokens == 4100
    assert r.usage.cached_tokens == 4096
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == 4105


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("LANGUAGE", "error"),
        ("OTHER", "error"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("UNEXPECTED_TOOL_CALL", "error"),
        ("TOO_MANY_TOOL_CALLS", "error"),
        ("NO_IMAGE", "error"),
        ("FINISH_REASON_UNSPECIFIED", "error"),
        ("SOMETHING_NEW", "error"),
    ],
)
def test_finish_reasons(raw: str, expected: str) -> None:
    body = (
        b'{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"'
        + raw.encode()
        + b'"}]}'
    )
    r = adapter().decode(200, [], body)
    assert r.finish_reason == expected
    assert r.raw_finish_reason == raw


def test_blocked_prompt() -> None:
    with pytest.raises(ContentFilterError) as info:
        adapter().decode(200, [], BLOCKED)
    assert "SAFETY" in str(info.value)
    assert info.value.code == "SAFETY"
    assert not info.value.retryable


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"candidates": "x"}', b'{"candidates": []}', b"[]"]
)
def test_decode_malformed(body: bytes) -> None:
    with pytest.raises(ServerError):
        adapter().decode(200, [], body)


# ---------------------------------------------------------------------------
# streaming
# ---------------------------------------------------------------------------


def test_stream_text_with_thoughts() -> None:
    chunks, ok = run_stream(STREAM_TEXT)
    assert ok
    assert [c.reasoning for c in chunks] == [
        "**Considering the forecast**\nLooking up Paris.",
        "",
        "",
    ]
    assert [c.delta for c in chunks] == [
        "",
        "Paris is mild today, around 18°C",
        ", with rain likely after 15:00.",
    ]
    assert [c.finish_reason for c in chunks] == [None, None, "stop"]
    r, _ = assembled(STREAM_TEXT)
    assert r.content == "Paris is mild today, around 18°C, with rain likely after 15:00."
    assert r.usage.prompt_tokens == 9
    assert r.usage.completion_tokens == 17 + 178
    assert r.usage.total_tokens == 204
    assert r.usage.reasoning_tokens == 178
    assert r.id == "IZI2acSKMoWl0-kPmYj2yQc"
    assert r.finish_reason == "stop"


def test_stream_call_matches_non_stream_ids() -> None:
    chunks, ok = run_stream(STREAM_CALL)
    assert ok
    assert len(chunks) == 1
    (delta,) = chunks[0].tool_calls or []
    assert delta.index == 0
    assert delta.name == "get_weather"
    assert msgspec.json.decode(delta.arguments) == {"city": "Tokyo"}
    assert delta.id == "gcall_qpc2afWVFJK4vr0Pq6WiyAU_0"
    assert chunks[0].finish_reason == "tool_calls"
    assert chunks[0].raw_finish_reason == "STOP"
    assert delta.signature == "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbd"
    r, _ = assembled(STREAM_CALL)
    assert r.reasoning_signature is None
    assert r.tool_calls == [
        ToolCall(
            id=delta.id, name="get_weather", arguments=delta.arguments, signature=delta.signature
        )
    ]


def test_stream_mixed_unicode_and_calls() -> None:
    r, ok = assembled(STREAM_MIXED)
    assert ok
    assert r.content == "Je vérifie 東京 et Zürich 🌦"
    assert [(c.id, c.name, msgspec.json.decode(c.arguments)) for c in r.tool_calls] == [
        ("gcall_mixR_0", "get_weather", {"city": "東京"}),
        ("gcall_mixR_1", "get_time", {"tz": "Europe/Zurich"}),
    ]
    assert r.finish_reason == "tool_calls"
    assert r.reasoning_signature == "U0lHLW1peA=="
    assert r.usage.total_tokens == 70
    chunks, _ = run_stream(STREAM_MIXED)
    assert [c.tool_calls[0].index for c in chunks if c.tool_calls] == [0, 1]


def test_stream_safety_finish_without_content() -> None:
    r, ok = assembled(STREAM_SAFETY)
    assert ok
    assert r.content == "Here is how"
    assert r.finish_reason == "content_filter"
    assert r.raw_finish_reason == "SAFETY"


def test_stream_in_stream_error_is_retryable_overload() -> None:
    decoder = adapter().stream_decoder(chat(user("x"), stream=True))
    first, second = STREAM_ERROR.split(b"\n\n", 1)
    assert decoder.feed(first + b"\n\n")[0].delta == "Partial"
    with pytest.raises(ServerError) as info:
        decoder.feed(second)
    assert info.value.retryable
    assert info.value.status == 503
    assert "overloaded" in str(info.value)


def test_stream_blocked_prompt() -> None:
    with pytest.raises(ContentFilterError):
        run_stream(STREAM_BLOCKED)


def test_stream_truncated() -> None:
    chunks, ok = run_stream(STREAM_TRUNCATED)
    assert not ok
    assert len(chunks) == 2
    assert all(c.finish_reason is None for c in chunks)
    decoder = adapter().stream_decoder(chat(user("x"), stream=True))
    assert not decoder.done
    assert not decoder.end()


def test_stream_done_ignores_trailing_events() -> None:
    decoder = adapter().stream_decoder(chat(user("x"), stream=True))
    chunks = decoder.feed(
        STREAM_CALL + sse(b'{"candidates":[{"content":{"parts":[{"text":"late"}]}}]}')
    )
    assert decoder.done
    assert len(chunks) == 1
    assert decoder.feed(b"data: garbage\n\n") == []
    assert decoder.end()


@pytest.mark.parametrize(
    "data",
    [
        b"data: {not json}\n\n",
        b'data: {"candidates": 5}\n\n',
        b'data: {"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]}\n\n',
        b"data: [1, 2]\n\n",
    ],
)
def test_stream_malformed(data: bytes) -> None:
    with pytest.raises(StreamError):
        run_stream(data)


def test_stream_byte_at_a_time() -> None:
    for data in ALL_STREAMS:
        whole, ok = run_stream(data)
        pieces, ok2 = run_stream(data, list(range(1, len(data))))
        assert msgspec.to_builtins(pieces) == msgspec.to_builtins(whole)
        assert ok == ok2


@settings(max_examples=60, deadline=None)
@given(
    index=st.integers(0, len(ALL_STREAMS) - 1),
    cuts=st.lists(st.floats(0, 1, allow_nan=False), max_size=12),
)
def test_stream_split_invariance(index: int, cuts: list[float]) -> None:
    data = ALL_STREAMS[index]
    whole, ok = run_stream(data)
    split, ok2 = run_stream(data, [int(c * len(data)) for c in cuts])
    assert msgspec.to_builtins(split) == msgspec.to_builtins(whole)
    assert ok == ok2


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_stream_arbitrary_bytes_only_raise_adapter_errors(data: bytes) -> None:
    try:
        run_stream(b"data: " + data + b"\n\n")
        run_stream(data)
    except AdapterError:
        pass


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def err(code: int, status: str, message: str, *details: dict[str, Any]) -> bytes:
    obj: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        obj["details"] = list(details)
    return msgspec.json.encode({"error": obj})


API_KEY_INVALID = err(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    },
)


def quota_429(quota_id: str, delay: str, value: str = "10") -> bytes:
    return err(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/"
                    "generate_content_free_tier_requests",
                    "quotaId": quota_id,
                    "quotaValue": value,
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    )


def test_error_api_key_invalid_is_auth() -> None:
    e = adapter().error(400, [], API_KEY_INVALID)
    assert type(e) is AuthenticationError
    assert not e.retryable
    assert e.status == 400
    assert e.code == "API_KEY_INVALID"
    assert e.provider == "gemini"
    assert KEY not in str(e)


def test_error_permission_and_not_found() -> None:
    e = adapter().error(403, [], err(403, "PERMISSION_DENIED", "Permission denied on resource."))
    assert type(e) is PermissionDeniedError
    assert not e.retryable
    e = adapter().error(
        404,
        [(b"x-goog-request-id", b"rq-1")],
        err(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta."),
    )
    assert type(e) is NotFoundError
    assert "gemini-9" in str(e)
    assert e.request_id == "rq-1"


def test_error_rate_limit_retry_info() -> None:
    e = adapter().error(
        429, [], quota_429("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "17s")
    )
    assert type(e) is RateLimitError
    assert e.retryable
    assert e.retry_after == 17.0
    e = adapter().error(429, [(b"retry-after", b"3")], quota_429("PerMinute", "3.700s"))
    assert e.retry_after == 3.0  # the header wins when present
    e = adapter().error(429, [], quota_429("PerMinute", "3.700s"))
    assert e.retry_after == pytest.approx(3.7)


def test_error_daily_quota_is_not_retryable() -> None:
    e = adapter().error(
        429, [], quota_429("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "43200s")
    )
    assert isinstance(e, RateLimitError)
    assert not e.retryable
    e = adapter().error(
        429, [], quota_429("GenerateContentInputTokensPerModelPerMinute", "10s", "0")
    )
    assert isinstance(e, RateLimitError)
    assert not e.retryable


def test_error_context_overflow() -> None:
    e = adapter().error(
        400,
        [],
        err(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1196265) exceeds the maximum number of tokens allowed"
            " (1048575).",
        ),
    )
    assert type(e) is ContextLengthError
    assert not e.retryable


def test_error_other_bad_request() -> None:
    e = adapter().error(400, [], err(400, "FAILED_PRECONDITION", "User location is not supported."))
    assert type(e) is BadRequestError
    assert not e.retryable
    assert e.code == "FAILED_PRECONDITION"


@pytest.mark.parametrize(
    ("status", "grpc"), [(500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")]
)
def test_error_server(status: int, grpc: str) -> None:
    e = adapter().error(status, [], err(status, grpc, "An internal error has occurred."))
    assert type(e) is ServerError
    assert e.retryable
    assert e.status == status


def test_error_array_wrapped_and_non_json() -> None:
    body = b"[" + API_KEY_INVALID + b"]"
    assert isinstance(adapter().error(400, [], body), AuthenticationError)
    e = adapter().error(502, [], b"<html>Bad Gateway</html>")
    assert isinstance(e, ServerError)
    assert e.retryable
    assert "Bad Gateway" in (e.body or "")


# ---------------------------------------------------------------------------
# embeddings
# ---------------------------------------------------------------------------


def test_embeddings_round_trip() -> None:
    a = adapter()
    req = a.encode_embed(
        EmbedRequest(model="gemini-embedding-001", input=["first text", "second"], dimensions=768)
    )
    assert req.url == f"{BASE}/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert dict(req.headers)[b"x-goog-api-key"] == KEY.encode()
    assert msgspec.json.decode(req.body) == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "first text"}]},
                "outputDimensionality": 768,
            },
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "second"}]},
                "outputDimensionality": 768,
            },
        ]
    }
    extra = a.encode_embed(
        EmbedRequest(
            model="models/text-embedding-004", input=["q"], extra={"taskType": "RETRIEVAL_QUERY"}
        )
    )
    assert msgspec.json.decode(extra.body)["requests"][0]["taskType"] == "RETRIEVAL_QUERY"
    out = a.decode_embed(
        200, [], b'{"embeddings": [{"values": [0.0131, -0.0082]}, {"values": [-0.0291, 0.0104]}]}'
    )
    assert out.vectors == [[0.0131, -0.0082], [-0.0291, 0.0104]]
    assert out.usage is None
    assert out.provider == "gemini"
    with pytest.raises(ServerError):
        a.decode_embed(200, [], b'{"nothing": 1}')


# ---------------------------------------------------------------------------
# schema conversion
# ---------------------------------------------------------------------------


def test_schema_pydantic_style() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {
            "Unit": {"enum": ["celsius", "fahrenheit"], "title": "Unit", "type": "string"},
            "Place": {
                "type": "object",
                "title": "Place",
                "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                "required": ["city"],
            },
        },
        "type": "object",
        "title": "Query",
        "properties": {
            "place": {"$ref": "#/$defs/Place", "description": "Where"},
            "unit": {"anyOf": [{"$ref": "#/$defs/Unit"}, {"type": "null"}], "default": None},
            "days": {"type": "integer", "minimum": 1, "exclusiveMaximum": 15, "format": "int32"},
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": 5,
                "uniqueItems": True,
            },
            "when": {"type": ["string", "null"], "format": "date-time"},
            "answer": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "level": {"type": "integer", "enum": [1, 2, 3]},
            "kind": {"const": "forecast"},
            "meta": {"type": "object", "additionalProperties": {"type": "string"}},
            "anything": {},
        },
        "required": ["place"],
        "additionalProperties": False,
    }
    out = to_gemini_schema(schema, field="tools[0].parameters")
    assert out == {
        "type": "OBJECT",
        "required": ["place"],
        "properties": {
            "place": {
                "type": "OBJECT",
                "description": "Where",
                "required": ["city"],
                "properties": {"city": {"type": "STRING"}, "country": {"type": "STRING"}},
            },
            "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"], "nullable": True},
            "days": {"type": "INTEGER", "format": "int32", "minimum": 1, "maximum": 15},
            "tags": {"type": "ARRAY", "maxItems": 5, "items": {"type": "STRING"}},
            "when": {"type": "STRING", "format": "date-time", "nullable": True},
            "answer": {"anyOf": [{"type": "INTEGER"}, {"type": "STRING"}]},
            "level": {"type": "INTEGER", "enum": ["1", "2", "3"]},
            "kind": {"type": "STRING", "enum": ["forecast"]},
            "meta": {"type": "OBJECT"},
            "anything": {},
        },
    }


def test_schema_type_list_and_all_of() -> None:
    out = to_gemini_schema(
        {"type": ["integer", "string", "null"], "description": "id", "minimum": 0},
        field="response_format.schema",
    )
    assert out == {
        "anyOf": [{"type": "INTEGER", "minimum": 0}, {"type": "STRING", "minimum": 0}],
        "description": "id",
        "nullable": True,
    }
    merged = to_gemini_schema(
        {
            "$defs": {
                "Base": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "required": ["a"],
                }
            },
            "allOf": [
                {"$ref": "#/$defs/Base"},
                {"properties": {"b": {"type": "number"}}, "required": ["b"]},
            ],
        },
        field="f",
    )
    assert merged == {
        "type": "OBJECT",
        "required": ["a", "b"],
        "properties": {"a": {"type": "STRING"}, "b": {"type": "NUMBER"}},
    }


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        (
            {
                "type": "object",
                "properties": {"node": {"$ref": "#/$defs/Node"}},
                "$defs": {
                    "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
                },
            },
            "tools[0].parameters.properties.node.properties.next.$ref",
        ),
        (
            {"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}},
            "tools[0].parameters.properties.x.$ref",
        ),
        (
            {"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing"}}},
            "tools[0].parameters.properties.x.$ref",
        ),
        (
            {"type": "object", "properties": {"x": {"not": {"type": "string"}}}},
            "tools[0].parameters.properties.x.not",
        ),
        (
            {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
            "tools[0].parameters.patternProperties",
        ),
        (
            {
                "type": "object",
                "properties": {"p": {"type": "array", "items": [{"type": "number"}]}},
            },
            "tools[0].parameters.properties.p.items",
        ),
        (
            {"type": "object", "properties": {"p": {"type": "array", "prefixItems": [{}]}}},
            "tools[0].parameters.properties.p.prefixItems",
        ),
        (
            {"type": "object", "if": {}, "then": {}},
            "tools[0].parameters.if",
        ),
        (
            {"type": "object", "properties": {"t": {"type": "date"}}},
            "tools[0].parameters.properties.t.type",
        ),
        (
            {"type": "object", "properties": {"f": False}},
            "tools[0].parameters.properties.f",
        ),
        (
            {"allOf": [{"type": "string"}, {"type": "integer"}]},
            "tools[0].parameters.allOf[1]",
        ),
    ],
)
def test_schema_rejected(schema: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), tools=[Tool(name="f", parameters=schema)]))
    assert info.value.field == field


def test_schema_non_object_parameters_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), tools=[Tool(name="f", parameters={"type": "string"})]))
    assert info.value.field == "tools[0].parameters"


def test_response_schema_rejection_names_field() -> None:
    fmt = ResponseFormat(schema={"type": "object", "properties": {"x": {"not": {}}}})
    with pytest.raises(ValidationError) as info:
        adapter().encode(chat(user("x"), response_format=fmt))
    assert info.value.field == "response_format.schema.properties.x.not"


def test_capabilities() -> None:
    caps = GeminiAdapter.capabilities
    assert caps.tools
    assert caps.images
    assert caps.audio
    assert caps.files
    assert caps.reasoning
    assert caps.structured_output
    assert caps.embeddings
    assert GeminiAdapter.family == "gemini"
