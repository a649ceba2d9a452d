"""Turning what a caller passes (OpenAI-shaped dicts or our Structs) into a checked ``ChatRequest``.

Everything here runs before any I/O, so a mistake in the input is a
``ValidationError`` naming the field (``messages[2].tool_call_id``) rather
than a provider's 400 after a network round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from .errors import ValidationError
from .extras import extra_body_of, extra_headers_of, extra_query_of
from .providers.base import json_encode, split_data_url
from .types import (
    AudioPart,
    CacheControl,
    ChatRequest,
    ContentPart,
    EmbedRequest,
    FilePart,
    ImagePart,
    Message,
    ReasoningItem,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)

_ROLES = frozenset(("system", "developer", "user", "assistant", "tool"))
_PLAIN_ROLES = _ROLES - {"tool"}  # a tool message needs more than role and content
_EFFORTS = frozenset(("none", "minimal", "low", "medium", "high", "xhigh", "max"))
_TOOL_CHOICES = frozenset(("auto", "none", "required"))
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


CHAT_PARAMS = frozenset(
    (
        "temperature", "top_p", "top_k", "max_tokens", "stop", "seed", "presence_penalty",
        "frequency_penalty", "tool_choice", "parallel_tool_calls", "response_format",
        "reasoning", "user", "prompt_cache_key", "extra", "extra_body", "extra_headers",
        "extra_query",
    )
)  # fmt: skip
"""Keyword arguments ``Client.chat``/``Client.stream`` accept besides model, messages, tools."""


def build_chat_request(
    model: str,
    messages: Iterable[Mapping[str, Any] | Message],
    *,
    stream: bool = False,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    max_tokens: int | None = None,
    stop: str | list[str] | None = None,
    seed: int | None = None,
    presence_penalty: float | None = None,
    frequency_penalty: float | None = None,
    tools: Iterable[Mapping[str, Any] | Tool] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    parallel_tool_calls: bool | None = None,
    response_format: Any = None,
    reasoning: str | Mapping[str, Any] | None = None,
    user: str | None = None,
    prompt_cache_key: str | None = None,
    extra: Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_query: Mapping[str, Any] | None = None,
) -> ChatRequest:
    """Check every argument and build the provider-neutral request."""
    if not isinstance(model, str) or not model.strip():
        raise ValidationError("must be a non-empty string", field="model")
    checked_tools = [_tool(t, i) for i, t in enumerate(tools)] if tools is not None else None
    if checked_tools is not None and not checked_tools:
        checked_tools = None
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (
        not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop)
    ):
        raise ValidationError("must be a string or a list of non-empty strings", field="stop")
    _number("temperature", temperature, 0.0, 2.0)
    _number("top_p", top_p, 0.0, 1.0)
    _number("presence_penalty", presence_penalty, -2.0, 2.0)
    _number("frequency_penalty", frequency_penalty, -2.0, 2.0)
    _integer("top_k", top_k, 1)
    _integer("max_tokens", max_tokens, 1)
    _integer("seed", seed, None)
    if prompt_cache_key is not None and (
        not isinstance(prompt_cache_key, str) or not prompt_cache_key
    ):
        raise ValidationError("must be a non-empty string", field="prompt_cache_key")
    return ChatRequest(
        model=model,
        messages=_messages(messages),
        stream=stream,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        max_tokens=max_tokens,
        stop=stop,
        seed=seed,
        presence_penalty=presence_penalty,
        frequency_penalty=frequency_penalty,
        tools=checked_tools,
        tool_choice=_tool_choice(tool_choice, checked_tools),
        parallel_tool_calls=parallel_tool_calls,
        response_format=response_format_of(response_format),
        reasoning=_reasoning(reasoning),
        user=user,
        prompt_cache_key=prompt_cache_key,
        extra=extra_body_of(extra, extra_body),
        extra_headers=extra_headers_of(extra_headers),
        extra_query=extra_query_of(extra_query),
    )


def cache_of(raw: Any, field: str) -> CacheControl | None:
    """A ``CacheControl`` from ours or a dict like ``{"type": "ephemeral", "ttl": "1h"}``."""
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"type", "ttl"}
        if unknown:
            raise ValidationError(f"unknown keys {sorted(unknown)}", field=field)
        kind, ttl = raw.get("type", "ephemeral"), raw.get("ttl")
    elif isinstance(raw, CacheControl):
        kind, ttl = raw.type, raw.ttl
    else:
        raise ValidationError(
            "must be an agent_adapter.CacheControl or {'type': 'ephemeral', 'ttl': ...}",
            field=field,
        )
    if kind != "ephemeral":
        raise ValidationError(f"type must be 'ephemeral', got {kind!r}", field=f"{field}.type")
    if ttl not in (None, "5m", "1h"):
        raise ValidationError(f"ttl must be '5m' or '1h', got {ttl!r}", field=f"{field}.ttl")
    return raw if isinstance(raw, CacheControl) else CacheControl(ttl=ttl)


def _cache_key(raw: Mapping[str, Any], where: str) -> CacheControl | None:
    """The ``cache`` (or Anthropic-style ``cache_control``) marker of a dict."""
    if "cache" in raw and "cache_control" in raw:
        raise ValidationError("give cache or cache_control, not both", field=f"{where}.cache")
    return cache_of(raw.get("cache", raw.get("cache_control")), f"{where}.cache")


def build_embed_request(
    model: str,
    input: str | Iterable[str],
    *,
    dimensions: int | None = None,
    extra: Any = None,
    extra_body: Any = None,
    extra_headers: Any = None,
    extra_query: Any = None,
) -> EmbedRequest:
    """Check an embeddings call: a non-empty list of strings."""
    if not isinstance(model, str) or not model.strip():
        raise ValidationError("must be a non-empty string", field="model")
    texts = [input] if isinstance(input, str) else list(input)
    if not texts:
        raise ValidationError("must not be empty", field="input")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValidationError("must be a string", field=f"input[{i}]")
    _integer("dimensions", dimensions, 1)
    return EmbedRequest(
        model=model,
        input=texts,
        dimensions=dimensions,
        extra=extra_body_of(extra, extra_body),
        extra_headers=extra_headers_of(extra_headers),
        extra_query=extra_query_of(extra_query),
    )


def _number(field: str, value: Any, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError("must be a number", field=field)
    if not low <= value <= high:
        raise ValidationError(f"must be between {low:g} and {high:g}, got {value!r}", field=field)


def _integer(field: str, value: Any, low: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be an integer", field=field)
    if low is not None and value < low:
        raise ValidationError(f"must be at least {low}, got {value}", field=field)


def _messages(messages: Iterable[Mapping[str, Any] | Message]) -> list[Message]:
    if isinstance(messages, str | bytes | Mapping):
        raise ValidationError("must be a list of messages", field="messages")
    try:
        items = list(messages)
    except TypeError:
        raise ValidationError("must be a list of messages", field="messages") from None
    if not items:
        raise ValidationError("must contain at least one message", field="messages")
    result: list[Message] = []
    for i, m in enumerate(items):
        # The common message, a dict of a plain role and non-empty text and nothing else, is
        # exactly what ``_message`` would build from it; everything else takes the full check.
        if type(m) is dict and len(m) == 2:
            role, content = m.get("role"), m.get("content")
            if role in _PLAIN_ROLES and type(content) is str and content:
                result.append(Message(role=role, content=content))
                continue
        result.append(_message(m, f"messages[{i}]"))
    known_calls = {call.id for m in result if m.tool_calls for call in m.tool_calls}
    for i, m in enumerate(result):
        if m.role == "tool" and known_calls and m.tool_call_id not in known_calls:
            raise ValidationError(
                f"{m.tool_call_id!r} answers no tool call in the conversation",
                field=f"messages[{i}].tool_call_id",
            )
    return result


def _message(raw: Mapping[str, Any] | Message, where: str) -> Message:
    if isinstance(raw, Message):
        message = raw
    elif isinstance(raw, Mapping):
        role = raw.get("role")
        if role not in _ROLES:
            raise ValidationError(
                f"unknown role {role!r} (expected one of {', '.join(sorted(_ROLES))})",
                field=f"{where}.role",
            )
        unknown = set(raw) - _MESSAGE_KEYS
        if unknown:
            raise ValidationError(f"unknown keys {sorted(unknown)}", field=where)
        calls = raw.get("tool_calls")
        message = Message(
            role=role,
            content=_content(raw.get("content"), f"{where}.content"),
            name=_optional_str(raw, "name", where),
            tool_calls=[_tool_call(c, f"{where}.tool_calls[{j}]") for j, c in enumerate(calls)]
            if calls
            else None,
            tool_call_id=_optional_str(raw, "tool_call_id", where),
            tool_name=_optional_str(raw, "tool_name", where),
            is_error=raw.get("is_error", False),
            reasoning=_optional_str(raw, "reasoning", where)
            or _optional_str(raw, "reasoning_content", where),
            reasoning_signature=_optional_str(raw, "reasoning_signature", where),
            reasoning_items=_reasoning_items(raw.get("reasoning_items"), where),
            refusal=_optional_str(raw, "refusal", where),
            cache=_cache_key(raw, where),
        )
    else:
        raise ValidationError("must be a dict or an agent_adapter.Message", field=where)
    if message.role not in _ROLES:
        raise ValidationError(f"unknown role {message.role!r}", field=f"{where}.role")
    empty = message.content is None or message.content == "" or message.content == []
    if message.role == "assistant":
        if empty and not message.tool_calls and not message.refusal:
            raise ValidationError("an assistant message needs content or tool_calls", field=where)
    elif empty:
        raise ValidationError("is missing", field=f"{where}.content")
    if message.role == "tool" and not message.tool_call_id:
        raise ValidationError("a tool message needs tool_call_id", field=f"{where}.tool_call_id")
    if not isinstance(message.is_error, bool):
        raise ValidationError("must be true or false", field=f"{where}.is_error")
    if message.is_error and message.role != "tool":
        raise ValidationError("only a tool message reports an error", field=f"{where}.is_error")
    if message.role != "user" and isinstance(message.content, list):
        for j, part in enumerate(message.content):
            if not isinstance(part, TextPart):
                raise ValidationError(
                    f"only user messages may carry {type(part).__name__}",
                    field=f"{where}.content[{j}]",
                )
    cache_of(message.cache, f"{where}.cache")
    if isinstance(message.content, list):
        for j, part in enumerate(message.content):
            cache_of(part.cache, f"{where}.content[{j}].cache")
    return message


_MESSAGE_KEYS = frozenset(
    (
        "role",
        "content",
        "name",
        "tool_calls",
        "tool_call_id",
        "tool_name",
        "is_error",
        "reasoning",
        "reasoning_content",
        "reasoning_signature",
        "reasoning_items",
        "refusal",
        "cache",
        "cache_control",
    )
)


def _reasoning_items(raw: Any, where: str) -> list[ReasoningItem] | None:
    """Reasoning blocks given back: ``ReasoningItem``s or their dicts (a saved history)."""
    if not raw:
        return None
    try:
        return msgspec.convert(list(raw), list[ReasoningItem])
    except (msgspec.ValidationError, TypeError) as exc:
        raise ValidationError(
            f"not reasoning items: {exc}", field=f"{where}.reasoning_items"
        ) from None


def _optional_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationError("must be a string", field=f"{where}.{key}")
    return value


def _content(raw: Any, where: str) -> str | list[ContentPart] | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, TextPart | ImagePart | AudioPart | FilePart):
        return [raw]
    if isinstance(raw, list | tuple):
        return [_part(p, f"{where}[{j}]") for j, p in enumerate(raw)]
    raise ValidationError("must be a string or a list of content parts", field=where)


def _part(raw: Any, where: str) -> ContentPart:
    if isinstance(raw, TextPart | ImagePart | AudioPart | FilePart):
        return raw
    if isinstance(raw, str):
        return TextPart(raw)
    if not isinstance(raw, Mapping):
        raise ValidationError("must be a content part dict", field=where)
    part = _part_dict(raw, where)
    cache = _cache_key(raw, where)
    return part if cache is None else msgspec.structs.replace(part, cache=cache)


def _part_dict(raw: Mapping[str, Any], where: str) -> ContentPart:
    kind = raw.get("type")
    if kind == "text":
        text = raw.get("text")
        if not isinstance(text, str):
            raise ValidationError("must be a string", field=f"{where}.text")
        return TextPart(text)
    if kind in ("image_url", "image"):
        inner = raw.get("image_url", raw)
        if isinstance(inner, str):
            inner = {"url": inner}
        if not isinstance(inner, Mapping):
            raise ValidationError("must be an object with a url", field=f"{where}.image_url")
        url, data = inner.get("url"), inner.get("data")
        detail = inner.get("detail")
        if isinstance(data, bytes | bytearray):
            return ImagePart(data=bytes(data), media_type=inner.get("media_type"), detail=detail)
        if not isinstance(url, str) or not url:
            raise ValidationError("needs a url or data bytes", field=f"{where}.image_url.url")
        inline = split_data_url(url)
        if inline is not None:
            return ImagePart(data=inline[1], media_type=inline[0], detail=detail)
        if url.startswith("data:"):
            raise ValidationError("is a data URL that is not base64", field=f"{where}.image_url")
        return ImagePart(url=url, detail=detail)
    if kind in ("input_audio", "audio"):
        inner = raw.get("input_audio", raw)
        data, fmt = inner.get("data"), inner.get("format")
        if isinstance(data, str):
            decoded = split_data_url(f"data:;base64,{data}")
            data = decoded[1] if decoded else None
        if not isinstance(data, bytes | bytearray) or not data:
            raise ValidationError("needs base64 or bytes data", field=f"{where}.input_audio.data")
        if not isinstance(fmt, str):
            raise ValidationError("is missing", field=f"{where}.input_audio.format")
        return AudioPart(data=bytes(data), format=fmt)
    if kind == "file":
        inner = raw.get("file", raw)
        file_data, file_id = inner.get("file_data"), inner.get("file_id")
        filename = inner.get("filename")
        if isinstance(file_data, bytes | bytearray):
            return FilePart(
                data=bytes(file_data), media_type=inner.get("media_type"), filename=filename
            )
        if isinstance(file_data, str):
            inline = split_data_url(file_data)
            if inline is None:
                raise ValidationError("must be a base64 data URL", field=f"{where}.file.file_data")
            return FilePart(data=inline[1], media_type=inline[0], filename=filename)
        if isinstance(file_id, str):
            return FilePart(file_id=file_id, filename=filename)
        url = inner.get("url")
        if isinstance(url, str):
            return FilePart(url=url, media_type=inner.get("media_type"), filename=filename)
        raise ValidationError("needs file_data, file_id or url", field=f"{where}.file")
    raise ValidationError(f"unknown content part type {kind!r}", field=f"{where}.type")


def _tool_call(raw: Any, where: str) -> ToolCall:
    if isinstance(raw, ToolCall):
        return raw
    if not isinstance(raw, Mapping):
        raise ValidationError("must be a tool call dict", field=where)
    function = raw.get("function", raw)
    call_id, name, arguments = raw.get("id"), function.get("name"), function.get("arguments", "{}")
    if not isinstance(call_id, str) or not call_id:
        raise ValidationError("is missing", field=f"{where}.id")
    if not isinstance(name, str) or not name:
        raise ValidationError("is missing", field=f"{where}.function.name")
    if isinstance(arguments, Mapping):
        arguments = json_encode(arguments).decode()
    if not isinstance(arguments, str):
        raise ValidationError("must be a JSON string", field=f"{where}.function.arguments")
    signature, item_id = raw.get("signature"), raw.get("item_id")
    if signature is not None and not isinstance(signature, str):
        raise ValidationError("must be a string", field=f"{where}.signature")
    if item_id is not None and not isinstance(item_id, str):
        raise ValidationError("must be a string", field=f"{where}.item_id")
    return ToolCall(
        id=call_id, name=name, arguments=arguments, signature=signature, item_id=item_id
    )


def _tool(raw: Any, index: int) -> Tool:
    where = f"tools[{index}]"
    if isinstance(raw, Tool):
        tool = raw
    elif isinstance(raw, Mapping):
        if raw.get("type", "function") != "function":
            raise ValidationError("only function tools are supported", field=f"{where}.type")
        function = raw.get("function", raw)
        if not isinstance(function, Mapping):
            raise ValidationError("must be an object", field=f"{where}.function")
        params = function.get("parameters", {"type": "object", "properties": {}})
        tool = Tool(
            name=function.get("name"),  # type: ignore[arg-type]  # checked below
            description=function.get("description"),
            parameters=params,
            strict=function.get("strict"),
            cache=_cache_key(raw, where) or _cache_key(function, f"{where}.function"),
        )
        where = f"{where}.function"
    else:
        raise ValidationError("must be a tool dict or an agent_adapter.Tool", field=where)
    cache_of(tool.cache, f"{where}.cache")
    if not isinstance(tool.name, str) or not _NAME.match(tool.name):
        raise ValidationError(
            "must be 1-64 characters of letters, digits, _ or -", field=f"{where}.name"
        )
    if not isinstance(tool.parameters, Mapping):
        raise ValidationError("must be a JSON Schema object", field=f"{where}.parameters")
    if tool.parameters.get("type", "object") != "object":
        raise ValidationError(
            'must be a JSON Schema with "type": "object"', field=f"{where}.parameters.type"
        )
    props = tool.parameters.get("properties", {})
    if not isinstance(props, Mapping):
        raise ValidationError("must be an object", field=f"{where}.parameters.properties")
    required = tool.parameters.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        raise ValidationError(
            "must list only declared properties", field=f"{where}.parameters.required"
        )
    return tool


def _tool_choice(raw: Any, tools: list[Tool] | None) -> str | dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw in _TOOL_CHOICES:
        if raw != "none" and not tools:
            raise ValidationError(f"{raw!r} needs tools", field="tool_choice")
        return str(raw)
    if isinstance(raw, Mapping):
        function = raw.get("function")
        name = function.get("name") if isinstance(function, Mapping) else raw.get("name")
        if not isinstance(name, str):
            raise ValidationError("must name a function", field="tool_choice.function.name")
        if not tools or all(t.name != name for t in tools):
            raise ValidationError(f"names unknown tool {name!r}", field="tool_choice")
        return {"type": "function", "function": {"name": name}}
    raise ValidationError(
        "must be 'auto', 'none', 'required' or {'type': 'function', 'function': {'name': ...}}",
        field="tool_choice",
    )


def _reasoning(raw: Any) -> str | dict[str, Any] | None:
    if raw is None or (isinstance(raw, str) and raw in _EFFORTS):
        return raw
    if isinstance(raw, Mapping):
        budget, effort = raw.get("budget_tokens"), raw.get("effort")
        if budget is not None:
            _integer("reasoning.budget_tokens", budget, 0)
        if effort is not None and effort not in _EFFORTS:
            raise ValidationError(f"unknown effort {effort!r}", field="reasoning.effort")
        if budget is None and effort is None:
            raise ValidationError("needs budget_tokens or effort", field="reasoning")
        return dict(raw)
    raise ValidationError(
        f"must be an effort ({', '.join(sorted(_EFFORTS))}) or {{'budget_tokens': N}}",
        field="reasoning",
    )


def response_format_of(raw: Any) -> ResponseFormat | None:
    """A ``ResponseFormat`` from a Struct type, an OpenAI-shaped dict or a bare JSON Schema."""
    if raw is None or isinstance(raw, ResponseFormat):
        return raw
    if isinstance(raw, type) and issubclass(raw, msgspec.Struct):
        schema = inline_refs(msgspec.json.schema(raw))
        strict = _all_required(schema)
        if strict:
            _close_objects(schema)
        return ResponseFormat(name=raw.__name__, schema=schema, strict=strict, struct_type=raw)
    if isinstance(raw, Mapping):
        kind = raw.get("type")
        if kind == "json_object":
            return ResponseFormat(type="json_object")
        if kind == "json_schema":
            spec = raw.get("json_schema")
            if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
                raise ValidationError(
                    "needs a 'schema' object", field="response_format.json_schema"
                )
            return ResponseFormat(
                name=str(spec.get("name") or "response"),
                schema=dict(spec["schema"]),
                strict=bool(spec.get("strict", True)),
            )
        if "properties" in raw or kind == "object":
            return ResponseFormat(schema=dict(raw), strict=False)
    raise ValidationError(
        "must be a msgspec.Struct type, a JSON Schema, or "
        "{'type': 'json_schema' | 'json_object', ...}",
        field="response_format",
    )


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace ``$ref``s into ``$defs`` by the definitions, which every provider accepts.

    Recursive types cannot be inlined and are rejected.
    """
    defs = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref[len("#/$defs/") :]
                if name in seen:
                    raise ValidationError(
                        f"recursive type {name!r} cannot be sent as a schema",
                        field="response_format",
                    )
                return resolve(defs[name], (*seen, name))
            return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v, seen) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved


def _all_required(schema: Any) -> bool:
    """Whether every object in the schema requires all its properties (OpenAI strict mode)."""
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict) and set(schema.get("required", [])) != set(props):
            return False
        return all(_all_required(v) for v in schema.values())
    if isinstance(schema, list):
        return all(_all_required(v) for v in schema)
    return True


def _close_objects(schema: Any) -> None:
    """Add ``additionalProperties: false`` to every object, as strict mode requires."""
    if isinstance(schema, dict):
        if isinstance(schema.get("properties"), dict):
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _close_objects(value)
    elif isinstance(schema, list):
        for value in schema:
            _close_objects(value)
