"""The OpenAI-compatible endpoints: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/models``.

Bodies are read with ``openai_format.chat_params`` (so a field we would
have to ignore is a 400 naming it, not silently dropped) and answered with
``chat_completion`` / ``ChunkEncoder`` / ``embedding_list``, so the official
SDKs work unchanged against ``base_url="http://HOST:PORT/v1"``. A field sent
as ``null`` or ``false`` asks for nothing and is let through, as clients
that send every field with its default expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from ..openai_format import BODY_FIELDS, ChunkEncoder, chat_completion, chat_params, embedding_list
from ..resilience import estimate_embed_tokens
from ..validation import build_embed_request
from .http import Problem, stream_flag
from .limits import Ticket
from .relay import guarded, serve_chat, settled

if TYPE_CHECKING:
    from ..types import EmbedResponse
    from .app import Gateway
    from .http import Exchange
    from .settings import KeySettings

__all__ = ["ChatCall", "chat", "chat_call", "embeddings", "model", "models"]

_json = msgspec.json.Encoder().encode
_EMBED_FIELDS = frozenset(("model", "input", "dimensions", "encoding_format", "user"))
_OWNER = "agent-adapter"


class ChatCall(NamedTuple):
    """A chat completions body, read: the model, the ``chat()`` keywords, how to answer."""

    model: str
    params: dict[str, Any]
    stream: bool
    include_usage: bool


def chat_call(gateway: Gateway, body: dict[str, Any], key: KeySettings | None) -> ChatCall:
    """Read a chat completions ``body`` for ``key`` (400/403/404 before any I/O or quota).

    Shared by ``POST /v1/chat/completions`` and the WebSocket's ``chat``
    messages, so both refuse and accept exactly the same bodies.
    """
    stream = stream_flag(body.pop("stream", None))
    include_usage = _include_usage(body.pop("stream_options", None), stream)
    params = chat_params(
        {k: v for k, v in body.items() if k in BODY_FIELDS or (v is not None and v is not False)},
        where="",
    )
    model = gateway.check_model(params.pop("model"), key)
    return ChatCall(model, params, stream, include_usage)


async def chat(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``POST /v1/chat/completions``, streamed (SSE) or not."""
    body = await gateway.json_body(exchange)
    model, params, stream, include_usage = chat_call(gateway, body, key)
    await serve_chat(
        gateway,
        exchange,
        key,
        model,
        params,
        stream=stream,
        encoder=lambda: ChunkEncoder(model=model, include_usage=include_usage),
        render=lambda response: _json(chat_completion(response, model=model)),
    )


async def embeddings(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``POST /v1/embeddings``: float lists, or base64 float32 as the SDKs ask by default."""
    body = await gateway.json_body(exchange)
    unknown = sorted(k for k, v in body.items() if k not in _EMBED_FIELDS and v is not None)
    if unknown:
        raise Problem(
            400,
            f"{unknown[0]}: is not supported (supported: {', '.join(sorted(_EMBED_FIELDS))})",
            param=unknown[0],
        )
    for name in ("model", "input"):
        if name not in body:
            raise Problem(400, f"{name}: is missing", param=name)
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise Problem(400, "encoding_format: must be float or base64", param="encoding_format")
    model = exchange.model = gateway.check_model(body["model"], key)
    request = build_embed_request(model, body["input"], dimensions=body.get("dimensions"))
    ticket = Ticket(estimate_embed_tokens(request) if gateway.wants_tokens(key) else 0)

    async def whole() -> EmbedResponse:
        response = await gateway.router.embed(
            model=model, input=request.input, dimensions=request.dimensions
        )
        listed = embedding_list(response, model=model, encoding_format=fmt)
        await exchange.respond(200, _json(listed))
        return response

    async def answer(ticket: Ticket) -> EmbedResponse:
        return await guarded(exchange, whole)

    response = await settled(gateway, key, ticket, stream=False, answer=answer)
    exchange.usage = response.usage


async def models(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``GET /v1/models``: the groups (and direct models) this key may use."""
    data = [_model(name) for name in gateway.served_models(key)]
    await exchange.respond(200, _json({"object": "list", "data": data}))


async def model(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``GET /v1/models/{name}``: one of them, or 404."""
    name = exchange.path[len("/v1/models/") :]
    if name not in gateway.served_models(key):
        raise Problem(
            404,
            f"The model `{name}` does not exist or is not served here",
            param="model",
            code="model_not_found",
        )
    await exchange.respond(200, _json(_model(name)))


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": _OWNER}


def _include_usage(options: Any, stream: bool) -> bool:
    """``stream_options.include_usage``, checked as OpenAI checks it."""
    if options is None:
        return False
    if not stream:
        raise Problem(
            400, "stream_options: only allowed when stream is true", param="stream_options"
        )
    if not isinstance(options, dict):
        raise Problem(400, "stream_options: must be an object", param="stream_options")
    unknown = sorted(set(options) - {"include_usage", "include_obfuscation"})
    if unknown:
        raise Problem(
            400,
            f"stream_options.{unknown[0]}: is not supported",
            param=f"stream_options.{unknown[0]}",
        )
    value = options.get("include_usage", False)
    if not isinstance(value, bool):
        raise Problem(
            400, "stream_options.include_usage: must be true or false", param="stream_options"
        )
    return value
