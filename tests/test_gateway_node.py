"""The official ``openai`` npm package against the gateway (chat, streams, tools, errors).

Needs ``node``: skipped, saying so, when it is not installed. The package is
the one ``.ci/run`` installed (``AA_NODE_MODULES`` names its directory), or
installed here with ``npm install openai`` into a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import anyio
import msgspec
import pytest

from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, config_text, make_app, running

SCRIPT = Path(__file__).parent / "node" / "openai_client.mjs"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(NODE is None, reason="node is not installed: the npm client is not tried"),
]


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose ``node_modules`` holds the ``openai`` package, with the script in it."""
    given = os.environ.get("AA_NODE_MODULES")
    if given:
        where = Path(given)
    else:
        where = tmp_path_factory.mktemp("node")
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not"
        command = [npm, "install", "--no-audit", "--no-fund", "--silent", "openai"]
        subprocess.run(command, cwd=where, check=True, timeout=300)
    shutil.copy(SCRIPT, where / SCRIPT.name)
    return where


async def test_the_openai_npm_client(tmp_path: Path, anyio_backend: str, node_dir: Path) -> None:
    assert NODE is not None
    async with MockServer(handler=provider_reply) as up:
        text = config_text(up.base_url, up.base_url, keys={"team-a": {"key": KEY}})
        async with running(make_app(tmp_path, text), anyio_backend) as url:
            script = str(node_dir / SCRIPT.name)
            result = await anyio.run_process([NODE, script, url + "/v1", KEY], check=False)
    assert result.returncode == 0, result.stderr.decode()
    seen = msgspec.json.decode(result.stdout.splitlines()[-1])
    assert seen["tool"]["args"] == {"city": "example"}
    assert seen["models"] == ["smart", "embed", "claude"]
    assert seen["errors"] == [401, 404, 400]
