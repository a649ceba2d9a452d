"""A real ``redis-server`` for the tests: on a free loopback port, killed and started at will.

``conftest.py`` makes fixtures of it: ``redis_url`` (one server for the
session; tests keep apart by key prefix) and ``own_redis`` (a test's own, to
kill and restart). Without the binary, the tests that need it are skipped,
saying so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time

import pytest

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    """A TCP port nobody listens on now (on loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One ``redis-server`` on loopback, no persistence: started, killed, started again."""

    def __init__(self) -> None:
        if REDIS_SERVER is None:
            pytest.skip("no redis-server binary (apt-get install redis-server; .ci/run does)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (on the same port as before) and wait until it answers PING."""
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", tempfile.gettempdir()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "redis-server exited"
            if self.command(b"PING") == b"+PONG":
                return
            time.sleep(0.02)
        raise AssertionError("redis-server did not answer PING")

    def command(self, *words: bytes) -> bytes | None:
        """One inline command on a fresh connection; the first line of its reply."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b" ".join(words) + b"\r\n")
                return sock.recv(4096).split(b"\r\n")[0]
        except OSError:
            return None

    def kill(self) -> None:
        """Kill it at once (SIGKILL): no goodbye to its clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
