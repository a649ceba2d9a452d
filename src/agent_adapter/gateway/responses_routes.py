"""The Responses API endpoint: ``POST /v1/responses``, streamed (its typed events) or not.

The body is read with ``responses_params`` (a field that cannot be honoured is
a 400 naming it) and answered with ``response_object`` / ``ResponsesEncoder``
through ``relay.serve_chat``, so key limits, disconnect cancellation and
in-stream errors work as for ``/v1/chat/completions``; the official SDKs'
``client.responses.create`` and ``client.responses.stream`` work unchanged
against ``base_url="http://HOST:PORT/v1"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .http import stream_flag
from .relay import serve_chat
from .responses_format import Echo, ResponsesEncoder, response_object
from .responses_params import responses_params

if TYPE_CHECKING:
    from .app import Gateway
    from .http import Exchange
    from .settings import KeySettings

__all__ = ["responses"]

_json = msgspec.json.Encoder().encode


async def responses(gateway: Gateway, exchange: Exchange, key: KeySettings | None) -> None:
    """``POST /v1/responses``."""
    body = await gateway.json_body(exchange)
    stream = stream_flag(body.get("stream"))
    params = responses_params(body)
    model = gateway.check_model(params.pop("model"), key)
    echo = Echo(body)

    def encoder() -> ResponsesEncoder:
        events = ResponsesEncoder(model=model, echo=echo)
        exchange.ending = events.failed  # its error events carry the stream's numbering
        return events

    await serve_chat(
        gateway,
        exchange,
        key,
        model,
        params,
        stream=stream,
        encoder=encoder,
        render=lambda response: _json(response_object(response, model=model, echo=echo)),
    )
