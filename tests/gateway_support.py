"""Running the gateway for real in the tests: hypercorn in-process on a free loopback port.

``gateway(...)`` writes a config file naming MockServer upstreams (the fake
providers, or scripted replies), builds the app from it as ``agent-adapter
serve`` does, and serves it with hypercorn on the test's own backend
(asyncio or trio) until the block ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import h11

from agent_adapter.gateway import Gateway, create_app, key_hash
from agent_adapter.gateway.serve import bind, serve

KEY = "aa-test-key-team-a"
OTHER_KEY = "aa-test-key-team-b"
UPSTREAM_ENV = {"UP_OPENAI": "sk-upstream-openai-secret", "UP_ANTHROPIC": "sk-ant-upstream-secret"}


def config_text(
    openai: str | None = None,
    anthropic: str | None = None,
    *,
    keys: Mapping[str, Mapping[str, Any]] | None = None,
    gateway: str = "",
    extra: str = "",
    price: str = "",
) -> str:
    """A config file: group ``smart`` on the OpenAI-format upstream, ``claude`` on Anthropic's.

    ``keys`` maps a key name to its settings (``key`` the key itself, hashed here);
    ``price`` (``input = 1.0, output = 2.0``) prices the chat deployments.
    """
    lines = ["[retry]", "max_retries = 0", extra, "[models]"]
    priced = f", price = {{ {price} }}" if price else ""
    if openai is not None:
        lines.append(
            f'smart = [{{ model = "openai/gpt-4o", base_url = "{openai}/v1", '
            f'api_key = "env:UP_OPENAI"{priced} }}]'
        )
        lines.append(
            f'embed = [{{ model = "openai/text-embedding-3-small", base_url = "{openai}/v1", '
            'api_key = "env:UP_OPENAI" }]'
        )
    if anthropic is not None:
        lines.append(
            f'claude = [{{ model = "anthropic/claude-sonnet-4-5", base_url = "{anthropic}", '
            f'api_key = "env:UP_ANTHROPIC"{priced} }}]'
        )
    lines += ["[gateway]", gateway]
    for name, settings in (keys or {}).items():
        lines.append(f"[gateway.keys.{name}]")
        lines.append(f'hash = "{key_hash(settings["key"])}"')
        for option, value in settings.items():
            if option == "models":
                lines.append("models = [" + ", ".join(f'"{m}"' for m in value) + "]")
            elif option != "key":
                lines.append(f"{option} = {value}")
    return "\n".join(lines) + "\n"


def make_app(tmp_path: Path, text: str) -> Gateway:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return create_app(path, env=UPSTREAM_ENV)


@asynccontextmanager
async def running(app: Any, backend: str) -> AsyncIterator[str]:
    """Serve ``app`` with hypercorn on a free loopback port; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = anyio.Event()
    failed: Exception | None = None
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(
                partial(
                    serve,
                    app,
                    sock,
                    backend="trio" if backend == "trio" else "asyncio",
                    shutdown_trigger=stop.wait,
                    graceful_timeout=0.5,
                )
            )
            try:
                yield f"http://127.0.0.1:{port}"
            except Exception as exc:  # shut the server down gracefully, then fail
                failed = exc
            finally:
                stop.set()
    finally:
        sock.close()
    if failed is not None:
        raise failed


class Raw:
    """A raw HTTP/1.1 connection to the gateway, parsed with h11 (the bad inputs need sockets)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    @asynccontextmanager
    async def open(cls, base_url: str) -> AsyncIterator[Raw]:
        port = int(base_url.rsplit(":", 1)[1])
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            yield cls(stream)

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def response(self) -> tuple[h11.Response, bytes]:
        """The next response and its whole body."""
        head: h11.Response | None = None
        body = b""
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    data = b""
                self.conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                assert head is not None
                return head, body

    async def closed(self) -> bool:
        """Whether the server closes the connection (reads until the end, within 5 s)."""
        with anyio.fail_after(5):
            try:
                while await self.stream.receive():
                    pass
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
        return True


def request(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: str | None = KEY,
    headers: Mapping[str, str] | None = None,
    content_type: str | None = "application/json",
) -> bytes:
    """A whole HTTP/1.1 request's bytes."""
    lines = [f"{method} {path} HTTP/1.1", "Host: gateway"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    if content_type is not None and body:
        lines.append(f"Content-Type: {content_type}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def header(response: h11.Response, name: bytes) -> bytes | None:
    return next((v for k, v in response.headers if k == name), None)
