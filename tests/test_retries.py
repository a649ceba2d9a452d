"""Retries over the wire: which errors retry, Retry-After, the total deadline, streams."""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.providers.base import retry_after
from agent_adapter.testing import MockServer, Reply
from sse_builders import DONE, USER, chunk, completion, text_stream

pytestmark = pytest.mark.anyio

FAST = aa.RetryPolicy(max_retries=3, initial_backoff=0.01, max_backoff=0.02)
RATE = {
    "error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
}
SERVER = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}


def client_for(srv: MockServer, retry: aa.RetryPolicy = FAST) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", retry=retry)


async def test_429_with_retry_after_is_retried_after_that_delay() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(
            Reply.error(429, RATE, headers={"retry-after": "0.3"}), Reply.json(completion())
        )
        start = anyio.current_time()
        r = await client.chat(model="gpt-4o", messages=USER)
        assert anyio.current_time() - start >= 0.29
        assert r.content == "Hello there!"
        assert len(srv.requests) == 2


async def test_retry_after_ms_takes_precedence() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        headers = {"retry-after-ms": "50", "retry-after": "30"}
        srv.enqueue(Reply.error(429, RATE, headers=headers), Reply.json(completion()))
        with anyio.fail_after(5):
            await client.chat(model="gpt-4o", messages=USER)
        assert len(srv.requests) == 2


async def test_retry_after_beyond_max_raises_at_once() -> None:
    policy = aa.RetryPolicy(max_retries=3, max_retry_after=5)
    async with MockServer() as srv, client_for(srv, policy) as client:
        srv.enqueue(Reply.error(429, RATE, headers={"retry-after": "600"}))
        with pytest.raises(aa.RateLimitError) as info, anyio.fail_after(2):
            await client.chat(model="gpt-4o", messages=USER)
        assert info.value.retry_after == 600
        assert info.value.status == 429 and info.value.provider == "openai"
        assert len(srv.requests) == 1


def test_retry_after_parses_http_dates() -> None:
    now = time.time()
    headers = [(b"retry-after", formatdate(now + 30, usegmt=True).encode())]
    assert retry_after(headers, now=now) == pytest.approx(30, abs=1)
    assert retry_after([(b"retry-after", b"garbage")]) is None
    assert retry_after([(b"retry-after", b"-3")]) is None


async def test_quota_exhausted_429_is_not_retried() -> None:
    quota = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                       "param": None, "code": "insufficient_quota"}}  # fmt: skip
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.error(429, quota))
        with pytest.raises(aa.RateLimitError) as info:
            await client.chat(model="gpt-4o", messages=USER)
        assert not info.value.retryable
        assert len(srv.requests) == 1


async def test_400_is_not_retried_but_5xx_is_until_the_limit() -> None:
    bad = {"error": {"message": "bad", "type": "invalid_request_error", "param": "x", "code": None}}
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.error(400, bad))
        with pytest.raises(aa.BadRequestError):
            await client.chat(model="gpt-4o", messages=USER)
        assert len(srv.requests) == 1
        srv.enqueue(*[Reply.error(503, SERVER)] * 4)
        with pytest.raises(aa.ServerError) as info:
            await client.chat(model="gpt-4o", messages=USER)
        assert info.value.retryable and info.value.status == 503
        assert len(srv.requests) == 1 + 4  # first try + 3 retries


async def test_connection_reset_before_headers_is_retried() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.reset_before_headers(), Reply.json(completion("after reset")))
        r = await client.chat(model="gpt-4o", messages=USER)
        assert r.content == "after reset"


async def test_connection_refused_is_an_api_connection_error() -> None:
    async with MockServer() as srv:
        url = srv.base_url
    async with aa.Client("openai", api_key="k", base_url=url + "/v1", retry=0) as client:
        with pytest.raises(aa.APIConnectionError) as info:
            await client.chat(model="gpt-4o", messages=USER)
        assert info.value.retryable


async def test_total_deadline_bounds_all_attempts_together() -> None:
    slow = aa.RetryPolicy(max_retries=10, initial_backoff=0.2, max_backoff=0.2)
    async with MockServer() as srv, client_for(srv, slow) as client:
        srv.enqueue(*[Reply.error(500, SERVER)] * 20)
        start = anyio.current_time()
        with pytest.raises((aa.TimeoutError, aa.ServerError)), anyio.fail_after(5):
            await client.chat(model="gpt-4o", messages=USER, timeouts=aa.Timeouts(total=0.5))
        assert anyio.current_time() - start < 1.0
        assert len(srv.requests) < 10


