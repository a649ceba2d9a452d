"""Client-side rate limits: the header parsers, the estimate, the buckets, over the wire.

The parsers and the estimate are pure; the bucket logic runs with a fake
clock; the wire tests talk to the real mock server, which answers with the
providers' own rate-limit headers, and assert what it saw: a refused call
sends nothing.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.registry import create_adapter
from agent_adapter.resilience import RateLimiter, estimate_embed_tokens, estimate_tokens
from agent_adapter.resilience.ratelimit_headers import (
    ServerLimit,
    parse_duration,
    parse_rate_headers,
    parse_reset_time,
)
from agent_adapter.runner import Call
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.types import EmbedRequest
from agent_adapter.validation import build_chat_request
from sse_builders import USER, completion, text_stream

pytestmark = pytest.mark.anyio

RATE = {
    "error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
}
HI = 1 + 4  # "hi": ceil(2 bytes / 4) + the per-message overhead


# -- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("0.5s", 0.5),
        ("250ms", 0.25),
        ("12ms", 0.012),
        ("6m0s", 360.0),
        ("1m30s", 90.0),
        ("1m30.5s", 90.5),
        ("1h2m3s", 3723.0),
        ("100us", 1e-4),
        ("2", 2.0),
        (" 3s ", 3.0),
        ("", None),
        ("soon", None),
        ("1x", None),
        ("s", None),
        ("1s2", None),
        ("-1s", None),
        ("-1", None),
    ],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_parse_reset_time() -> None:
    at = datetime(2025, 8, 21, 12, 40, 59, tzinfo=UTC).timestamp()
    assert parse_reset_time("2025-08-21T12:40:59Z", now=at - 30) == 30
    assert parse_reset_time("2025-08-21T12:40:59.500+00:00", now=at) == 0.5
    assert parse_reset_time("2025-08-21T12:40:59Z", now=at + 5) == 0  # already past
    assert parse_reset_time("2025-08-21T12:40:59", now=at) is None  # no zone
    assert parse_reset_time("tomorrow", now=at) is None


def test_parse_rate_headers_of_openai_and_anthropic() -> None:
    openai = [
        (b"X-RateLimit-Limit-Requests", b"60"),
        (b"X-RateLimit-Remaining-Requests", b"59"),
        (b"X-RateLimit-Reset-Requests", b"1s"),
        (b"x-ratelimit-limit-tokens", b"150000"),
        (b"x-ratelimit-remaining-tokens", b"149984"),
        (b"x-ratelimit-reset-tokens", b"6m0s"),
        (b"content-type", b"application/json"),
    ]
    assert parse_rate_headers(openai, now=0) == {
        "requests": ServerLimit(59, 1.0),
        "tokens": ServerLimit(149984, 360.0),
    }
    at = datetime(2025, 8, 21, 12, 40, 59, tzinfo=UTC).timestamp()
    anthropic = [
        (b"anthropic-ratelimit-requests-limit", b"1000"),
        (b"anthropic-ratelimit-requests-remaining", b"999"),
        (b"anthropic-ratelimit-requests-reset", b"2025-08-21T12:40:59Z"),
        (b"anthropic-ratelimit-tokens-remaining", b"96000"),
        (b"anthropic-ratelimit-tokens-reset", b"2025-08-21T12:41:09Z"),
        (b"anthropic-ratelimit-input-tokens-remaining", b"80000"),
        (b"anthropic-ratelimit-output-tokens-remaining", b"0"),
        (b"anthropic-ratelimit-output-tokens-reset", b"2025-08-21T12:41:00Z"),
    ]
    assert parse_rate_headers(anthropic, now=at - 1) == {
        "requests": ServerLimit(999, 1.0),
        "tokens": ServerLimit(96000, 11.0),
        "input-tokens": ServerLimit(80000, None),
        "output-tokens": ServerLimit(0, 2.0),
    }
    assert parse_rate_headers([(b"x-ratelimit-remaining-requests", b"many")], now=0) == {}
    assert parse_rate_headers([], now=0) == {}


def test_estimate_tokens() -> None:
    messages = [
        {"role": "system", "content": "abcd" * 10},  # 40 bytes
        {"role": "user", "content": "héllo"},  # 6 bytes
    ]
    request = build_chat_request("m", messages, max_tokens=100)
    assert estimate_tokens(request) == math.ceil(46 / 4) + 2 * 4 + 100
    assert estimate_tokens(build_chat_request("m", messages)) == 12 + 8 + 1024
    calls = [
        *messages,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
    ]
    # 46 + 1 (the name) + 2 (the arguments) bytes, three messages, one output token.
    assert estimate_tokens(build_chat_request("m", calls, max_tokens=1)) == 13 + 12 + 1
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    with_tools = build_chat_request("m", messages, tools=[tool], max_tokens=100)
    assert estimate_tokens(with_tools) > estimate_tokens(request)
    assert estimate_embed_tokens(EmbedRequest(model="e", input=["abcd", "ef"])) == 2


def test_settings_are_validated_naming_the_field() -> None:
    for kwargs, field in [
        ({"rpm": 0}, "rate_limit.rpm"),
        ({"rpm": True}, "rate_limit.rpm"),
        ({"tpm": 1.5}, "rate_limit.tpm"),
        ({"max_wait": -1}, "rate_limit.max_wait"),
        ({"max_wait": "1"}, "rate_limit.max_wait"),
    ]:
        with pytest.raises(aa.ValidationError) as info:
            aa.RateLimit(**kwargs)
        assert info.value.field == field
    with pytest.raises(aa.ValidationError) as info:
        aa.Client("openai", api_key="k", rate_limit={"rpm": 5})  # type: ignore[arg-type]
    assert info.value.field == "rate_limit"
    with pytest.raises(aa.ValidationError):
        RateLimiter("rpm=5")  # type: ignore[arg-type]


def test_the_gates_in_order_and_none_when_not_configured() -> None:
    plain = aa.Client("openai", api_key="k")
    assert (plain.breaker, plain.rate_limiter, plain.concurrency) == (None, None, None)
    assert plain._gates(plain._adapter("openai"), "gpt-4o") == ()
    client = aa.Client(
        "openai",
        api_key="k",
        breaker=aa.CircuitBreaker(),
        rate_limit=aa.RateLimit(rpm=10),
        max_concurrency=2,
    )
    assert client.breaker is not None and client.rate_limiter is not None
    gates = client._gates(client._adapter("openai"), "gpt-4o")
    assert gates == (
        client.concurrency,
        client.rate_limiter,
        client.breaker.gate(client.deployment_id("gpt-4o")),
    )
    shared = RateLimiter(aa.RateLimit(rpm=10))
    assert aa.Client("openai", api_key="k", rate_limit=shared).rate_limiter is shared


# -- the buckets, with a fake clock ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def bare_call(tokens: int = 0) -> Call:
    adapter = create_adapter("openai", api_key="sk-test")
    http = adapter.encode(build_chat_request("gpt-4o", USER))
    call = Call("chat", adapter, http, aa.Timeouts(), aa.RetryPolicy(max_retries=0))
    call.tokens = tokens
    return call


async def test_buckets_with_a_fake_clock() -> None:
    clock = Clock()
    limiter = RateLimiter(aa.RateLimit(rpm=2, tpm=600, max_wait=1), clock=clock)
    assert limiter.delay(100) == 0
    assert limiter.delay(700) == pytest.approx(10)  # 100 over capacity at 10 tokens/s
    for _ in range(2):
        permit = await limiter.enter(bare_call(100))
        permit.settle(bare_call(), None)
    assert limiter.delay(1) == pytest.approx(30)  # no request left: one every 30 s
    with pytest.raises(aa.RateLimitError) as info:
        await limiter.enter(bare_call(100))
    assert info.value.local and info.value.retry_after == pytest.approx(30)
    assert not info.value.retryable
    clock.now += 30
    assert limiter.delay(1) == 0  # one request back; the refused call took none
    assert limiter.delay(600) == 0  # 400 left + 300 refilled, capped at 600
    assert limiter.delay(601) == pytest.approx(0.1)
    await limiter.enter(bare_call(400))
    assert limiter.delay(1) == pytest.approx(30)


# -- over the wire ---------------------------------------------------------------------------


def reply(content: str = "ok", total: int = 10, **headers: str) -> Reply:
    body: dict[str, Any] = completion(content)
    body["usage"] = {"prompt_tokens": total - 1, "completion_tokens": 1, "total_tokens": total}
    return Reply.json(body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def client_for(srv: MockServer, limit: aa.RateLimit, **kwargs: Any) -> aa.Client:
    kwargs.setdefault("retry", 0)
    return aa.Client(
        "openai", api_key="sk-test", base_url=srv.base_url + "/v1", rate_limit=limit, **kwargs
    )


async def drained(client: aa.Client, srv: MockServer) -> RateLimiter:
    """Empty the token bucket: the first call reports a whole minute's worth of tokens."""
    limiter = client.rate_limiter
    assert limiter is not None and limiter.limit.tpm is not None
    srv.enqueue(reply(total=limiter.limit.tpm))
    await client.chat(model="gpt-4o", messages=USER, max_tokens=1)
    return limiter


