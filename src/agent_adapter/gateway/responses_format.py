"""Our answers as Responses API objects and events, for the gateway's ``/v1/responses``: sans-IO.

``response_object`` renders a ``ChatResponse`` as a ``response`` object
(https://platform.openai.com/docs/api-reference/responses/object), and
``ResponsesEncoder`` a stream of ``StreamChunk``s as the Responses event
protocol (https://platform.openai.com/docs/api-reference/responses-streaming):
``response.created`` and ``response.in_progress``; per output item
``response.output_item.added``, its parts and deltas, ``response.output_item.done``;
then ``response.completed`` (or ``response.incomplete``) with the whole
response. Every event has its ``type`` and a ``sequence_number``; the stream
ends there, without a ``[DONE]`` line. A stream that fails ends with an
``error`` event and then ``response.failed`` (``failed``).

The ``model`` is the name the caller asked for; ``status`` is ``incomplete``
when the answer stopped at the token limit or a content filter. Reasoning
text becomes a ``reasoning`` item with a summary: an OpenAI upstream's
reasoning items keep their ids (in a stream, an item whose summary was
streamed has the gateway's id, since the upstream's comes at its end) and,
when ``include`` asks for it, their encrypted content, so they can be given
back next turn; so do Claude's thinking blocks, their signatures packed in
``encrypted_content`` (``pack_thinking``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from ..providers.placement import interleave
from ..types import ChatResponse, ReasoningItem, StreamChunk, Usage
from . import errors
from .http import Problem
from .responses_params import ENCRYPTED_CONTENT, THINKING_TYPES, pack_thinking

__all__ = ["Echo", "ResponsesEncoder", "response_object", "status_of", "usage_object"]

_json = msgspec.json.Encoder().encode
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(24)


def _response_id(upstream: str | None) -> str:
    return upstream if upstream and upstream.startswith("resp_") else _new_id("resp_")


class Echo:
    """What a ``response`` object repeats of its request, and whether it wants encrypted content.

    The SDKs' ``Response`` type requires ``tools``, ``tool_choice`` and
    ``parallel_tool_calls``; the rest is echoed as sent, or the API's default.
    """

    __slots__ = ("encrypted", "fields")

    def __init__(self, body: Mapping[str, Any]) -> None:
        reasoning = body.get("reasoning") or {}
        text = body.get("text") or {}
        parallel = body.get("parallel_tool_calls")
        self.encrypted = ENCRYPTED_CONTENT in (body.get("include") or ())
        self.fields: dict[str, Any] = {
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "parallel_tool_calls": True if parallel is None else parallel,
            "previous_response_id": None,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": False,
            "temperature": body.get("temperature"),
            "text": {"format": text.get("format") or {"type": "text"}},
            "tool_choice": body.get("tool_choice") or "auto",
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p"),
            "truncation": "disabled",
            "user": body.get("user"),
        }


def status_of(response: ChatResponse) -> tuple[str, dict[str, str] | None]:
    """(``status``, ``incomplete_details``): incomplete at the token limit or a content filter."""
    reason = _INCOMPLETE.get(response.finish_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def usage_object(usage: Usage | None) -> dict[str, Any]:
    """The Responses usage: input tokens include the cached ones, output the reasoning ones."""
    u = usage or Usage()
    return {
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": u.cached_tokens,
            "cache_write_tokens": u.cache_creation_tokens,
        },
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }


def _envelope(
    rid: str,
    created: int,
    model: str,
    echo: Echo,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    *,
    incomplete: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
        "usage": usage,
        **echo.fields,
    }


def response_object(
    response: ChatResponse, *, model: str, echo: Echo, created: int | None = None
) -> dict[str, Any]:
    """``response`` as a Responses API ``response`` object (a dict ready to encode)."""
    status, incomplete = status_of(response)
    others: list[dict[str, Any]] = []
    if response.content or response.refusal or not response.tool_calls:
        parts = _parts(response.content, response.refusal)
        others.append(_message(_new_id("msg_"), parts, status))
    others.extend(
        _call(c.item_id or _new_id("fc_"), c.id, c.name, c.arguments) for c in response.tool_calls
    )
    reasoning = _reasoning_items(response.reasoning_items, echo.encrypted)
    if not reasoning and response.reasoning:
        reasoning = [(None, _reasoning(_new_id("rs_"), [response.reasoning]))]
    return _envelope(
        _response_id(response.id),
        int(time.time()) if created is None else created,
        model,
        echo,
        status,
        interleave(reasoning, others),
        usage_object(response.usage),
        incomplete=incomplete,
    )


def _parts(text: str, refusal: str | None) -> list[dict[str, Any]]:
    parts = [_text_part(text)] if text or not refusal else []
    if refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    return parts


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message(mid: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"type": "message", "id": mid, "status": status, "role": "assistant", "content": parts}


def _call(
    fid: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": fid,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def _reasoning(rid: str, texts: list[str], data: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": rid,
        "summary": [{"type": "summary_text", "text": t} for t in texts],
    }
    if data is not None:
        item["encrypted_content"] = data
    return item


def _reasoning_items(
    items: list[ReasoningItem] | None, encrypted: bool
) -> list[tuple[int | None, dict[str, Any]]]:
    """The reasoning items of an OpenAI upstream (consecutive entries with one id are one
    item) and Claude's thinking blocks (their signature packed in ``encrypted_content``)."""
    out: list[tuple[int | None, dict[str, Any]]] = []
    for r in items or ():
        if r.type in THINKING_TYPES:
            item = _reasoning(_new_id("rs_"), [r.text] if r.text else [])
            if encrypted:
                item["encrypted_content"] = pack_thinking(r)
            out.append((r.index, item))
            continue
        if r.type != "reasoning" or not r.id:
            continue  # another kind of block: its text, if any, is in ``reasoning``
        if not out or out[-1][1]["id"] != r.id:
            out.append((r.index, _reasoning(r.id, [])))
        item = out[-1][1]
        if r.text is not None:
            item["summary"].append({"type": "summary_text", "text": r.text})
        if encrypted and r.data is not None and "encrypted_content" not in item:
            item["encrypted_content"] = r.data
    return out


