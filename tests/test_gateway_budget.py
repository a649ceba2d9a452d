"""USD budgets per key, end to end: a real gateway, priced deployments, scripted upstreams.

The deployments cost USD 0.10 a token (``price`` 100000 per million), so each
call's cost is its usage in tenths of a dollar; the key's spend is read from
the gateway's own store. Every test runs on asyncio and trio.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import h11
import msgspec
import pytest

from agent_adapter.testing import MockServer, RecordedRequest, Reply
from gateway_support import KEY, Raw, config_text, header, make_app, request, running
from sse_builders import completion, text_stream

pytestmark = pytest.mark.anyio

PRICE = "input = 100000.0, output = 100000.0"  # USD per million tokens: 0.10 a token
_json = msgspec.json.encode


def chat(
    model: str = "smart",
    *,
    stream: bool = False,
    path: str = "/v1/chat/completions",
    content: str = "hi",
) -> bytes:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    if path == "/v1/messages":
        body["max_tokens"] = 64
    return request("POST", path, _json(body))


def anthropic_events(usage_in: int, *, end: bool) -> list[bytes]:
    """An Anthropic stream: its start (with the input tokens), some text, and its end or not."""

    def event(name: str, data: dict[str, Any]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _json(data) + b"\n\n"

    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": usage_in, "output_tokens": 1},
    }
    out = [
        event("message_start", {"type": "message_start", "message": message}),
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hel"},
            },
        ),
    ]
    if end:
        out += [
            event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 2},
                },
            ),
            event("message_stop", {"type": "message_stop"}),
        ]
    return out


async def send(url: str, data: bytes) -> tuple[h11.Response, bytes]:
    """One request on a fresh connection: the response and its whole body."""
    async with Raw.open(url) as raw:
        await raw.send(data)
        return await raw.response()


async def charged(spend: Any, usd: float) -> None:
    """Wait until ``spend`` is ``usd``: the charge follows the answer's last byte at once."""
    with anyio.fail_after(5):
        while spend.spent() != pytest.approx(usd):  # noqa: ASYNC110 - no event to wait on
            await anyio.sleep(0.005)


async def test_a_key_is_refused_once_its_spend_reaches_the_budget(
    tmp_path: Path, anyio_backend: str
) -> None:
    def handler(req: RecordedRequest) -> Reply:
        if req.json().get("stream"):
            return Reply.sse(text_stream("a", "b"))  # 9 + 2 tokens: USD 1.10
        return Reply.json(completion())  # 12 + 3 tokens: USD 1.50

    keys = {"team-a": {"key": KEY, "budget": '{ usd = 4.0, per = "day" }'}}
    async with MockServer(handler) as up:
        app = make_app(tmp_path, config_text(up.base_url, keys=keys, price=PRICE))
        spend = app._limits["team-a"].spend
        assert spend is not None
        async with running(app, anyio_backend) as url:
            for stream, spent in ((False, 1.5), (True, 2.6), (False, 4.1)):
                response, body = await send(url, chat(stream=stream))
                assert response.status_code == 200, body
                if stream:
                    assert body.endswith(b"data: [DONE]\n\n")
                await charged(spend, spent)
            response, body = await send(url, chat())
            today = datetime.now(UTC)
            midnight = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
        assert response.status_code == 429
        error = msgspec.json.decode(body)["error"]
        assert error["code"] == "budget_exceeded" and error["type"] == "rate_limit_error"
        assert error["message"] == (
            f"key 'team-a' has spent its USD 4.00 budget for {today:%Y-%m-%d}; "
            "it resets at 00:00 UTC"
        )
        retry_after = int(header(response, b"retry-after") or 0)
        assert abs(retry_after - (midnight - today).total_seconds()) < 60
        assert len(up.requests) == 3  # the refused call never went upstream
        assert app.store is None  # in memory: no [gateway.state]
        stored = f"gateway:spend:team-a:{today:%Y-%m-%d}"
        assert spend.store.get(stored) == pytest.approx(4.1)


async def test_a_stream_cut_short_is_charged_for_the_usage_it_reported(
    tmp_path: Path, anyio_backend: str
) -> None:
    def handler(req: RecordedRequest) -> Reply:
        cut = req.json()["messages"][0]["content"] == "hi"
        events = anthropic_events(20 if cut else 30, end=False)
        if cut:  # then the upstream stream just ends
            return Reply.sse(events)
        return Reply.sse([*events, events[-1]], delay=[0, 0, 0, 30])  # then holds

    keys = {"team-a": {"key": KEY, "budget": '{ usd = 100.0, per = "month" }'}}
    async with MockServer(handler) as up:
        app = make_app(tmp_path, config_text(anthropic=up.base_url, keys=keys, price=PRICE))
        spend = app._limits["team-a"].spend
        assert spend is not None
        async with running(app, anyio_backend) as url:
            response, body = await send(url, chat("claude", stream=True, path="/v1/messages"))
            assert response.status_code == 200
            assert b"event: error" in body  # the stream's failure, said in the stream
            # 20 input tokens and the 1 output token message_start reported: USD 2.10.
            await charged(spend, 2.1)

            async with Raw.open(url) as raw:  # the client leaves in the middle of the stream
                await raw.send(chat("claude", stream=True, path="/v1/messages", content="wait"))
                seen = b""
                with anyio.fail_after(10):
                    while b"Hel" not in seen:
                        seen += await raw.stream.receive()
            await charged(spend, 2.1 + 3.1)  # 30 + 1 tokens, charged as the call was cancelled