async def test_usage_corrects_the_estimate() -> None:
    async with MockServer() as srv, client_for(srv, aa.RateLimit(tpm=6000)) as client:
        limiter = client.rate_limiter
        assert limiter is not None
        srv.enqueue(reply(total=3000))
        await client.chat(model="gpt-4o", messages=USER)  # estimated 1029, used 3000
        assert 28 < limiter.delay(6000) <= 30  # 3000 left, 100 tokens a second
        srv.enqueue(Reply.sse(text_stream("a", "b")))  # the usage chunk says 9 + 2
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
        assert 28 < limiter.delay(6000 - 11) <= 30


async def test_waiters_are_served_first_come_first_served() -> None:
    order: list[str] = []

    def handler(request: RecordedRequest) -> Reply:
        order.append(request.json()["messages"][0]["content"])
        return reply(total=HI + 1)

    async with MockServer() as srv, client_for(srv, aa.RateLimit(tpm=6000)) as client:
        await drained(client, srv)
        srv.handler = handler
        start = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for i in range(5):  # each needs 6 tokens: 0.06 s at 100 tokens/s
                said = [{"role": "user", "content": str(i)}]
                tg.start_soon(lambda m=said: client.chat(model="gpt-4o", messages=m, max_tokens=1))
                await anyio.sleep(0.001)
        assert order == ["0", "1", "2", "3", "4"]
        assert anyio.current_time() - start >= 0.25


