"""Three-turn tool loops through the real Client over loopback: reasoning goes back in place.

For Anthropic (thinking, redacted_thinking, interleaved with text and
tool_use), Gemini (a thought signature per functionCall part, a text part's on
the turn), DeepSeek and Moonshot (reasoning_content on tool-call turns), the
second and third requests must carry every block of the earlier answers back
unchanged and in its place, streamed or not. "Unchanged" is checked on the decoded JSON and
on the bytes: each block's compact encoding appears verbatim in the request.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply

pytestmark = pytest.mark.anyio

_encode = msgspec.json.encode
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    for name in ("get_weather", "get_forecast")
]
QUESTION = "Weather in Paris and Tokyo, and do I need an umbrella tomorrow?"
RESULTS = {
    "Paris": '{"temp_c": 18, "sky": "overcast"}',
    "Tokyo": '{"temp_c": 25, "sky": "rain"}',
    "forecast": '{"tomorrow": "rain after 15:00"}',
}


def verbatim(block: dict[str, Any], body: bytes) -> bool:
    """Whether ``block``, compactly encoded in its own key order, occurs in ``body`` as is."""
    return _encode(block) in body


async def collect(client: aa.Client, stream: bool, **kw: Any) -> aa.ChatResponse:
    if not stream:
        return await client.chat(**kw)
    async with client.stream(**kw) as s:
        async for _ in s:
            pass
    return s.response


# ---------------------------------------------------------------------------
# Anthropic
# ---------------------------------------------------------------------------

A1 = [
    {"type": "thinking", "thinking": "Two cities; weather for both.", "signature": "EqQBsigA1"},
    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"},
    {"type": "text", "text": "I'll check Paris and Tokyo."},
    {"type": "thinking", "thinking": "Call them in parallel.", "signature": "EqQBsigA2"},
    {"type": "tool_use", "id": "toolu_P1", "name": "get_weather", "input": {"city": "Paris"}},
    {"type": "tool_use", "id": "toolu_T1", "name": "get_weather", "input": {"city": "Tokyo"}},
]
A2 = [
    {"type": "thinking", "thinking": "Tokyo rains; tomorrow needs a forecast.", "signature": "sB"},
    {"type": "tool_use", "id": "toolu_F2", "name": "get_forecast", "input": {"city": "Paris"}},
]
A3 = [
    {"type": "thinking", "thinking": "Rain in both: umbrella.", "signature": "EqQBsigA3"},
    {"type": "text", "text": "Paris 18°C, Tokyo 25°C and rain; take an umbrella tomorrow."},
]


def anthropic_message(content: list[dict[str, Any]], stop: str, n: int) -> dict[str, Any]:
    return {
        "id": f"msg_01Loop{n}",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 400 * n, "output_tokens": 90},
    }


def anthropic_sse(message: dict[str, Any]) -> list[bytes]:
    def event(data: dict[str, Any]) -> bytes:
        return b"event: " + data["type"].encode() + b"\ndata: " + _encode(data) + b"\n\n"

    start = {**message, "content": [], "stop_reason": None}
    out = [event({"type": "message_start", "message": start})]
    for i, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "thinking":
            out.append(
                event(
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    }
                )
            )
            text = block["thinking"]
            for piece in (text[:7], text[7:]):
                out.append(
                    event(
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "thinking_delta", "thinking": piece},
                        }
                    )
                )
            out.append(
                event(
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "signature_delta", "signature": block["signature"]},
                    }
                )
            )
        elif kind == "redacted_thinking":
            out.append(event({"type": "content_block_start", "index": i, "content_block": block}))
        elif kind == "text":
            out.append(
                event(
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "text", "text": ""},
                    }
                )
            )
            out.append(
                event(
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "text_delta", "text": block["text"]},
                    }
                )
            )
        else:
            out.append(
                event(
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {**block, "input": {}},
                    }
                )
            )
            out.append(
                event(
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": _encode(block["input"]).decode(),
                        },
                    }
                )
            )
        out.append(event({"type": "content_block_stop", "index": i}))
    out.append(
        event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"]},
                "usage": {"output_tokens": 90},
            }
        )
    )
    out.append(event({"type": "message_stop"}))
    return out  # fmt: skip


def anthropic_reply(content: list[dict[str, Any]], stop: str, n: int, stream: bool) -> Reply:
    message = anthropic_message(content, stop, n)
    return Reply.sse(anthropic_sse(message)) if stream else Reply.json(message)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_anthropic_three_turn_loop_keeps_every_block_in_place(stream: bool) -> None:
    async with (
        MockServer() as srv,
        aa.Client("anthropic", api_key="sk-ant", base_url=srv.base_url) as client,
    ):
        srv.enqueue(
            anthropic_reply(A1, "tool_use", 1, stream),
            anthropic_reply(A2, "tool_use", 2, stream),
            anthropic_reply(A3, "end_turn", 3, stream),
        )
        kw: dict[str, Any] = {
            "model": "claude-sonnet-4-5",
            "tools": TOOLS,
            "max_tokens": 8000,
            "reasoning": {"budget_tokens": 4000},
        }
        history: list[Any] = [{"role": "user", "content": QUESTION}]
        r1 = await collect(client, stream, messages=history, **kw)
        assert [c.id for c in r1.tool_calls] == ["toolu_P1", "toolu_T1"]
        history += [
            r1.message,
            {"role": "tool", "tool_call_id": "toolu_P1", "content": RESULTS["Paris"]},
            {"role": "tool", "tool_call_id": "toolu_T1", "content": RESULTS["Tokyo"]},
        ]
        r2 = await collect(client, stream, messages=history, **kw)
        history += [
            r2.message,
            {"role": "tool", "tool_call_id": "toolu_F2", "content": RESULTS["forecast"]},
        ]
        r3 = await collect(client, stream, messages=history, **kw)
    assert r3.content == A3[1]["text"]
    assert r3.finish_reason == "stop"
    second, third = (srv.requests[1], srv.requests[2])
    results_1 = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_P1", "content": RESULTS["Paris"]},
            {"type": "tool_result", "tool_use_id": "toolu_T1", "content": RESULTS["Tokyo"]},
        ],
    }
    assert second.json()["messages"] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": A1},
        results_1,
    ]
    assert third.json()["messages"] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": A1},
        results_1,
        {"role": "assistant", "content": A2},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_F2", "content": RESULTS["forecast"]}
            ],
        },
    ]
    assert all(verbatim(block, second.body) for block in A1)
    assert all(verbatim(block, third.body) for block in A1 + A2)


# ---------------------------------------------------------------------------
# Gemini
# ---------------------------------------------------------------------------

G1 = [
    {"text": "**Planning**\nWeather for Paris first.", "thought": True},
    {
        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
        "thoughtSignature": "CikBsigG1",
    },
]
G2 = [
    {"text": "Now Tokyo and the forecast, in parallel.", "thought": True},
    {"text": "Paris is overcast. Checking Tokyo and tomorrow."},
    {
        "functionCall": {"name": "get_weather", "args": {"city": "Tokyo"}},
        "thoughtSignature": "CikBsigG2",
    },
    {"functionCall": {"name": "get_forecast", "args": {"city": "Paris"}}},
]
G3 = [{"text": A3[1]["text"], "thoughtSignature": "EjQKsigG3"}]


def gemini_response(parts: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 90 * n, "candidatesTokenCount": 20,
                          "thoughtsTokenCount": 40, "totalTokenCount": 90 * n + 60},
        "modelVersion": "gemini-3-flash-preview",
        "responseId": f"loop{n}",
    }  # fmt: skip


def gemini_reply(parts: list[dict[str, Any]], n: int, stream: bool) -> Reply:
    whole = gemini_response(parts, n)
    if not stream:
        return Reply.json(whole)
    events = []
    for i, part in enumerate(parts):  # one part per event, the last one with finishReason
        cand: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if i == len(parts) - 1:
            cand["finishReason"] = "STOP"
        event = {**whole, "candidates": [cand]}
        events.append(b"data: " + _encode(event) + b"\r\n\r\n")
    return Reply.sse(events)


def sent_back(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a model turn goes back as: every part but the thought summaries, unchanged."""
    return [p for p in parts if not p.get("thought")]


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_gemini_three_turn_loop_keeps_every_signature_on_its_part(stream: bool) -> None:
    async with (
        MockServer() as srv,
        aa.Client("gemini", api_key="g-key", base_url=srv.base_url) as client,
    ):
        srv.enqueue(gemini_reply(G1, 1, stream), gemini_reply(G2, 2, stream))
        srv.enqueue(gemini_reply(G3, 3, stream))
        kw: dict[str, Any] = {"model": "gemini-3-flash-preview", "tools": TOOLS, "reasoning": "low"}
        history: list[Any] = [{"role": "user", "content": QUESTION}]
        r1 = await collect(client, stream, messages=history, **kw)
        assert [c.signature for c in r1.tool_calls] == ["CikBsigG1"]
        history += [
            r1.message,
            {"role": "tool", "tool_call_id": r1.tool_calls[0].id, "content": RESULTS["Paris"]},
        ]
        r2 = await collect(client, stream, messages=history, **kw)
        assert [c.signature for c in r2.tool_calls] == ["CikBsigG2", None]
        history += [
            r2.message,
            {"role": "tool", "tool_call_id": r2.tool_calls[0].id, "content": RESULTS["Tokyo"]},
            {"role": "tool", "tool_call_id": r2.tool_calls[1].id, "content": RESULTS["forecast"]},
        ]
        r3 = await collect(client, stream, messages=history, **kw)
    assert r3.content == G3[0]["text"]
    assert r3.reasoning_signature == "EjQKsigG3"  # a text part's: the turn keeps it
    second, third = srv.requests[1], srv.requests[2]

    def response_part(name: str, result: str) -> dict[str, Any]:
        return {"functionResponse": {"name": name, "response": msgspec.json.decode(result)}}

    results_1 = {"parts": [response_part("get_weather", RESULTS["Paris"])], "role": "user"}
    assert second.json()["contents"] == [
        {"parts": [{"text": QUESTION}], "role": "user"},
        {"parts": sent_back(G1), "role": "model"},
        results_1,
    ]
    assert third.json()["contents"] == [
        {"parts": [{"text": QUESTION}], "role": "user"},
        {"parts": sent_back(G1), "role": "model"},
        results_1,
        {"parts": sent_back(G2), "role": "model"},
        {
            "parts": [
                response_part("get_weather", RESULTS["Tokyo"]),
                response_part("get_forecast", RESULTS["forecast"]),
            ],
            "role": "user",
        },
    ]
    assert all(verbatim(part, second.body) for part in sent_back(G1))
    assert all(verbatim(part, third.body) for part in sent_back(G1 + G2))
    assert b"skip_thought_signature_validator" not in third.body


