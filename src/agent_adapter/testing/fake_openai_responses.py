"""A canned but plausible OpenAI Responses API: ``reply(body, raw, delay) -> Reply``.

``fake_openai`` hands it every ``POST .../responses``. It answers as the real
API is documented to (https://platform.openai.com/docs/api-reference/responses):
a function call when tools are offered and the user has just spoken, a short
echo otherwise (a summary once a ``function_call_output`` is back), JSON that
follows a ``text.format`` schema, ``status: "incomplete"`` when
``max_output_tokens`` is tiny, and a reasoning item (summary and, when
``include`` asks for it, encrypted content) when ``reasoning`` is set. With
``"stream": true`` it sends the typed events in their documented order. Like
the API, it refuses a reasoning item it cannot resolve without ``store``, and
one sent back without the item that followed it. Deterministic: the same
request gets the same bytes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

import msgspec

from . import _fake_common as common
from .replies import Reply

__all__ = ["reply"]

_encode = msgspec.json.Encoder().encode
_CREATED = 1755600000


def reply(body: dict[str, Any], raw: bytes, delay: float = 0.0) -> Reply:
    """The reply to one ``POST /responses`` body (already a JSON object)."""
    if not body.get("model"):
        return _error(400, "Missing required parameter: 'model'.", "model")
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        return _error(400, "'input' must be a string or a non-empty array of items.", "input")
    problem = _check_reasoning(items, body.get("store") is not False)
    if problem:
        return _error(400, problem, "input")
    rid = "resp_mock" + hashlib.sha256(raw).hexdigest()[:24]
    output = _output(body, items, rid)
    status, incomplete = "completed", None
    limit = body.get("max_output_tokens")
    final = output[-1]
    if final["type"] == "message" and isinstance(limit, int) and limit > 0:
        part = final["content"][0]
        words = part["text"].split(" ")
        if limit < len(words):
            part["text"] = " ".join(words[:limit])
            status, incomplete = "incomplete", {"reason": "max_output_tokens"}
            final["status"] = "incomplete"
    prompt = common.tokens(str(body.get("instructions") or "")) + sum(
        common.tokens(_text(i.get("content", i.get("output")))) + 4 for i in items
    )
    reasoning = 12 if output[0]["type"] == "reasoning" else 0
    completion = reasoning + sum(common.tokens(_generated(i)) for i in output)
    usage = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }
    response = _response(body, rid, status, output, usage, incomplete)
    if body.get("stream"):
        return Reply.sse(_events(body, rid, output, response), delay=delay)
    return Reply.json(response, headers={"x-request-id": "req_mock" + rid[-12:]})


def _error(status: int, message: str, param: str | None = None) -> Reply:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    return Reply.error(status, {"error": error})


def _text(content: Any) -> str:
    """The text of an input message's content, or of a tool result."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return " ".join(
        p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
    )


def _generated(item: dict[str, Any]) -> str:
    """What the model wrote in an output item, for the token count."""
    if item["type"] == "message":
        return " ".join(p["text"] for p in item["content"])
    if item["type"] == "function_call":
        return str(item["arguments"])
    return " ".join(p["text"] for p in item["summary"])


def _check_reasoning(items: list[dict[str, Any]], stored: bool) -> str | None:
    """What the API would refuse about the reasoning items sent back, if anything."""
    for n, item in enumerate(items):
        if item.get("type") != "reasoning":
            continue
        rid = item.get("id")
        if not stored and not item.get("encrypted_content"):
            return (
                f"Item with id '{rid}' not found. Items are not persisted when `store` is set "
                "to false. Try again with `store` set to true, or remove this item from your input."
            )
        following = items[n + 1] if n + 1 < len(items) else {}
        if following.get("type") not in ("function_call", "message", "reasoning") or (
            following.get("type") == "function_call" and not following.get("id")
        ):
            return (
                f"Item '{rid}' of type 'reasoning' was provided without its required "
                "following item."
            )
    return None


