"""JSON Schema → Gemini ``Schema`` (the OpenAPI 3.0 subset ``parameters``/``responseSchema`` take).

Gemini's ``Schema`` object knows ``type`` (upper-case), ``format``,
``description``, ``nullable``, ``enum`` (strings), ``properties``,
``required``, ``propertyOrdering``, ``items``, ``minItems``/``maxItems``,
``minLength``/``maxLength``, ``pattern``, ``minimum``/``maximum``,
``minProperties``/``maxProperties``, ``anyOf`` and ``example``. Tool and
response schemas written for OpenAI use plain JSON Schema, so this module
rewrites them:

* kept as is: the keywords above;
* converted: ``type`` arrays (``["string", "null"]`` → ``nullable``; several
  types → ``anyOf``), ``anyOf``/``oneOf`` with a ``null`` branch →
  ``nullable``, ``oneOf`` → ``anyOf``, ``const`` → one-value ``enum``,
  non-string ``enum`` values → their JSON text, ``allOf`` → merged, local
  ``$ref`` (``#/$defs/...``, ``#/definitions/...``) → inlined,
  ``exclusiveMinimum``/``exclusiveMaximum`` (numbers) → ``minimum``/``maximum``;
* dropped (annotations or constraints whose loss only widens what is
  accepted): ``$schema``, ``$id``, ``$comment``, ``$defs``, ``title``,
  ``default``, ``examples``, ``additionalProperties``,
  ``unevaluatedProperties``, ``uniqueItems``, ``multipleOf``, ``readOnly``,
  ``writeOnly``, ``deprecated``, ``content*`` and unknown ``x-`` keywords;
* rejected with a ``ValidationError`` naming the field: recursive or
  non-local ``$ref``, ``not``, ``if``/``then``/``else``,
  ``patternProperties``, ``propertyNames``, ``prefixItems`` and tuple
  ``items``, ``contains``, ``dependent*``, and the ``false`` schema — they
  change which values are valid and Gemini has no way to say so.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...errors import ValidationError

__all__ = ["to_gemini_schema"]

_MAX_DEPTH = 64

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
    "null": "NULL",
}

# Keywords copied unchanged (their values are scalars or string lists).
_COPY = (
    "description",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "required",
    "propertyOrdering",
    "example",
    "nullable",
)

_DROP = frozenset(
    {
        "$schema",
        "$id",
        "$anchor",
        "$comment",
        "$defs",
        "definitions",
        "title",
        "default",
        "examples",
        "additionalProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "uniqueItems",
        "multipleOf",
        "readOnly",
        "writeOnly",
        "deprecated",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
        "discriminator",
        "strict",
    }
)

_REJECT = {
    "not": "'not' cannot be expressed in Gemini's schema subset",
    "if": "conditional schemas (if/then/else) are not supported by Gemini",
    "then": "conditional schemas (if/then/else) are not supported by Gemini",
    "else": "conditional schemas (if/then/else) are not supported by Gemini",
    "patternProperties": "'patternProperties' is not supported by Gemini",
    "propertyNames": "'propertyNames' is not supported by Gemini",
    "prefixItems": "tuple schemas ('prefixItems') are not supported by Gemini",
    "contains": "'contains' is not supported by Gemini",
    "minContains": "'minContains' is not supported by Gemini",
    "maxContains": "'maxContains' is not supported by Gemini",
    "dependentSchemas": "'dependentSchemas' is not supported by Gemini",
    "dependentRequired": "'dependentRequired' is not supported by Gemini",
    "dependencies": "'dependencies' is not supported by Gemini",
    "$dynamicRef": "'$dynamicRef' is not supported by Gemini",
    "$recursiveRef": "'$recursiveRef' is not supported by Gemini",
}

_STRUCTURAL = frozenset(
    {"type", "properties", "items", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"}
)

_json = msgspec.json.Encoder()


def to_gemini_schema(schema: Any, *, field: str) -> dict[str, Any]:
    """Convert a JSON Schema to Gemini's ``Schema``; ``field`` prefixes error paths.

    Raises ``ValidationError`` (with ``field`` pointing inside the schema)
    for constructs Gemini cannot express.
    """
    if not isinstance(schema, dict):
        raise ValidationError("a JSON Schema must be an object", field=field)
    return _Converter(schema).convert(schema, field, 0, ())


class _Converter:
    """One conversion: holds the root (for ``$ref``) while walking the tree."""

    __slots__ = ("root",)

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def convert(self, schema: Any, path: str, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise ValidationError("schema is nested too deeply", field=path)
        if schema is True:
            return {}
        if schema is False or not isinstance(schema, dict):
            raise ValidationError("expected a schema object", field=path)
        for key in schema:
            if key in _REJECT:
                raise ValidationError(_REJECT[key], field=f"{path}.{key}")
        if "$ref" in schema:
            schema = self._resolve(schema, path, refs)
            refs = (*refs, schema.pop("\0ref"))
        if "allOf" in schema:
            schema = self._merge_all_of(schema, path, depth, refs)
        return self._convert_plain(schema, path, depth, refs)

    def _convert_plain(
        self, schema: dict[str, Any], path: str, depth: int, refs: tuple[str, ...]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        nullable = False

        raw_type = schema.get("type")
        if isinstance(raw_type, list):
            types = [t for t in raw_type if t != "null"]
            nullable = len(types) < len(raw_type)
            if len(types) > 1:
                # Several types: one branch per type, the rest of the schema applies to each.
                branches = [
                    self._convert_plain({**schema, "type": t}, f"{path}.type[{i}]", depth + 1, refs)
                    for i, t in enumerate(types)
                ]
                for b in branches:
                    b.pop("description", None)
                result: dict[str, Any] = {"anyOf": branches}
                if isinstance(schema.get("description"), str):
                    result["description"] = schema["description"]
                if nullable:
                    result["nullable"] = True
                return result
            raw_type = types[0] if types else "null"
        if raw_type is not None:
            if not isinstance(raw_type, str) or raw_type not in _TYPES:
                raise ValidationError(f"unknown type {raw_type!r}", field=f"{path}.type")
            out["type"] = _TYPES[raw_type]

        for key in _COPY:
            if key in schema:
                out[key] = schema[key]
        if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], int | float):
            out.setdefault("minimum", schema["exclusiveMinimum"])
        if "exclusiveMaximum" in schema and isinstance(schema["exclusiveMaximum"], int | float):
            out.setdefault("maximum", schema["exclusiveMaximum"])

        if "const" in schema:
            self._enum(out, [schema["const"]], f"{path}.const")
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list) or not values:
                raise ValidationError("'enum' must be a non-empty array", field=f"{path}.enum")
            self._enum(out, values, f"{path}.enum")

        props = schema.get("properties")
        if props is not None:
            if not isinstance(props, dict):
                raise ValidationError("'properties' must be an object", field=f"{path}.properties")
            out["properties"] = {
                name: self.convert(sub, f"{path}.properties.{name}", depth + 1, refs)
                for name, sub in props.items()
            }
            out.setdefault("type", "OBJECT")

        if "items" in schema:
            items = schema["items"]
            if isinstance(items, list):
                raise ValidationError(
                    "tuple schemas (an 'items' array) are not supported by Gemini",
                    field=f"{path}.items",
                )
            out["items"] = self.convert(items, f"{path}.items", depth + 1, refs)
            out.setdefault("type", "ARRAY")

        branches_key = "anyOf" if "anyOf" in schema else "oneOf" if "oneOf" in schema else None
        if branches_key is not None:
            raw = schema[branches_key]
            if not isinstance(raw, list) or not raw:
                raise ValidationError(
                    f"'{branches_key}' must be a non-empty array", field=f"{path}.{branches_key}"
                )
            branches = []
            for i, sub in enumerate(raw):
                if isinstance(sub, dict) and sub.get("type") == "null" and len(sub) == 1:
                    nullable = True
                    continue
                branches.append(self.convert(sub, f"{path}.{branches_key}[{i}]", depth + 1, refs))
            if len(branches) == 1 and not (out.keys() & {"type", "properties", "items", "enum"}):
                single = branches[0]
                for key, value in single.items():
                    out.setdefault(key, value)
            elif branches:
                out["anyOf"] = branches

        if nullable and out.get("type") != "NULL":
            out["nullable"] = True
        return out

    def _enum(self, out: dict[str, Any], values: list[Any], path: str) -> None:
        """Gemini enums are strings: keep strings, write other scalars as their JSON text."""
        strings: list[str] = []
        for value in values:
            if value is None:
                out["nullable"] = True
            elif isinstance(value, str):
                strings.append(value)
            elif isinstance(value, bool | int | float):
                strings.append(_json.encode(value).decode())
            else:
                raise ValidationError("enum values must be scalars", field=path)
        if strings:
            out["enum"] = strings
            out.setdefault("type", "STRING")

    def _resolve(self, schema: dict[str, Any], path: str, refs: tuple[str, ...]) -> dict[str, Any]:
        """Inline a local ``$ref``; siblings of ``$ref`` (description, ...) are kept."""
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ValidationError(
                f"only local '$ref's (#/...) can be inlined, got {ref!r}", field=f"{path}.$ref"
            )
        if ref in refs:
            raise ValidationError(
                f"recursive '$ref' {ref!r} cannot be expressed in Gemini's schema subset",
                field=f"{path}.$ref",
            )
        target: Any = self.root
        for token in ref[1:].split("/")[1:] if ref != "#" else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or token not in target:
                raise ValidationError(f"'$ref' {ref!r} does not resolve", field=f"{path}.$ref")
            target = target[token]
        if ref == "#":
            raise ValidationError(
                "recursive '$ref' '#' cannot be expressed in Gemini's schema subset",
                field=f"{path}.$ref",
            )
        if not isinstance(target, dict):
            raise ValidationError(f"'$ref' {ref!r} does not resolve", field=f"{path}.$ref")
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        merged["\0ref"] = ref
        return merged

    def _merge_all_of(
        self, schema: dict[str, Any], path: str, depth: int, refs: tuple[str, ...]
    ) -> dict[str, Any]:
        """Fold ``allOf`` into one schema: properties and required unite, the rest must agree."""
        parts = schema["allOf"]
        if not isinstance(parts, list) or not parts:
            raise ValidationError("'allOf' must be a non-empty array", field=f"{path}.allOf")
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for i, part in enumerate(parts):
            where = f"{path}.allOf[{i}]"
            if not isinstance(part, dict):
                raise ValidationError("expected a schema object", field=where)
            for key in part:
                if key in _REJECT:
                    raise ValidationError(_REJECT[key], field=f"{where}.{key}")
            sub_refs = refs
            if "$ref" in part:
                part = self._resolve(part, where, refs)
                sub_refs = (*refs, part.pop("\0ref"))
            if "allOf" in part:
                part = self._merge_all_of(part, where, depth + 1, sub_refs)
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
                elif key in merged and merged[key] != value and key in _STRUCTURAL:
                    raise ValidationError(
                        f"'allOf' parts disagree on '{key}' and cannot be merged", field=where
                    )
                else:
                    merged.setdefault(key, value)
        return merged
