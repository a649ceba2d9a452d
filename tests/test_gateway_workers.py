"""``agent-adapter serve --workers 2`` as a user runs it: one socket, two processes, one total.

The gateway runs as a real subprocess (its parent and two workers) in front
of a MockServer upstream, on each backend. Requests go on fresh connections
until both workers have answered some (the ``worker_requests`` gauge has one
series per live worker, labelled pid); then a scrape of whichever worker
must count every request sent, and the tokens of every answer. SIGHUP is
passed on without stopping anyone; SIGTERM stops all three cleanly and the
multiprocess directory the parent made is gone. A worker killed from
outside is reported and stops the gateway; a directory given in
``PROMETHEUS_MULTIPROC_DIR`` is kept, without the dead workers' live gauges.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from anyio.abc import Process

from agent_adapter.cli import main
from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, UPSTREAM_ENV, Raw, config_text, request
from metrics_support import Samples, parse, scrape, settled, total, value

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"

BODY = msgspec.json.encode({"model": "smart", "messages": [{"role": "user", "content": "hi"}]})


@asynccontextmanager
async def served(
    tmp_path: Path, backend: str, multiproc: Path | None = None
) -> AsyncIterator[tuple[Process, str, Path]]:
    """(the parent process, the gateway's URL, the TMPDIR its parent makes directories in).

    ``multiproc``: a ``PROMETHEUS_MULTIPROC_DIR`` given to it (else it makes one).
    """
    temp = tmp_path / "tmp"
    temp.mkdir()
    path = tmp_path / "gateway.toml"
    async with MockServer(handler=provider_reply) as up:
        path.write_text(config_text(up.base_url, keys={"team-a": {"key": KEY}}))
        env = {**os.environ, **UPSTREAM_ENV, "PYTHONUNBUFFERED": "1", "TMPDIR": str(temp)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if multiproc is not None:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        command = [sys.executable, "-m", "agent_adapter", "serve", "--config", str(path)]
        command += ["--workers", "2", "--port", "0", "--backend", backend]
        async with await anyio.open_process(command, env=env) as parent:
            try:
                assert parent.stdout is not None
                banner = b""
                with anyio.fail_after(30):
                    while b"keys:" not in banner:
                        banner += await parent.stdout.receive()
                text = banner.decode()
                assert "workers:   2 processes" in text and "/metrics" in text
                yield parent, text.split("listening on ", 1)[1].split()[0], temp
            finally:
                if parent.returncode is None:
                    parent.kill()


async def workers(url: str, count: int = 2) -> Samples:
    """Scrape until ``count`` workers are up (each makes its series as it builds its app)."""
    with anyio.fail_after(30):
        while True:
            samples = parse((await scrape(url))[2])
            if len(pids(samples)) == count:
                return samples
            await anyio.sleep(0.05)


def pids(samples: Samples) -> dict[str, float]:
    """Requests answered by each live worker, by pid."""
    name = "agent_adapter_gateway_worker_requests"
    return {dict(labels)["pid"]: v for (n, labels), v in samples.items() if n == name}


async def answered(url: str, sent: int) -> Samples:
    """The samples once the workers have recorded all ``sent`` requests (just after answering)."""
    return await settled(url, lambda s: sum(pids(s).values()) == sent)


async def chat(url: str) -> dict[str, Any]:
    """One chat completion on a fresh connection (so the kernel picks a worker for each)."""
    async with Raw.open(url) as raw:
        await raw.send(request("POST", CHAT, BODY))
        response, body = await raw.response()
    assert response.status_code == 200, body
    answer: dict[str, Any] = msgspec.json.decode(body)
    return answer


async def stderr_of(process: Process) -> str:
    assert process.stderr is not None
    data = b""
    with anyio.fail_after(10):
        async for part in process.stderr:
            data += part
    return data.decode()


async def test_two_workers_count_every_request_once_and_stop_cleanly(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with served(tmp_path, anyio_backend) as (parent, url, temp):
        await workers(url)
        (directory,) = temp.iterdir()  # the parent's fresh multiprocess directory
        assert directory.name.startswith("agent-adapter-metrics-")
        sent, prompt, completion = 0, 0, 0
        while sent < 400:  # until both have answered (the kernel decides who accepts)
            for _ in range(20):
                usage = (await chat(url))["usage"]
                sent += 1
                prompt += usage["prompt_tokens"]
                completion += usage["completion_tokens"]
            if all(pids(await answered(url, sent)).values()):
                break
        parent.send_signal(signal.SIGHUP)  # passed on; until keys reload, the workers ignore it
        usage = (await chat(url))["usage"]
        sent += 1
        prompt += usage["prompt_tokens"]
        completion += usage["completion_tokens"]
        await answered(url, sent)
        for _ in range(4):  # whichever worker answers the scrape, the totals are the gateway's
            s = parse((await scrape(url))[2])
            labels = {"endpoint": CHAT, "model": "smart", "key": "team-a"}
            assert value(s, "requests_total", **labels, status="200") == sent
            assert total(s, "requests_total") == sent
            assert value(s, "request_duration_seconds_count", endpoint=CHAT, model="smart") == sent
            assert value(s, "input_tokens_total", model="smart", key="team-a") == prompt
            assert value(s, "output_tokens_total", model="smart", key="team-a") == completion
            by_pid = pids(s)
            assert len(by_pid) == 2 and all(by_pid.values()), by_pid
            assert sum(by_pid.values()) == sent
        parent.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            assert await parent.wait() == 0
        errors = await stderr_of(parent)
    assert "2 workers and no shared state store" in errors
    assert "error:" not in errors
    assert list(temp.iterdir()) == []  # the multiprocess directory is removed


async def test_a_worker_that_dies_is_reported_and_stops_the_gateway(
    tmp_path: Path, anyio_backend: str
) -> None:
    given = tmp_path / "multiproc"
    given.mkdir()
    async with served(tmp_path, anyio_backend, given) as (parent, url, temp):
        victim, survivor = sorted(pids(await workers(url)))
        await chat(url)
        await answered(url, 1)  # recorded (just after the answer went out) before the kill
        assert [p.name for p in given.glob(f"gauge_liveall_{victim}.db")]
        os.kill(int(victim), signal.SIGKILL)
        with anyio.fail_after(30):
            assert await parent.wait() == 1
        errors = await stderr_of(parent)
        with pytest.raises(ProcessLookupError):  # the other worker was stopped too
            os.kill(int(survivor), 0)
    assert f"(pid {victim}) exited with status -9; stopping the gateway" in errors
    assert list(temp.iterdir()) == []  # it made no directory of its own
    left = sorted(p.name for p in given.iterdir())  # the given one is kept, its counters too
    assert any(name.startswith("counter_") for name in left), left
    assert not [name for name in left if name.startswith("gauge_live")], left  # marked dead


def test_workers_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", "0"])
    assert exited.value.code == 2
    assert "--workers: must be a positive integer, not '0'" in capsys.readouterr().err
