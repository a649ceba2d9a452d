"""agent-adapter: one small, typed, async interface to every major LLM provider.

Names are imported lazily on first use so that ``import agent_adapter`` stays
cheap: the transport (httpcore) and anything optional load only when a client
is created.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_MODULES = {
    "batch": ("BatchProgress", "run_batch"),
    "client": ("Client",),
    "config": ("DeploymentConfig", "RouterConfig", "load_config"),
    "hooks": ("CallInfo", "Hooks"),
    "stream": ("ChatStream",),
    "sync": ("SyncClient",),
    "resilience": ("CircuitBreaker", "MemoryStore", "RateLimit", "RetryPolicy", "Timeouts"),
    "resilience.redis": ("RedisStore",),
    "pricing": ("Price",),
    "routing.router": ("Deployment", "Router"),
    "routing.hedge": ("Hedge",),
    "types": (
        "AudioPart", "CacheControl", "ChatRequest", "ChatResponse", "EmbedResponse", "FilePart",
        "ImagePart", "Message", "Metrics", "ReasoningItem", "StreamChunk", "TextPart", "TokenCount",
        "Tool", "ToolCall", "ToolCallDelta", "Usage",
    ),
    "errors": (
        "APIConnectionError", "AdapterError", "AllProvidersFailedError", "AuthenticationError",
        "BadRequestError", "CircuitOpenError", "ContentFilterError", "ContextLengthError",
        "NotFoundError", "PermissionDeniedError", "QueueFullError", "RateLimitError", "ServerError",
        "StreamError", "StructuredOutputError", "TimeoutError", "ValidationError",
    ),
}  # fmt: skip
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .batch import BatchProgress as BatchProgress, run_batch as run_batch
    from .client import Client as Client
    from .config import (
        DeploymentConfig as DeploymentConfig,
        RouterConfig as RouterConfig,
        load_config as load_config,
    )
    from .errors import (
        AdapterError as AdapterError,
        AllProvidersFailedError as AllProvidersFailedError,
        APIConnectionError as APIConnectionError,
        AuthenticationError as AuthenticationError,
        BadRequestError as BadRequestError,
        CircuitOpenError as CircuitOpenError,
        ContentFilterError as ContentFilterError,
        ContextLengthError as ContextLengthError,
        NotFoundError as NotFoundError,
        PermissionDeniedError as PermissionDeniedError,
        QueueFullError as QueueFullError,
        RateLimitError as RateLimitError,
        ServerError as ServerError,
        StreamError as StreamError,
        StructuredOutputError as StructuredOutputError,
        TimeoutError as TimeoutError,
        ValidationError as ValidationError,
    )
    from .hooks import CallInfo as CallInfo, Hooks as Hooks
    from .pricing import Price as Price
    from .resilience import (
        CircuitBreaker as CircuitBreaker,
        MemoryStore as MemoryStore,
        RateLimit as RateLimit,
        RetryPolicy as RetryPolicy,
        Timeouts as Timeouts,
    )
    from .resilience.redis import RedisStore as RedisStore
    from .routing.hedge import Hedge as Hedge
    from .routing.router import Deployment as Deployment, Router as Router
    from .stream import ChatStream as ChatStream
    from .sync import SyncClient as SyncClient
    from .types import (
        AudioPart as AudioPart,
        CacheControl as CacheControl,
        ChatRequest as ChatRequest,
        ChatResponse as ChatResponse,
        EmbedResponse as EmbedResponse,
        FilePart as FilePart,
        ImagePart as ImagePart,
        Message as Message,
        Metrics as Metrics,
        ReasoningItem as ReasoningItem,
        StreamChunk as StreamChunk,
        TextPart as TextPart,
        TokenCount as TokenCount,
        Tool as Tool,
        ToolCall as ToolCall,
        ToolCallDelta as ToolCallDelta,
        Usage as Usage,
    )


def __getattr__(name: str) -> Any:
    if name == "otel":  # aa.otel.OpenTelemetryHooks: imports opentelemetry, so only on use
        return import_module(".otel", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_adapter' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
