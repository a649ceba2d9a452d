"""The gateway over raw sockets: bad input, keys, limits and health, as HTTP/1.1 bytes.

What an SDK would never send (malformed JSON, a wrong content type, a body
over the limit, a body that stops arriving, no key at all) is sent here by
hand, and the answer is read with h11: the status, the error body in the
caller's protocol, and whether the connection was closed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import h11
import msgspec
import pytest

from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, Raw, config_text, header, make_app, request, running

pytestmark = pytest.mark.anyio

CHAT = msgspec.json.encode({"model": "smart", "messages": [{"role": "user", "content": "hi"}]})
KEYS = {"team-a": {"key": KEY}}


@asynccontextmanager
async def gateway(
    tmp_path: Path,
    backend: str,
    *,
    handler: Any = provider_reply,
    gateway: str = "",
    extra: str = "",
) -> AsyncIterator[tuple[str, MockServer]]:
    async with MockServer(handler=handler) as up:
        text = config_text(up.base_url, up.base_url, keys=KEYS, gateway=gateway, extra=extra)
        async with running(make_app(tmp_path, text), backend) as url:
            yield url, up


async def exchange(url: str, data: bytes) -> tuple[int, dict[str, Any], Any]:
    async with Raw.open(url) as raw:
        await raw.send(data)
        head, body = await raw.response()
    return head.status_code, dict(head.headers), msgspec.json.decode(body) if body else None


async def test_bad_bodies_are_400_and_415(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up):
        status, _, body = await exchange(url, request("POST", "/v1/chat/completions", b"{oops"))
        assert status == 400
        assert body["error"]["type"] == "invalid_request_error"
        assert "not valid JSON" in body["error"]["message"]
        status, _, body = await exchange(url, request("POST", "/v1/chat/completions", b"[1, 2]"))
        assert status == 400 and "JSON object" in body["error"]["message"]
        status, _, body = await exchange(
            url, request("POST", "/v1/chat/completions", CHAT, content_type="text/plain")
        )
        assert status == 415 and body["error"]["code"] == "unsupported_media_type"
        status, _, body = await exchange(url, request("POST", "/v1/messages", b"{oops"))
        assert status == 400 and body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
        assert up.requests == []


async def test_an_oversized_body_is_refused_before_it_is_read(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend, gateway="max_body_bytes = 1000") as (url, _):
        async with Raw.open(url) as raw:
            head = request("POST", "/v1/chat/completions", b"", key=KEY).replace(
                b"Content-Length: 0", b"Content-Length: 5000000\r\nContent-Type: application/json"
            )
            await raw.send(head)  # not one byte of the body: the head alone is enough
            response, body = await raw.response()
            assert response.status_code == 413
            assert msgspec.json.decode(body)["error"]["code"] == "request_too_large"
            assert header(response, b"connection") == b"close"
            assert await raw.closed()
        async with Raw.open(url) as raw:  # chunked: refused at the chunk that crosses the limit
            head = request("POST", "/v1/chat/completions", b"", key=KEY).replace(
                b"Content-Length: 0",
                b"Transfer-Encoding: chunked\r\nContent-Type: application/json",
            )
            await raw.send(head + b"258\r\n" + b" " * 600 + b"\r\n")
            await raw.send(b"258\r\n" + b" " * 600 + b"\r\n")
            response, _ = await raw.response()
            assert response.status_code == 413
            assert await raw.closed()


async def test_a_stalled_body_times_out_and_frees_the_connection(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend, gateway="body_timeout = 0.3") as (url, up):
        async with Raw.open(url) as raw:
            await raw.send(request("POST", "/v1/chat/completions", CHAT)[:-20])  # never finished
            with anyio.fail_after(3):
                response, body = await raw.response()
            assert response.status_code == 408
            assert msgspec.json.decode(body)["error"]["code"] == "request_timeout"
            assert await raw.closed()
        assert up.requests == []


async def test_missing_and_wrong_keys(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, up):
        status, _, body = await exchange(
            url, request("POST", "/v1/chat/completions", CHAT, key=None)
        )
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        assert "missing API key" in body["error"]["message"]
        wrong = "aa-guessed-key-1234"
        status, _, body = await exchange(url, request("GET", "/v1/models", key=wrong))
        assert status == 401 and body["error"]["message"] == "invalid API key"
        assert wrong not in msgspec.json.encode(body).decode()
        status, _, body = await exchange(url, request("POST", "/v1/messages", CHAT, key=None))
        assert status == 401
        assert body == {
            "type": "error",
            "error": {
                "type": "authentication_error",
                "message": "missing API key: send it in "
                "an x-api-key or Authorization: Bearer header",
            },
        }
        messages = msgspec.json.encode(
            {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        )
        status, _, body = await exchange(
            url, request("POST", "/v1/messages", messages, key=None, headers={"x-api-key": KEY})
        )
        assert status == 200 and body["type"] == "message"
        status, _, _ = await exchange(  # x-api-key is Anthropic's header, not OpenAI's
            url, request("POST", "/v1/chat/completions", CHAT, key=None, headers={"x-api-key": KEY})
        )
        assert status == 401
        assert len(up.requests) == 1


async def test_routes_health_and_keep_alive(tmp_path: Path, anyio_backend: str) -> None:
    async with gateway(tmp_path, anyio_backend) as (url, _), Raw.open(url) as raw:
        for path, status in (("/healthz", 200), ("/readyz", 200), ("/v1/nope", 404)):
            await raw.send(request("GET", path, key=None))
            response, body = await raw.response()
            assert response.status_code == status, path
            raw.conn = h11.Connection(h11.CLIENT)  # the same socket: kept alive
        assert msgspec.json.decode(body)["error"]["code"] == "unknown_url"
        await raw.send(request("GET", "/v1/chat/completions"))
        response, body = await raw.response()
        assert response.status_code == 405
        assert "use POST" in msgspec.json.decode(body)["error"]["message"]


async def test_readyz_is_503_while_every_breaker_is_open(
    tmp_path: Path, anyio_backend: str
) -> None:
    def handler(request: Any) -> Reply:
        return Reply.error(500, {"error": {"message": "down", "type": "server_error"}})

    extra = "[breaker]\nfailure_threshold = 1\nreset_timeout = 60"
    async with gateway(tmp_path, anyio_backend, handler=handler, extra=extra) as (url, _):
        status, _, body = await exchange(url, request("GET", "/readyz", key=None))
        assert status == 200 and body == {"status": "ready", "open": 0, "deployments": 3}
        for model in ("smart", "embed", "claude"):
            what = {"model": model, "input": "x"} if model == "embed" else {"model": model}
            path = "/v1/embeddings" if model == "embed" else "/v1/chat/completions"
            if model != "embed":
                what["messages"] = [{"role": "user", "content": "hi"}]
            status, _, _ = await exchange(url, request("POST", path, msgspec.json.encode(what)))
            assert status == 502
        status, _, body = await exchange(url, request("GET", "/readyz", key=None))
        assert status == 503 and body == {"status": "unavailable", "open": 3, "deployments": 3}
        status, headers, body = await exchange(url, request("POST", "/v1/chat/completions", CHAT))
        assert status == 503 and body["error"]["type"] == "circuit_open_error"
        assert int(headers[b"retry-after"]) >= 1


async def test_max_in_flight_is_429(tmp_path: Path, anyio_backend: str) -> None:
    async with (
        gateway(
            tmp_path, anyio_backend, handler=lambda r: Reply.stall(), gateway="max_in_flight = 1"
        ) as (url, up),
        Raw.open(url) as busy,
    ):
        await busy.send(request("POST", "/v1/chat/completions", CHAT))
        await up.wait_for_requests(1)
        status, headers, body = await exchange(url, request("POST", "/v1/chat/completions", CHAT))
        assert status == 429 and body["error"]["type"] == "rate_limit_error"
        assert "max_in_flight" in body["error"]["message"]
        assert headers[b"retry-after"] == b"1"
        status, _, _ = await exchange(url, request("GET", "/healthz", key=None))
        assert status == 200  # health answers even when busy


def test_importing_the_gateway_never_imports_hypercorn() -> None:
    code = (
        "import sys, agent_adapter, agent_adapter.gateway; "
        "agent_adapter.gateway.create_app(None, env={}); "
        "bad = [m for m in ('hypercorn', 'starlette') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
