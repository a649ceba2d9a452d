"""``agent-adapter serve`` and ``agent-adapter keys new``, as a user runs them.

``serve`` runs as a real subprocess on each backend, with no config file:
it must find the provider key in the environment, say where it listens and
what it serves, answer a ``provider/model`` request through a MockServer
upstream, and stop cleanly on Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import signal
import sys
import tomllib
from pathlib import Path

import anyio
import msgspec
import pytest

from agent_adapter.cli import main
from agent_adapter.gateway import key_hash, read_settings
from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply
from gateway_support import Raw, request


def test_keys_new_prints_a_key_once_and_its_config_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "new", "--name", "team-a"]) == 0
    out = capsys.readouterr().out
    key = out.splitlines()[0].removeprefix("key: ")
    assert key.startswith("aa-") and out.count(key) == 1
    table = tomllib.loads(out[out.index("[gateway.keys.team-a]") :])
    assert table["gateway"]["keys"]["team-a"]["hash"] == key_hash(key)
    (parsed,) = read_settings(table["gateway"]).keys
    assert parsed.name == "team-a"
    assert main(["keys", "new", "--name", "team a"]) == 2


def test_serve_refuses_an_open_public_bind_and_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "refusing to serve on 0.0.0.0 without client keys" in capsys.readouterr().err
    path = tmp_path / "gateway.toml"
    path.write_text('[models]\nsmart = ["openai/gpt-4o"]\n[gateway]\nmax_in_flight = 0\n')
    assert main(["serve", "--config", str(path), "--port", "0"]) == 2
    assert "gateway.max_in_flight: must be a positive integer" in capsys.readouterr().err


@pytest.mark.anyio
async def test_serve_without_config_serves_direct_models(anyio_backend: str) -> None:
    backend = anyio_backend  # the server's backend: the test's own
    async with MockServer(handler=provider_reply) as up:
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-from-env",
            "OPENAI_BASE_URL": up.base_url + "/v1",
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "agent_adapter", "serve", "--port", "0"]
        async with await anyio.open_process([*command, "--backend", backend], env=env) as proc:
            assert proc.stdout is not None
            banner = b""
            with anyio.fail_after(20):
                while b"keys:" not in banner:
                    banner += await proc.stdout.receive()
            text = banner.decode()
            assert f"({backend})" in text and "direct:    provider/model for openai" in text
            url = text.split("listening on ", 1)[1].split()[0]
            body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
            async with Raw.open(url) as raw:
                await raw.send(
                    request("POST", "/v1/chat/completions", msgspec.json.encode(body), key=None)
                )
                response, answer = await raw.response()
            assert response.status_code == 200
            assert msgspec.json.decode(answer)["choices"][0]["message"]["content"] == "You said: hi"
            assert up.requests[0].headers["authorization"] == "Bearer sk-from-env"
            proc.send_signal(signal.SIGINT)
            with anyio.fail_after(10):
                assert await proc.wait() == 0
