"""A fake provider for every wire format, chosen by request path.

``agent-adapter mock`` and ``agent-adapter demo`` serve this, so examples and
agents can run end to end with no key and no network. Each provider's canned
replies live in its own ``fake_<provider>`` module.
"""

from __future__ import annotations

from importlib import import_module

from .replies import RecordedRequest, Reply

__all__ = ["provider_reply"]


def _module_for(path: str) -> str | None:
    route = path.partition("?")[0]
    if route.endswith(("/messages", "/messages/count_tokens")):
        return "fake_anthropic"
    if "Content" in route or route.endswith(":countTokens"):
        return "fake_gemini"
    if route.startswith("/api/chat") or route.startswith("/api/embed"):
        return "fake_ollama"
    if "/paas/" in route:
        return "fake_zhipu"
    if route.endswith(("/chat/completions", "/embeddings", "/responses")):
        return "fake_openai"
    return None


def provider_reply(request: RecordedRequest, *, delay: float = 0.0) -> Reply:
    """The reply a real provider of this path's wire format would plausibly send."""
    name = _module_for(request.path)
    if name is None:
        return Reply.error(
            404,
            {"error": {"message": f"mock: no provider serves {request.path}", "type": "not_found"}},
        )
    module = import_module(f".{name}", __package__)
    reply: Reply = module.reply(request, delay=delay)
    return reply
