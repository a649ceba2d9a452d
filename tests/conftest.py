"""Shared pytest fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=[pytest.param("asyncio"), pytest.param("trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend for ``@pytest.mark.anyio`` tests: asyncio, then trio."""
    return str(request.param)
