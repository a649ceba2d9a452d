"""Every response carries its call's timings in ``metrics``, streamed or not (asyncio and trio)."""

from __future__ import annotations

import anyio
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from sse_builders import USER, completion, text_stream

pytestmark = pytest.mark.anyio

EMBEDDING = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}


def client_for(srv: MockServer, **kwargs: object) -> aa.Client:
    return aa.Client("openai", api_key="sk-test", base_url=srv.base_url + "/v1", **kwargs)  # type: ignore[arg-type]


async def test_chat_has_ttfb_and_duration_but_no_stream_timings() -> None:
    async def slow(request: RecordedRequest) -> Reply:
        await anyio.sleep(0.05)
        return Reply.json(completion("hi"))

    async with MockServer(handler=slow) as srv, client_for(srv) as client:
        first = await client.chat(model="gpt-4o", messages=USER)
        second = await client.chat(model="gpt-4o", messages=USER)
    m = first.metrics
    assert m.ttft is None and m.tpot is None and m.tbt_max is None and m.tbt_mean is None
    assert m.tokens_per_second is None
    assert m.ttfb is not None and m.ttfb >= 0.05
    assert m.duration is not None and m.duration >= m.ttfb
    assert m.connect > 0 and not m.reused
    assert m.queued == 0.0
    assert m.throughput == pytest.approx(3 / m.duration)  # completion_tokens: 3
    assert m.throughput_tps == m.throughput
    assert second.metrics.reused and second.metrics.connect == 0.0


async def test_stream_times_first_content_gaps_and_tokens() -> None:
    pieces = [f"w{i} " for i in range(5)]
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream(*pieces), delay=0.03))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
    m = s.response.metrics
    assert m.ttfb is not None and m.ttft is not None and m.duration is not None
    assert 0 < m.ttfb <= m.ttft <= m.duration
    assert m.tbt_max is not None and m.tbt_mean is not None
    assert 0.02 <= m.tbt_mean <= m.tbt_max
    tokens = 5  # completion_tokens in the usage chunk
    assert m.tpot == pytest.approx((m.duration - m.ttft) / (tokens - 1))
    assert m.tokens_per_second == pytest.approx(tokens / (m.duration - m.ttft))
    assert m.throughput == pytest.approx(tokens / m.duration)
    assert s.ttft == m.ttft


async def test_a_stream_read_in_one_go_has_no_gaps() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.sse(text_stream("all at once")))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
    m = s.response.metrics
    assert m.ttft is not None and m.tbt_max is None and m.tbt_mean is None
    assert m.tpot is None  # one completion token: no token after the first


async def test_embed_has_ttfb_and_duration() -> None:
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(EMBEDDING))
        result = await client.embed(model="text-embedding-3-small", input="hi")
    m = result.metrics
    assert m.ttfb is not None and m.duration is not None and m.duration >= m.ttfb
    assert m.ttft is None and m.throughput is None  # embeddings produce no output tokens


async def test_queued_is_the_wait_in_the_concurrency_gate() -> None:
    async def slow_first(request: RecordedRequest) -> Reply:
        if len(srv.requests) == 1:
            await anyio.sleep(0.2)
        return Reply.json(completion())

    async with MockServer(handler=slow_first) as srv, client_for(srv, max_concurrency=1) as client:
        results: dict[str, aa.ChatResponse] = {}

        async def call(name: str) -> None:
            results[name] = await client.chat(model="gpt-4o", messages=USER)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "first")
            await anyio.sleep(0.02)
            tg.start_soon(call, "second")  # waits for the first one's slot
    assert results["first"].metrics.queued < 0.05
    waited = results["second"].metrics
    assert 0.1 <= waited.queued < 1.0
    assert waited.duration is not None and waited.duration >= waited.queued


def test_sagellm_names_are_the_same_numbers_in_milliseconds() -> None:
    m = aa.Metrics(ttft=0.25, tpot=0.01, tbt_mean=0.02, tbt_max=0.5, throughput=40.0)
    assert m.ttft_ms == 250.0
    assert m.tpot_ms == 10.0
    assert m.tbt_ms == 20.0
    assert m.throughput_tps == 40.0
    assert aa.Metrics().ttft_ms is None and aa.ChatResponse().metrics == aa.Metrics()
