"""``agent-adapter serve`` as a real subprocess, for the tests of what only a process has.

Signals (SIGHUP reloads, SIGTERM drains), the banner and the log on stderr
belong to the process, so these tests start ``python -m agent_adapter serve
--port 0`` on the test's backend, read the port from the banner, and watch
the log as it arrives: every wait is for a line of it, an answer or the
process's exit, each with a generous bound, never a sleep.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from gateway_support import UPSTREAM_ENV

STARTUP = 30.0
"""Seconds a gateway process may take to print its banner (imports, on a loaded machine)."""


class Served:
    """A running gateway process: its base URL, its banner and its log (stderr) so far."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.url = ""
        self.banner = ""
        self.log = ""
        self._changed = anyio.Event()

    async def _read_log(self) -> None:
        assert self.process.stderr is not None
        async for data in self.process.stderr:
            self.log += data.decode(errors="replace")
            self._changed.set()
            self._changed = anyio.Event()

    async def wait_log(self, text: str, count: int = 1, timeout: float = 20.0) -> None:  # noqa: ASYNC109 - a default keeps tests short
        """Wait until ``text`` has appeared ``count`` times in the log."""
        with anyio.fail_after(timeout):
            while self.log.count(text) < count:
                await self._changed.wait()

    def signal(self, signum: int) -> None:
        """Send the process ``signum``."""
        self.process.send_signal(signal.Signals(signum))

    async def exit_status(self, timeout: float = 20.0) -> int:  # noqa: ASYNC109 - a default keeps tests short
        """Wait for the process to end; its exit status."""
        with anyio.fail_after(timeout):
            return await self.process.wait()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.url.rsplit(":", 1)[1])


@asynccontextmanager
async def served(
    config: Path | None,
    backend: str,
    *args: str,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Served]:
    """Run ``agent-adapter serve --config config --port 0 --backend backend *args``."""
    command: Sequence[str] = [
        sys.executable,
        "-m",
        "agent_adapter",
        "serve",
        "--port",
        "0",
        "--backend",
        backend,
        *(["--config", str(config)] if config is not None else []),
        *args,
    ]
    environ: dict[str, Any] = {**os.environ, **UPSTREAM_ENV, "PYTHONUNBUFFERED": "1", **(env or {})}
    async with await anyio.open_process(command, env=environ) as process:
        gateway = Served(process)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(gateway._read_log)
                assert process.stdout is not None
                banner = b""
                with anyio.fail_after(STARTUP):
                    while b"keys:" not in banner:
                        try:
                            banner += await process.stdout.receive()
                        except anyio.EndOfStream:
                            status = await process.wait()
                            raise AssertionError(f"serve exited {status}: {gateway.log}") from None
                gateway.banner = banner.decode()
                gateway.url = gateway.banner.split("listening on ", 1)[1].split()[0]
                yield gateway
                group.cancel_scope.cancel()
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.move_on_after(10, shield=True):
                    await process.wait()
