"""Counting a prompt's input tokens: the provider's own count where it has one, else our estimate.

Anthropic (``/v1/messages/count_tokens``) and Gemini (``:countTokens``) count
for free; the OpenAI-format APIs have no counting endpoint for chat, so their
count is the rate buckets' estimate, marked ``estimated``: a caller is never
refused a number because a provider cannot count. A provider count is one
non-streamed exchange through the runner, with the caller's timeouts and
retries, so its errors are the same ``AdapterError`` s a chat call raises. It
passes none of the client's gates: providers limit counting apart from
generation, and a count must not spend a chat call's rate or concurrency.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .resilience import estimate_tokens
from .resilience.ratelimit import DEFAULT_OUTPUT_TOKENS
from .runner import Call, exchange, run_to_end
from .types import TokenCount

if TYPE_CHECKING:
    from .providers.base import Adapter
    from .resilience import RetryPolicy, Timeouts
    from .transport import Transport
    from .types import ChatRequest

__all__ = ["count_on", "estimate_input_tokens"]


def estimate_input_tokens(request: ChatRequest) -> int:
    """Our estimate of the prompt alone: ``estimate_tokens`` minus its output allowance."""
    output = request.max_tokens if request.max_tokens is not None else DEFAULT_OUTPUT_TOKENS
    return max(estimate_tokens(request) - output, 0)


async def count_on(
    transport: Transport,
    adapter: Adapter,
    request: ChatRequest,
    timeouts: Timeouts,
    retry: RetryPolicy,
    *,
    deadline: float = math.inf,
) -> TokenCount:
    """The input tokens of ``request`` on ``adapter``'s provider, or our estimate (no I/O).

    Input errors (the adapter's checks) raise before any I/O, as for chat.
    """
    http = adapter.build_count(request)
    if http is None:
        return TokenCount(input_tokens=estimate_input_tokens(request), estimated=True)
    call = Call("count", adapter, http, timeouts, retry, model=request.model, deadline=deadline)

    async def attempt(call: Call) -> TokenCount:
        status, headers, body = await exchange(transport, call)
        tokens = call.adapter.decode_count(status, headers, body)
        return TokenCount(input_tokens=tokens, estimated=False)

    return await run_to_end(call, attempt)