# -- the stream ---------------------------------------------------------------------------


class _Item:
    """One output item of a stream: its place, its item object, the text of its open part."""

    __slots__ = ("done", "head", "index", "item", "part", "pieces")

    def __init__(self, index: int, item: dict[str, Any]) -> None:
        self.index = index
        self.item = item
        self.part = ""  # a message's open part: "output_text", "refusal" or ""
        self.pieces: list[str] = []  # the open part's text, a summary's, a call's arguments
        self.head = b""  # the constant start of its text (or arguments) delta events
        self.done = False

    def text(self) -> str:
        """The text so far (joined once, at the end: ``+=`` on an attribute copies each time)."""
        return "".join(self.pieces)


class ResponsesEncoder:
    """A stream of ``StreamChunk``s as Responses API SSE events, sans-IO (see the module docstring).

    Reasoning, text and each tool call become output items in the order they
    arrive; a new kind closes the open message or reasoning item (calls stay
    open until then, so interleaved fragments of parallel calls are fine).
    """

    __slots__ = ("_calls", "_created", "_echo", "_id", "_items", "_model", "_open", "_sequence")

    def __init__(self, *, model: str, echo: Echo, created: int | None = None) -> None:
        self._model = model
        self._echo = echo
        self._created = int(time.time()) if created is None else created
        self._id = ""
        self._sequence = 0
        self._items: list[_Item] = []
        self._open: _Item | None = None  # the open message or reasoning item
        self._calls: dict[int, _Item] = {}  # our tool call index -> its open item

    def _event(self, out: list[bytes], kind: str, **fields: Any) -> None:
        body = {"type": kind, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        out.append(b"event: " + kind.encode() + b"\ndata: " + _json(body) + b"\n\n")

    def _delta(self, out: list[bytes], entry: _Item, delta: str, tail: bytes) -> None:
        """A text or arguments delta event: the most common, so its constant part is cached."""
        out.append(entry.head + _json(delta) + tail + b'"sequence_number":%d}\n\n' % self._sequence)
        self._sequence += 1

    @staticmethod
    def _head(kind: str, fields: dict[str, Any]) -> bytes:
        """The bytes of a delta event up to its ``delta`` value (``fields`` in order)."""
        body = _json({"type": kind, **fields})[:-1]
        return b"event: " + kind.encode() + b"\ndata: " + body + b',"delta":'

    def _start(self, out: list[bytes], chunk: StreamChunk | None) -> None:
        self._id = _response_id(chunk.id if chunk is not None else None)
        for kind in ("response.created", "response.in_progress"):
            self._event(out, kind, response=self._envelope("in_progress", []))

    def _envelope(self, status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return _envelope(self._id, self._created, self._model, self._echo, status, output, **extra)

    # -- items --------------------------------------------------------------------------

    def _add(self, out: list[bytes], item: dict[str, Any]) -> _Item:
        entry = _Item(len(self._items), item)
        self._items.append(entry)
        self._event(out, "response.output_item.added", output_index=entry.index, item=item)
        return entry

    def _finish(self, out: list[bytes], entry: _Item) -> None:
        entry.done = True
        self._event(out, "response.output_item.done", output_index=entry.index, item=entry.item)

    def _ids(self, entry: _Item) -> dict[str, Any]:
        return {"item_id": entry.item["id"], "output_index": entry.index}

    def _close(self, out: list[bytes], *, calls: bool = True, status: str = "completed") -> None:
        """Close the open message or reasoning item (and the open calls)."""
        entry, self._open = self._open, None
        if entry is not None and entry.item["type"] == "message":
            self._close_part(out, entry)
            entry.item["status"] = status
            self._finish(out, entry)
        elif entry is not None:
            text = entry.text()
            entry.item["summary"] = [{"type": "summary_text", "text": text}]
            self._summary_done(out, entry, 0, text)
            self._finish(out, entry)
        if calls:
            for call in self._calls.values():
                arguments = call.item["arguments"] = call.text()
                kind = "response.function_call_arguments.done"
                self._event(out, kind, **self._ids(call), arguments=arguments)
                call.item["status"] = "completed"
                self._finish(out, call)
            self._calls.clear()

    def _message(self, out: list[bytes], part: str) -> _Item:
        """The open message item, with ``part`` (``output_text``, ``refusal``) its open part."""
        entry = self._open
        if entry is None or entry.item["type"] != "message":
            self._close(out)
            entry = self._open = self._add(out, _message(_new_id("msg_"), [], "in_progress"))
        if entry.part != part:
            self._close_part(out, entry)
            entry.part = part
            new = _text_part("") if part == "output_text" else {"type": "refusal", "refusal": ""}
            entry.item["content"].append(new)
            index = len(entry.item["content"]) - 1
            ids = {**self._ids(entry), "content_index": index}
            self._event(out, "response.content_part.added", **ids, part=dict(new))
            if part == "output_text":
                entry.head = self._head("response.output_text.delta", ids)
        return entry

    def _close_part(self, out: list[bytes], entry: _Item) -> None:
        if not entry.part:
            return
        index = len(entry.item["content"]) - 1
        part = entry.item["content"][index]
        ids = {**self._ids(entry), "content_index": index}
        text = entry.text()
        if entry.part == "output_text":
            part["text"] = text
            self._event(out, "response.output_text.done", **ids, text=text, logprobs=[])
        else:
            part["refusal"] = text
            self._event(out, "response.refusal.done", **ids, refusal=text)
        self._event(out, "response.content_part.done", **ids, part=part)
        entry.part, entry.pieces = "", []

    def _summary_added(self, out: list[bytes], entry: _Item, n: int) -> None:
        part = {"type": "summary_text", "text": ""}
        kind = "response.reasoning_summary_part.added"
        self._event(out, kind, **self._ids(entry), summary_index=n, part=part)

    def _summary_delta(self, out: list[bytes], entry: _Item, n: int, delta: str) -> None:
        kind = "response.reasoning_summary_text.delta"
        self._event(out, kind, **self._ids(entry), summary_index=n, delta=delta)

    def _summary_done(self, out: list[bytes], entry: _Item, n: int, text: str) -> None:
        ids = {**self._ids(entry), "summary_index": n}
        self._event(out, "response.reasoning_summary_text.done", **ids, text=text)
        part = {"type": "summary_text", "text": text}
        self._event(out, "response.reasoning_summary_part.done", **ids, part=part)

    def _reasoning_done(self, out: list[bytes], items: list[ReasoningItem]) -> None:
        """An upstream reasoning item is complete: close ours, or send it whole."""
        found = _reasoning_items(items, self._echo.encrypted)
        entry = self._open
        if entry is not None and entry.item["type"] == "reasoning":
            for _, item in found[:1]:
                if "encrypted_content" in item:
                    entry.item["encrypted_content"] = item["encrypted_content"]
            self._close(out, calls=False)
            found = found[1:]
        for _, item in found:
            self._close(out)
            entry = self._add(out, {**item, "summary": []})
            for n, part in enumerate(item["summary"]):
                self._summary_added(out, entry, n)
                self._summary_delta(out, entry, n, part["text"])
                self._summary_done(out, entry, n, part["text"])
            entry.item["summary"] = item["summary"]
            self._finish(out, entry)

    # -- the Encoder protocol -------------------------------------------------------------

    def chunk(self, chunk: StreamChunk) -> bytes:
        """The events for one chunk."""
        out: list[bytes] = []
        if not self._id:
            self._start(out, chunk)
        if chunk.reasoning:
            entry = self._open
            if entry is None or entry.item["type"] != "reasoning":
                self._close(out)
                entry = self._open = self._add(out, _reasoning(_new_id("rs_"), []))
                self._summary_added(out, entry, 0)
            entry.pieces.append(chunk.reasoning)
            self._summary_delta(out, entry, 0, chunk.reasoning)
        if chunk.reasoning_items:
            self._reasoning_done(out, chunk.reasoning_items)
        if chunk.delta:
            entry = self._message(out, "output_text")
            entry.pieces.append(chunk.delta)
            self._delta(out, entry, chunk.delta, b',"logprobs":[],')
        if chunk.refusal:
            entry = self._message(out, "refusal")
            entry.pieces.append(chunk.refusal)
            index = len(entry.item["content"]) - 1
            kind = "response.refusal.delta"
            self._event(out, kind, **self._ids(entry), content_index=index, delta=chunk.refusal)
        for fragment in chunk.tool_calls or ():
            call = self._calls.get(fragment.index)
            if call is None:
                self._close(out, calls=False)
                fid = fragment.item_id or _new_id("fc_")
                call_id = fragment.id or "call_" + secrets.token_hex(12)
                item = _call(fid, call_id, fragment.name or "", "", "in_progress")
                call = self._calls[fragment.index] = self._add(out, item)
                call.head = self._head("response.function_call_arguments.delta", self._ids(call))
            elif fragment.name and not call.item["name"]:
                call.item["name"] = fragment.name
            if fragment.arguments:
                call.pieces.append(fragment.arguments)
                self._delta(out, call, fragment.arguments, b",")
        return b"".join(out)

    def end(self, response: ChatResponse) -> bytes:
        """Close the open items; ``response.completed`` (or ``.incomplete``), the whole response."""
        out: list[bytes] = []
        if not self._id:
            self._start(out, None)
        if not self._items:
            self._message(out, "output_text")  # an empty answer is still a message
        status, incomplete = status_of(response)
        self._close(out, status=status)
        output = [entry.item for entry in self._items]
        whole = self._envelope(
            status, output, usage=usage_object(response.usage), incomplete=incomplete
        )
        self._event(out, f"response.{status}", response=whole)
        return b"".join(out)

    def failed(self, problem: Problem) -> bytes:
        """The end of a stream that failed: an ``error`` event, then ``response.failed``.

        The error event is what the SDKs raise; ``response.failed`` is the
        terminal event clients that wait for one expect. Its output is the
        items that were complete.
        """
        out: list[bytes] = []
        if not self._id:
            self._start(out, None)
        out.append(errors.event(problem, "responses", sequence=self._sequence))
        self._sequence += 1
        error = {"code": _failure_code(problem), "message": problem.message}
        output = [entry.item for entry in self._items if entry.done]
        whole = self._envelope("failed", output, error=error)
        self._event(out, "response.failed", response=whole)
        return b"".join(out)


def _failure_code(problem: Problem) -> str:
    """``response.error.code``: the problem's own code, else the API's for its class."""
    if problem.code:
        return problem.code
    return "rate_limit_exceeded" if problem.status == 429 else "server_error"
