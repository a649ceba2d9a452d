"""Serving the gateway with hypercorn (the ``server`` extra), on asyncio or trio; the CLI's part.

The listening socket is bound here, before hypercorn starts, so the port is
known at once (``--port 0`` picks a free one), connections queue from the
first moment, and a bad address fails with a plain error. Hypercorn gets a
duplicate of the socket (``fd://``), its own to close; with ``--workers N``
the socket is bound here once and served by N processes (``workers.py``).
This is the only module that imports hypercorn, and only when ``serve``
runs. ``main`` is ``agent-adapter serve``, ``new_key_text`` is
``agent-adapter keys new``; signals (reload, graceful shutdown) are
``lifecycle.py``'s.

TLS is hypercorn's (``--certfile``/``--keyfile``), checked before listening.
On a non-loopback address without it the keys and prompts would cross the
network in clear, so ``serve`` warns unless ``--behind-proxy`` says a
TLS-terminating proxy is in front; that proxy (``--trusted-proxy``,
``[gateway] trusted_proxies``, default loopback) is then the only sender
whose ``X-Forwarded-For`` names the client (``proxy.py``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TextIO

from ..errors import AdapterError, ValidationError
from .auth import key_hash, new_key
from .settings import GatewaySettings, IPNetwork, network, redacted

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
    certfile: str | None = None,
    keyfile: str | None = None,
) -> None:
    """Serve ``app`` on ``sock`` with hypercorn until ``shutdown_trigger()`` returns.

    Run it under ``anyio.run(..., backend=backend)``: hypercorn has one
    server per event loop. ``sock`` stays the caller's (close it after).
    ``certfile`` and ``keyfile`` (PEM) serve https; ``graceful_timeout`` is
    how long hypercorn waits for open connections once shut down, before
    it cancels them.
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
    config.certfile = certfile
    config.keyfile = keyfile
    config.include_server_header = False
    config.accesslog = None
    config.loglevel = "WARNING"  # our own banner says where it listens
    settings = getattr(app, "settings", None)
    if isinstance(settings, GatewaySettings):
        # A WebSocket message is refused (1009) while it arrives, at the same bound as a body.
        config.websocket_max_message_size = settings.max_body_bytes
    logging.getLogger("hypercorn.error").setLevel(logging.WARNING)
    if backend == "trio":
        from hypercorn.trio import serve as serve_trio

        await serve_trio(app, config, shutdown_trigger=shutdown_trigger)
    else:
        import asyncio  # backend-specific: undoing hypercorn's asyncio cancel count (below)

        from hypercorn.asyncio import serve as serve_asyncio

        task = asyncio.current_task()
        before = task.cancelling() if task is not None else 0
        await serve_asyncio(app, config, shutdown_trigger=shutdown_trigger)
        # Hypercorn stops through an asyncio.TaskGroup whose child raises while the parent
        # waits in __aexit__; before CPython's fix for that (gh-116720), the group cancels
        # its parent and never uncancels it, and a cancel scope around this call would then
        # take its own cancellation for an outside one. Give the count back.
        while task is not None and task.cancelling() > before:
            task.uncancel()


