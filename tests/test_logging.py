"""The ``agent_adapter`` logger: DEBUG per attempt, WARNING per retry, structured and key-free."""

from __future__ import annotations

import logging

import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from sse_builders import USER, completion, text_stream

pytestmark = pytest.mark.anyio

KEY = "sk-log-test-key-0042"


def client_for(srv: MockServer) -> aa.Client:
    return aa.Client(
        "openai",
        api_key=KEY,
        base_url=srv.base_url + "/v1",
        retry=aa.RetryPolicy(initial_backoff=0),
    )


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "agent_adapter"]


async def test_debug_per_attempt_and_warning_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_adapter")
    busy = Reply.error(503, {"error": {"message": "busy"}}, headers={"x-request-id": "req_busy"})
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(busy, Reply.json(completion()))
        await client.chat(model="gpt-4o", messages=USER)
    records = ours(caplog)
    attempts = [r for r in records if r.levelno == logging.DEBUG]
    retries = [r for r in records if r.levelno == logging.WARNING]
    assert [r.__dict__["attempt"] for r in attempts] == [1, 2]
    assert {r.__dict__["provider"] for r in attempts} == {"openai"}
    assert {r.__dict__["model"] for r in attempts} == {"gpt-4o"}
    (retry,) = retries
    fields = retry.__dict__
    assert fields["attempt"] == 1 and fields["delay"] >= 0
    assert fields["error_type"] == "ServerError" and fields["status"] == 503
    assert fields["request_id"] == "req_busy"
    assert "retrying" in retry.getMessage()
    for record in records:
        assert KEY not in repr(record.__dict__) and KEY not in record.getMessage()


async def test_streams_log_their_attempts_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_adapter")
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.error(503, {"error": {"message": "busy"}}), Reply.sse(text_stream("x")))
        async with client.stream(model="gpt-4o", messages=USER) as s:
            async for _ in s:
                pass
    records = ours(caplog)
    assert [r.levelname for r in records] == ["DEBUG", "WARNING", "DEBUG"]
    assert {r.__dict__["operation"] for r in records} == {"stream"}


async def test_no_debug_record_is_built_when_debug_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent_adapter")
    async with MockServer() as srv, client_for(srv) as client:
        srv.enqueue(Reply.json(completion()))
        await client.chat(model="gpt-4o", messages=USER)
    assert ours(caplog) == []


def test_the_logger_has_a_null_handler() -> None:
    import agent_adapter.runner  # noqa: F401 - the first module that logs

    handlers = logging.getLogger("agent_adapter").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


async def test_the_retry_loop_passes_its_context_to_on_retry() -> None:
    from agent_adapter.resilience import retrying

    seen: list[tuple[object, ...]] = []
    failures = [aa.ServerError("busy", status=503)]

    async def attempt(n: int) -> str:
        if failures:
            raise failures.pop()
        return "done"

    def told(*args: object) -> None:
        seen.append(args)

    policy = aa.RetryPolicy(initial_backoff=0)
    assert await retrying(attempt, policy, on_retry=told, context="ctx") == "done"
    ((context, error, n, wait),) = seen
    assert context == "ctx" and isinstance(error, aa.ServerError) and n == 0 and wait == 0.0