# ---------------------------------------------------------------------------
# DeepSeek (and Moonshot, whose thinking models want the same)
# ---------------------------------------------------------------------------


def deepseek_call(cid: str, name: str, city: str) -> dict[str, Any]:
    arguments = _encode({"city": city}).decode()
    function = {"name": name, "arguments": arguments}
    return {"index": 0, "id": cid, "type": "function", "function": function}


D1 = {
    "reasoning_content": "Weather for Paris first.",
    "tool_calls": [deepseek_call("call_00_P1", "get_weather", "Paris")],
}
D2 = {
    "reasoning_content": "Paris done. Tokyo next, and the forecast.",
    "tool_calls": [
        deepseek_call("call_00_T2", "get_weather", "Tokyo"),
        {**deepseek_call("call_01_F2", "get_forecast", "Paris"), "index": 1},
    ],
}
D3 = {
    "reasoning_content": "Rain in both: umbrella.",
    "content": "Paris 18°C, Tokyo 25°C and rain; take an umbrella tomorrow.",
}


def deepseek_completion(message: dict[str, Any], n: int) -> dict[str, Any]:
    finish = "tool_calls" if "tool_calls" in message else "stop"
    return {
        "id": f"ds-loop{n}",
        "object": "chat.completion",
        "model": "deepseek-reasoner",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "", **message},
             "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 100 * n, "completion_tokens": 40, "total_tokens": 100 * n + 40,
                  "prompt_cache_hit_tokens": 64 * (n - 1),
                  "prompt_cache_miss_tokens": 100 * n - 64 * (n - 1)},
    }  # fmt: skip


