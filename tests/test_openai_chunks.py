"""``openai_format``'s stream and embeddings renderers, and its errors for non-library failures."""

from __future__ import annotations

import base64
import struct

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.openai_format import (
    ChunkEncoder,
    chat_params,
    embedding_list,
    error_object,
    error_type,
)
from agent_adapter.types import ChatResponse, EmbedResponse, StreamChunk, ToolCallDelta, Usage


def events(data: bytes) -> list[object]:
    out: list[object] = []
    for event in data.split(b"\n\n"):
        if event:
            assert event.startswith(b"data: ")
            body = event[len(b"data: ") :]
            out.append("[DONE]" if body == b"[DONE]" else msgspec.json.decode(body))
    return out


def test_chunks_open_with_the_role_and_end_with_finish_usage_done() -> None:
    encoder = ChunkEncoder(model="smart", include_usage=True, created=7)
    data = encoder.chunk(StreamChunk(delta="Hel", id="chatcmpl-1", model="gpt-4o"))
    data += encoder.chunk(StreamChunk(reasoning="hmm", delta="lo"))
    data += encoder.chunk(StreamChunk())  # nothing a client sees: no event
    usage = Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5, cached_tokens=1)
    data += encoder.end(ChatResponse(content="Hello", finish_reason="stop", usage=usage))
    got = events(data)
    assert [e["choices"][0]["delta"] for e in got[:3]] == [  # type: ignore[index]
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
        {"reasoning_content": "hmm", "content": "lo"},
    ]
    first = got[0]
    assert isinstance(first, dict)
    assert first["id"] == "chatcmpl-1" and first["model"] == "gpt-4o" and first["created"] == 7
    assert first["object"] == "chat.completion.chunk" and first["usage"] is None
    assert got[3]["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert got[4]["choices"] == [] and got[4]["usage"]["prompt_tokens_details"] == {  # type: ignore[index]
        "cached_tokens": 1
    }
    assert got[5] == "[DONE]"


def test_tool_call_fragments_and_no_usage_unless_asked() -> None:
    encoder = ChunkEncoder(model="smart")
    data = encoder.chunk(
        StreamChunk(tool_calls=[ToolCallDelta(index=0, id="call_1", name="f", arguments="")])
    )
    data += encoder.chunk(StreamChunk(tool_calls=[ToolCallDelta(index=0, arguments='{"a":1}')]))
    data += encoder.end(ChatResponse(finish_reason="tool_calls"))
    got = events(data)
    assert got[1]["choices"][0]["delta"]["tool_calls"] == [  # type: ignore[index]
        {"index": 0, "id": "call_1", "type": "function", "function": {"arguments": "", "name": "f"}}
    ]
    assert got[2]["choices"][0]["delta"]["tool_calls"] == [  # type: ignore[index]
        {"index": 0, "function": {"arguments": '{"a":1}'}}
    ]
    assert got[3]["choices"][0]["finish_reason"] == "tool_calls"  # type: ignore[index]
    assert all("usage" not in e for e in got if isinstance(e, dict))
    assert got[-1] == "[DONE]"
    assert str(got[0]["id"]).startswith("chatcmpl-")  # type: ignore[index]


def test_error_event_has_no_done_after_it() -> None:
    body = error_object("upstream cut the stream", "stream_error")
    assert ChunkEncoder.error(body) == b"data: " + msgspec.json.encode(body) + b"\n\n"


def test_embeddings_as_floats_and_as_base64_float32() -> None:
    response = EmbedResponse(vectors=[[0.5, -0.25]], usage=Usage(prompt_tokens=2, total_tokens=2))
    plain = embedding_list(response, model="embed")
    assert plain["data"][0]["embedding"] == [0.5, -0.25] and plain["model"] == "embed"
    packed = embedding_list(response, model="embed", encoding_format="base64")
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -0.25)
    assert packed["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_bare_field_paths_and_error_types() -> None:
    with pytest.raises(aa.ValidationError) as info:
        chat_params({"model": "m", "messages": [], "logprobs": True}, where="")
    assert info.value.field == "logprobs"
    assert error_type(aa.APIConnectionError("x")) == "api_connection_error"
    assert error_type(aa.TimeoutError("x", which="total")) == "timeout_error"


def test_another_frame_gives_the_same_chunk_objects_one_per_line() -> None:
    usage = Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    response = ChatResponse(content="Hi\n", finish_reason="stop", usage=usage)
    chunks = [StreamChunk(delta="Hi\n", id="chatcmpl-1"), StreamChunk(delta="")]
    sse = ChunkEncoder(model="smart", include_usage=True, created=7)
    lines = ChunkEncoder(model="smart", include_usage=True, created=7, frame=(b"<", b">\n"))
    framed = b"".join(lines.chunk(c) for c in chunks) + lines.finish(response)
    parts = framed.split(b"\n")
    assert parts[-1] == b"" and all(p.startswith(b"<") and p.endswith(b">") for p in parts[:-1])
    got = [msgspec.json.decode(p[1:-1]) for p in parts[:-1]]
    want = events(b"".join(sse.chunk(c) for c in chunks) + sse.end(response))
    assert want[-1] == "[DONE]" and got == want[:-1]
    assert len(got) == 4 and got[1]["choices"][0]["delta"] == {"content": "Hi\n"}
