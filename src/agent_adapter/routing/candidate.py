"""One candidate of a routed call: a deployment's own call, counted and timed for the strategies.

The router tries candidates in turn (or races them, with a hedge); each try
is one of these, which calls the deployment's client through its hook-free
entry points, keeps the deployment's in-flight count and latency statistics,
and names the deployment on the response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import msgspec

from ..errors import AdapterError

if TYPE_CHECKING:
    from ..hooks import Observer
    from ..resilience import RetryPolicy, Timeouts
    from ..stream import ChatStream
    from ..types import ChatRequest, ChatResponse
    from .deployment import Member
    from .hedge import Latencies

__all__ = ["chat_on", "stream_on"]

_replace = msgspec.structs.replace


async def chat_on(
    member: Member,
    request: ChatRequest,
    call_timeouts: Timeouts | None,
    call_retry: RetryPolicy | None,
    deadline: float,
    ring: Latencies | None,
    observer: Observer | None = None,
    *,
    timed: bool = False,
) -> ChatResponse:
    """One deployment's chat call (its own retries included), counted and timed."""
    target = member.target
    if request.model != target.model:
        request = _replace(request, model=target.model)
    if observer is not None:
        observer.candidate(target.id)
    stats = target.stats
    stats.in_flight += 1
    timed = timed or ring is not None  # two clock reads only when someone reads them
    began = anyio.current_time() if timed else 0.0
    try:
        response = await target.client._chat(
            target.adapter,
            request,
            call_timeouts or target.timeouts,
            call_retry or target.retry,
            deadline=deadline,
            observer=observer,
            price=target.price,
        )
    except AdapterError:
        stats.failed(stream=False)
        raise
    finally:
        stats.in_flight -= 1
    if timed:
        seconds = anyio.current_time() - began
        stats.record(seconds, stream=False)
        if ring is not None:
            ring.add(seconds)
    response.deployment = target.id
    if response.model is None:
        response.model = target.model
    return response


async def stream_on(
    member: Member,
    request: ChatRequest,
    call_timeouts: Timeouts | None,
    call_retry: RetryPolicy | None,
    deadline: float,
    ring: Latencies | None,
    observer: Observer | None = None,
) -> ChatStream:
    """One deployment's stream, entered: returns once its first content arrived."""
    target = member.target
    if request.model != target.model:
        request = _replace(request, model=target.model)
    if observer is not None:
        observer.candidate(target.id)
    stats = target.stats
    began = anyio.current_time()
    stream = target.client._stream(
        target.adapter,
        request,
        call_timeouts or target.timeouts,
        call_retry or target.retry,
        start=began,
        deadline=deadline,
        observer=observer,
        price=target.price,
    )
    stats.in_flight += 1
    stream._call.on_end(stats.leave)  # in flight until the stream ends, however it ends
    try:
        await stream.__aenter__()
    except AdapterError:
        stats.failed(stream=True)
        raise
    ttft = stream.ttft
    seconds = ttft if ttft is not None else anyio.current_time() - began
    stats.record(seconds, stream=True)
    if ring is not None:
        ring.add(seconds)
    return stream
