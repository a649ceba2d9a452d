"""The gateway's WebSocket endpoint ``/v1/ws``, for real, on asyncio and trio.

Hypercorn serves the gateway on a loopback port in front of a MockServer
upstream; the client is wsproto over a raw TCP stream (``ws_support``), so
the handshake's status, the close codes and an abrupt close are seen as
sent. Cancellation is checked where it matters, at the upstream: its
connection must close, as for an HTTP client that leaves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from agent_adapter.gateway import ws
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from agent_adapter.testing.replies import RecordedRequest
from gateway_support import KEY, OTHER_KEY, config_text, make_app, running
from metrics_support import scrape, settled, value
from sse_builders import chunk
from ws_support import WS, Refused, chat, text_of

pytestmark = pytest.mark.anyio

WORDS = 60
SLOW = Reply.sse(
    [chunk({"role": "assistant", "content": ""})]
    + [chunk({"content": f"word{i} "}) for i in range(WORDS)]
    + [chunk({}, "stop"), b"data: [DONE]\n\n"],
    delay=0.05,  # three seconds in all: long enough for the others to pass it
)
SLOW_TEXT = "".join(f"word{i} " for i in range(WORDS))
KEYS: dict[str, dict[str, Any]] = {
    "team-a": {"key": KEY, "models": ["smart"]},
    "team-b": {"key": OTHER_KEY, "rpm": 1},
}


def upstream(request: RecordedRequest) -> Reply:
    """``slow``: the slow stream above; ``stall``: no answer; else the fake OpenAI's answer."""
    text = request.json()["messages"][-1]["content"]
    if text == "slow":
        return SLOW
    if text == "stall":
        return Reply.stall()
    return provider_reply(request)


@asynccontextmanager
async def gateway(
    tmp_path: Path, backend: str, *, keys: Mapping[str, Any] = KEYS, options: str = ""
) -> AsyncIterator[tuple[str, MockServer]]:
    async with MockServer(handler=upstream) as up:
        text = config_text(up.base_url, up.base_url, keys=keys, gateway=options)
        async with running(make_app(tmp_path, text), backend) as url:
            yield url, up


async def first_chunk(socket: WS, rid: str) -> None:
    """Wait for ``rid``'s first content."""
    while True:
        message = await socket.receive()
        assert message["id"] == rid and message["type"] == "chunk"
        if text_of([message], rid):
            return


async def test_a_chat_is_answered_with_done(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up), WS.open(url) as socket:
        await socket.send(chat("r1", max_tokens=50))
        (done,) = await socket.until_done("r1")
        assert done["type"] == "done" and done["id"] == "r1"
        response = done["response"]
        assert response["object"] == "chat.completion" and response["model"] == "gpt-4o"
        assert response["choices"][0]["message"]["content"] == "You said: hi"
        assert response["usage"]["total_tokens"] > 0
        sent = up.requests[0]
        assert sent.json()["model"] == "gpt-4o" and 50 in sent.json().values()
        assert KEY not in str(sent.header_list)  # the client's key never goes upstream


