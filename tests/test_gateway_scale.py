"""1,000 streamed chats at once through one gateway: none lost, none mixed, each ending in [DONE].

One in-process hypercorn gateway in front of one MockServer upstream that
answers each request with its own words ("You said: stream-0042", streamed
in pieces 100 ms apart). The clients are raw sockets parsed with h11 (a thousand SDK
clients would measure the SDK): all open their connections, then all send
their requests at once and read their streams to the end. The Router's pool
(256 connections to one upstream by default) queues what is beyond it;
``max_in_flight`` is raised above the thousand.
"""

from __future__ import annotations

import resource
from functools import partial
from pathlib import Path

import anyio
import h11
import msgspec
import pytest

from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply
from gateway_support import config_text, make_app, request, running

pytestmark = pytest.mark.anyio

STREAMS = 1000
FILES_NEEDED = 4 * STREAMS + 512  # client, gateway and upstream ends, and the rest


def enough_files() -> None:
    """Raise the soft limit on open files to what the test needs, or skip saying why."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < FILES_NEEDED:
        if hard != resource.RLIM_INFINITY and hard < FILES_NEEDED:
            pytest.skip(f"needs {FILES_NEEDED} open files; the hard limit (ulimit -Hn) is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (FILES_NEEDED, hard))


class Start:
    """Every client connected before any sends: all the requests reach the gateway at once."""

    def __init__(self, n: int) -> None:
        self.waiting = n
        self.go = anyio.Event()

    async def wait(self) -> None:
        self.waiting -= 1
        if not self.waiting:
            self.go.set()
        await self.go.wait()


async def one_stream(
    port: int, index: int, start: Start, results: dict[int, tuple[str, bool]]
) -> None:
    """Stream chat ``index`` and keep (its text, whether it ended with [DONE])."""
    body = {
        "model": "smart",
        "stream": True,
        "messages": [{"role": "user", "content": f"stream-{index:04d}"}],
    }
    conn = h11.Connection(h11.CLIENT)
    data = b""
    async with await anyio.connect_tcp("127.0.0.1", port) as sock:
        await start.wait()
        await sock.send(request("POST", "/v1/chat/completions", msgspec.json.encode(body)))
        status = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await sock.receive())
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                data += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
    assert status == 200, data
    events = [e.removeprefix(b"data: ") for e in data.split(b"\n\n") if e]
    done = events[-1] == b"[DONE]"
    text = ""
    for payload in events[:-1] if done else events:
        for choice in msgspec.json.decode(payload)["choices"]:
            text += choice["delta"].get("content") or ""
    results[index] = (text, done)


async def test_a_thousand_streams_at_once_each_get_exactly_their_own_answer(
    tmp_path: Path, anyio_backend: str
) -> None:
    enough_files()
    results: dict[int, tuple[str, bool]] = {}
    # 100 ms between chunks: a stream lasts long enough for the others to arrive meanwhile.
    async with MockServer(handler=partial(provider_reply, delay=0.1)) as up:
        text = config_text(up.base_url, gateway="max_in_flight = 2000")
        app = make_app(tmp_path, text)
        gate = app._in_flight
        assert gate is not None
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, gate.in_flight)
                await anyio.sleep(0.002)

        async with running(app, anyio_backend) as url, anyio.create_task_group() as watching:
            watching.start_soon(watch)
            port = int(url.rsplit(":", 1)[1])
            start, began = Start(STREAMS), anyio.current_time()
            with anyio.fail_after(120):  # generous: a shared 2-core machine; see the report
                async with anyio.create_task_group() as tg:
                    for i in range(STREAMS):
                        tg.start_soon(one_stream, port, i, start, results)
            elapsed = anyio.current_time() - began
            watching.cancel_scope.cancel()
    print(f"{STREAMS} streams on {anyio_backend} in {elapsed:.1f} s, {peak} at once at most")
    # Served at once, not one after another. (asyncio takes in all 1,000 at once; hypercorn on
    # trio takes them in more slowly, ~100-150 at once here: hence a bound that holds under load.)
    assert peak > 20
    assert len(results) == STREAMS and len(up.requests) == STREAMS
    wrong = {i: got for i, got in results.items() if got != (f"You said: stream-{i:04d}", True)}
    assert not wrong, f"{len(wrong)} streams lost or mixed, e.g. {next(iter(wrong.items()))}"
