"""A served gateway's life after start-up: SIGHUP reloads the keys, SIGTERM drains, then stops.

The first ``SIGTERM`` (or ``SIGINT``) stops accepting connections (the
listening socket is closed, so a load balancer sees refusals at once, not
a stalled backlog) and leaves the requests and streams in flight
``grace`` seconds to finish; those still running then are cut
(``Gateway.cut``: a 503, or a stream's error event, and the upstream call
cancelled, which closes its connection). A second signal cuts them at once.

Hypercorn's own ``graceful_timeout`` is only a backstop here, a few seconds
after the grace period: on asyncio it waits for the connection tasks with
``asyncio.wait_for`` (cancelled when it expires) after ``Server.wait_closed``,
which from Python 3.12 waits for every connection, however long its
stream; on trio it sets a deadline on the connections' nursery. Cutting the
requests ourselves makes the grace period the same on both, with an answer
that says why.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.abc

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["BACKSTOP", "serve_until_signalled"]

log = logging.getLogger("agent_adapter.gateway")

BACKSTOP = 5.0
"""Seconds after the grace period before hypercorn itself cancels what is left."""

_HUP = getattr(signal, "SIGHUP", None)  # not on Windows


async def serve_until_signalled(
    app: Gateway,
    sock: socket.socket,
    backend: Literal["asyncio", "trio"],
    *,
    grace: float,
    announce: Callable[[], None] = lambda: None,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> None:
    """Serve ``app`` on ``sock`` until a signal: reload on SIGHUP, drain on SIGTERM/SIGINT.

    ``announce`` runs once the signal handlers are in place (the banner: a
    SIGHUP sent as soon as it is read must not kill the process).
    """
    from .serve import serve

    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        await group.start(partial(_on_signals, app, sock, stop, grace, group))
        announce()
        await serve(
            app,
            sock,
            backend=backend,
            shutdown_trigger=stop.wait,
            graceful_timeout=grace + BACKSTOP,
            certfile=certfile,
            keyfile=keyfile,
        )
        group.cancel_scope.cancel()


async def _on_signals(
    app: Gateway,
    sock: socket.socket,
    stop: anyio.Event,
    grace: float,
    group: anyio.abc.TaskGroup,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    wanted = [signal.SIGINT, signal.SIGTERM, *([_HUP] if _HUP is not None else [])]
    with anyio.open_signal_receiver(*wanted) as signals:
        task_status.started()
        async for signum in signals:
            if signum == _HUP:
                app.reload()
            elif not stop.is_set():
                log.warning(
                    "%s: shutting down; %d requests in flight have %g s to finish "
                    "(signal again to stop at once)",
                    signal.Signals(signum).name,
                    app.serving,
                    grace,
                )
                sock.close()  # hypercorn's copy closes as it stops: no new connection is queued
                stop.set()
                group.start_soon(_cut_after, app, grace)
            else:
                log.warning("second signal: stopping at once, %d requests cut", app.cut())


async def _cut_after(app: Gateway, grace: float) -> None:
    await anyio.sleep(grace)
    cut = app.cut()
    if cut:
        log.warning("grace period of %g s over: %d requests cut", grace, cut)
