"""The Accumulator carries what a stream decoder hands it to the assembled response.

Most of its behaviour is tested through each provider's stream decoder; this
file holds what no Chat Completions transcript exercises: reasoning items and
the provider's item id of a tool call (OpenAI Responses).
"""

from __future__ import annotations

from agent_adapter.accumulate import Accumulator
from agent_adapter.types import ReasoningItem, StreamChunk, ToolCall, ToolCallDelta

RS = ReasoningItem(type="reasoning", id="rs_1", data="gAAAAB-enc", text="Plan.", index=0)
RS_PART = ReasoningItem(type="reasoning", id="rs_1", text="Check.", index=0)


def test_reasoning_items_are_kept_in_order() -> None:
    acc = Accumulator()
    assert acc.extend([StreamChunk(reasoning_items=[RS])]) is True  # a finished block is content
    assert acc.extend([StreamChunk(delta="Hi"), StreamChunk(reasoning_items=[RS_PART])]) is True
    response = acc.response("openai")
    assert response.reasoning_items == [RS, RS_PART]
    assert response.content == "Hi"
    assert response.message.reasoning_items == [RS, RS_PART]


def test_no_reasoning_items_gives_none() -> None:
    acc = Accumulator()
    acc.add(StreamChunk(delta="Hi"))
    assert acc.response().reasoning_items is None


def test_tool_call_item_id_from_any_fragment() -> None:
    acc = Accumulator()
    acc.extend([StreamChunk(tool_calls=[ToolCallDelta(index=0, id="call_1", name="f")])])
    acc.extend([StreamChunk(tool_calls=[ToolCallDelta(index=0, arguments='{"a":1}')])])
    acc.add(StreamChunk(tool_calls=[ToolCallDelta(index=0, item_id="fc_1")]))
    acc.add(StreamChunk(finish_reason="stop"))
    response = acc.response()
    assert response.tool_calls == [ToolCall("call_1", "f", '{"a":1}', item_id="fc_1")]
    assert response.finish_reason == "tool_calls"
