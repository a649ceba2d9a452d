"""The Anthropic-compatible endpoints: ``/v1/messages`` and ``/v1/messages/count_tokens``.

A Messages request is read into our chat keywords (``anthropic_format``),
routed like any other, and answered in Anthropic's shape and event protocol,
whichever provider served it, so the official ``anthropic`` SDK works with
``base_url="http://HOST:PORT"``. ``count_tokens`` answers our estimate (the
token buckets' ``estimate_tokens``, no tokenizer, no upstream call), and says
so: ``"estimated": true`` in the body and an ``x-token-count: estimate`` header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ..resilience import estimate_tokens
from ..resilience.ratelimit import DEFAULT_OUTPUT_TOKENS
from .anthropic_format import EventEncoder, message_object, messages_params
from .http import stream_flag
from .relay import serve_chat

if TYPE_CHECKING:
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
    """``POST /v1/messages/count_tokens``: our estimate of the prompt's tokens, marked as one."""
    body = await gateway.json_body(exchange)
    params = messages_params(body, count=True)
    model = gateway.check_model(params.pop("model"), key)
    request = gateway.chat_request(model, params)
    output = request.max_tokens if request.max_tokens is not None else DEFAULT_OUTPUT_TOKENS
    tokens = max(estimate_tokens(request) - output, 0)
    await exchange.respond(
        200,
        _json({"input_tokens": tokens, "estimated": True}),
        headers=[(b"x-token-count", b"estimate")],
    )
