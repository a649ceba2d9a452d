"""Serving the gateway with hypercorn (the ``server`` extra), on asyncio or trio.

The listening socket is bound here, before hypercorn starts, so the port is
known at once (``--port 0`` picks a free one), connections queue from the
first moment, and a bad address fails with a plain error. Hypercorn gets a
duplicate of the socket (``fd://``), its own to close. This is the only
module that imports hypercorn, and only when ``serve`` runs.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from ..errors import ValidationError

__all__ = ["Backend", "bind", "is_loopback", "serve"]

Backend = Literal["asyncio", "trio"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost`` (reachable from here only)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def bind(host: str, port: int, *, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: a free one)."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve(
    app: Any,
    sock: socket.socket,
    *,
    backend: Backend = "asyncio",
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    graceful_timeout: float = 3.0,
) -> None:
    """Serve ``app`` on ``sock`` with hypercorn until ``shutdown_trigger()`` returns.

    Run it under ``anyio.run(..., backend=backend)``: hypercorn has one
    server per event loop. ``sock`` stays the caller's (close it after).
    """
    try:
        from hypercorn.config import Config
    except ImportError:
        raise ValidationError(
            "the gateway needs hypercorn: pip install 'agent-adapter[server]'", field="server"
        ) from None
    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.graceful_timeout = graceful_timeout
    config.include_server_header = False
    config.accesslog = None
    config.loglevel = "WARNING"  # our own banner says where it listens
    logging.getLogger("hypercorn.error").setLevel(logging.WARNING)
    if backend == "trio":
        from hypercorn.trio import serve as serve_trio

        await serve_trio(app, config, shutdown_trigger=shutdown_trigger)
    else:
        from hypercorn.asyncio import serve as serve_asyncio

        await serve_asyncio(app, config, shutdown_trigger=shutdown_trigger)