async def test_a_call_that_would_wait_too_long_fails_at_once_sending_nothing() -> None:
    limit = aa.RateLimit(tpm=6000, max_wait=1.0)
    async with MockServer() as srv, client_for(srv, limit) as client:
        await drained(client, srv)
        start = anyio.current_time()
        with pytest.raises(aa.RateLimitError) as info:
            await client.chat(model="gpt-4o", messages=USER)  # 1029 tokens: ~10 s
        assert anyio.current_time() - start < 0.5  # at once, not after waiting max_wait
        error = info.value
        assert error.local and not error.retryable and error.provider == "openai"
        assert error.retry_after is not None and 9 < error.retry_after < 10.35
        assert error.status is None
        assert len(srv.requests) == 1
        # Small enough to fit in max_wait: it waits, then goes.
        srv.enqueue(reply())
        await client.chat(model="gpt-4o", messages=USER, max_tokens=1)
        assert len(srv.requests) == 2


async def test_never_waits_past_the_total_deadline() -> None:
    async with MockServer() as srv, client_for(srv, aa.RateLimit(tpm=6000)) as client:
        await drained(client, srv)
        start = anyio.current_time()
        with pytest.raises(aa.RateLimitError) as info:
            await client.chat(model="gpt-4o", messages=USER, timeouts=0.5)
        assert anyio.current_time() - start < 0.25  # refused at once, not after 0.5 s
        assert info.value.local and info.value.retry_after is not None
        assert info.value.retry_after > 5  # ~10.3 s minus the time since the drain
        assert len(srv.requests) == 1
        srv.enqueue(reply())
        start = anyio.current_time()
        await client.chat(model="gpt-4o", messages=USER, max_tokens=10, timeouts=1.0)
        assert anyio.current_time() - start >= 0.1  # ~15 tokens waited for, within 1 s


async def test_a_cancelled_waiter_gives_its_reservation_back() -> None:
    async with MockServer() as srv, client_for(srv, aa.RateLimit(tpm=6000)) as client:
        limiter = await drained(client, srv)
        with anyio.move_on_after(0.05) as scope:
            await client.chat(model="gpt-4o", messages=USER)  # would wait ~10 s
        assert scope.cancelled_caught
        assert limiter.delay(HI + 1) < 0.1
        assert len(srv.requests) == 1


async def test_openai_headers_pause_the_bucket_until_the_reset() -> None:
    exhausted = {"x_ratelimit_remaining_requests": "0", "x_ratelimit_reset_requests": "300ms"}
    async with MockServer() as srv, client_for(srv, aa.RateLimit()) as client:
        srv.enqueue(reply(**exhausted), reply("waited"))
        await client.chat(model="gpt-4o", messages=USER)
        start = anyio.current_time()
        assert (await client.chat(model="gpt-4o", messages=USER)).content == "waited"
        assert anyio.current_time() - start >= 0.25
    async with MockServer() as srv, client_for(srv, aa.RateLimit(max_wait=0.1)) as client:
        srv.enqueue(reply(**exhausted))
        await client.chat(model="gpt-4o", messages=USER)
        with pytest.raises(aa.RateLimitError) as info:
            await client.chat(model="gpt-4o", messages=USER)
        assert info.value.local
        assert info.value.retry_after is not None and 0.2 < info.value.retry_after <= 0.3
        assert len(srv.requests) == 1


