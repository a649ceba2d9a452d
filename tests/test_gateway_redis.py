"""Gateways sharing a real ``redis-server`` (``[gateway.state]``): limits across processes, outages.

Two ``agent-adapter serve`` subprocesses over one Redis hold one key's rpm
between them; an in-process gateway whose Redis is killed while requests
flow keeps answering every one (local limits), says so once in its log and
in ``/readyz`` (still 200: ``degraded``), and is ``ready`` again once Redis
is back. Every test runs on asyncio and on trio (the server's backend too).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import h11
import msgspec
import pytest

from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, UPSTREAM_ENV, Raw, config_text, header, make_app, request, running
from redis_support import RedisServer

pytestmark = pytest.mark.anyio

BODY = msgspec.json.encode({"model": "smart", "messages": [{"role": "user", "content": "hi"}]})


async def send(url: str, data: bytes) -> tuple[h11.Response, bytes]:
    """One request on a fresh connection: the response and its whole body."""
    with anyio.fail_after(20):
        async with Raw.open(url) as raw:
            await raw.send(data)
            return await raw.response()


async def readyz(url: str) -> dict[str, Any]:
    response, body = await send(url, request("GET", "/readyz", key=None))
    assert response.status_code == 200, body
    result: dict[str, Any] = msgspec.json.decode(body)
    return result


async def until_status(url: str, status: str, seconds: float = 10.0) -> dict[str, Any]:
    """``/readyz`` once it says ``status`` (a store reconnects with a backoff up to 2 s)."""
    with anyio.fail_after(seconds):
        while (body := await readyz(url))["status"] != status:  # noqa: ASYNC110 - a poll
            await anyio.sleep(0.05)
    return body


@asynccontextmanager
async def serve_process(config: Path, backend: str) -> AsyncIterator[str]:
    """``python -m agent_adapter serve --config X --port 0`` in a subprocess; its base URL."""
    command = [sys.executable, "-m", "agent_adapter", "serve", "--config", str(config)]
    env = {**os.environ, **UPSTREAM_ENV, "PYTHONUNBUFFERED": "1"}
    async with await anyio.open_process(
        [*command, "--port", "0", "--backend", backend], env=env
    ) as proc:
        assert proc.stdout is not None
        banner = b""
        with anyio.fail_after(30):
            while b"keys:" not in banner:
                banner += await proc.stdout.receive()
        text = banner.decode()
        assert "state:     redis://127.0.0.1:" in text, text  # the store, said in the banner
        try:
            yield text.split("listening on ", 1)[1].split()[0]
        finally:
            proc.send_signal(signal.SIGINT)
            with anyio.fail_after(15):
                assert await proc.wait() == 0


async def test_two_gateway_processes_hold_one_keys_rpm_between_them(
    tmp_path: Path, redis_url: str, anyio_backend: str
) -> None:
    rpm = 5  # five now, then one every 12 s: the requests below take far less
    keys = {"team-a": {"key": KEY, "rpm": rpm}}
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    async with MockServer(handler=provider_reply) as up:
        config = tmp_path / "gateway.toml"
        state = f'[gateway.state]\nurl = "{redis_url}"\nprefix = "{prefix}"\ntimeout = 2\n'
        config.write_text(config_text(up.base_url, keys=keys) + state)
        async with (
            serve_process(config, anyio_backend) as one,
            serve_process(config, anyio_backend) as two,
        ):
            for url in (one, two):  # both connected to Redis, not on local limits
                assert (await readyz(url))["status"] == "ready"
            start = anyio.current_time()
            results = []
            for i in range(12):
                url = (one, two)[i % 2]
                response, body = await send(url, request("POST", "/v1/chat/completions", BODY))
                results.append((url, response, body))
            elapsed = anyio.current_time() - start
    assert elapsed < 60 / rpm, "too slow to count: the bucket refilled meanwhile"
    ok = [r for r in results if r[1].status_code == 200]
    refused = [r for r in results if r[1].status_code == 429]
    assert len(ok) == rpm and len(refused) == 12 - rpm  # exactly rpm, whichever instance
    assert {url for url, _, _ in refused} == {one, two}  # refused by both instances
    for _, response, body in refused:
        assert int(header(response, b"retry-after") or 0) >= 1
        error = msgspec.json.decode(body)["error"]
        assert (
            error["type"] == "rate_limit_error"
            and "rate limit of key 'team-a'" in (error["message"])
        )
    assert len(up.requests) == rpm


async def test_redis_killed_while_requests_flow_loses_none_and_says_degraded(
    tmp_path: Path, own_redis: RedisServer, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_adapter")

    def said(text: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if text in r.getMessage()]

    keys = {"team-a": {"key": KEY, "rpm": 100000, "max_streams": 50}}
    state = f'[gateway.state]\nurl = "{own_redis.url}"\ntimeout = 0.5\n'
    statuses: list[int] = []
    async with MockServer(handler=provider_reply) as up:
        app = make_app(tmp_path, config_text(up.base_url, keys=keys) + state)
        async with running(app, anyio_backend) as url:
            assert (await readyz(url))["status"] == "ready"
            assert not app.store.degraded  # type: ignore[union-attr]
            stop = anyio.Event()

            async def flow(stream: bool) -> None:
                body = msgspec.json.decode(BODY)
                body["stream"] = stream
                data = request("POST", "/v1/chat/completions", msgspec.json.encode(body))
                while not stop.is_set():
                    response, answer = await send(url, data)
                    statuses.append(response.status_code)
                    assert response.status_code == 200, answer

            async with anyio.create_task_group() as tg:
                for i in range(4):
                    tg.start_soon(flow, i % 2 == 1)
                with anyio.fail_after(20):
                    while len(statuses) < 20:  # noqa: ASYNC110 - a count, no event
                        await anyio.sleep(0.01)
                own_redis.kill()  # mid-flow: calls in flight fall back to local limits
                killed_at = len(statuses)
                with anyio.fail_after(20):
                    while len(statuses) < killed_at + 40:  # noqa: ASYNC110
                        await anyio.sleep(0.01)
                stop.set()
            assert set(statuses) == {200} and len(statuses) == len(up.requests)

            degraded = await until_status(url, "degraded")
            assert "state store is unreachable" in degraded["reason"]
            assert str(own_redis.port) not in msgspec.json.encode(degraded).decode()
            assert len(said("is not there")) == 1  # once per transition, not per request
            response, _ = await send(url, request("POST", "/v1/chat/completions", BODY))
            assert response.status_code == 200  # still serving, on local limits

            own_redis.start()  # empty: the gateway writes what it holds back on reconnecting
            assert (await until_status(url, "ready"))["open"] == 0
            assert len(said("Redis is back")) == 1 and len(said("is not there")) == 1
            response, _ = await send(url, request("POST", "/v1/chat/completions", BODY))
            assert response.status_code == 200