def _output(body: dict[str, Any], items: list[dict[str, Any]], rid: str) -> list[dict[str, Any]]:
    """The output items: a reasoning item when asked for, then a call or a message."""
    out: list[dict[str, Any]] = []
    reasoning = common.obj(body.get("reasoning"))
    if reasoning.get("effort") not in (None, "none"):
        item: dict[str, Any] = {"id": "rs_" + rid[-20:], "type": "reasoning", "summary": []}
        include = body.get("include")
        if isinstance(include, list) and "reasoning.encrypted_content" in include:
            blob = hashlib.sha256(b"reasoning:" + rid.encode()).digest() * 2
            item["encrypted_content"] = "gAAAAAB" + base64.urlsafe_b64encode(blob).decode()
        if reasoning.get("summary"):
            thought = "**Planning the answer**\n\nI should answer briefly and use a tool if needed."
            item["summary"] = [{"type": "summary_text", "text": thought}]
        out.append(item)
    last = items[-1]
    tool = _pick_tool(body, last)
    if tool is not None:
        args = _encode(common.arguments(tool.get("parameters"), "example")).decode()
        out.append(
            {
                "id": "fc_" + rid[-20:],
                "type": "function_call",
                "status": "completed",
                "arguments": args,
                "call_id": "call_mock" + rid[-16:],
                "name": tool["name"],
            }
        )
        return out
    said = " ".join(_text(last.get("content", last.get("output"))).split())
    said = said[:60] + ("..." if len(said) > 60 else "")
    if last.get("type") == "function_call_output":
        text = f"Here is what the tool returned: {said}"
    else:
        text = f"You said: {said}" if said else "Hello! How can I help?"
    fmt = common.obj(common.obj(body.get("text")).get("format"))
    if fmt.get("type") in ("json_schema", "json_object"):
        text = common.json_answer(fmt.get("schema"), text)
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    out.append(
        {
            "id": "msg_" + rid[-20:],
            "type": "message",
            "status": "completed",
            "content": [part],
            "role": "assistant",
        }
    )
    return out


def _pick_tool(body: dict[str, Any], last: dict[str, Any]) -> dict[str, Any] | None:
    """The function to call, or None when the model should answer in text."""
    choice = body.get("tool_choice")
    if choice == "none" or last.get("role") != "user":
        return None
    wanted = choice.get("name") if isinstance(choice, dict) else None
    tools = body.get("tools")
    functions = [
        t
        for t in (tools if isinstance(tools, list) else [])
        if common.obj(t).get("type") == "function"
    ]
    return common.pick_tool(functions, allowed=(wanted,) if wanted else None)


def _response(
    body: dict[str, Any],
    rid: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": _CREATED,
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": str(body["model"]),
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def _events(
    body: dict[str, Any], rid: str, output: list[dict[str, Any]], final: dict[str, Any]
) -> list[bytes]:
    """The documented event sequence for ``output``, ending with the terminal event."""
    started = _response(body, rid, "in_progress", [], None)
    sequence: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
    ]
    for oi, item in enumerate(output):
        added = copy.deepcopy(item)
        where = {"item_id": item["id"], "output_index": oi}
        if item["type"] == "message":
            added["content"], added["status"] = [], "in_progress"
            sequence.append(("response.output_item.added", {"output_index": oi, "item": added}))
            part = item["content"][0]
            at = {**where, "content_index": 0}
            sequence.append(("response.content_part.added", {**at, "part": {**part, "text": ""}}))
            for piece in common.pieces(part["text"], 8):
                sequence.append(
                    ("response.output_text.delta", {**at, "delta": piece, "logprobs": []})
                )
            sequence.append(
                ("response.output_text.done", {**at, "text": part["text"], "logprobs": []})
            )
            sequence.append(("response.content_part.done", {**at, "part": part}))
        elif item["type"] == "function_call":
            added["arguments"], added["status"] = "", "in_progress"
            sequence.append(("response.output_item.added", {"output_index": oi, "item": added}))
            args = item["arguments"]
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                sequence.append(
                    ("response.function_call_arguments.delta", {**where, "delta": piece})
                )
            done = {**where, "name": item["name"], "arguments": args}
            sequence.append(("response.function_call_arguments.done", done))
        else:
            added["summary"] = []
            added.pop("encrypted_content", None)
            sequence.append(("response.output_item.added", {"output_index": oi, "item": added}))
            for si, part in enumerate(item["summary"]):
                at = {**where, "summary_index": si}
                empty = {"type": "summary_text", "text": ""}
                sequence.append(("response.reasoning_summary_part.added", {**at, "part": empty}))
                for piece in common.pieces(part["text"], 8):
                    delta = {**at, "delta": piece}
                    sequence.append(("response.reasoning_summary_text.delta", delta))
                text_done = {**at, "text": part["text"]}
                sequence.append(("response.reasoning_summary_text.done", text_done))
                sequence.append(("response.reasoning_summary_part.done", {**at, "part": part}))
        sequence.append(("response.output_item.done", {"output_index": oi, "item": item}))
    terminal = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    sequence.append((terminal, {"response": final}))
    return [
        b"event: " + kind.encode() + b"\ndata: "
        + _encode({"type": kind, **fields, "sequence_number": n}) + b"\n\n"
        for n, (kind, fields) in enumerate(sequence)
    ]  # fmt: skip
