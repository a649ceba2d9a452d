"""Request encoding: an OpenAI-shaped ``ChatRequest`` as a Messages API body.

The history itself (system, turns, content blocks) is ``history.py``; this
module adds the rest of the body: ``max_tokens``, thinking, tools, tool
choice, structured output, sampling. The choices behind ``max_tokens``,
reasoning and structured output are listed in the package docstring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from ...errors import ValidationError
from ...types import ChatRequest, Tool
from ..base import json_encode
from .history import MAX_BREAKPOINTS, encode_history, mark
from .wire import STRUCTURED_TOOL_PREFIX

__all__ = [
    "COUNT_FIELDS",
    "DEFAULT_MAX_TOKENS",
    "count_body",
    "finish_headers",
    "request_body",
    "thinking_style",
]

API_VERSION: Final = b"2023-06-01"
DEFAULT_MAX_TOKENS: Final = 4096
"""``max_tokens`` sent when the caller gives none (the API requires one)."""
ADAPTIVE_MAX_TOKENS: Final = 16384
"""Default ``max_tokens`` with adaptive thinking: thinking counts against it."""
_FILES_BETA: Final = b"files-api-2025-04-14"
COUNT_FIELDS: Final = frozenset(
    ("model", "messages", "system", "tools", "tool_choice", "thinking", "output_config")
)
"""The Messages body fields the token-counting endpoint takes."""

_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh", "max": "max"}  # fmt: skip
_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384,
           "xhigh": 24576, "max": 24576}  # fmt: skip
_OFF = frozenset({"none", "off", "disabled"})

_VERSION = re.compile(r"claude-(?:[a-z]+-)*(\d+)(?:[-.](\d{1,2})(?!\d))?")

ThinkingStyle = Literal["budget", "adaptive", "adaptive_only"]


def request_body(request: ChatRequest, options: Mapping[str, Any]) -> tuple[bytes, bool]:
    """The ``/v1/messages`` body for ``request``, and whether it uses the files beta.

    ``options`` are the adapter's: ``thinking``, ``structured_output``, ``max_tokens``.
    """
    body, files = _request_fields(request, options)
    return json_encode(body), files


def count_body(request: ChatRequest, options: Mapping[str, Any]) -> tuple[bytes, bool]:
    """The ``/v1/messages/count_tokens`` body: the Messages body's prompt fields only.

    The same encoding as ``request_body`` (so the count is of what a call
    would send), minus what the endpoint rejects (``max_tokens``, ``stream``,
    sampling, metadata); https://docs.anthropic.com/en/api/messages-count-tokens
    """
    body, files = _request_fields(request, options)
    return json_encode({k: v for k, v in body.items() if k in COUNT_FIELDS}), files


def _request_fields(
    request: ChatRequest, options: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The Messages body as a dict (``extra`` merged), and whether it uses the files beta."""
    history = encode_history(request.messages)
    system, turns = history.system, history.turns
    if not turns:
        raise ValidationError("no user or assistant message to send", field="messages")
    body: dict[str, Any] = {"model": request.model}
    thinking, effort, budget = _thinking(request, options)
    body["max_tokens"] = _max_tokens(request, thinking, budget, options)
    if system is not None:
        body["system"] = system
    body["messages"] = turns
    output_config: dict[str, Any] = {}
    if effort is not None:
        output_config["effort"] = effort
    tools = [
        _encode_tool(tool, i, history.breakpoints) for i, tool in enumerate(request.tools or ())
    ]
    _check_breakpoints(history.breakpoints)
    choice = _encode_tool_choice(request) if tools else None
    thinking_on = thinking is not None and thinking["type"] != "disabled"
    fmt = request.response_format
    if fmt is not None:
        native = thinking_on or options.get("structured_output") == "native"
        schema = fmt.schema if fmt.type == "json_schema" and fmt.schema else {"type": "object"}
        if native:
            output_config["format"] = {"type": "json_schema", "schema": schema}
        else:
            name = STRUCTURED_TOOL_PREFIX + _tool_safe(fmt.name)
            tools.append(
                {
                    "name": name,
                    "description": "Give your final answer by calling this tool; "
                    "its input is the answer, matching the schema.",
                    "input_schema": schema,
                }
            )
            if choice is None or choice["type"] == "none":
                choice = {"type": "tool", "name": name}
            elif choice["type"] == "auto":  # call a real tool or answer, but call one
                choice = {**choice, "type": "any"}
    if thinking_on:
        if choice is not None and choice["type"] in ("any", "tool"):
            raise ValidationError(
                "forced tool use is not compatible with extended thinking", field="tool_choice"
            )
        if request.temperature is not None and request.temperature != 1:
            raise ValidationError(
                "temperature cannot be changed while thinking is on", field="temperature"
            )
        if request.top_k is not None:
            raise ValidationError("top_k cannot be set while thinking is on", field="top_k")
    if tools:
        body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
    if thinking is not None:
        body["thinking"] = thinking
    if output_config:
        body["output_config"] = output_config
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.stream:
        body["stream"] = True
    if request.extra:
        body.update(request.extra)
    return body, history.files


def finish_headers(headers: list[tuple[bytes, bytes]], *, stream: bool, files_beta: bool) -> None:
    """Add ``anthropic-version`` (unless given), SSE ``accept`` and the files beta, in place."""
    names = {name for name, _ in headers}
    if b"anthropic-version" not in names:
        headers.append((b"anthropic-version", API_VERSION))
    if stream:
        headers[:] = [(n, b"text/event-stream" if n == b"accept" else v) for n, v in headers]
    if files_beta:
        for i, (name, value) in enumerate(headers):
            if name == b"anthropic-beta":
                if _FILES_BETA not in value:
                    headers[i] = (name, value + b"," + _FILES_BETA)
                break
        else:
            headers.append((b"anthropic-beta", _FILES_BETA))


