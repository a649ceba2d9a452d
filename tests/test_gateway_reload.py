"""SIGHUP reloads the client keys: added, rotated and revoked live, without dropping a stream.

The end-to-end tests run ``agent-adapter serve`` as a process, edit its
config file, send SIGHUP and wait for the log line that says the keys were
swapped, then ask with each key. A stream admitted before the reload is
held at the upstream (an event, not a delay) until the new keys are
checked, and must then finish. A config with a mistake must leave the old
keys serving and log the key path. In-process tests check what the process
tests cannot see: a key whose limits did not change keeps its rpm bucket,
and a reload never leaves a non-loopback gateway without keys.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.testing.fake import provider_reply
from gateway_support import Raw, config_text, make_app, request, running
from serve_support import served

pytestmark = pytest.mark.anyio

A, B, C_OLD, C_NEW, D = (f"aa-reload-test-key-{n}" for n in ("a", "b", "c-old", "c-new", "d"))
SIGHUP = getattr(signal, "SIGHUP", None)
needs_sighup = pytest.mark.skipif(SIGHUP is None, reason="SIGHUP is a POSIX signal")


async def status(url: str, key: str) -> int:
    """The status of ``GET /v1/models`` with ``key``: 200 for a key in use, 401 otherwise."""
    async with Raw.open(url) as raw:
        await raw.send(request("GET", "/v1/models", key=key))
        response, _ = await raw.response()
    return int(response.status_code)


def chat(content: str, *, stream: bool = False) -> bytes:
    body = {"model": "smart", "messages": [{"role": "user", "content": content}], "stream": stream}
    return msgspec.json.encode(body)


@needs_sighup
async def test_sighup_adds_rotates_and_revokes_keys_while_a_stream_runs(
    tmp_path: Path, anyio_backend: str
) -> None:
    release = anyio.Event()

    async def upstream(req: RecordedRequest) -> Reply:
        if b"hold" in req.body:
            await release.wait()  # admitted with key b, answered after b is revoked
        return provider_reply(req)

    async with MockServer(handler=upstream) as up:
        path = tmp_path / "gateway.toml"
        path.write_text(
            config_text(up.base_url, keys={"a": {"key": A}, "b": {"key": B}, "c": {"key": C_OLD}})
        )
        async with served(path, anyio_backend) as gateway:
            assert [await status(gateway.url, k) for k in (A, B, C_OLD, C_NEW, D)] == [
                200,
                200,
                200,
                401,
                401,
            ]
            async with Raw.open(gateway.url) as held:
                await held.send(
                    request("POST", "/v1/chat/completions", chat("hold", stream=True), key=B)
                )
                await up.wait_for_requests(1)
                path.write_text(
                    config_text(
                        up.base_url, keys={"a": {"key": A}, "c": {"key": C_NEW}, "d": {"key": D}}
                    )
                )
                assert SIGHUP is not None
                gateway.signal(SIGHUP)
                await gateway.wait_log("reloaded the client keys")
                assert "3 keys (added: d; revoked: b; rotated: c)" in gateway.log
                assert "Only [gateway.keys] is reloaded" in gateway.log
                assert [await status(gateway.url, k) for k in (A, B, C_OLD, C_NEW, D)] == [
                    200,
                    401,
                    401,
                    200,
                    200,
                ]
                release.set()
                response, body = await held.response()
            assert response.status_code == 200
            assert body.rstrip().endswith(b"data: [DONE]") and b"You said: hold" in b"".join(
                msgspec.json.decode(line[6:])["choices"][0]["delta"].get("content", "").encode()
                for line in body.split(b"\n\n")
                if line.startswith(b"data: {") and b'"choices":[{' in line
            )
            for key in (A, B, C_OLD, C_NEW, D):
                assert key not in gateway.log
            gateway.signal(signal.SIGTERM)
            assert await gateway.exit_status() == 0


@needs_sighup
async def test_a_broken_config_on_sighup_keeps_the_old_keys_and_says_where(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with MockServer(handler=provider_reply) as up:
        path = tmp_path / "gateway.toml"
        path.write_text(config_text(up.base_url, keys={"a": {"key": A}}))
        async with served(path, anyio_backend) as gateway:
            assert SIGHUP is not None
            broken = [
                (
                    config_text(up.base_url, keys={"a": {"key": A, "rpm": 0}}),
                    "gateway.keys.a.rpm: must be a positive integer",
                ),
                (
                    config_text(up.base_url, keys={"a": {"key": A}}) + "[gateway.keys.b\n",
                    "invalid TOML",
                ),
                (
                    config_text(up.base_url, keys={"a": {"key": A, "models": ["nope"]}}),
                    "gateway.keys.a.models[0]: 'nope' is not a group in [models]",
                ),
            ]
            for count, (text, error) in enumerate(broken, 1):
                path.write_text(text)
                gateway.signal(SIGHUP)
                await gateway.wait_log("failed, nothing changed (1 key in use)", count)
                assert error in gateway.log
                assert await status(gateway.url, A) == 200
                assert gateway.process.returncode is None
            path.write_text(config_text(up.base_url, keys={"a": {"key": A}, "b": {"key": B}}))
            gateway.signal(SIGHUP)
            await gateway.wait_log("reloaded the client keys")
            assert await status(gateway.url, B) == 200
            gateway.signal(signal.SIGTERM)
            assert await gateway.exit_status() == 0


async def test_a_key_whose_limits_stay_keeps_its_rpm_bucket(
    tmp_path: Path, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent_adapter.gateway")
    async with MockServer(handler=provider_reply) as up:
        app = make_app(tmp_path, config_text(up.base_url, keys={"a": {"key": A, "rpm": 2}}))
        path = app.source
        assert isinstance(path, Path)

        async def ask() -> int:
            async with Raw.open(url) as raw:
                await raw.send(request("POST", "/v1/chat/completions", chat("hi"), key=A))
                response, _ = await raw.response()
            return int(response.status_code)

        async with running(app, anyio_backend) as url:
            assert [await ask(), await ask(), await ask()] == [200, 200, 429]
            gates = app._limits["a"]
            # Same limits, another allowlist: the same gates, so still no request left.
            path.write_text(
                config_text(up.base_url, keys={"a": {"key": A, "rpm": 2, "models": ["smart"]}})
            )
            assert app.reload()
            assert app._limits["a"] is gates and app.settings.keys[0].models == ("smart",)
            assert await ask() == 429
            assert "1 key (changed: a)" in caplog.text
            # New limits: new gates.
            path.write_text(config_text(up.base_url, keys={"a": {"key": A, "rpm": 3}}))
            assert app.reload()
            assert app._limits["a"] is not gates
            assert await ask() == 200


async def test_a_reload_never_leaves_a_public_gateway_without_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, config_text("http://127.0.0.1:9", keys={"a": {"key": A}}))
    path = app.source
    assert isinstance(path, Path)
    app.keys_required = True  # serve sets it on a non-loopback bind
    path.write_text(config_text("http://127.0.0.1:9"))
    assert not app.reload()
    assert "gateway.keys: is empty" in caplog.text
    assert app.keys.find(A) is not None
    # Other changes are named as needing a restart, and not applied.
    path.write_text(
        config_text("http://127.0.0.1:9", keys={"a": {"key": A}}, gateway="max_in_flight = 7")
    )
    caplog.set_level(logging.INFO, logger="agent_adapter.gateway")
    assert app.reload()
    assert "gateway.max_in_flight changed and need a restart" in caplog.text
    assert app.settings.max_in_flight != 7


async def test_a_key_revoked_while_its_request_arrives_gets_401(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with MockServer(handler=provider_reply) as up:
        app = make_app(
            tmp_path, config_text(up.base_url, keys={"a": {"key": A}, "b": {"key": B, "rpm": 5}})
        )
        path = app.source
        assert isinstance(path, Path)
        reading = anyio.Event()

        async def watched(scope: Any, receive: Any, send: Any) -> None:
            async def read() -> Any:
                reading.set()  # the key was checked: the gateway reads the body after that
                return await receive()

            await app(scope, read if scope["type"] == "http" else receive, send)

        async with running(watched, anyio_backend) as url, Raw.open(url) as raw:
            whole = request("POST", "/v1/chat/completions", chat("hi"), key=B)
            await raw.send(whole[:-5])  # its body still arriving
            with anyio.fail_after(5):
                await reading.wait()
            path.write_text(config_text(up.base_url, keys={"a": {"key": A}}))
            assert app.reload()
            await raw.send(whole[-5:])
            response, body = await raw.response()
            assert response.status_code == 401
            error: Any = msgspec.json.decode(body)["error"]
            assert error["code"] == "invalid_api_key"
            assert not up.requests
