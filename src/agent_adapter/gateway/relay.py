"""Running a routed call for an exchange: cancelled the moment the client leaves; streams relayed.

Every upstream call runs beside a task that waits for ``http.disconnect``:
when the client goes away it cancels the call, which closes the upstream
connection at once (a cancelled ``ChatStream`` never returns its connection
to the pool half-read). A stream is opened before anything is sent, so a
failure before its first content is an ordinary error answer with its
status; after that, a failure is the stream's last event, in the caller's
protocol, never a silent cut. The events of the chunks one upstream read
brought are sent in one write.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import anyio.lowlevel

from ..errors import AdapterError
from . import errors
from .http import Disconnected, Exchange, Problem

if TYPE_CHECKING:
    from ..routing import RoutedStream
    from ..types import ChatResponse, StreamChunk, Usage
    from .app import Gateway
    from .limits import Ticket
    from .settings import KeySettings

__all__ = ["Encoder", "guarded", "relay", "serve_chat", "settled"]

T = TypeVar("T")


class Charged(Protocol):
    """What a key is charged from: an answer's usage and its cost (chat or embedding)."""

    usage: Usage | None
    cost: float | None


A = TypeVar("A", bound=Charged)
log = logging.getLogger("agent_adapter.gateway")


class Encoder(Protocol):
    """A stream of our chunks as one protocol's events (``ChunkEncoder``, ``EventEncoder``)."""

    def chunk(self, chunk: StreamChunk) -> bytes:
        """The events for one chunk (``b""`` for none)."""
        ...

    def end(self, response: ChatResponse) -> bytes:
        """The events that end a complete stream."""
        ...


async def guarded(exchange: Exchange, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()`` (the upstream call and the answer), cancelled if the client leaves.

    Raises ``Disconnected`` when it did. The watcher usually ends by itself
    once the answer is sent (the server reports the exchange's end at once);
    only when it has not, by the next checkpoint, is it cancelled: a
    cancellation costs several times what the rest of this does.
    """
    error: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(exchange.watch, group.cancel_scope)
        try:
            value = await work()
        except Exception as exc:  # raised after the group, not wrapped in an exception group
            error = exc
        if not exchange.heard_end:
            await anyio.lowlevel.checkpoint()
            if not exchange.heard_end:
                group.cancel_scope.cancel()
    if error is not None:
        raise error
    if exchange.disconnected:
        raise Disconnected
    return value


async def relay(
    exchange: Exchange,
    stream: RoutedStream,
    encoder: Encoder,
    problem: Callable[[AdapterError], Problem],
) -> ChatResponse:
    """Open ``stream``, send its events, end with ``encoder.end`` or an error event.

    Returns the response as far as it got (for the key's token count). An
    error before the first content raises, for an ordinary error answer.
    """

    async def run() -> ChatResponse:
        async with stream:
            await exchange.begin_events()
            pending: list[bytes] = []  # events of chunks that arrived in one network read
            try:
                async for chunk in stream:
                    data = encoder.chunk(chunk)
                    if data:
                        pending.append(data)
                    if pending and not stream.buffered:
                        await exchange.write(b"".join(pending))
                        pending.clear()
            except AdapterError as error:
                failed = problem(error)
                exchange.error = failed.type
                log.warning(
                    "%s %s: stream failed after content: %d %s",
                    exchange.method,
                    exchange.path,
                    failed.status,
                    failed.type,
                )
                await exchange.end(b"".join(pending) + errors.last_events(failed, exchange))
                return stream.response
            response = stream.response
            await exchange.end(b"".join(pending) + encoder.end(response))
            return response

    return await guarded(exchange, run)


async def serve_chat(
    gateway: Gateway,
    exchange: Exchange,
    key: KeySettings | None,
    model: str,
    params: dict[str, Any],
    *,
    stream: bool,
    encoder: Callable[[], Encoder],
    render: Callable[[ChatResponse], bytes],
) -> None:
    """Route one chat for ``key`` and answer it in the caller's protocol, streamed or not.

    ``render`` is the whole answer's body, ``encoder`` makes the stream's
    events; ``settled`` admits and settles the key's ticket. The exchange
    notes the model and the usage for the metrics; a stream counts as in
    flight while relayed.
    """
    exchange.model = model

    async def whole() -> ChatResponse:
        response = await gateway.router.chat(model=model, **params)
        await exchange.respond(200, render(response))
        return response

    async def answer(ticket: Ticket) -> ChatResponse:
        if stream:
            routed = gateway.router.stream(model=model, **params)
            ticket.stream = routed  # charged at its end, also when cut short
            with gateway.metrics.streaming(exchange, key):
                return await relay(exchange, routed, encoder(), gateway.problem)
        return await guarded(exchange, whole)

    ticket = gateway.ticket(key, model, params)
    response = await settled(gateway, key, ticket, stream=stream, answer=answer)
    exchange.usage = response.usage


async def settled(
    gateway: Gateway,
    key: KeySettings | None,
    ticket: Ticket,
    *,
    stream: bool,
    answer: Callable[[Ticket], Awaitable[A]],
) -> A:
    """``await answer(ticket)`` for ``key`` once its gates let ``ticket`` in: any call's one path.

    The ticket is admitted first (429 ``Problem`` when a gate says no) and
    settled exactly once, with the usage and cost when there was an answer
    (``answer`` puts a stream on the ticket, so that a stream cut short is
    charged as far as it got); chats over HTTP and the WebSocket, and
    embeddings, all go through here.
    """
    await gateway.admit(key, ticket, stream=stream)
    error: BaseException | None = None
    try:
        response = await answer(ticket)
        ticket.usage, ticket.cost = response.usage, response.cost
        return response
    except BaseException as exc:
        error = exc
        raise
    finally:
        ticket.settle(error)
