"""What the fake providers (``fake_<provider>.py``) share, whatever their wire format.

The fakes answer alike on purpose (a tool call when the user has just spoken,
JSON that follows a requested schema, deterministic embeddings), so the logic
behind those answers lives here once; each fake keeps only its provider's
shapes: routes, field names, error bodies and stream framing.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection, Iterable
from typing import Any

import msgspec

__all__ = [
    "arguments",
    "example",
    "functions",
    "inputs",
    "json_answer",
    "obj",
    "pick_tool",
    "pieces",
    "text_of",
    "tokens",
    "vector",
]

_encode = msgspec.json.Encoder().encode
_WORD = re.compile(r"\s*\S+|\s+")
_SCALARS: dict[str, Any] = {"integer": 1, "number": 1.5, "boolean": True, "null": None}
_MAX_DEPTH = 8


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``: request bodies are untrusted."""
    return value if isinstance(value, dict) else {}


def tokens(text: str | bytes) -> int:
    """A rough token count (about four UTF-8 bytes a token), never below one."""
    size = len(text) if isinstance(text, bytes) else len(text.encode())
    return max(1, (size + 3) // 4)


def text_of(content: Any) -> str:
    """The text in a message's content: a string, a list of parts, or a Gemini ``Content``.

    Only text parts count (a part with a ``text`` string and no type, or type ``text``).
    """
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = content.get("parts")
    if not isinstance(content, list):
        return ""
    return " ".join(
        p["text"]
        for p in content
        if isinstance(p, dict)
        and isinstance(p.get("text"), str)
        and p.get("type", "text") == "text"
    )


def pieces(text: str, size: int) -> list[str]:
    """``text`` cut as a model streams it: words with their leading space, at most ``size`` long.

    Joined again they give ``text`` exactly; an empty text has no pieces.
    """
    return [word[i : i + size] for word in _WORD.findall(text) for i in range(0, len(word), size)]


def vector(text: str, size: int) -> list[float]:
    """A unit vector of ``size`` floats drawn from the text's hash: equal texts, equal vectors."""
    blocks = (hashlib.sha256(f"{n}:{text}".encode()).digest() for n in range(size // 32 + 1))
    raw = [(b - 127.5) / 127.5 for b in b"".join(blocks)[:size]]
    norm = math.sqrt(sum(x * x for x in raw))  # never 0: no byte maps to 0.0
    return [round(x / norm, 6) for x in raw]


def example(schema: Any, string: str = "Paris") -> Any:
    """A small value that satisfies a JSON Schema (or a Gemini ``Schema``), good enough for a demo.

    Takes the first ``enum`` value or ``const``, the first non-null alternative
    of a type list or ``anyOf``/``oneOf``, follows local ``$ref``s, fills every
    required property (all of them when none is marked) and one array item;
    strings are ``string``. Deep or recursive schemas are cut off with empty
    containers, which may not validate.
    """
    root = schema if isinstance(schema, dict) else {}

    def value(node: Any, depth: int) -> Any:
        if not isinstance(node, dict):
            return string
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if depth >= 2 * _MAX_DEPTH:  # a $ref that leads only to itself
                return None
            target: Any = root
            for key in ref[2:].split("/"):
                target = obj(target).get(key)
            return value(target, depth + 1)
        if node.get("enum"):
            return node["enum"][0]
        if "const" in node:
            return node["const"]
        choices = node.get("anyOf") or node.get("oneOf") or node.get("allOf")
        if "type" not in node and isinstance(choices, list) and choices:
            usable = [c for c in choices if obj(c).get("type") != "null"] or choices
            return value(usable[0], depth + 1)
        kind = node.get("type", "object" if "properties" in node else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        kind = str(kind).lower()  # Gemini spells types in capitals
        if kind == "object":
            props = obj(node.get("properties"))
            required = node.get("required")
            names = required if isinstance(required, list) and required else list(props)
            if depth >= _MAX_DEPTH:
                return {}
            return {
                k: value(props[k], depth + 1) for k in names if isinstance(k, str) and k in props
            }
        if kind == "array":
            if depth >= _MAX_DEPTH:
                return []
            count = node.get("minItems")
            return [value(node.get("items"), depth + 1)] * max(
                1, count if isinstance(count, int) else 1
            )
        return _SCALARS.get(kind, string)

    return value(schema, 0)


def arguments(schema: Any, string: str = "Paris") -> dict[str, Any]:
    """Tool-call arguments for a parameters schema: always a JSON object."""
    value = example(schema if isinstance(schema, dict) else {"type": "object"}, string)
    return value if isinstance(value, dict) else {}


def json_answer(schema: Any, prose: str) -> str:
    """The text of a JSON-mode answer: an example of ``schema``, else ``{"answer": prose}``."""
    value = example(schema) if isinstance(schema, dict) else {"answer": prose}
    return _encode(value).decode()


def inputs(value: Any) -> list[str] | None:
    """An embeddings request's ``input`` as a list of strings; None when it is neither shape."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def functions(tools: Any) -> list[dict[str, Any]]:
    """The ``function`` objects of OpenAI-shaped tools (OpenAI, Zhipu, Ollama)."""
    if not isinstance(tools, list):
        return []
    return [
        t["function"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]


def pick_tool(
    tools: Iterable[Any], allowed: Collection[str] | None = None
) -> dict[str, Any] | None:
    """The tool the fake model calls: the first allowed one, else the first with a name."""
    named = [t for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
    chosen = [t for t in named if t["name"] in allowed] if allowed else []
    return next(iter(chosen or named), None)
