"""Shared by the examples: a real client when you have a key, a local mock server when you don't.

``provider_client("openai")`` gives an ``agent_adapter.Client``. If the
provider's key variable (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...; for
Ollama, ``OLLAMA_HOST``) is set, it talks to the real service. Otherwise it
starts ``agent_adapter.testing.MockServer`` with the fake provider that
``agent-adapter mock`` serves, on 127.0.0.1, and points the client there, so
every example runs with no key and no network.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

from anyio.from_thread import start_blocking_portal

import agent_adapter as aa
from agent_adapter.registry import get_spec
from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply

#: The providers the feature examples accept with ``--provider``.
PROVIDERS = ("openai", "anthropic", "gemini", "zhipu", "ollama")

#: A chat model per provider (used with a real key; the mock accepts any name).
CHAT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "zhipu": "glm-4.6",
    "ollama": "qwen3",
}


def has_credentials(provider: str) -> bool:
    """True when the environment names a real service for ``provider``."""
    spec = get_spec(provider)
    if any(os.environ.get(name) for name in spec.key_env):
        return True
    # A keyless local server (Ollama) counts as real once its address is set.
    return not spec.key_required and any(os.environ.get(name) for name in spec.base_url_env)


@asynccontextmanager
async def connection(provider: str, *, delay: float = 0.0) -> AsyncIterator[dict[str, Any]]:
    """Keyword arguments for ``aa.Client``: none for a real key, else a running mock server's.

    ``delay`` is the mock's pause between streamed chunks (to make streaming visible).
    """
    if has_credentials(provider):
        yield {}
        return
    spec = get_spec(provider)
    async with MockServer(handler=lambda request: provider_reply(request, delay=delay)) as srv:
        # Same path as the real endpoint: "/v1" for OpenAI, "/api/paas/v4" for Zhipu, "" else.
        base_url = srv.base_url + urlsplit(spec.base_url).path.rstrip("/")
        missing = " or ".join(spec.key_env + (spec.base_url_env if not spec.key_required else ()))
        print(f"[no {missing} set: using the mock {provider} server at {base_url}]")
        yield {"api_key": "mock-key", "base_url": base_url}


@asynccontextmanager
async def provider_client(provider: str, *, delay: float = 0.0) -> AsyncIterator[aa.Client]:
    """An ``aa.Client(provider)``, real or pointed at the mock server."""
    async with connection(provider, delay=delay) as kwargs, aa.Client(provider, **kwargs) as client:
        yield client


@contextmanager
def sync_connection(provider: str, *, delay: float = 0.0) -> Iterator[dict[str, Any]]:
    """``connection()`` for code that is not async: the mock runs in a background thread."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(connection(provider, delay=delay)) as kwargs,
    ):
        yield kwargs


def pick_provider(description: str, choices: tuple[str, ...] = PROVIDERS) -> str:
    """The ``--provider`` command-line flag (default ``openai``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--provider", choices=choices, default="openai")
    provider: str = parser.parse_args().provider
    return provider


def describe_usage(usage: aa.Usage | None) -> str:
    """One line of token counts."""
    if usage is None:
        return "usage: not reported"
    text = (
        f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
        f"= {usage.total_tokens} tokens"
    )
    if usage.reasoning_tokens:
        text += f" ({usage.reasoning_tokens} reasoning)"
    if usage.cached_tokens:
        text += f" ({usage.cached_tokens} cached)"
    return text
