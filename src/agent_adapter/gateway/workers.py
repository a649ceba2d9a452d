"""``agent-adapter serve --workers N``: N processes serving one listening socket, and their parent.

The parent binds the socket once (so ``--port 0`` has one real port, and
connections queue from the first moment), then starts N workers, each a
fresh ``python -m agent_adapter serve ... --worker-fd FD`` that inherits the
socket, builds the app from the config itself and serves it with hypercorn,
exactly as one process does. The kernel hands each new connection to one
of them. Fresh interpreters rather than hypercorn's own workers: those load
the app from an import path (ours is built from a config file) and treat
SIGHUP as "restart every worker" where ours reloads keys inside each one.

The parent forwards SIGINT, SIGTERM and SIGHUP to every worker and waits
for them (a worker that has not stopped its grace period plus
``STOP_TIMEOUT`` seconds after the first stop signal is killed). A worker
that exits on its own is reported and stops the gateway, with exit status 1,
as hypercorn's supervisor does: a half-sized gateway would look healthy
while it is not. Workers outlive no
parent: each stops itself when its parent is gone.

Metrics: each worker writes its values to files in one directory
(prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``: the
parent makes a fresh one unless it is set, and removes the one it made at
exit), so a scrape of any worker gives the gateway's totals; a worker's live
gauges are dropped when it exits (``mark_process_dead``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

import anyio

from .metrics import MULTIPROC_ENV, mark_process_dead

if TYPE_CHECKING:
    from anyio.abc import Process, TaskGroup

__all__ = ["STOP_TIMEOUT", "exit_with_parent", "shared_state_warning", "supervise"]

STOP_TIMEOUT = 30.0
"""Seconds, beyond their grace period, the workers have to stop after the first SIGINT/SIGTERM
before they are killed."""

_CLEAN = frozenset((0, -signal.SIGTERM, -signal.SIGINT))  # stopped as asked (or before it could)


def supervise(
    command: Sequence[str],
    sock: socket.socket,
    workers: int,
    *,
    metrics: bool,
    backend: str,
    grace: float = 0.0,
) -> int:
    """Run ``workers`` processes of ``command`` (given ``--worker-fd``) on ``sock`` until a signal.

    Returns the exit status: 0 when they stopped as asked, 1 when one
    failed. ``metrics`` makes the workers share a multiprocess directory.
    """
    env = dict(os.environ)
    made: str | None = None
    if metrics and not env.get(MULTIPROC_ENV):
        made = env[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="agent-adapter-metrics-")
    elif metrics:
        given = env[MULTIPROC_ENV]
        if not os.path.isdir(given):
            print(f"error: {MULTIPROC_ENV}={given} is not a directory", file=sys.stderr)
            return 2
        ours = f"_{os.getpid()}.db"  # this process's app made its live gauge there too
        if any(name.endswith(".db") and not name.endswith(ours) for name in os.listdir(given)):
            print(
                f"warning: {MULTIPROC_ENV}={given} holds values of an earlier run, which the "
                "counters will include: empty it before starting",
                file=sys.stderr,
            )
        mark_process_dead(os.getpid(), given)  # this process serves nothing: not a live worker
    argv = [*command, "--worker-fd", str(sock.fileno())]
    directory = env.get(MULTIPROC_ENV) if metrics else None
    try:
        return anyio.run(_supervise, argv, env, sock, workers, directory, grace, backend=backend)
    except KeyboardInterrupt:  # a signal before the receiver was open: the workers follow
        return 130
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def shared_state_warning(workers: int) -> str:
    """What ``serve`` prints with several workers and no shared state store."""
    return (
        f"warning: {workers} workers and no shared state store: each worker has its own per-key "
        "rpm/tpm/max_streams counters and budget spend, its own max_in_flight and its own "
        f"circuit breakers (a key with rpm = 60 may get up to {60 * workers} a minute). Share "
        'them through Redis: [gateway.state] url = "redis://..." (pip install '
        "'agent-adapter[redis]'); max_in_flight stays per worker."
    )


def exit_with_parent(parent: int, every: float = 1.0) -> None:
    """In a worker: send ourselves SIGTERM (a graceful stop) once ``parent`` is gone.

    A daemon thread that looks every ``every`` seconds, so a parent killed
    with SIGKILL leaves no worker serving on its own.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="agent-adapter-parent-watch", daemon=True).start()


async def _supervise(
    argv: Sequence[str],
    env: Mapping[str, str],
    sock: socket.socket,
    count: int,
    directory: str | None,
    grace: float,
) -> int:
    supervisor = _Supervisor(directory, grace + STOP_TIMEOUT)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with anyio.create_task_group() as group:
            try:
                for index in range(1, count + 1):
                    process = await anyio.open_process(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=None,
                        stderr=None,
                        env=env,
                        pass_fds=(sock.fileno(),),
                        start_new_session=True,  # a terminal's Ctrl-C reaches the parent only
                    )
                    supervisor.live[process.pid] = process
                    group.start_soon(supervisor.watch, group, index, process)
            except OSError as exc:
                print(f"error: cannot start worker {index}: {exc}", file=sys.stderr)
                supervisor.status = 1
                supervisor.stop(group, signal.SIGTERM)
            finally:
                sock.close()  # the workers hold it: once they are gone, the port is free at once
            group.start_soon(supervisor.forward, group, signals)
            await supervisor.done.wait()
            group.cancel_scope.cancel()
    return supervisor.status


class _Supervisor:
    """The parent's view of its workers: the live ones, whether stopping, the exit status."""

    def __init__(self, directory: str | None, stop_timeout: float) -> None:
        self.directory = directory
        self.stop_timeout = stop_timeout
        self.live: dict[int, Process] = {}
        self.stopping = False
        self.status = 0
        self.done = anyio.Event()

    async def watch(self, group: TaskGroup, index: int, process: Process) -> None:
        """Wait for one worker; report it if it stopped unasked (and stop the rest)."""
        code = await process.wait()
        del self.live[process.pid]
        if self.directory is not None:
            mark_process_dead(process.pid, self.directory)
        if not self.stopping or code not in _CLEAN:
            print(
                f"error: worker {index} (pid {process.pid}) exited with status {code}"
                + ("" if self.stopping else "; stopping the gateway"),
                file=sys.stderr,
                flush=True,
            )
            self.status = 1
            self.stop(group, signal.SIGTERM)
        if not self.live:
            self.done.set()

    async def forward(self, group: TaskGroup, signals: AsyncIterator[int]) -> None:
        """Pass each signal on to every worker: SIGINT/SIGTERM also start the stop."""
        async for signum in signals:
            if signum == signal.SIGHUP:
                self._send(signal.SIGHUP)
            else:
                self.stop(group, signal.Signals(signum))

    def stop(self, group: TaskGroup, signum: signal.Signals) -> None:
        """Ask every worker to stop (again, on a second signal); kill them if they take too long."""
        if not self.stopping:
            self.stopping = True
            group.start_soon(self._kill_after, self.stop_timeout)
        self._send(signum)
        if not self.live:
            self.done.set()

    def _send(self, signum: signal.Signals) -> None:
        for process in list(self.live.values()):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    async def _kill_after(self, seconds: float) -> None:
        await anyio.sleep(seconds)
        for process in list(self.live.values()):
            print(
                f"error: worker pid {process.pid} did not stop within {seconds:g} s: killed",
                file=sys.stderr,
            )
            with contextlib.suppress(ProcessLookupError):
                process.kill()
