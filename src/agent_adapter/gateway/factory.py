"""``create_app(config)``: a ``Gateway`` from a config file, with its Router and its state store.

The config file is the Router's TOML plus a ``[gateway]`` table
(``settings.py``); ``[gateway.state] url`` makes the ``RedisStore`` that the
Router's breakers and buckets and the client keys' limits share with other
instances (started and closed by the gateway's ASGI lifespan).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .app import Gateway
from .settings import GatewaySettings, StateSettings, read_settings

if TYPE_CHECKING:
    from ..config import RouterConfig
    from ..resilience import RedisStore, Store

__all__ = ["create_app", "redis_store"]


def create_app(
    config: RouterConfig | str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    store: Store | None = None,
) -> Gateway:
    """The gateway for a config file (a path or a loaded ``RouterConfig``).

    ``None`` serves every provider whose key is in ``env`` (``os.environ``)
    as ``provider/model``, with no client keys. ``store`` holds the client
    keys' limits and spend and the Router's breakers and buckets: the given
    one (the caller starts and closes it), else an ``aa.RedisStore`` on
    ``[gateway.state] url`` (started and closed by the ASGI lifespan), else
    memory. Nothing is connected until a request, or the lifespan, needs it.
    """
    from ..config import RouterConfig, load_config
    from ..routing import Router

    environ = os.environ if env is None else env
    if config is None:
        router = Router({}, allow_direct=True, store=store)
        return Gateway(router, GatewaySettings(), env=environ, store=store)
    path = None
    if not isinstance(config, RouterConfig):
        path = config
        config = load_config(path, env=environ)
    settings = read_settings(
        config.gateway, groups=config.models, allow_direct=bool(config.allow_direct)
    )
    own_store = store is None and settings.state is not None
    if own_store:
        assert settings.state is not None
        store = redis_store(settings.state)
    shared: dict[str, Any] = {} if store is None else {"store": store}
    router = Router(**config.router_kwargs(), **shared)
    configured = [d for ds in config.models.values() for d in ds]
    secrets = [d.api_key for d in configured if d.api_key]
    return Gateway(
        router,
        settings,
        env=environ,
        store=store,
        own_store=own_store,
        secrets=secrets,
        direct_models=[d.model for d in configured] if config.allow_direct else (),
        source=path,
    )


def redis_store(state: StateSettings) -> RedisStore:
    """The ``RedisStore`` for ``[gateway.state]``: checked for its extra before any I/O."""
    try:
        missing = importlib.util.find_spec("coredis") is None
    except ValueError:  # in sys.modules without a spec: as good as missing
        missing = True
    if missing:
        raise ValidationError(
            "needs the Redis client: pip install 'agent-adapter[redis]'", field="gateway.state.url"
        )
    from ..resilience.redis import RedisStore

    return RedisStore(state.url, prefix=state.prefix, timeout=state.timeout)
