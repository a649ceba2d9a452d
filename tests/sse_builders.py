"""Builders for realistic OpenAI Chat Completions SSE bodies used by the core tests."""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.encode


def chunk(delta: dict[str, Any], finish: str | None = None, cid: str = "chatcmpl-T1") -> bytes:
    """One ``data:`` event holding one chat.completion.chunk."""
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": 1755600100,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + _encode(body) + b"\n\n"


def usage_chunk(prompt: int = 9, completion: int = 3, cid: str = "chatcmpl-T1") -> bytes:
    """The final usage-only chunk (empty choices) sent with include_usage."""
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": 1755600100,
        "model": "gpt-4o-2024-08-06",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return b"data: " + _encode(body) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def text_stream(*pieces: str, usage: bool = True, done: bool = True) -> list[bytes]:
    """A whole text answer streamed piece by piece."""
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": p}) for p in pieces]
    events.append(chunk({}, finish="stop"))
    if usage:
        events.append(usage_chunk(completion=len(pieces)))
    if done:
        events.append(DONE)
    return events


def completion(content: str = "Hello there!", finish: str = "stop") -> dict[str, Any]:
    """A non-streamed chat.completion body."""
    return {
        "id": "chatcmpl-N1",
        "object": "chat.completion",
        "created": 1755600000,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


USER = [{"role": "user", "content": "hi"}]
