"""A Responses API request body as ``chat()`` keywords, for the gateway's ``/v1/responses``.

The mirror of ``providers/openai/responses/encode.py``, following the
reference (https://platform.openai.com/docs/api-reference/responses/create):

* ``instructions`` is a system message first; ``input`` is a string (one user
  message) or a list of items: ``message`` items (user, system, developer,
  assistant; ``input_text``, ``input_image``, ``input_file`` parts),
  ``function_call`` and ``function_call_output`` items, and ``reasoning``
  items given back. An assistant turn's consecutive items (its reasoning,
  message and calls) become one assistant message, each reasoning item
  recorded at its place in the turn (``wire.reasoning_items``), so an OpenAI
  upstream gets them back as they came. A reasoning item with no message or
  call after it has no turn to belong to and is left out;
* function tools are flat (``name``, ``parameters`` at the top), ``text.format``
  is the response format, ``reasoning.effort`` the effort (and
  ``reasoning.summary``, which only an OpenAI upstream reads), and
  ``max_output_tokens`` the token limit.

The gateway keeps no state, so what needs a stored response
(``store: true``, ``previous_response_id``, ``conversation``,
``background``) is refused with a message that says so. Any other field it
cannot honour is a ``ValidationError`` naming it (``param``), never silently
dropped; a field sent with its default value asks for nothing and passes.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

import msgspec

from ..errors import ValidationError
from ..providers.openai.responses.wire import ItemIn, reasoning_items
from ..types import ReasoningItem

__all__ = [
    "ENCRYPTED_CONTENT",
    "FIELDS",
    "THINKING_TYPES",
    "pack_thinking",
    "responses_params",
    "unpack_thinking",
]

ENCRYPTED_CONTENT = "reasoning.encrypted_content"
"""The one ``include`` value honoured: reasoning items carry their encrypted content."""
THINKING_TYPES = frozenset(("thinking", "redacted_thinking"))
"""Anthropic's kinds of ``ReasoningItem``, which travel packed in ``encrypted_content``."""
_PACKED = "aa-thinking."  # what starts a packed Anthropic block: no OpenAI blob starts so

_json = msgspec.json.Encoder().encode
_thinking = msgspec.json.Decoder(ReasoningItem)
_SAME = ("model", "temperature", "top_p", "parallel_tool_calls", "user", "prompt_cache_key")
_ECHO = ("metadata", "include")
FIELDS = frozenset(
    (
        *_SAME, *_ECHO, "input", "instructions", "tools", "tool_choice", "text", "reasoning",
        "max_output_tokens", "stream", "stream_options", "store", "safety_identifier",
    )
)  # fmt: skip
"""The body fields read (each checked further); the ``_DEFAULTS`` pass when they ask nothing."""

# Fields that ask for nothing at these values (what clients that send every field send).
_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "background": (False,),
    "truncation": ("disabled",),
    "service_tier": ("auto", "default"),
    "top_logprobs": (0,),
}
_STATELESS = (
    "this gateway keeps no responses (it is stateless): send the whole conversation in input"
)
_STATEFUL = {
    "previous_response_id": _STATELESS,
    "conversation": _STATELESS,
    "background": "background responses need a stored response, which this gateway does not keep",
    "store": "this gateway keeps no responses (it is stateless): send store: false or leave it out",
}
_SUMMARIES = frozenset(("auto", "concise", "detailed"))
_TOOL_KEYS = frozenset(("type", "name", "description", "parameters", "strict"))


