"""The transport times what only it can see: a new connection's setup, and the wait for the head."""

from __future__ import annotations

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.providers.base import HttpRequest
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.transport import Transport

pytestmark = pytest.mark.anyio


async def test_connect_is_timed_for_a_new_connection_and_zero_for_a_pooled_one() -> None:
    async with MockServer() as srv:
        srv.enqueue(Reply.json({"n": 1}), Reply.json({"n": 2}))
        transport = Transport(trust_env=False)
        request = HttpRequest("GET", srv.base_url + "/x", [])
        try:
            first = await transport.send(request, aa.Timeouts())
            await first.read()
            await first.aclose()
            second = await transport.send(request, aa.Timeouts())
            await second.read()
            await second.aclose()
        finally:
            await transport.aclose()
        assert not first.reused and first.connect > 0
        assert second.reused and second.connect == 0.0
        assert srv.connections_opened == 1


async def test_ttfb_counts_from_the_request_written_to_the_head() -> None:
    async def slow(request: RecordedRequest) -> Reply:
        await anyio.sleep(0.15)
        return Reply.json({"ok": True})

    async with MockServer(handler=slow) as srv:
        transport = Transport(trust_env=False)
        try:
            response = await transport.send(
                HttpRequest("GET", srv.base_url + "/x", []), aa.Timeouts()
            )
            await response.read()
            await response.aclose()
        finally:
            await transport.aclose()
        assert 0.15 <= response.ttfb < 2.0
        assert response.connect < response.ttfb