async def test_openai_remaining_tokens_lower_the_bucket() -> None:
    limit = aa.RateLimit(tpm=60_000, max_wait=0.1)
    low = {"x_ratelimit_remaining_tokens": "100", "x_ratelimit_reset_tokens": "6m0s"}
    async with MockServer() as srv, client_for(srv, limit) as client:
        srv.enqueue(reply(**low))
        await client.chat(model="gpt-4o", messages=USER)
        with pytest.raises(aa.RateLimitError) as info:
            await client.chat(model="gpt-4o", messages=USER)  # 1029 tokens, 100 left
        assert info.value.local
        assert info.value.retry_after is not None and 0.5 < info.value.retry_after < 0.95
        srv.enqueue(reply())
        await client.chat(model="gpt-4o", messages=USER, max_tokens=50)  # 55 tokens fit
        assert len(srv.requests) == 2


def anthropic_reply(**headers: str) -> Reply:
    body = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }
    return Reply.json(body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def rfc3339(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_from_now, UTC).isoformat()


@pytest.mark.parametrize("family", ["requests", "tokens", "output_tokens"])
async def test_anthropic_headers_pause_the_bucket_until_the_reset(family: str) -> None:
    headers = {
        f"anthropic_ratelimit_{family}_remaining": "0",
        f"anthropic_ratelimit_{family}_reset": rfc3339(2.0),
    }
    async with (
        MockServer() as srv,
        aa.Client(
            "anthropic",
            api_key="sk-ant-test",
            base_url=srv.base_url,
            retry=0,
            rate_limit=aa.RateLimit(max_wait=0.5),
        ) as client,
    ):
        srv.enqueue(anthropic_reply(**headers))
        await client.chat(model="claude-sonnet-4-5", messages=USER)
        with pytest.raises(aa.RateLimitError) as info:
            await client.chat(model="claude-sonnet-4-5", messages=USER)
        assert info.value.local and info.value.provider == "anthropic"
        assert info.value.retry_after is not None and 1.5 < info.value.retry_after <= 2.0
        assert len(srv.requests) == 1


async def test_a_429_with_retry_after_pauses_the_bucket() -> None:
    async with MockServer() as srv, client_for(srv, aa.RateLimit()) as client:
        srv.enqueue(Reply.error(429, RATE, headers={"retry-after": "0.3"}), reply("later"))
        with pytest.raises(aa.RateLimitError) as info:
            await client.chat(model="gpt-4o", messages=USER)
        assert not info.value.local and info.value.status == 429
        with pytest.raises(aa.RateLimitError) as refused:
            await client.chat(model="gpt-4o", messages=USER, timeouts=0.1)
        assert refused.value.local
        start = anyio.current_time()
        assert (await client.chat(model="gpt-4o", messages=USER)).content == "later"
        assert anyio.current_time() - start >= 0.2
        assert len(srv.requests) == 2


async def test_a_retried_429_waits_for_the_pause_once() -> None:
    retry = aa.RetryPolicy(max_retries=2, initial_backoff=0)
    async with MockServer() as srv, client_for(srv, aa.RateLimit(), retry=retry) as client:
        srv.enqueue(Reply.error(429, RATE, headers={"retry-after": "0.2"}), reply("retried"))
        start = anyio.current_time()
        assert (await client.chat(model="gpt-4o", messages=USER)).content == "retried"
        assert 0.19 <= anyio.current_time() - start < 0.6
        assert len(srv.requests) == 2


async def test_embeddings_take_their_estimate() -> None:
    body = {
        "object": "list",
        "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        "usage": {"prompt_tokens": 1000, "total_tokens": 1000},
    }
    async with MockServer() as srv, client_for(srv, aa.RateLimit(tpm=6000)) as client:
        limiter = client.rate_limiter
        assert limiter is not None
        srv.enqueue(Reply.json(body))
        await client.embed(model="text-embedding-3-small", input="x" * 4000)  # 1000 tokens
        assert 9.0 < limiter.delay(6000) <= 10  # 1000 of 6000 tokens/min used: ~10 s to refill


async def test_a_refusal_by_the_breaker_gives_the_reservation_back() -> None:
    breaker = aa.CircuitBreaker(failure_threshold=1)
    limit = aa.RateLimit(rpm=2, tpm=6000)
    server_error = {"error": {"message": "boom", "type": "server_error"}}
    async with MockServer() as srv, client_for(srv, limit, breaker=breaker) as client:
        limiter = client.rate_limiter
        assert limiter is not None
        srv.enqueue(Reply.error(503, server_error))
        with pytest.raises(aa.ServerError):  # sent: one request used, its tokens given back
            await client.chat(model="gpt-4o", messages=USER)
        for _ in range(5):
            with pytest.raises(aa.CircuitOpenError):  # never sent: nothing used
                await client.chat(model="gpt-4o", messages=USER)
        assert limiter.delay(1) == 0  # one request of two left
        assert limiter.delay(6000) < 0.1
        assert len(srv.requests) == 1