def responses_params(body: Mapping[str, Any]) -> dict[str, Any]:
    """``chat()`` keywords (``model`` included) for a Responses API request body.

    ``stream`` is the route's to read; every other field is checked here.
    """
    for key, value in body.items():
        if value is None or key in FIELDS or value in _DEFAULTS.get(key, ()):
            continue
        if key in _STATEFUL:
            raise ValidationError(_STATEFUL[key], field=key)
        raise ValidationError(
            f"is not supported (supported: {', '.join(sorted(FIELDS - {'stream'}))})", field=key
        )
    if body.get("store"):
        raise ValidationError(_STATEFUL["store"], field="store")
    for key in ("model", "input"):
        if body.get(key) is None:
            raise ValidationError("is missing", field=key)
    params: dict[str, Any] = {key: body[key] for key in _SAME if body.get(key) is not None}
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise ValidationError("must be a string", field="instructions")
        messages.append({"role": "system", "content": instructions})
    messages.extend(_input(body["input"]))
    if not messages:
        raise ValidationError("has no message to answer", field="input")
    params["messages"] = messages
    safety = body.get("safety_identifier")
    if safety is not None:
        if params.get("user", safety) != safety:
            raise ValidationError(
                "disagrees with user: give one of them", field="safety_identifier"
            )
        params["user"] = safety
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("must be a positive integer", field="max_output_tokens")
        params["max_tokens"] = limit
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise ValidationError("must be a list of tools", field="tools")
        if tools:
            params["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(tools)]
    if body.get("tool_choice") is not None:
        params["tool_choice"] = _tool_choice(body["tool_choice"])
    fmt = _text(body.get("text"))
    if fmt is not None:
        params["response_format"] = fmt
    reasoning = _reasoning(body.get("reasoning"))
    if reasoning is not None:
        params["reasoning"] = reasoning
    _check_echoed(body)
    return params


def _check_echoed(body: Mapping[str, Any]) -> None:
    """The fields only echoed back (``metadata``) or honoured on the way out (``include``)."""
    metadata = body.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, Mapping) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise ValidationError("must be an object of strings", field="metadata")
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list):
            raise ValidationError("must be a list", field="include")
        for value in include:
            if value != ENCRYPTED_CONTENT:
                raise ValidationError(
                    f"{value!r} is not supported (only {ENCRYPTED_CONTENT!r})", field="include"
                )
    options = body.get("stream_options")
    if options is not None:
        if not body.get("stream"):
            raise ValidationError("only allowed when stream is true", field="stream_options")
        if not isinstance(options, Mapping) or any(
            k != "include_obfuscation" or v for k, v in options.items()
        ):
            raise ValidationError(
                "only include_obfuscation: false is supported", field="stream_options"
            )


# -- input items ---------------------------------------------------------------------------


class _Turn:
    """An assistant turn being gathered from consecutive items: text, calls, reasoning."""

    __slots__ = ("calls", "items", "position", "refusal", "spoke", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.items: list[Any] = []
        self.position = 0  # among the turn's items, as ``wire.chat_response`` counts them
        self.spoke = False

    def message(self, item: Mapping[str, Any], where: str) -> None:
        self.position += not self.spoke  # all of a turn's messages go back as one
        self.spoke = True
        content = item.get("content")
        if isinstance(content, str):
            self.text.append(content)
            return
        if not isinstance(content, list):
            raise ValidationError("must be a string or a list of parts", field=f"{where}.content")
        for j, part in enumerate(content):
            at = f"{where}.content[{j}]"
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind in ("output_text", "input_text"):
                self.text.append(_string(part, "text", at))
            elif kind == "refusal":
                self.refusal.append(_string(part, "refusal", at))
            else:
                raise ValidationError(
                    f"assistant parts of type {kind!r} are not supported", field=at
                )

    def call(self, item: Mapping[str, Any], where: str) -> None:
        self.position += 1
        arguments = item.get("arguments", "{}")
        if isinstance(arguments, Mapping):
            arguments = _json(arguments).decode()
        call: dict[str, Any] = {
            "id": _string(item, "call_id", where),
            "type": "function",
            "function": {"name": _string(item, "name", where), "arguments": arguments},
        }
        if item.get("id") is not None:
            call["item_id"] = item["id"]
        self.calls.append(call)

    def reasoning(self, item: Mapping[str, Any], where: str) -> None:
        try:
            read = msgspec.convert(item, ItemIn, strict=False)
        except msgspec.ValidationError as exc:
            raise ValidationError(f"is not a reasoning item: {exc}", field=where) from None
        block = unpack_thinking(read.encrypted_content, self.position, where)
        if block is not None:
            self.items.append(block)  # a Claude thinking block, back to Claude unchanged
        else:
            read.id = read.id or "rs_" + secrets.token_hex(12)
            self.items.extend(reasoning_items(read, self.position))
        self.position += 1

    def done(self) -> list[dict[str, Any]]:
        """The turn as one assistant message (none when it was only reasoning)."""
        if not self.spoke and not self.calls:
            return []
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text)}
        if self.calls:
            message["tool_calls"] = self.calls
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.items:
            message["reasoning_items"] = self.items
        return [message]


