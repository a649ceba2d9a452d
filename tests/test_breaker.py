"""Circuit breakers: what counts against a deployment's health, the states, over the wire.

The state machine is driven through the real runner with a fake clock; the
wire tests talk to the real mock server and assert what it saw: once the
breaker is open, no request reaches it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.registry import create_adapter
from agent_adapter.resilience import counts_against_health
from agent_adapter.runner import Call, Gate, run_to_end
from agent_adapter.testing import MockServer, Reply
from agent_adapter.validation import build_chat_request
from sse_builders import USER, chunk, completion, text_stream

pytestmark = pytest.mark.anyio

ID = "openai:gpt-4o@https://api.openai.com/v1"
SERVER = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
BAD = {"error": {"message": "bad", "type": "invalid_request_error", "param": "x", "code": None}}
CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
OVERLOADED = b'data: {"error": {"message": "Overloaded", "type": "overloaded_error"}}\n\n'


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("error", "counts"),
    [
        (aa.APIConnectionError("reset"), True),
        (aa.TimeoutError("slow", which="read"), True),
        (aa.ServerError("boom", status=503), True),
        (aa.ServerError("overloaded", status=529), True),
        (aa.ServerError("overloaded event", status=None), True),
        (aa.ServerError("unreadable 200 body", status=200), False),
        (aa.RateLimitError("slow down", status=429), True),
        (aa.RateLimitError("quota", status=429, retryable=False), True),
        (aa.RateLimitError("ours", local=True), False),
        (aa.QueueFullError("queue full"), False),
        (aa.CircuitOpenError("open"), False),
        (aa.AuthenticationError("bad key", status=401), True),
        (aa.PermissionDeniedError("no", status=403), True),
        (aa.ValidationError("bad", field="model"), False),
        (aa.BadRequestError("bad", status=400), False),
        (aa.ContextLengthError("long", status=400), False),
        (aa.ContentFilterError("blocked", status=400), False),
        (aa.NotFoundError("no model", status=404), False),
        (aa.StructuredOutputError("not json", raw="x"), False),
        (aa.StreamError("cut", cause=aa.ServerError("overloaded")), True),
        (aa.StreamError("cut", cause=aa.BadRequestError("bad", status=400)), False),
        (aa.StreamError("ended early", truncated=True), True),
        (aa.StreamError("malformed event"), False),
        (KeyboardInterrupt(), False),
        (ValueError("the caller's own bug"), False),
    ],
)
def test_counts_against_health(error: BaseException, counts: bool) -> None:
    assert counts_against_health(error) is counts


def test_settings_are_validated_naming_the_field() -> None:
    for kwargs, field in [
        ({"failure_threshold": 0}, "breaker.failure_threshold"),
        ({"failure_threshold": 2.5}, "breaker.failure_threshold"),
        ({"window": 0}, "breaker.window"),
        ({"reset_timeout": -1}, "breaker.reset_timeout"),
        ({"half_open_max": 0}, "breaker.half_open_max"),
    ]:
        with pytest.raises(aa.ValidationError) as info:
            aa.CircuitBreaker(**kwargs)  # type: ignore[arg-type]
        assert info.value.field == field
    with pytest.raises(aa.ValidationError) as info:
        aa.Client("openai", api_key="k", breaker=object())  # type: ignore[arg-type]
    assert info.value.field == "breaker"


# -- the state machine, through the runner ---------------------------------------------


def bare_call(*gates: Gate) -> Call:
    adapter = create_adapter("openai", api_key="sk-test")
    http = adapter.encode(build_chat_request("gpt-4o", USER))
    return Call("chat", adapter, http, aa.Timeouts(), aa.RetryPolicy(max_retries=0), gates=gates)


def raising(error: BaseException) -> Callable[[Call], Awaitable[str]]:
    async def attempt(call: Call) -> str:
        raise error

    return attempt


async def ok(call: Call) -> str:
    return "ok"


async def hang(call: Call) -> str:
    await anyio.sleep_forever()
    raise AssertionError


async def fail(breaker: aa.CircuitBreaker, error: BaseException | None = None) -> None:
    with pytest.raises(type(error) if error is not None else aa.ServerError):
        await run_to_end(bare_call(breaker.gate(ID)), raising(error or aa.ServerError("x")))


async def test_opens_after_the_threshold_within_the_window() -> None:
    clock = Clock()
    breaker = aa.CircuitBreaker(failure_threshold=3, window=10, reset_timeout=30, clock=clock)
    await fail(breaker)
    clock.now += 11  # the first failure leaves the window
    await fail(breaker)
    await fail(breaker)
    assert breaker.state(ID) == "closed" and breaker.retry_after(ID) is None
    assert breaker.available(ID)
    await fail(breaker)
    assert breaker.state(ID) == "open"
    assert breaker.retry_after(ID) == 30
    assert not breaker.available(ID)
    clock.now += 12
    with pytest.raises(aa.CircuitOpenError) as info:
        await run_to_end(bare_call(breaker.gate(ID)), ok)
    assert info.value.retry_after == 18
    assert not info.value.retryable
    assert info.value.provider == "openai"
    assert breaker.state("another deployment") == "closed"


async def test_caller_mistakes_and_cancellation_never_count() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1, clock=Clock())
    for error in [
        aa.BadRequestError("bad", status=400),
        aa.ContextLengthError("long", status=400),
        aa.NotFoundError("no", status=404),
        aa.StructuredOutputError("no", raw=""),
        aa.RateLimitError("ours", local=True),
    ]:
        await fail(breaker, error)
    with anyio.move_on_after(0.01):
        await run_to_end(bare_call(breaker.gate(ID)), hang)
    assert breaker.state(ID) == "closed"


async def opened(half_open_max: int = 1) -> tuple[aa.CircuitBreaker, Clock]:
    clock = Clock()
    breaker = aa.CircuitBreaker(
        failure_threshold=1, reset_timeout=5, half_open_max=half_open_max, clock=clock
    )
    await fail(breaker)
    assert breaker.state(ID) == "open"
    clock.now += 5
    assert breaker.state(ID) == "half_open"
    assert breaker.retry_after(ID) == 0
    return breaker, clock


async def test_a_probe_that_succeeds_closes_it() -> None:
    breaker, _ = await opened()
    assert await run_to_end(bare_call(breaker.gate(ID)), ok) == "ok"
    assert breaker.state(ID) == "closed"


async def test_a_probe_answered_with_a_caller_mistake_closes_it_too() -> None:
    breaker, _ = await opened()
    await fail(breaker, aa.BadRequestError("bad", status=400))
    assert breaker.state(ID) == "closed"


async def test_a_probe_that_fails_opens_it_again_for_reset_timeout() -> None:
    breaker, clock = await opened()
    await fail(breaker, aa.APIConnectionError("refused"))
    assert breaker.state(ID) == "open"
    assert breaker.retry_after(ID) == 5
    clock.now += 5
    assert breaker.state(ID) == "half_open"


async def test_half_open_lets_half_open_max_probes_through_at_once() -> None:
    breaker, _ = await opened(half_open_max=2)
    gate = breaker.gate(ID)
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(run_to_end, bare_call(gate), hang)
        await anyio.sleep(0.01)
        assert not breaker.available(ID)
        with pytest.raises(aa.CircuitOpenError) as info:
            await run_to_end(bare_call(gate), ok)
        assert info.value.retry_after == 0
        tg.cancel_scope.cancel()
    # Cancelled probes free their slots and decide nothing.
    assert breaker.state(ID) == "half_open"
    assert breaker.available(ID)
    assert await run_to_end(bare_call(gate), ok) == "ok"
    assert breaker.state(ID) == "closed"


# -- over the wire -------------------------------------------------------------------------


def client_for(srv: MockServer, breaker: aa.CircuitBreaker, **kwargs: object) -> aa.Client:
    return aa.Client(
        "openai",
        api_key="sk-test",
        base_url=srv.base_url + "/v1",
        breaker=breaker,
        retry=kwargs.pop("retry", 0),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


async def test_open_breaker_sends_nothing() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=3, reset_timeout=30)
    async with MockServer() as srv, client_for(srv, breaker) as client:
        srv.enqueue(*[Reply.error(503, SERVER)] * 3)
        for _ in range(3):
            with pytest.raises(aa.ServerError):
                await client.chat(model="gpt-4o", messages=USER)
        assert breaker.state(client.deployment_id("gpt-4o")) == "open"
        for _ in range(5):
            with pytest.raises(aa.CircuitOpenError) as info:
                await client.chat(model="gpt-4o", messages=USER)
        assert 29 < info.value.retry_after <= 30  # type: ignore[operator]
        assert info.value.provider == "openai" and not info.value.retryable
        with pytest.raises(aa.CircuitOpenError):
            async with client.stream(model="gpt-4o", messages=USER):
                pass
        assert len(srv.requests) == 3
        # Another model is another deployment, with its own state.
        srv.enqueue(Reply.json(completion("mini")))
        assert (await client.chat(model="gpt-4o-mini", messages=USER)).content == "mini"


async def test_retries_stop_at_the_open_breaker() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=2)
    retry = aa.RetryPolicy(max_retries=5, initial_backoff=0)
    async with MockServer() as srv, client_for(srv, breaker, retry=retry) as client:
        srv.enqueue(*[Reply.error(503, SERVER)] * 6)
        with pytest.raises(aa.CircuitOpenError):
            await client.chat(model="gpt-4o", messages=USER)
        assert len(srv.requests) == 2


async def test_half_open_probe_over_the_wire() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1, reset_timeout=0.2)
    async with MockServer() as srv, client_for(srv, breaker) as client:
        deployment = client.deployment_id("gpt-4o")
        srv.enqueue(Reply.error(500, SERVER))
        with pytest.raises(aa.ServerError):
            await client.chat(model="gpt-4o", messages=USER)
        await anyio.sleep(0.25)
        assert breaker.state(deployment) == "half_open"
        srv.enqueue(Reply.error(503, SERVER))  # the probe fails: open again
        with pytest.raises(aa.ServerError):
            await client.chat(model="gpt-4o", messages=USER)
        assert breaker.state(deployment) == "open"
        with pytest.raises(aa.CircuitOpenError):
            await client.chat(model="gpt-4o", messages=USER)
        await anyio.sleep(0.25)
        srv.enqueue(Reply.json(completion("back")))  # the probe succeeds: closed
        assert (await client.chat(model="gpt-4o", messages=USER)).content == "back"
        assert breaker.state(deployment) == "closed"
        assert len(srv.requests) == 3


async def test_caller_mistakes_never_open_it() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=2)
    async with MockServer() as srv, client_for(srv, breaker) as client:
        srv.enqueue(*[Reply.error(400, BAD)] * 3, *[Reply.error(400, CONTEXT)] * 3)
        for _ in range(3):
            with pytest.raises(aa.BadRequestError):
                await client.chat(model="gpt-4o", messages=USER)
        for _ in range(3):
            with pytest.raises(aa.ContextLengthError):
                await client.chat(model="gpt-4o", messages=USER)
        for _ in range(3):
            with pytest.raises(aa.ValidationError):
                await client.chat(model="gpt-4o", messages=USER, temperature="hot")
        assert breaker.state(client.deployment_id("gpt-4o")) == "closed"
        assert len(srv.requests) == 6


async def test_an_overloaded_event_inside_a_200_stream_counts() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=2)
    after_content = [chunk({"role": "assistant", "content": "part"}), OVERLOADED]
    async with MockServer() as srv, client_for(srv, breaker) as client:
        srv.enqueue(Reply.sse(after_content, delay=0.01), Reply.sse([OVERLOADED]))
        with pytest.raises(aa.StreamError) as info:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
        assert isinstance(info.value.cause, aa.ServerError)
        with pytest.raises(aa.ServerError):  # before content: the error itself
            async with client.stream(model="gpt-4o", messages=USER):
                pass
        assert breaker.state(client.deployment_id("gpt-4o")) == "open"
        with pytest.raises(aa.CircuitOpenError):
            async with client.stream(model="gpt-4o", messages=USER):
                pass
        assert len(srv.requests) == 2


async def test_a_truncated_stream_counts() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1)
    events = text_stream("a", "b", usage=False, done=False)[:-1]
    async with MockServer() as srv, client_for(srv, breaker) as client:
        srv.enqueue(Reply.sse(events, delay=0.01))
        with pytest.raises(aa.StreamError):
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
        assert breaker.state(client.deployment_id("gpt-4o")) == "open"


async def test_deployment_id_of_a_client() -> None:
    async with MockServer() as srv:
        url = srv.base_url + "/v1"
        client = aa.Client(api_key="sk-test", base_url=url)  # provider from the prefix
        deployment = client.deployment_id("openai/gpt-4o")
        assert deployment.startswith(f"openai:gpt-4o@{url}#")
        assert len(deployment.rsplit("#", 1)[1]) == 8 and "sk-test" not in deployment
        assert aa.Client("openai", api_key="sk-test", base_url=url).deployment_id("gpt-4o") == (
            deployment
        )
        assert aa.Client("openai", api_key="sk-other", base_url=url).deployment_id("gpt-4o") != (
            deployment
        )
