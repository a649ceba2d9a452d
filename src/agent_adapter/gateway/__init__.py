"""The gateway: an OpenAI- and Anthropic-compatible HTTP API in front of an ``aa.Router``.

``create_app(config)`` builds the ASGI application (raw ASGI: no framework);
``agent-adapter serve`` runs it on hypercorn (the ``server`` extra) on
asyncio or trio. One module per job: ``settings`` (the ``[gateway]`` table),
``auth`` (client keys), ``limits`` (the per-key gates), ``http`` (one ASGI
exchange), ``errors`` (errors in the caller's protocol), ``relay``
(upstream calls and streams, cancelled on disconnect), ``openai_routes`` and
``anthropic_routes`` with ``anthropic_format``, ``responses_routes`` with
``responses_params`` and ``responses_format`` (the endpoints), ``ws`` (chat
over a WebSocket, ``/v1/ws``), ``metrics`` (``GET /metrics``), ``budget``
(USD per key), ``app`` (the application), ``factory`` (``create_app``),
``reload`` (the keys again, on SIGHUP), ``proxy`` (the client behind trusted
proxies), ``serve`` (hypercorn, TLS), ``lifecycle`` (signals: reload,
graceful shutdown) and ``workers`` (``--workers N``). Importing this
package never imports hypercorn or prometheus-client.
"""

from __future__ import annotations

from .app import Gateway
from .auth import key_hash, new_key
from .factory import create_app
from .settings import GatewaySettings, KeySettings, read_settings

__all__ = [
    "Gateway",
    "GatewaySettings",
    "KeySettings",
    "create_app",
    "key_hash",
    "new_key",
    "read_settings",
]
