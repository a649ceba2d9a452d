"""Routing: one model name over several deployments, with strategies, fallbacks and hedging.

``router.py`` holds ``Router`` (``deployment.py`` its ``Deployment`` and the
checked groups it runs), ``strategies.py`` the orders a group is tried in,
``fallback.py`` which error goes where, ``hedge.py`` hedged requests,
``stream.py`` the routed stream. ``agent_adapter.Router`` and friends are
these names; importing this package loads the client and the transport.
"""

from __future__ import annotations

from .deployment import Deployment
from .hedge import Hedge
from .router import Router
from .stream import RoutedStream

__all__ = ["Deployment", "Hedge", "RoutedStream", "Router"]
