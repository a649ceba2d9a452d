"""SIGTERM: stop accepting, let what is in flight finish within the grace period, then cut it.

Each test runs ``agent-adapter serve`` as a process in front of a
MockServer and signals it mid-stream. Within the grace period a stream held
at the upstream (released by an event once the shutdown has begun) ends
whole with ``[DONE]`` while new connections are refused; past a short grace
period, or on a second signal, the stream is cut with an error event that
says why, the upstream connection is closed, and the process exits 0 long
before the stream would have ended.
"""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import anyio.lowlevel
import msgspec
import pytest

from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, Raw, config_text, request
from serve_support import Served, served
from sse_builders import chunk

pytestmark = pytest.mark.anyio

NEVER_ENDING = Reply.sse(
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "word0 "}),
        chunk({"content": "word1 "}),
        chunk({}, "stop"),
        b"data: [DONE]\n\n",
    ],
    delay=[0, 0, 120, 0, 0],  # two minutes after the first word: the test ends well before
)


def stream_body(content: str) -> bytes:
    body = {"model": "smart", "messages": [{"role": "user", "content": content}], "stream": True}
    return msgspec.json.encode(body)


async def first_word(raw: Raw) -> bytes:
    data = b""
    with anyio.fail_after(10):
        while b"word0" not in data:
            data += await raw.stream.receive()
    return data


async def rest(raw: Raw) -> bytes:
    """The rest of a streamed answer: up to the chunked body's end, or the connection's."""
    data = b""
    with anyio.fail_after(20):
        while not data.endswith(b"0\r\n\r\n"):
            try:
                data += await raw.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                break
    return data


async def refuses_connections(gateway: Served) -> bool:
    """Whether new connections are refused (the listening socket closed), within 10 s."""
    with anyio.fail_after(10):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", gateway.port)
            except OSError:
                return True
            await stream.aclose()
            await anyio.lowlevel.checkpoint()


async def test_sigterm_lets_a_stream_in_flight_finish(tmp_path: Path, anyio_backend: str) -> None:
    release = anyio.Event()

    async def upstream(req: RecordedRequest) -> Reply:
        await release.wait()  # answered only once the shutdown has begun
        return provider_reply(req, delay=0.01)

    async with MockServer(handler=upstream) as up:
        path = tmp_path / "gateway.toml"
        path.write_text(config_text(up.base_url, keys={"team-a": {"key": KEY}}))
        async with served(path, anyio_backend) as gateway, Raw.open(gateway.url) as raw:
            await raw.send(request("POST", "/v1/chat/completions", stream_body("a b c d e f")))
            await up.wait_for_requests(1)
            gateway.signal(signal.SIGTERM)
            await gateway.wait_log("SIGTERM: shutting down; 1 requests in flight have 30 s")
            assert await refuses_connections(gateway)
            release.set()
            response, body = await raw.response()
            assert response.status_code == 200
            assert body.rstrip().endswith(b"data: [DONE]") and b"error" not in body
            assert await gateway.exit_status() == 0
            assert "requests cut" not in gateway.log


@pytest.mark.parametrize("how", ["grace", "second signal"])
async def test_past_the_grace_period_a_stream_is_cut_and_its_upstream_closed(
    tmp_path: Path, anyio_backend: str, how: str
) -> None:
    async with MockServer(handler=lambda req: NEVER_ENDING) as up:
        path = tmp_path / "gateway.toml"
        path.write_text(config_text(up.base_url, keys={"team-a": {"key": KEY}}))
        grace = "0.2" if how == "grace" else "600"
        async with (
            served(path, anyio_backend, "--grace", grace) as gateway,
            Raw.open(gateway.url) as raw,
        ):
            await raw.send(request("POST", "/v1/chat/completions", stream_body("hi")))
            data = await first_word(raw)
            began = anyio.current_time()
            gateway.signal(signal.SIGTERM)
            if how == "second signal":
                await gateway.wait_log("SIGTERM: shutting down")
                gateway.signal(signal.SIGINT)
            data += await rest(raw)
            assert b"word1" not in data and b"[DONE]" not in data
            assert b'"code":"shutting_down"' in data
            assert b"the gateway is shutting down" in data
            await up.wait_for_client_disconnects(1, timeout=10)
            await up.wait_for_closed(1, timeout=10)
            assert up.open_connections == 0
            assert await gateway.exit_status() == 0
            assert anyio.current_time() - began < 60  # not the two minutes the stream had left
            cut = "1 requests cut" if how == "grace" else "stopping at once, 1 requests cut"
            assert cut in gateway.log
