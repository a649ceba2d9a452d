"""agent-adapter: one small, typed, async interface to every major LLM provider.

Names are imported lazily on first use so that ``import agent_adapter`` stays
cheap: the transport (httpcore) and anything optional load only when a client
is created.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Client": "client",
    "ChatStream": "stream",
    "SyncClient": "sync",
    "Timeouts": "resilience",
    "RetryPolicy": "resilience",
    "Message": "types",
    "TextPart": "types",
    "ImagePart": "types",
    "AudioPart": "types",
    "FilePart": "types",
    "Tool": "types",
    "ToolCall": "types",
    "ToolCallDelta": "types",
    "ChatRequest": "types",
    "ChatResponse": "types",
    "StreamChunk": "types",
    "Usage": "types",
    "EmbedResponse": "types",
    "AdapterError": "errors",
    "ValidationError": "errors",
    "AuthenticationError": "errors",
    "PermissionDeniedError": "errors",
    "NotFoundError": "errors",
    "RateLimitError": "errors",
    "ContextLengthError": "errors",
    "ContentFilterError": "errors",
    "BadRequestError": "errors",
    "ServerError": "errors",
    "APIConnectionError": "errors",
    "TimeoutError": "errors",
    "StreamError": "errors",
    "StructuredOutputError": "errors",
    "CircuitOpenError": "errors",
    "AllProvidersFailedError": "errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .client import Client as Client
    from .errors import (
        AdapterError as AdapterError,
    )
    from .errors import (
        AllProvidersFailedError as AllProvidersFailedError,
    )
    from .errors import (
        APIConnectionError as APIConnectionError,
    )
    from .errors import (
        AuthenticationError as AuthenticationError,
    )
    from .errors import (
        BadRequestError as BadRequestError,
    )
    from .errors import (
        CircuitOpenError as CircuitOpenError,
    )
    from .errors import (
        ContentFilterError as ContentFilterError,
    )
    from .errors import (
        ContextLengthError as ContextLengthError,
    )
    from .errors import (
        NotFoundError as NotFoundError,
    )
    from .errors import (
        PermissionDeniedError as PermissionDeniedError,
    )
    from .errors import (
        RateLimitError as RateLimitError,
    )
    from .errors import (
        ServerError as ServerError,
    )
    from .errors import (
        StreamError as StreamError,
    )
    from .errors import (
        StructuredOutputError as StructuredOutputError,
    )
    from .errors import (
        TimeoutError as TimeoutError,
    )
    from .errors import (
        ValidationError as ValidationError,
    )
    from .resilience import RetryPolicy as RetryPolicy
    from .resilience import Timeouts as Timeouts
    from .stream import ChatStream as ChatStream
    from .sync import SyncClient as SyncClient
    from .types import (
        AudioPart as AudioPart,
    )
    from .types import (
        ChatRequest as ChatRequest,
    )
    from .types import (
        ChatResponse as ChatResponse,
    )
    from .types import (
        EmbedResponse as EmbedResponse,
    )
    from .types import (
        FilePart as FilePart,
    )
    from .types import (
        ImagePart as ImagePart,
    )
    from .types import (
        Message as Message,
    )
    from .types import (
        StreamChunk as StreamChunk,
    )
    from .types import (
        TextPart as TextPart,
    )
    from .types import (
        Tool as Tool,
    )
    from .types import (
        ToolCall as ToolCall,
    )
    from .types import (
        ToolCallDelta as ToolCallDelta,
    )
    from .types import (
        Usage as Usage,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_adapter' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
