"""Prices for models nobody priced by hand, from the optional ``genai-prices`` package.

``genai-prices`` (extra ``prices``) ships Pydantic's price data for most
hosted models; it depends on pydantic and httpx2, so it stays optional and is
imported only the first time a cost is needed for a model without an
explicit ``aa.Price`` (that first call pays its import, ~0.2 s).

A price is looked up by provider id only when the adapter talks to that
provider's own endpoint; any other base URL (a proxy, a local server) is
matched by URL, so a model served elsewhere is never priced as the
original. No match means no cost (``None``), never a guess.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from .registry import get_spec

if TYPE_CHECKING:
    from .providers.base import Adapter
    from .types import Usage

__all__ = ["available", "cost"]

PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "xai": "x-ai",
    "together": "together",
    "cohere": "cohere",
    "openrouter": "openrouter",
}
"""Our provider names → genai-prices provider ids (the ones it lists)."""

_module: Any = None
_available: bool | None = None
_misses: set[tuple[str | None, str | None, str]] = set()


def available() -> bool:
    """Whether ``genai-prices`` is installed (checked once, without importing it)."""
    global _available
    if _available is None:
        _available = importlib.util.find_spec("genai_prices") is not None
    return _available


def cost(adapter: Adapter, models: tuple[str | None, ...], usage: Usage) -> float | None:
    """USD for ``usage`` of the first of ``models`` genai-prices knows, or ``None``."""
    global _module
    if not available():
        return None
    if _module is None:
        _module = importlib.import_module("genai_prices")
    provider_id, url = _where(adapter)
    candidates = [m for m in models if m and (provider_id, url, m) not in _misses]
    if not candidates:  # every model already known unpriced here: nothing to build
        return None
    tokens = _module.Usage(
        input_tokens=usage.prompt_tokens,
        cache_read_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_creation_tokens,
        output_tokens=usage.completion_tokens,
    )
    for model in candidates:
        try:
            if provider_id is not None:
                found = _module.calc_price(tokens, model, provider_id=provider_id)
            else:
                found = _module.calc_price(tokens, model, provider_api_url=url)
        except LookupError:
            _misses.add((provider_id, url, model))
            continue
        return float(found.total_price)
    return None


def _where(adapter: Adapter) -> tuple[str | None, str | None]:
    """(provider id, None) on the provider's own endpoint, else (None, the base URL)."""
    provider_id = PROVIDER_IDS.get(adapter.name)
    if provider_id is not None:
        try:
            default = get_spec(adapter.name).base_url.rstrip("/")
        except Exception:
            default = ""
        if adapter.base_url.rstrip("/") == default:
            return provider_id, None
    return None, adapter.base_url
