"""The Anthropic-compatible endpoints: ``/v1/messages`` and ``/v1/messages/count_tokens``.

A Messages request is read into our chat keywords (``anthropic_format``),
routed like any other, and answered in Anthropic's shape and event protocol,
whichever provider served it, so the official ``anthropic`` SDK works with
``base_url="http://HOST:PORT"``. ``count_tokens`` answers the provider's own
count where it has one (Anthropic, Gemini: ``Router.count_tokens``), else our
estimate (no tokenizer, no upstream call), and then says so: ``"estimated":
true`` in the body and an ``x-token-count: estimate`` header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .anthropic_format import EventEncoder, message_object, messages_params
from .http import stream_flag
from .relay import guarded, serve_chat

if TYPE_CHECKING:
    from ..types import TokenCount
    from .app import Gateway
    from .http import Exchange
    from .settings import KeySettings

__all__ = ["count_tokens", "messages"]

_json = msgspec.json.Encoder().encode


async def messages(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``POST /v1/messages``, streamed (Anthropic's events) or not."""
    body = await gateway.json_body(exchange)
    stream = stream_flag(body.get("stream"))
    params = messages_params(body)
    model = gateway.check_model(params.pop("model"), key)
    await serve_chat(
        gateway,
        exchange,
        key,
        model,
        params,
        stream=stream,
        encoder=lambda: EventEncoder(model=model),
        render=lambda response: _json(message_object(response, model=model)),
    )


async def count_tokens(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``POST /v1/messages/count_tokens``: the provider's count, else our estimate, marked.

    No rpm quota is spent; a client that leaves cancels the upstream count.
    """
    body = await gateway.json_body(exchange)
    params = messages_params(body, count=True)
    model = gateway.check_model(params.pop("model"), key)
    exchange.model = model

    async def count() -> TokenCount:
        return await gateway.router.count_tokens(model=model, **params)

    counted = await guarded(exchange, count)
    if not counted.estimated:
        await exchange.respond(200, _json({"input_tokens": counted.input_tokens}))
        return
    await exchange.respond(
        200,
        _json({"input_tokens": counted.input_tokens, "estimated": True}),
        headers=[(b"x-token-count", b"estimate")],
    )
