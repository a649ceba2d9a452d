"""GLM ``<think>...</think>`` in content becomes ``reasoning``: splitter, adapter, wire."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

import agent_adapter as aa
from agent_adapter.accumulate import Accumulator
from agent_adapter.providers.think import ThinkSplitter, split_think
from agent_adapter.providers.zhipu import ZhipuAdapter
from agent_adapter.testing import MockServer, Reply
from agent_adapter.types import ChatRequest

_encode = msgspec.json.encode

# What GLM-Z1 sends: the thinking first, inside the content, then the answer.
Z1_CONTENT = (
    "<think>\n用户问北京明天会不会下雨。我应该看一下预报：降水概率 70%。\n</think>\n\n"
    "北京明天大概率有雨（70%），记得带伞。"
)
Z1_REASONING = "用户问北京明天会不会下雨。我应该看一下预报：降水概率 70%。"
Z1_ANSWER = "北京明天大概率有雨（70%），记得带伞。"

CASES = [
    (Z1_CONTENT, Z1_REASONING, Z1_ANSWER),
    ("  \n<think>a</think>b", "a", "b"),
    ("<think>cut off mid-thou", "cut off mid-thou", ""),  # finish_reason length
    ("<think> spaced </think>   ", "spaced", ""),
    ("<think></think>Just the answer.", "", "Just the answer."),
    ("No thinking here.", "", "No thinking here."),
    ("Use <think> like this: <think>x</think>", "", "Use <think> like this: <think>x</think>"),
    ("<thinking>not our tag</thinking>", "", "<thinking>not our tag</thinking>"),
    ("<think>a < b and </thin k></think>c", "a < b and </thin k>", "c"),
    ("<think>x</think>y</think>z", "x", "y</think>z"),
    ("<thi", "", "<thi"),
    ("", "", ""),
    ("   ", "", "   "),
]  # fmt: skip


def streamed(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    reasoning = content = ""
    for piece in pieces:
        r, c = splitter.feed(piece)
        reasoning, content = reasoning + r, content + c
    r, c = splitter.end()
    return reasoning + r, content + c


@pytest.mark.parametrize(("text", "reasoning", "content"), CASES)
def test_split_think_whole(text: str, reasoning: str, content: str) -> None:
    assert split_think(text) == (reasoning, content)


@pytest.mark.parametrize(("text", "reasoning", "content"), CASES)
def test_every_split_point_gives_the_same_result(text: str, reasoning: str, content: str) -> None:
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            assert streamed([text[:i], text[i:j], text[j:]]) == (reasoning, content), (i, j)
    assert streamed(list(text)) == (reasoning, content)  # one character at a time


@given(st.text(alphabet="<>/thinkTHINK \n雨a", max_size=40), st.lists(st.integers(0, 40)))
@settings(max_examples=400, deadline=None)
def test_any_text_any_cuts_matches_split_think(text: str, cuts: list[int]) -> None:
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert streamed(pieces) == split_think(text)


# -- the Zhipu adapter ---------------------------------------------------------------------


def completion(content: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "2025082116z1",
        "created": 1755761730,
        "model": "glm-z1-air",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 14, "completion_tokens": 60, "total_tokens": 74},
    }


def stream_body(
    content: str, pieces: int = 9, finish: str = "stop", complete: bool = True
) -> bytes:
    size = max(1, len(content) // pieces)
    parts = [content[i : i + size] for i in range(0, len(content), size)]

    def event(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if finish_reason:
            choice["finish_reason"] = finish_reason
        body = {"id": "2025082116z1", "model": "glm-z1-air", "choices": [choice], **extra}
        return b"data: " + _encode(body) + b"\n\n"

    usage = {"prompt_tokens": 14, "completion_tokens": 60, "total_tokens": 74}
    events = [event({"role": "assistant", "content": p}) for p in parts]
    if not complete:  # the connection dropped before the end
        return b"".join(events)
    events.append(event({"role": "assistant", "content": ""}, finish, usage=usage))
    return b"".join(events) + b"data: [DONE]\n\n"


def adapter() -> ZhipuAdapter:
    return ZhipuAdapter(name="zhipu", base_url="https://open.bigmodel.cn/api/paas/v4", api_key="k")


def decode_stream(pieces: list[bytes]) -> aa.ChatResponse:
    decoder = adapter().stream_decoder(ChatRequest(model="glm-z1-air", messages=[]))
    acc = Accumulator()
    for piece in pieces:
        acc.extend(decoder.feed(piece))
    acc.extend(decoder.flush())
    assert decoder.end()
    return acc.response("zhipu")


@pytest.mark.parametrize(("text", "reasoning", "content"), CASES[:9])
def test_non_streamed_content_is_left_clean(text: str, reasoning: str, content: str) -> None:
    r = adapter().decode(200, [], _encode(completion(text)))
    assert (r.reasoning or "", r.content) == (reasoning, content)


def test_streamed_body_cut_at_every_byte() -> None:
    body = stream_body(Z1_CONTENT)
    whole = decode_stream([body])
    assert (whole.reasoning, whole.content) == (Z1_REASONING, Z1_ANSWER)
    assert whole.finish_reason == "stop"
    assert whole.usage is not None
    assert whole.usage.total_tokens == 74
    for cut in range(1, len(body)):  # inside tags, inside UTF-8 sequences, inside JSON
        r = decode_stream([body[:cut], body[cut:]])
        assert (r.reasoning, r.content) == (Z1_REASONING, Z1_ANSWER), cut


def test_tags_split_across_every_pair_of_chunks() -> None:
    for pieces in (2, 5, 17, 40, len(Z1_CONTENT)):
        r = decode_stream([stream_body(Z1_CONTENT, pieces)])
        assert (r.reasoning, r.content) == (Z1_REASONING, Z1_ANSWER), pieces


def test_cut_off_thinking_is_all_reasoning_streamed_and_not() -> None:
    text = "<think>\n先算一下：3 × 7 = 21，再"
    r = decode_stream([stream_body(text, finish="length")])
    assert (r.reasoning, r.content, r.finish_reason) == ("先算一下：3 × 7 = 21，再", "", "length")
    decoder = adapter().stream_decoder(ChatRequest(model="glm-z1-air", messages=[]))
    chunks = decoder.feed(stream_body(text, complete=False))
    tail = decoder.flush()  # the body ended without a finish reason: release what is held
    joined = "".join(c.reasoning for c in chunks + tail)
    assert joined == "先算一下：3 × 7 = 21，再"
    assert not decoder.end()


def test_reasoning_content_models_are_untouched() -> None:
    body = completion("1 + 1 = 2。")
    body["choices"][0]["message"]["reasoning_content"] = "用户问一加一。"
    r = adapter().decode(200, [], _encode(body))
    assert (r.reasoning, r.content) == ("用户问一加一。", "1 + 1 = 2。")


# -- over loopback, through the Client ------------------------------------------------------


@pytest.mark.anyio
async def test_client_chat_and_stream_over_loopback() -> None:
    async with (
        MockServer() as srv,
        aa.Client("zhipu", api_key="k.s", base_url=srv.base_url) as client,
    ):
        srv.enqueue(Reply.json(completion(Z1_CONTENT)))
        body = stream_body(Z1_CONTENT, 30)
        srv.enqueue(Reply.sse([body[i : i + 7] for i in range(0, len(body), 7)], coalesce=False))
        messages = [{"role": "user", "content": "北京明天会下雨吗？"}]
        r = await client.chat(model="glm-z1-air", messages=messages)
        async with client.stream(model="glm-z1-air", messages=messages) as s:
            chunks = [chunk async for chunk in s]
    assert (r.reasoning, r.content) == (Z1_REASONING, Z1_ANSWER)
    assert (s.response.reasoning, s.response.content) == (Z1_REASONING, Z1_ANSWER)
    assert "<think>" not in "".join(c.delta for c in chunks)
    assert "</think>" not in "".join(c.reasoning for c in chunks)
