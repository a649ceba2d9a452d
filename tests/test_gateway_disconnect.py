"""A client that goes away cancels its upstream call at once, and the upstream connection closes.

The check is at the upstream MockServer: it counts a client disconnect when
the gateway's connection to it goes away while it is still streaming (or
stalling), and counts the connection closed. Both are awaited with a short
timeout right after the client's socket is closed, on asyncio and trio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from agent_adapter.testing import MockServer, Reply
from gateway_support import KEY, Raw, config_text, make_app, request, running
from sse_builders import chunk

pytestmark = pytest.mark.anyio

SLOW_OPENAI = Reply.sse(
    [chunk({"role": "assistant", "content": ""})]
    + [chunk({"content": f"word{i} "}) for i in range(100)]
    + [chunk({}, "stop"), b"data: [DONE]\n\n"],
    delay=0.1,  # ten seconds in all: the client leaves long before the end
)
USER = [{"role": "user", "content": "hi"}]


@asynccontextmanager
async def gateway(
    tmp_path: Path, backend: str, reply: Reply
) -> AsyncIterator[tuple[str, MockServer]]:
    async with MockServer(handler=lambda request: reply) as up:
        text = config_text(up.base_url, up.base_url, keys={"team-a": {"key": KEY}})
        async with running(make_app(tmp_path, text), backend) as url:
            yield url, up


async def first_bytes(raw: Raw) -> bytes:
    """Read until the first streamed content has arrived."""
    data = b""
    with anyio.fail_after(5):
        while b"word0" not in data:
            data += await raw.stream.receive()
    return data


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_leaving_mid_stream_closes_the_upstream(
    tmp_path: Path, anyio_backend: str, path: str
) -> None:
    body: dict[str, Any] = {"model": "smart", "messages": USER, "stream": True}
    if path == "/v1/messages":
        body["max_tokens"] = 100
    async with gateway(tmp_path, anyio_backend, SLOW_OPENAI) as (url, up):
        async with Raw.open(url) as raw:
            await raw.send(request("POST", path, msgspec.json.encode(body)))
            data = await first_bytes(raw)
            assert data.startswith(b"HTTP/1.1 200 ")
        left = anyio.current_time()
        await up.wait_for_client_disconnects(1, timeout=2)
        await up.wait_for_closed(1, timeout=2)
        assert anyio.current_time() - left < 1.0  # at once, not when the stream would end
        assert up.open_connections == 0


async def test_leaving_while_waiting_for_an_answer_closes_the_upstream(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend, Reply.stall()) as (url, up):
        async with Raw.open(url) as raw:
            await raw.send(
                request(
                    "POST",
                    "/v1/chat/completions",
                    msgspec.json.encode({"model": "smart", "messages": USER}),
                )
            )
            await up.wait_for_requests(1)
        await up.wait_for_client_disconnects(1, timeout=2)
        await up.wait_for_closed(1, timeout=2)
        assert up.open_connections == 0


async def test_the_gateway_serves_on_after_a_client_left(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend, SLOW_OPENAI) as (url, up):
        for _ in range(2):
            async with Raw.open(url) as raw:
                body = {"model": "smart", "messages": USER, "stream": True}
                await raw.send(request("POST", "/v1/chat/completions", msgspec.json.encode(body)))
                await first_bytes(raw)
        await up.wait_for_client_disconnects(2, timeout=2)
        async with Raw.open(url) as raw:
            await raw.send(request("GET", "/healthz", key=None))
            response, _ = await raw.response()
            assert response.status_code == 200