def deepseek_reply(message: dict[str, Any], n: int, stream: bool) -> Reply:
    whole = deepseek_completion(message, n)
    if not stream:
        return Reply.json(whole)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": whole["id"],
            "object": "chat.completion.chunk",
            "model": whole["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + _encode(body) + b"\n\n"  # fmt: skip

    reasoning = message["reasoning_content"]
    events = [chunk({"role": "assistant", "content": None, "reasoning_content": ""})]
    events += [chunk({"reasoning_content": p}) for p in (reasoning[:9], reasoning[9:])]
    for call in message.get("tool_calls", ()):
        head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        events.append(chunk({"tool_calls": [head]}))
        arguments = call["function"]["arguments"]
        for piece in (arguments[:4], arguments[4:]):
            fragment = {"index": call["index"], "function": {"arguments": piece}}
            events.append(chunk({"tool_calls": [fragment]}))
    if message.get("content"):
        events.append(chunk({"content": message["content"]}))
    events.append(chunk({}, whole["choices"][0]["finish_reason"]))
    usage = {"id": whole["id"], "choices": [], "usage": whole["usage"]}
    events += [b"data: " + _encode(usage) + b"\n\n", b"data: [DONE]\n\n"]
    return Reply.sse(events)


def assistant_turn(message: dict[str, Any]) -> dict[str, Any]:
    """A tool-call turn as it must go back: its calls and its reasoning_content, unchanged."""
    calls = [{k: v for k, v in c.items() if k != "index"} for c in message["tool_calls"]]
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": calls,
        "reasoning_content": message["reasoning_content"],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
@pytest.mark.parametrize(
    ("provider", "model"), [("deepseek", "deepseek-reasoner"), ("moonshot", "kimi-k2-thinking")]
)
async def test_deepseek_and_moonshot_three_turn_loops_send_reasoning_content_back(
    provider: str, model: str, stream: bool
) -> None:
    async with (
        MockServer() as srv,
        aa.Client(provider, api_key="sk-test", base_url=srv.base_url) as client,
    ):
        srv.enqueue(deepseek_reply(D1, 1, stream), deepseek_reply(D2, 2, stream))
        srv.enqueue(deepseek_reply(D3, 3, stream))
        kw: dict[str, Any] = {"model": model, "tools": TOOLS, "reasoning": "high"}
        history: list[Any] = [{"role": "user", "content": QUESTION}]
        r1 = await collect(client, stream, messages=history, **kw)
        history += [
            r1.message,
            {"role": "tool", "tool_call_id": "call_00_P1", "content": RESULTS["Paris"]},
        ]
        r2 = await collect(client, stream, messages=history, **kw)
        history += [
            r2.message,
            {"role": "tool", "tool_call_id": "call_00_T2", "content": RESULTS["Tokyo"]},
            {"role": "tool", "tool_call_id": "call_01_F2", "content": RESULTS["forecast"]},
        ]
        r3 = await collect(client, stream, messages=history, **kw)
    assert r3.content == D3["content"]
    assert r3.reasoning == D3["reasoning_content"]
    assert r3.usage is not None
    assert r3.usage.cached_tokens == 128
    second, third = srv.requests[1], srv.requests[2]
    assert second.path == "/chat/completions"
    assert second.json()["thinking"] == {"type": "enabled"}
    assert second.json()["messages"] == [
        {"role": "user", "content": QUESTION},
        assistant_turn(D1),
        {"role": "tool", "content": RESULTS["Paris"], "tool_call_id": "call_00_P1"},
    ]
    assert third.json()["messages"] == [
        {"role": "user", "content": QUESTION},
        assistant_turn(D1),
        {"role": "tool", "content": RESULTS["Paris"], "tool_call_id": "call_00_P1"},
        assistant_turn(D2),
        {"role": "tool", "content": RESULTS["Tokyo"], "tool_call_id": "call_00_T2"},
        {"role": "tool", "content": RESULTS["forecast"], "tool_call_id": "call_01_F2"},
    ]
    for turn in (D1, D2):
        assert all(verbatim(call["function"], third.body) for call in turn["tool_calls"])
        assert _encode(turn["reasoning_content"]) in third.body


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
async def test_a_history_saved_as_json_between_turns_goes_back_the_same(provider: str) -> None:
    """Agents persist their history: to_builtins, JSON, and back as dicts must lose nothing."""
    if provider == "anthropic":
        reply = anthropic_reply(A1, "tool_use", 1, False)
        kw: dict[str, Any] = {"model": "claude-sonnet-4-5", "reasoning": {"budget_tokens": 4000}}
    else:
        reply = gemini_reply(G2, 2, False)
        kw = {"model": "gemini-3-flash-preview", "reasoning": "low"}
    async with (
        MockServer() as srv,
        aa.Client(provider, api_key="k", base_url=srv.base_url) as client,
    ):
        srv.enqueue(reply, reply, reply)
        first = await client.chat(
            messages=[{"role": "user", "content": QUESTION}], tools=TOOLS, **kw
        )
        live: list[Any] = [{"role": "user", "content": QUESTION}, first.message]
        live += [
            {"role": "tool", "tool_call_id": c.id, "content": RESULTS["Paris"]}
            for c in first.tool_calls
        ]
        saved = msgspec.json.decode(msgspec.json.encode(msgspec.to_builtins(live)))
        await client.chat(messages=live, tools=TOOLS, **kw)
        await client.chat(messages=saved, tools=TOOLS, **kw)
    assert srv.requests[1].body == srv.requests[2].body
