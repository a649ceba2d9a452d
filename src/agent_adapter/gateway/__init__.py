"""The gateway: an OpenAI- and Anthropic-compatible HTTP API in front of an ``aa.Router``.

One module per job: ``settings`` (the ``[gateway]`` table), ``auth`` (client
keys), ``limits`` (the per-key gates). Importing this package never imports
hypercorn.
"""

from __future__ import annotations

from .auth import key_hash, new_key
from .settings import GatewaySettings, KeySettings, read_settings

__all__ = ["GatewaySettings", "KeySettings", "key_hash", "new_key", "read_settings"]
