"""Per-call ``extra_headers``, ``extra_query`` and ``extra_body``: checked before I/O, applied once.

The names are openai-python's (https://github.com/openai/openai-python#undocumented-request-params),
so code written for the vendor SDK carries over. The body fields are merged by
each adapter (they know their body's shape); headers and query parameters are
the same for every wire format, so ``with_extras`` applies them to the
adapter's finished ``HttpRequest`` in one place (``Adapter.build``).

Headers that carry the credentials or frame the message cannot be set per
call: a caller overriding ``authorization`` or ``content-length`` would either
leak a key into a place we do not guard or corrupt the HTTP exchange, so
those are a ``ValidationError`` naming the header.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlencode

from .errors import ValidationError

if TYPE_CHECKING:
    from .providers.base import HttpRequest

__all__ = [
    "RESERVED_HEADERS",
    "extra_body_of",
    "extra_headers_of",
    "extra_query_of",
    "with_extras",
]

RESERVED_HEADERS = frozenset(
    {
        # credentials (each provider's scheme)
        "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
        # framing and connection management (RFC 9110 section 7.6.1, RFC 9112)
        "host", "content-length", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "te", "trailer", "upgrade", "expect",
    }
)  # fmt: skip
"""Header names a call may not set: they authenticate or frame the request."""

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 section 5.6.2
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def extra_body_of(extra: Any, extra_body: Any) -> dict[str, Any] | None:
    """The body fields to merge: ``extra_body``, or ``extra`` (its older name), not both."""
    if extra is not None and extra_body is not None:
        raise ValidationError("give extra_body or its alias extra, not both", field="extra_body")
    value, name = (extra_body, "extra_body") if extra_body is not None else (extra, "extra")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError("must be a mapping of body fields", field=name)
    return dict(value) or None


def extra_headers_of(raw: Any) -> dict[str, str] | None:
    """Per-call headers, names lower-cased; reserved names and unsafe values are refused."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValidationError("must be a mapping of header names to values", field="extra_headers")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValidationError(f"{name!r} is not a valid header name", field="extra_headers")
        key = name.lower()
        field = f"extra_headers.{key}"
        if key in RESERVED_HEADERS:
            raise ValidationError(
                "this header authenticates or frames the request and cannot be set per call",
                field=field,
            )
        if not isinstance(value, str):
            raise ValidationError("must be a string", field=field)
        if _BAD_VALUE.search(value):
            raise ValidationError("must not contain CR, LF or NUL", field=field)
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValidationError("must be Latin-1 text (encode it first)", field=field) from None
        headers[key] = value
    return headers or None


def extra_query_of(raw: Any) -> list[tuple[str, str]] | None:
    """Per-call query parameters as ``(name, value)`` text pairs (a list value repeats the name).

    Booleans are sent as ``true``/``false``, as JSON APIs expect, not Python's ``True``.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValidationError("must be a mapping of parameter names to values", field="extra_query")
    pairs: list[tuple[str, str]] = []
    for name, value in raw.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"{name!r} is not a parameter name", field="extra_query")
        field = f"extra_query.{name}"
        values: Iterable[Any] = value if isinstance(value, list | tuple) else (value,)
        for item in values:
            pairs.append((name, _query_value(item, field)))
    return pairs or None


def _query_value(value: Any, field: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValidationError("must be a string, number, boolean or a list of them", field=field)


def with_extras(
    http: HttpRequest,
    headers: Mapping[str, str] | None,
    query: list[tuple[str, str]] | None,
    list_headers: frozenset[bytes] = frozenset(),
) -> HttpRequest:
    """``http`` with the call's headers over the adapter's and its query parameters appended.

    A per-call header replaces every header of that name, except the
    ``list_headers`` (comma-separated lists such as ``anthropic-beta``), whose
    values are added to the adapter's. A per-call query parameter replaces one
    of the same name already in the URL (Azure's ``api-version``, say).
    """
    if not headers and not query:
        return http
    out = list(http.headers)
    for name, value in (headers or {}).items():
        key, raw = name.encode("latin-1"), value.encode("latin-1")
        if key in list_headers:
            items = [v for k, v in out if k.lower() == key]
            raw = _join_list([*items, raw])
        out = [(k, v) for k, v in out if k.lower() != key]
        out.append((key, raw))
    url = _with_query(http.url, query) if query else http.url
    return dataclasses.replace(http, url=url, headers=out)


def _join_list(values: list[bytes]) -> bytes:
    """Comma-separated header values joined, each item once, in order."""
    seen: list[bytes] = []
    for value in values:
        for item in value.split(b","):
            item = item.strip()
            if item and item not in seen:
                seen.append(item)
    return b",".join(seen)


def _with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    base, sep, existing = url.partition("?")
    names = {name for name, _ in pairs}
    kept = [
        piece
        for piece in (existing.split("&") if sep else ())
        if piece and unquote_plus(piece.partition("=")[0]) not in names
    ]
    return f"{base}?{'&'.join([*kept, urlencode(pairs)])}"
