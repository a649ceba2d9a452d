"""Builders for realistic OpenAI Responses API bodies: reply objects and their event streams.

The streams follow the event order of the streaming reference
(https://platform.openai.com/docs/api-reference/responses-streaming): an
item is added empty, its parts begin, deltas arrive, then the ``.done``
events repeat the whole value and the terminal event carries the whole
response again. A stream is built from the final output items, so every
transcript has a non-streamed twin (``response(...)`` with the same output)
that must decode to the same answer. Ids and numbers are invented but shaped
like the real ones.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import msgspec

_encode = msgspec.json.encode

RID = "resp_68c1f0a2b3c48190a1b2c3d4e5f60718"
MODEL = "gpt-5-2025-08-07"
ENC = "gAAAAABoxPa1Qm9yZW0taXBzdW0tZW5jcnlwdGVkLXJlYXNvbmluZy1ibG9iLTAx_-=="
ENC2 = "gAAAAABoxPa2U2Vjb25kLXR1cm4tcmVhc29uaW5nLWVuY3J5cHRlZC1ibG9i=="
PARIS = '{"city":"Paris","unit":"celsius"}'
LYON = '{"city":"Lyon","unit":"celsius"}'


def usage(
    input_tokens: int = 37, output_tokens: int = 11, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def response(
    output: list[dict[str, Any]] | None = None,
    status: str = "completed",
    use: dict[str, Any] | None = None,
    incomplete: str | None = None,
    error: dict[str, Any] | None = None,
    rid: str = RID,
) -> dict[str, Any]:
    """A ``response`` object as the API returns it (most echoed settings included)."""
    return {
        "id": rid,
        "object": "response",
        "created_at": 1757606050,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": None if incomplete is None else {"reason": incomplete},
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL,
        "output": output or [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": use,
        "user": None,
        "metadata": {},
    }


def message(text: str = "", refusal: str = "", mid: str = "msg_68c1f0a3d9e08190b5") -> dict:
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
    if refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    return {
        "id": mid,
        "type": "message",
        "status": "completed",
        "content": parts,
        "role": "assistant",
    }


def call(call_id: str, arguments: str, fc: str, name: str = "get_weather") -> dict[str, Any]:
    return {
        "id": fc,
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def reasoning(rid: str, enc: str | None, *summary: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": rid, "type": "reasoning"}
    if enc is not None:
        item["encrypted_content"] = enc
    item["summary"] = [{"type": "summary_text", "text": s} for s in summary]
    return item


def pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def events(
    output: list[dict[str, Any]],
    *,
    end: str = "response.completed",
    use: dict[str, Any] | None = None,
    incomplete: str | None = None,
    size: int = 3,
) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence that streams ``output`` (the final items), then the terminal event."""
    out: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": response(status="in_progress")}),
        ("response.in_progress", {"response": response(status="in_progress")}),
    ]
    for oi, final in enumerate(output):
        added = copy.deepcopy(final)
        added["status"] = "in_progress"
        kind = final["type"]
        if kind == "message":
            added["content"] = []
        elif kind == "function_call":
            added["arguments"] = ""
        elif kind == "reasoning":
            added["summary"] = []
            added.pop("encrypted_content", None)
            added.pop("status")
        out.append(("response.output_item.added", {"output_index": oi, "item": added}))
        where = {"item_id": final["id"], "output_index": oi}
        if kind == "message":
            for ci, part in enumerate(final["content"]):
                at = {**where, "content_index": ci}
                empty = (
                    {**part, "text": ""}
                    if part["type"] == "output_text"
                    else {**part, "refusal": ""}
                )
                out.append(("response.content_part.added", {**at, "part": empty}))
                if part["type"] == "output_text":
                    for p in pieces(part["text"], size):
                        delta = {**at, "delta": p, "logprobs": [], "obfuscation": "Xq1"}
                        out.append(("response.output_text.delta", delta))
                    out.append(
                        ("response.output_text.done", {**at, "text": part["text"], "logprobs": []})
                    )
                else:
                    for p in pieces(part["refusal"], size):
                        out.append(("response.refusal.delta", {**at, "delta": p}))
                    out.append(("response.refusal.done", {**at, "refusal": part["refusal"]}))
                out.append(("response.content_part.done", {**at, "part": part}))
        elif kind == "function_call":
            for p in pieces(final["arguments"], size):
                out.append(
                    (
                        "response.function_call_arguments.delta",
                        {**where, "delta": p, "obfuscation": "k9"},
                    )
                )
            out.append(
                (
                    "response.function_call_arguments.done",
                    {**where, "name": final["name"], "arguments": final["arguments"]},
                )
            )
        elif kind == "reasoning":
            for si, part in enumerate(final["summary"]):
                at = {**where, "summary_index": si}
                out.append(
                    (
                        "response.reasoning_summary_part.added",
                        {**at, "part": {"type": "summary_text", "text": ""}},
                    )
                )
                for p in pieces(part["text"], size):
                    out.append(
                        (
                            "response.reasoning_summary_text.delta",
                            {**at, "delta": p, "obfuscation": "z"},
                        )
                    )
                out.append(("response.reasoning_summary_text.done", {**at, "text": part["text"]}))
                out.append(("response.reasoning_summary_part.done", {**at, "part": part}))
        out.append(("response.output_item.done", {"output_index": oi, "item": final}))
    status = {"response.completed": "completed", "response.incomplete": "incomplete"}[end]
    out.append((end, {"response": response(output, status, use or usage(), incomplete)}))
    return out