def main(
    config: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    backend: Backend = "asyncio",
    insecure_no_auth: bool = False,
    workers: int = 1,
    argv: Sequence[str] | None = None,
    worker_fd: int | None = None,
    out: TextIO | None = None,
    grace: float | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    behind_proxy: bool = False,
    trusted_proxies: Sequence[str] = (),
) -> int:
    """``agent-adapter serve``: check everything, listen, say where and what, serve until a signal.

    Refuses (exit status 2) a config with a mistake, an address it cannot
    bind, a certificate it cannot load, and a non-loopback address without
    client keys unless ``insecure_no_auth``. ``grace`` (default: the
    config's ``grace_period``) is how long SIGTERM lets requests finish.
    ``workers`` > 1 runs that many processes on the socket (``workers.py``),
    each started with the same command line (``argv``, the words after
    ``agent-adapter``) and ``worker_fd``: the inherited socket it serves,
    instead of binding one.
    """
    import anyio

    from .factory import create_app
    from .lifecycle import serve_until_signalled

    out = out or sys.stdout
    if worker_fd is not None:
        from .workers import exit_with_parent

        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the parent's SIGHUP must not end us
        exit_with_parent(os.getppid())
    try:
        proxies = _check_options(grace, certfile, keyfile, behind_proxy, trusted_proxies)
        app = create_app(config)
        if behind_proxy:
            from .proxy import TrustedProxies

            app.proxies = TrustedProxies([*app.settings.trusted_proxies, *proxies])
    except AdapterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    parent = worker_fd is None  # a worker's parent has said all this once
    if parent and app.settings.trusted_proxies and not behind_proxy:
        print(
            "warning: gateway.trusted_proxies is set but --behind-proxy is not: "
            "X-Forwarded-For is ignored",
            file=sys.stderr,
        )
    tls = certfile is not None
    if parent and not is_loopback(host) and not tls and not behind_proxy:
        print(
            f"warning: serving plain http on {host}: client keys and prompts cross the network "
            "unencrypted. Pass --certfile and --keyfile, or --behind-proxy when a "
            "TLS-terminating proxy is in front.",
            file=sys.stderr,
        )
    if not is_loopback(host) and not app.keys.required and not insecure_no_auth:
        print(
            f"error: refusing to serve on {host} without client keys: anyone who can reach it "
            "could spend your provider keys. Add keys ([gateway.keys.NAME], see "
            "'agent-adapter keys new'), bind 127.0.0.1, or pass --insecure-no-auth.",
            file=sys.stderr,
        )
        return 2
    app.keys_required = not is_loopback(host) and not insecure_no_auth
    try:
        sock = bind(host, port) if worker_fd is None else socket.socket(fileno=worker_fd)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    seconds = app.settings.grace_period if grace is None else grace
    _log_to_stderr()
    text = banner(app, host, sock.getsockname()[1], backend, tls=tls, workers=workers)
    try:
        if workers > 1 and parent:
            print(text, file=out, flush=True)
            return _supervise(app, sock, workers, argv, config, backend, seconds)
        anyio.run(
            partial(
                serve_until_signalled,
                app,
                sock,
                backend,
                grace=seconds,
                announce=(lambda: print(text, file=out, flush=True))
                if parent
                else lambda: None,  # the parent printed the banner
                certfile=certfile,
                keyfile=keyfile,
            ),
            backend=backend,
        )
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def _check_options(
    grace: float | None,
    certfile: str | None,
    keyfile: str | None,
    behind_proxy: bool,
    trusted_proxies: Sequence[str],
) -> list[IPNetwork]:
    """The command line's own mistakes, before anything is read or bound; the proxies named."""
    if grace is not None and not grace >= 0:
        raise ValidationError("must be a number of seconds (0 or more)", field="--grace")
    if (certfile is None) != (keyfile is None):
        missing = "--keyfile" if keyfile is None else "--certfile"
        raise ValidationError(
            "is missing: --certfile and --keyfile go together (PEM files)", field=missing
        )
    if certfile is not None and keyfile is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            raise ValidationError(
                f"cannot load the certificate and key: {reason}", field="--certfile/--keyfile"
            ) from None
    if trusted_proxies and not behind_proxy:
        raise ValidationError("counts only with --behind-proxy", field="--trusted-proxy")
    return [network(address, "--trusted-proxy") for address in trusted_proxies]


def _log_to_stderr() -> None:
    """The gateway's log (reloads, shutdown, failures, the state store lost and back) on stderr.

    Once per process, on the library's logger, whatever the root logger has.
    """
    logger = logging.getLogger("agent_adapter")
    if not any(getattr(h, "_agent_adapter_serve", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._agent_adapter_serve = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logging.getLogger("agent_adapter.gateway").setLevel(logging.INFO)


def _supervise(
    app: Gateway,
    sock: socket.socket,
    workers: int,
    argv: Sequence[str] | None,
    config: str | None,
    backend: Backend,
    grace: float,
) -> int:
    """Serve with ``workers`` processes (warning when their limits cannot be shared)."""
    from ..resilience import MemoryStore
    from .workers import shared_state_warning, supervise

    store = app.router.store
    if store is None or isinstance(store, MemoryStore):
        print(shared_state_warning(workers), file=sys.stderr, flush=True)
    if argv is None:
        argv = ["serve", "--backend", backend, *(["--config", config] if config else [])]
    command = [sys.executable, "-m", "agent_adapter", *argv]
    return supervise(
        command, sock, workers, metrics=app.metrics.enabled, backend=backend, grace=grace
    )


def banner(
    app: Gateway, host: str, port: int, backend: str, *, tls: bool = False, workers: int = 1
) -> str:
    """What ``serve`` prints: where it listens, its base URLs, models, metrics, workers, keys."""
    shown = f"[{host}]" if ":" in host else host
    url = f"{'https' if tls else 'http'}://{shown}:{port}"
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
    if app.proxies is not None:
        shown_proxies = ", ".join(str(n) for n in app.proxies.networks)
        lines.append(f"  proxies:   X-Forwarded-For trusted from {shown_proxies}")
    if app.settings.metrics:
        lines.append(f"  metrics:   {url}/metrics (no key needed: firewall it on a public address)")
    if workers > 1:
        lines.append(f"  workers:   {workers} processes on this socket (metrics summed)")
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
