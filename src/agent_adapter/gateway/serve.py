"""Serving the gateway with hypercorn (the ``server`` extra), on asyncio or trio; the CLI's part.

The listening socket is bound here, before hypercorn starts, so the port is
known at once (``--port 0`` picks a free one), connections queue from the
first moment, and a bad address fails with a plain error. Hypercorn gets a
duplicate of the socket (``fd://``), its own to close. This is the only
module that imports hypercorn, and only when ``serve`` runs. ``main`` is
``agent-adapter serve``, ``new_key_text`` is ``agent-adapter keys new``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TextIO

from ..errors import AdapterError, ValidationError
from .auth import key_hash, new_key
from .settings import redacted

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["Backend", "banner", "bind", "is_loopback", "main", "new_key_text", "serve"]

_KEY_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

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


def main(
    config: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    backend: Backend = "asyncio",
    insecure_no_auth: bool = False,
    out: TextIO | None = None,
) -> int:
    """``agent-adapter serve``: check everything, listen, say where and what, serve until a signal.

    Refuses (exit status 2) a config with a mistake, an address it cannot
    bind, and a non-loopback address without client keys unless
    ``insecure_no_auth``.
    """
    import anyio

    from .app import create_app

    out = out or sys.stdout
    if not logging.getLogger().handlers:  # the gateway's warnings (Redis down, back) on stderr
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    try:
        app = create_app(config)
    except AdapterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not is_loopback(host) and not app.keys.required and not insecure_no_auth:
        print(
            f"error: refusing to serve on {host} without client keys: anyone who can reach it "
            "could spend your provider keys. Add keys ([gateway.keys.NAME], see "
            "'agent-adapter keys new'), bind 127.0.0.1, or pass --insecure-no-auth.",
            file=sys.stderr,
        )
        return 2
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        print(banner(app, host, sock.getsockname()[1], backend), file=out, flush=True)
        anyio.run(_serve_until_signal, app, sock, backend, backend=backend)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


async def _serve_until_signal(app: Any, sock: socket.socket, backend: Backend) -> None:
    import anyio

    async def signalled() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return

    await serve(app, sock, backend=backend, shutdown_trigger=signalled)


def banner(app: Gateway, host: str, port: int, backend: str) -> str:
    """What ``serve`` prints: where it listens, the base URLs, the models, the keys."""
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    lines = [
        f"agent-adapter gateway listening on {url} ({backend})",
        f'  OpenAI:    base_url="{url}/v1"',
        f'  Anthropic: base_url="{url}"',
    ]
    if app.groups:
        lines.append(f"  models:    {', '.join(app.groups)}")
    if app.direct:
        if app.direct_providers:
            providers = ", ".join(sorted(app.direct_providers))
            lines.append(f"  direct:    provider/model for {providers} (keys from the environment)")
        else:
            lines.append(
                "  direct:    none: no provider key in the environment "
                "(set OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)"
            )
    state = app.settings.state
    if state is not None:  # the URL without its password
        lines.append(f"  state:     {redacted(state.url)} (key limits, budgets, breakers shared)")
    count = len(app.settings.keys)
    if count:
        lines.append(f"  keys:      {count} client key{'s' if count != 1 else ''}")
    else:
        lines.append("  keys:      none: every request is served without a key")
    return "\n".join(lines)


def new_key_text(name: str) -> str:
    """What ``agent-adapter keys new`` prints: the key (once) and the config lines to paste."""
    if not _KEY_NAME.match(name):
        raise ValidationError("must be letters, digits, - and _ (a TOML bare key)", field="name")
    key = new_key()
    return (
        f"key: {key}\n"
        "(shown once: store it now; the gateway keeps only its hash)\n\n"
        "Add to the gateway's config file:\n\n"
        f"[gateway.keys.{name}]\n"
        f'hash = "{key_hash(key)}"\n'
        '# models = ["smart"]  # what it may use (default: every model served)\n'
        "# rpm = 60             # also tpm, max_streams\n"
    )