def sse(evs: list[tuple[str, dict[str, Any]]], *, crlf: bool = False) -> list[bytes]:
    """Each event as its own ``event:``/``data:`` block, with sequence numbers."""
    blocks = []
    for n, (kind, fields) in zip(itertools.count(), evs, strict=False):
        data = _encode({"type": kind, **fields, "sequence_number": n})
        block = b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"
        blocks.append(block.replace(b"\n", b"\r\n") if crlf else block)
    return blocks


def body(evs: list[tuple[str, dict[str, Any]]], **kw: Any) -> bytes:
    return b"".join(sse(evs, **kw))


# ---------------------------------------------------------------------------
# The transcripts: final output, the stream, what the caller must get
# ---------------------------------------------------------------------------

TEXT_OUT = [message("Hello there! It is 18 °C in Paris.")]
TOOL_OUT = [call("call_7hQe2VdS9x1LmN4pKc0bTz3A", PARIS, "fc_68c1f0a4e1f481909f")]
PARALLEL_OUT = [
    call("call_7hQe2VdS9x1LmN4pKc0bTz3A", PARIS, "fc_68c1f0a4e1f481909f"),
    call("call_Zb8PqR4sT6uV0wX2yA4cE6gI", LYON, "fc_68c1f0a4e1f48190a0"),
]
SUMMARY_1 = "**Checking the forecast**\n\nThe user wants Paris and Lyon; I will call the tool."
SUMMARY_2 = "**Choosing units**\n\nCelsius fits a French city."
REASONING_OUT = [
    reasoning("rs_68c1f0a3b2c08190aa", ENC, SUMMARY_1, SUMMARY_2),
    message("Both are mild today."),
]
REASONING_TOOL_OUT = [reasoning("rs_68c1f0a3b2c08190aa", ENC, SUMMARY_1), *PARALLEL_OUT]
REFUSAL_OUT = [message(refusal="I'm sorry, I can't help with that.")]
INCOMPLETE_OUT = [message("The history of Paris begins with")]
CACHED_USAGE = usage(2048, 300, cached=1920, reasoning=192)

STREAMS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "text": events(TEXT_OUT),
    "tool": events(TOOL_OUT, size=2),
    "parallel": events(PARALLEL_OUT),
    "reasoning": events(REASONING_OUT, use=CACHED_USAGE),
    "reasoning_tool": events(REASONING_TOOL_OUT, use=CACHED_USAGE),
    "refusal": events(REFUSAL_OUT),
    "incomplete": events(
        INCOMPLETE_OUT, end="response.incomplete", incomplete="max_output_tokens", use=usage(20, 16)
    ),
}

FAILED = [
    ("response.created", {"response": response(status="in_progress")}),
    ("response.in_progress", {"response": response(status="in_progress")}),
    (
        "response.failed",
        {
            "response": response(
                status="failed",
                error={
                    "code": "server_error",
                    "message": "The server had an error while processing your request.",
                },
            )
        },
    ),
]
ERROR_EVENT = [
    ("response.created", {"response": response(status="in_progress")}),
    (
        "error",
        {
            "code": "rate_limit_exceeded",
            "message": "Rate limit reached for gpt-5 on tokens per min (TPM).",
            "param": None,
        },
    ),
]
# As the live API has been seen to send it: the error object nested, as in an HTTP error body.
NESTED_ERROR_EVENT = [
    (
        "error",
        {
            "error": {
                "type": "insufficient_quota",
                "code": "insufficient_quota",
                "message": "You exceeded your current quota, please check your plan.",
                "param": None,
            }
        },
    )
]