def thinking_style(model: str, forced: object = None) -> ThinkingStyle:
    """How ``model`` takes thinking: a budget, adaptive, or adaptive only.

    Claude 4.6 accepts both; 4.7 and later reject budgets; 4.5 and earlier
    know only budgets. A name we cannot date counts as new. ``forced`` (the
    ``thinking`` option), ``"budget"`` or ``"adaptive"``, overrides the guess.
    """
    if forced == "budget":
        return "budget"
    if forced == "adaptive":
        return "adaptive_only"
    match = _VERSION.search(model)
    if match is None:
        return "adaptive_only"
    version = (int(match.group(1)), int(match.group(2) or 0))
    if version >= (4, 7):
        return "adaptive_only"
    if version >= (4, 6):
        return "adaptive"
    return "budget"


def _thinking(
    request: ChatRequest, options: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None, int | None]:
    """``(thinking config, output_config effort, budget)`` for ``request.reasoning``."""
    reasoning = request.reasoning
    if reasoning is None:
        return None, None, None
    level: str | None = None
    budget: int | None = None
    if isinstance(reasoning, str):
        level = reasoning.lower()
    elif isinstance(reasoning, dict):
        raw_budget = reasoning.get("budget_tokens")
        raw_effort = reasoning.get("effort")
        if raw_budget is not None:
            if isinstance(raw_budget, bool) or not isinstance(raw_budget, int):
                raise ValidationError("must be an integer", field="reasoning.budget_tokens")
            budget = raw_budget
        elif isinstance(raw_effort, str):
            level = raw_effort.lower()
        else:
            raise ValidationError(
                "expected an effort level or {'budget_tokens': N}", field="reasoning"
            )
    if level is not None and level in _OFF:
        return {"type": "disabled"}, None, None
    if level is not None and level not in _EFFORT:
        raise ValidationError(f"unknown effort level {level!r}", field="reasoning")
    style = thinking_style(request.model, options.get("thinking"))
    if budget is not None:
        if budget == 0:
            return {"type": "disabled"}, None, None
        if style != "adaptive_only":
            if budget < 1024:
                raise ValidationError(
                    "Anthropic needs a thinking budget of at least 1024 tokens",
                    field="reasoning.budget_tokens",
                )
            return {"type": "enabled", "budget_tokens": budget}, None, budget
        level = "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"
    assert level is not None
    if style == "budget":
        budget = _BUDGET[level]
        limit = request.max_tokens
        if limit is not None and budget >= limit:
            budget = max(1024, limit // 2)
            if budget >= limit:
                raise ValidationError(
                    "too small for thinking (the budget needs at least 1024 tokens "
                    "below max_tokens)",
                    field="max_tokens",
                )
        return {"type": "enabled", "budget_tokens": budget}, None, budget
    return {"type": "adaptive"}, _EFFORT[level], None


def _max_tokens(
    request: ChatRequest,
    thinking: dict[str, Any] | None,
    budget: int | None,
    options: Mapping[str, Any],
) -> int:
    if request.max_tokens is not None:
        if budget is not None and request.max_tokens <= budget:
            raise ValidationError(
                f"must exceed the thinking budget ({budget} tokens)", field="max_tokens"
            )
        return request.max_tokens
    default = int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)
    if budget is not None:
        return max(default, budget + DEFAULT_MAX_TOKENS)
    if thinking is not None and thinking.get("type") == "adaptive":
        return max(default, ADAPTIVE_MAX_TOKENS)
    return default


def _check_breakpoints(breakpoints: list[str]) -> None:
    """At most four ``cache_control`` blocks per request, as Anthropic allows."""
    if len(breakpoints) > MAX_BREAKPOINTS:
        raise ValidationError(
            f"Anthropic allows at most {MAX_BREAKPOINTS} cache breakpoints per request; "
            f"this is number {MAX_BREAKPOINTS + 1} (of {len(breakpoints)})",
            field=breakpoints[MAX_BREAKPOINTS],
        )


def _encode_tool(tool: Tool, index: int, breakpoints: list[str]) -> dict[str, Any]:
    schema = tool.parameters
    if "type" not in schema:
        schema = {"type": "object", **schema}
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["input_schema"] = schema
    if tool.strict is not None:
        out["strict"] = tool.strict
    mark(out, tool.cache, f"tools[{index}].cache", breakpoints)
    return out


def _encode_tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    out: dict[str, Any]
    if choice is None:
        out = {"type": "auto"}
    elif choice in ("auto", "any", "none"):
        out = {"type": choice}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict):
        kind = choice.get("type")
        function = choice.get("function")
        if kind == "function" and isinstance(function, dict) and function.get("name"):
            out = {"type": "tool", "name": function["name"]}
        elif (kind == "tool" and choice.get("name")) or kind in ("auto", "any", "none"):
            out = dict(choice)
        else:
            raise ValidationError("unrecognised tool_choice", field="tool_choice")
    else:
        raise ValidationError("unrecognised tool_choice", field="tool_choice")
    if request.parallel_tool_calls is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    elif request.tool_choice is None and request.parallel_tool_calls is None:
        return None  # the API's default (auto) needs no field
    return out


def _tool_safe(name: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[: 64 - len(STRUCTURED_TOOL_PREFIX)]
    return cleaned or "response"