def pack_thinking(item: ReasoningItem) -> str:
    """An Anthropic thinking block as a reasoning item's ``encrypted_content``.

    Claude wants its thinking blocks back with their signatures, and a
    Responses client keeps only what the item carries; the content is opaque
    to it by definition, so the gateway, its only reader, keeps the block there.
    """
    block = msgspec.structs.replace(item, index=None)
    return _PACKED + base64.urlsafe_b64encode(_json(block)).decode("ascii")


def unpack_thinking(content: str | None, index: int, where: str = "") -> ReasoningItem | None:
    """The thinking block ``pack_thinking`` put in ``content``, at ``index``; else None.

    ``where`` is the item's path, for the error when the content was altered.
    """
    if not content or not content.startswith(_PACKED):
        return None
    field = f"{where}.encrypted_content" if where else "encrypted_content"
    try:
        item = _thinking.decode(base64.urlsafe_b64decode(content[len(_PACKED) :]))
    except (ValueError, msgspec.DecodeError):
        item = None
    if item is None or item.type not in THINKING_TYPES:
        raise ValidationError("is not content this gateway produced", field=field)
    return msgspec.structs.replace(item, index=index)


def _input(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise ValidationError("must be a string or a non-empty list of items", field="input")
    out: list[dict[str, Any]] = []
    turn: _Turn | None = None
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError("must be an item object", field=where)
        kind = item.get("type", "message")  # a message may leave its type out
        role = item.get("role")
        if kind in ("function_call", "reasoning") or (kind == "message" and role == "assistant"):
            turn = turn or _Turn()
            if kind == "function_call":
                turn.call(item, where)
            elif kind == "reasoning":
                turn.reasoning(item, where)
            else:
                turn.message(item, where)
            continue
        if turn is not None:
            out.extend(turn.done())
            turn = None
        if kind == "message":
            out.append(_message(item, where))
        elif kind == "function_call_output":
            out.append(_tool_output(item, where))
        elif kind == "item_reference":
            raise ValidationError(_STATELESS, field=f"{where}.type")
        else:
            raise ValidationError(
                f"items of type {kind!r} are not supported", field=f"{where}.type"
            )
    if turn is not None:
        out.extend(turn.done())
    return out


def _message(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "system", "developer"):
        raise ValidationError("must be user, assistant, system or developer", field=f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise ValidationError("must be a string or a list of parts", field=f"{where}.content")
    parts = [
        _part(p, f"{where}.content[{j}]", text_only=role != "user") for j, p in enumerate(content)
    ]
    return {"role": role, "content": parts}


def _part(raw: Any, where: str, *, text_only: bool = False) -> dict[str, Any]:
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == "input_text":
        return {"type": "text", "text": _string(raw, "text", where)}
    if text_only:
        raise ValidationError("only input_text parts are allowed here", field=where)
    if kind == "input_image":
        url = raw.get("image_url")
        if not isinstance(url, str) or not url:
            detail = (
                "a file_id image is not supported: send image_url"
                if raw.get("file_id")
                else "is missing"
            )
            raise ValidationError(detail, field=f"{where}.image_url")
        image: dict[str, Any] = {"url": url}
        if raw.get("detail") not in (None, "auto"):
            image["detail"] = raw["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file: dict[str, Any] = {}
        for key in ("file_data", "file_id", "filename"):
            if raw.get(key) is not None:
                file[key] = _string(raw, key, where)
        if raw.get("file_url") is not None:
            file["url"] = _string(raw, "file_url", where)
        return {"type": "file", "file": file}
    raise ValidationError(f"parts of type {kind!r} are not supported", field=f"{where}.type")


def _tool_output(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    output = item.get("output")
    if isinstance(output, list):
        texts = []
        for j, part in enumerate(output):
            at = f"{where}.output[{j}]"
            if not isinstance(part, Mapping) or part.get("type") != "input_text":
                raise ValidationError("only input_text is supported in tool output", field=at)
            texts.append(_string(part, "text", at))
        output = "".join(texts)
    elif not isinstance(output, str):
        raise ValidationError("must be a string or a list of parts", field=f"{where}.output")
    call_id = _string(item, "call_id", where)
    return {"role": "tool", "tool_call_id": call_id, "content": output or " "}


def _string(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise ValidationError("must be a string", field=f"{where}.{key}")
    return value


# -- tools, formats, reasoning ----------------------------------------------------------------


def _tool(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationError("must be a tool object", field=where)
    if raw.get("type") != "function":
        raise ValidationError(
            f"only function tools are supported, not {raw.get('type')!r}", field=f"{where}.type"
        )
    for key, value in raw.items():
        if key not in _TOOL_KEYS and value is not None:
            raise ValidationError("is not supported", field=f"{where}.{key}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError("must be a non-empty string", field=f"{where}.name")
    function: dict[str, Any] = {"name": name}
    function["parameters"] = raw.get("parameters") or {"type": "object", "properties": {}}
    for key in ("description", "strict"):
        if raw.get(key) is not None:
            function[key] = raw[key]
    return {"type": "function", "function": function}


def _tool_choice(raw: Any) -> Any:
    if isinstance(raw, str):
        return raw  # auto, none, required: checked by chat()
    if isinstance(raw, Mapping) and raw.get("type") == "function":
        return {"type": "function", "function": {"name": raw.get("name")}}
    raise ValidationError(
        "must be auto, none, required or {'type': 'function', 'name': ...}", field="tool_choice"
    )


def _text(raw: Any) -> dict[str, Any] | None:
    """``text.format`` as our response format (``None`` for plain text)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValidationError("must be an object", field="text")
    for key, value in raw.items():
        if key == "verbosity" and value in (None, "medium"):
            continue  # the default: asks for nothing
        if key != "format" and value is not None:
            raise ValidationError("is not supported", field=f"text.{key}")
    fmt = raw.get("format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        raise ValidationError("must be text, json_object or json_schema", field="text.format.type")
    assert isinstance(fmt, Mapping)
    for key, value in fmt.items():
        if key not in ("type", "name", "schema", "strict") and value is not None:
            raise ValidationError("is not supported", field=f"text.format.{key}")
    if not isinstance(fmt.get("schema"), Mapping):
        raise ValidationError("must be a JSON Schema object", field="text.format.schema")
    spec = {
        "name": fmt.get("name") or "response",
        "schema": fmt["schema"],
        "strict": bool(fmt.get("strict")),  # the Responses API's default is false
    }
    return {"type": "json_schema", "json_schema": spec}


def _reasoning(raw: Any) -> str | dict[str, Any] | None:
    """The effort (``chat()`` checks it), with the summary asked for when it is not ``auto``."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValidationError("must be an object", field="reasoning")
    for key, value in raw.items():
        if key not in ("effort", "summary") and value is not None:
            raise ValidationError("is not supported", field=f"reasoning.{key}")
    effort, summary = raw.get("effort"), raw.get("summary")
    if summary is not None and summary not in _SUMMARIES:
        raise ValidationError(
            f"must be one of {', '.join(sorted(_SUMMARIES))}", field="reasoning.summary"
        )
    if summary is None:
        return effort
    effort = effort or "medium"  # the API's default effort
    return effort if summary == "auto" else {"effort": effort, "summary": summary}