async def test_a_stream_is_chunks_then_done(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, _), WS.open(url) as socket:
        body = {"stream": True, "stream_options": {"include_usage": True}}
        rid = 's\n"1'  # escaped in JSON: the chunk framing must not split on it
        await socket.send(chat(rid, "tell me", **body))
        got = await socket.until_done(rid)
        *chunks, done = got
        assert {m["type"] for m in chunks} == {"chunk"} and done["type"] == "done"
        objects = [m["chunk"] for m in chunks]
        assert all(o["object"] == "chat.completion.chunk" for o in objects)
        assert objects[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert objects[-2]["choices"][0]["finish_reason"] == "stop"
        assert objects[-1]["choices"] == [] and objects[-1]["usage"]["total_tokens"] > 0
        assert len({o["id"] for o in objects}) == 1
        assert {m["id"] for m in got} == {rid}
        text = text_of(got, rid)
        assert text == "You said: tell me"
        assert done["response"]["choices"][0]["message"]["content"] == text


async def test_requests_interleave_on_one_socket_unmixed(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, _), WS.open(url) as socket:
        await socket.send(chat("slow", "slow", stream=True))
        await first_chunk(socket, "slow")
        await socket.send(chat("fast", "fast one", stream=True))
        await socket.send(chat("whole", "whole one"))
        got: list[dict[str, Any]] = []
        ended: list[str] = []
        while len(ended) < 3:
            message = await socket.receive()
            got.append(message)
            if message["type"] != "chunk":
                assert message["type"] == "done", message
                ended.append(message["id"])
        assert ended[-1] == "slow"  # the others passed it
        at = next(i for i, m in enumerate(got) if m["id"] == "fast" and m["type"] == "done")
        assert any(m["id"] == "slow" for m in got[at:-1])  # and it went on streaming after
        assert text_of(got, "fast") == "You said: fast one"
        assert text_of(got, "slow") == SLOW_TEXT.removeprefix("word0 ")  # word0 came first
        assert "word" not in text_of(got, "fast")
        said = {
            m["id"]: m["response"]["choices"][0]["message"]["content"]
            for m in got
            if m["type"] == "done"
        }
        assert said == {
            "fast": "You said: fast one",
            "whole": "You said: whole one",
            "slow": SLOW_TEXT,
        }


async def test_cancel_ends_one_request_and_closes_its_upstream(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up), WS.open(url) as socket:
        await socket.send(chat("slow", "slow", stream=True))
        await first_chunk(socket, "slow")
        await socket.send(chat("other", "other one", stream=True))
        await socket.send({"type": "cancel", "id": "slow"})
        got = await socket.until_done("slow")
        last = got[-1]
        assert last["type"] == "error"
        assert last["error"]["type"] == "cancelled_error" and last["error"]["code"] == "cancelled"
        await up.wait_for_client_disconnects(1, timeout=5)
        await up.wait_for_closed(1, timeout=5)
        if not any(m["id"] == "other" and m["type"] == "done" for m in got):
            got += await socket.until_done("other")
        assert text_of(got, "other") == "You said: other one"
        await socket.send({"type": "cancel", "id": "slow"})  # no longer in flight: ignored
        await socket.send(chat("slow", "again"))  # the id is free again
        (again,) = await socket.until_done("slow")
        assert again["type"] == "done"


async def test_cancel_while_waiting_for_a_whole_answer(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up), WS.open(url) as socket:
        await socket.send(chat("w", "stall"))
        await up.wait_for_requests(1)
        await socket.send({"type": "cancel", "id": "w"})
        (last,) = await socket.until_done("w")
        assert last["error"]["code"] == "cancelled"
        await up.wait_for_client_disconnects(1, timeout=5)
        await up.wait_for_closed(1, timeout=5)


@pytest.mark.parametrize("how", ["close frame", "tcp close"])
async def test_closing_the_socket_cancels_every_upstream(
    tmp_path: Path, anyio_backend: str, how: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up):
        async with WS.open(url) as socket:
            await socket.send(chat("a", "slow", stream=True))
            await socket.send(chat("b", "slow", stream=True))
            seen: list[dict[str, Any]] = []
            while not (text_of(seen, "a") and text_of(seen, "b")):  # both are streaming
                seen.append(await socket.receive())
            if how == "close frame":
                await socket.close()
        await up.wait_for_client_disconnects(2, timeout=5)
        await up.wait_for_closed(2, timeout=5)
        assert up.open_connections == 0


@pytest.mark.parametrize(
    ("key", "message"), [(None, "missing API key"), ("aa-wrong", "invalid API key")]
)
async def test_a_bad_key_is_refused_with_401(
    tmp_path: Path, anyio_backend: str, key: str | None, message: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up):
        with pytest.raises(Refused) as refused:
            async with WS.open(url, key=key):
                pass
        assert refused.value.status == 401
        error = msgspec.json.decode(refused.value.body)["error"]
        assert error["code"] == "invalid_api_key" and error["message"].startswith(message)
        assert "aa-wrong" not in refused.value.body.decode()
        with pytest.raises(Refused) as elsewhere:
            async with WS.open(url, path="/v1/other"):
                pass
        assert elsewhere.value.status == 404
        assert up.requests == []


async def test_a_model_the_key_may_not_use(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up), WS.open(url) as socket:
        await socket.send(chat("r", model="claude"))
        (error,) = await socket.until_done("r")
        assert error["type"] == "error"
        assert error["error"]["type"] == "permission_error"
        assert error["error"]["code"] == "model_not_allowed" and error["error"]["param"] == "model"
        await socket.send(chat("r", model="smart", logprobs=True))
        (bad,) = await socket.until_done("r")
        assert bad["error"]["param"] == "logprobs"  # the same checks as on HTTP
        assert up.requests == []


async def test_bad_messages_get_errors_and_the_socket_stays_open(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, _), WS.open(url) as socket:
        await socket.send("{not json")
        first = await socket.receive()
        assert first["type"] == "error" and first["id"] is None
        assert first["error"]["code"] == "invalid_json"
        await socket.send("[1, 2]")
        assert (await socket.receive())["id"] is None
        await socket.send({"type": "chat", "body": {}})
        no_id = await socket.receive()
        assert no_id["id"] is None and no_id["error"]["param"] == "id"
        await socket.send({"type": "dance", "id": "x"})
        unknown = await socket.receive()
        assert unknown["id"] == "x" and unknown["error"]["code"] == "unknown_type"
        await socket.send({"type": "chat", "id": "y", "body": "hi"})
        assert (await socket.receive())["error"]["param"] == "body"
        await socket.send(msgspec.json.encode(chat("z")))  # a binary message is read too
        (done,) = await socket.until_done("z")
        assert done["type"] == "done"


async def test_a_duplicate_id_in_flight_is_refused(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, _), WS.open(url) as socket:
        await socket.send(chat("d", "slow", stream=True))
        await first_chunk(socket, "d")
        await socket.send(chat("d", "again"))
        while (message := await socket.receive())["type"] == "chunk":
            pass
        assert message["type"] == "error" and message["error"]["code"] == "duplicate_id"
        await socket.send({"type": "cancel", "id": "d"})
        got = await socket.until_done("d")
        assert got[-1]["error"]["code"] == "cancelled"  # the first one ran on until cancelled


@pytest.mark.parametrize("text", ["a" * 5000, "é" * 3000])  # hypercorn's own bound; ours
async def test_an_oversize_message_closes_with_1009(
    tmp_path: Path, anyio_backend: str, text: str
) -> None:
    options = "max_body_bytes = 4096"
    async with gateway(tmp_path, anyio_backend, options=options) as (url, up):
        async with WS.open(url) as socket:
            await socket.send(chat("big", text))
            closed = await socket.closed()
            assert closed.code == 1009
        assert up.requests == []


async def test_a_key_over_its_rate_limit(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up), WS.open(url, key=OTHER_KEY) as s:
        await s.send(chat("1"))
        assert (await s.until_done("1"))[-1]["type"] == "done"
        await s.send(chat("2"))
        (limited,) = await s.until_done("2")
        assert limited["type"] == "error" and limited["error"]["type"] == "rate_limit_error"
        assert "rate limit of key 'team-b'" in limited["error"]["message"]
        assert limited["retry_after"] >= 1
        assert len(up.requests) == 1


async def test_max_in_flight_counts_socket_requests(tmp_path: Path, anyio_backend: str) -> None:
    one = "max_in_flight = 1"
    async with gateway(tmp_path, anyio_backend, options=one) as (url, _), WS.open(url) as socket:
        await socket.send(chat("a", "slow", stream=True))
        await first_chunk(socket, "a")
        await socket.send(chat("b"))
        while (message := await socket.receive())["id"] != "b":
            pass
        assert message["error"]["type"] == "rate_limit_error"
        assert "max_in_flight" in message["error"]["message"]


async def test_requests_per_socket_are_capped(
    tmp_path: Path, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws, "MAX_REQUESTS_PER_SOCKET", 1)
    async with gateway(tmp_path, anyio_backend) as (url, _), WS.open(url) as socket:
        await socket.send(chat("a", "slow", stream=True))
        await first_chunk(socket, "a")
        await socket.send(chat("b"))
        while (message := await socket.receive())["id"] != "b":
            pass
        assert message["error"]["code"] == "too_many_requests"
        await socket.send({"type": "cancel", "id": "a"})
        await socket.until_done("a")
        await socket.send(chat("b"))
        assert (await socket.until_done("b"))[-1]["type"] == "done"


async def test_an_idle_socket_is_closed(
    tmp_path: Path, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws, "IDLE_TIMEOUT", 0.2)
    async with gateway(tmp_path, anyio_backend) as (url, _), WS.open(url) as socket:
        with anyio.fail_after(5):
            closed = await socket.closed()
        assert (closed.code, closed.reason) == (1000, "idle")


async def test_socket_requests_are_in_the_metrics(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, _), WS.open(url) as socket:
        await socket.send(chat("whole"))
        await socket.until_done("whole")
        body = {"stream": True, "stream_options": {"include_usage": True}}
        await socket.send(chat("streamed", "tell me", **body))
        streamed = await socket.until_done("streamed")
        usage = streamed[-1]["response"]["usage"]
        await socket.send(chat("refused", model="claude"))  # team-a may use smart only
        await socket.until_done("refused")
        await socket.send(chat("cancelled", "slow", stream=True))
        await first_chunk(socket, "cancelled")
        await socket.send({"type": "cancel", "id": "cancelled"})
        await socket.until_done("cancelled")
        labels = {"endpoint": ws.PATH, "key": "team-a"}

        def recorded(s: dict[Any, float]) -> bool:
            return value(s, "requests_total", **labels, model="smart", status="499") == 1

        samples = await settled(url, recorded)
        assert value(samples, "requests_total", **labels, model="smart", status="200") == 2
        assert value(samples, "requests_total", **labels, model="-", status="403") == 1
        assert value(samples, "errors_total", **labels, model="-", type="permission_error") == 1
        assert (
            value(samples, "time_to_first_token_seconds_count", endpoint=ws.PATH, model="smart")
            == 2
        )
        assert value(samples, "streams_in_flight", **labels, model="smart") == 0
        tokens = value(samples, "output_tokens_total", model="smart", key="team-a")
        assert tokens >= usage["completion_tokens"] > 0
        assert "other" not in (await scrape(url))[2]  # /v1/ws is its own endpoint label
