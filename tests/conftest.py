"""Shared pytest fixtures: every async test runs on asyncio and on trio; redis-servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redis_support import RedisServer


@pytest.fixture(params=[pytest.param("asyncio"), pytest.param("trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend for ``@pytest.mark.anyio`` tests: asyncio, then trio."""
    return str(request.param)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One ``redis-server`` for the session (tests keep apart by key prefix)."""
    server = RedisServer()
    server.start()
    yield server.url
    server.kill()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A ``redis-server`` of the test's own, to kill and restart."""
    server = RedisServer()
    server.start()
    yield server
    server.kill()