async def test_backoff_sleep_is_cancellable() -> None:
    slow = aa.RetryPolicy(max_retries=5, initial_backoff=30, max_backoff=30)
    async with MockServer() as srv, client_for(srv, slow) as client:
        srv.enqueue(Reply.error(500, SERVER))
        with anyio.move_on_after(0.3) as scope:
            await client.chat(model="gpt-4o", messages=USER)
        assert scope.cancelled_caught


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    policy = aa.RetryPolicy(
        max_retries=10, initial_backoff=0.5, max_backoff=8, rng=random.Random(1)
    )
    error = aa.ServerError("x")
    for attempt in range(6):
        delays = [policy.delay(error, attempt) for _ in range(200)]
        ceiling = min(8, 0.5 * 2**attempt)
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8
    assert policy.delay(aa.BadRequestError("x"), 0) is None
    assert policy.delay(error, 10) is None


async def test_stream_error_event_before_content_is_retried() -> None:
    overloaded = b'data: {"error":{"message":"overloaded","type":"server_error","code":"server_is_overloaded"}}\n\n'  # noqa: E501
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse([overloaded]), Reply.sse(text_stream("second try")))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            text = "".join([c.delta async for c in s])
        assert text == "second try"
        assert s.attempts == 2


async def test_stream_http_error_raises_on_enter() -> None:
    async with MockServer() as srv, client_for(srv, aa.RetryPolicy(max_retries=0)) as client:
        srv.enqueue(Reply.error(401, {"error": {"message": "Incorrect API key provided",
                                                "type": "invalid_request_error", "param": None,
                                                "code": "invalid_api_key"}}))  # fmt: skip
        s = client.stream(model="gpt-4o", messages=USER)
        with pytest.raises(aa.AuthenticationError):
            await s.__aenter__()


async def test_stream_error_after_content_is_not_retried_and_keeps_partial() -> None:
    failure = b'data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n'
    events = [
        chunk({"role": "assistant", "content": "partial "}),
        chunk({"content": "text"}),
        failure,
    ]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(events, delay=0.01), Reply.sse(text_stream("never")))
        with pytest.raises(aa.StreamError) as info:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
        assert info.value.partial.content == "partial text"
        assert isinstance(info.value.cause, aa.ServerError)
        assert len(srv.requests) == 1


async def test_reset_mid_stream_after_content_is_a_stream_error() -> None:
    events = text_stream("a", "b", "c", "d")
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.reset_mid_body(events, after=3))
        with pytest.raises(aa.StreamError) as info:
            async with client.stream(model="gpt-4o", messages=USER) as s:
                async for _ in s:
                    pass
        assert info.value.partial.content.startswith("a")
        assert len(srv.requests) == 1


async def test_stream_retries_when_reset_before_any_content() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.reset_mid_body(text_stream("x"), after=1), Reply.sse([*text_stream("y")]))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            assert "".join([c.delta async for c in s]) == "y"


async def test_done_marker_alone_yields_empty_response() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse([DONE]))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            assert [c async for c in s] == []
        assert s.response.content == ""


async def test_chat_read_and_total_deadlines_are_named() -> None:
    async with MockServer() as srv, client_for(srv, aa.RetryPolicy(max_retries=0)) as client:
        srv.enqueue(Reply.stall(seconds=5))
        with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(3):
            await client.chat(model="gpt-4o", messages=USER, timeouts=aa.Timeouts(read=0.2))
        assert info.value.which == "read"
        srv.enqueue(Reply.stall(seconds=5))
        with pytest.raises(aa.TimeoutError) as info, anyio.fail_after(3):
            await client.chat(model="gpt-4o", messages=USER, timeouts=aa.Timeouts(total=0.2))
        assert info.value.which == "total"
        await srv.wait_for_closed(2)


async def test_a_slow_trickle_within_the_read_timeout_succeeds() -> None:
    import msgspec

    body = msgspec.json.encode(completion("slow but steady"))
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.trickle(body, every=0.002, size=16))
        r = await client.chat(model="gpt-4o", messages=USER, timeouts=aa.Timeouts(read=1.0))
        assert r.content == "slow but steady"
