"""``GET /metrics`` after real calls through a real gateway, parsed as Prometheus parses it.

The gateway runs on hypercorn in front of a MockServer upstream (the fake
providers, with a scripted failure and a scripted slow stream); the calls
are made with the official ``openai`` client and raw sockets, with two
client keys. The scrape is parsed with prometheus-client's own text parser,
and every count is checked exactly: requests by endpoint, model, key and
status, errors by type, tokens against the usage the answers reported,
histogram counts, and the in-flight streams gauge up during a stream and
back to 0 after. Nothing secret may appear in it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import openai
import pytest

from agent_adapter.errors import ValidationError
from agent_adapter.gateway import create_app, key_hash, read_settings
from agent_adapter.testing import MockServer, Reply
from agent_adapter.testing.fake import provider_reply
from gateway_support import (
    KEY,
    OTHER_KEY,
    UPSTREAM_ENV,
    Raw,
    config_text,
    make_app,
    request,
    running,
)
from metrics_support import P, parse, scrape, settled, total, value
from sse_builders import chunk

pytestmark = [
    pytest.mark.anyio,
    # On trio, the SDK's own stream generators are finalized by the garbage collector
    # after a stream ends, and trio warns about each: not ours to fix.
    pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning"),
]

CHAT = "/v1/chat/completions"
KEYS = {
    "team-a": {"key": KEY, "models": ["smart", "claude", "embed"]},
    "team-b": {"key": OTHER_KEY, "models": ["claude"], "rpm": 1},
}


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def upstream(request: Any) -> Reply:
    """The fake providers, but ``fail`` is a 500 and ``hang`` a stream that stops after a word."""
    messages = request.json().get("messages") or [{}]
    last = messages[-1].get("content")
    if last == "fail":
        return Reply.error(500, {"error": {"message": "boom", "type": "server_error"}})
    if last == "hang":
        events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "word0 "})]
        return Reply.sse([*events, chunk({}, "stop")], delay=[0, 0, 120])
    return provider_reply(request)


@asynccontextmanager
async def gateway(tmp_path: Path, backend: str, gateway: str = "") -> AsyncIterator[str]:
    async with MockServer(handler=upstream) as up:
        text = config_text(up.base_url, up.base_url, keys=KEYS, gateway=gateway)
        async with running(make_app(tmp_path, text), backend) as url:
            yield url


def client(url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


async def test_counts_calls_errors_tokens_and_times_per_key_and_model(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend) as url:
        a, b, wrong = client(url, KEY), client(url, OTHER_KEY), client(url, "aa-wrong-key")
        try:
            plain = await a.chat.completions.create(model="smart", messages=user("hi"))
            streamed = await a.chat.completions.create(
                model="smart",
                messages=user("hello"),
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [c async for c in streamed]
            stream_usage = chunks[-1].usage
            claude = await b.chat.completions.create(model="claude", messages=user("hi"))
            with pytest.raises(openai.RateLimitError):  # team-b: rpm = 1
                await b.chat.completions.create(model="claude", messages=user("again"))
            with pytest.raises(openai.InternalServerError):  # the upstream's 500: our 502
                await a.chat.completions.create(model="smart", messages=user("fail"))
            with pytest.raises(openai.NotFoundError):
                await a.chat.completions.create(model="nope", messages=user("hi"))
            with pytest.raises(openai.AuthenticationError):
                await wrong.chat.completions.create(model="smart", messages=user("hi"))
            embedded = await a.embeddings.create(model="embed", input=["one", "two"])
        finally:
            for c in (a, b, wrong):
                await c.close()
        await settled(url, lambda s: total(s, "requests_total") >= 8)
        status, kind, text = await scrape(url)

    assert status == 200 and kind.startswith("text/plain")
    assert plain.usage is not None and stream_usage is not None and claude.usage is not None
    s = parse(text)
    requests = "requests_total"
    assert value(s, requests, endpoint=CHAT, model="smart", key="team-a", status="200") == 2
    assert value(s, requests, endpoint=CHAT, model="smart", key="team-a", status="502") == 1
    assert value(s, requests, endpoint=CHAT, model="claude", key="team-b", status="200") == 1
    assert value(s, requests, endpoint=CHAT, model="claude", key="team-b", status="429") == 1
    assert value(s, requests, endpoint=CHAT, model="-", key="team-a", status="404") == 1
    assert value(s, requests, endpoint=CHAT, model="-", key="-", status="401") == 1
    assert value(s, requests, endpoint="/v1/embeddings", model="embed", key="team-a", status="200")
    assert total(s, requests) == 8  # the scrapes, and /healthz, are not API requests

    errors = "errors_total"
    assert value(s, errors, endpoint=CHAT, model="claude", key="team-b", type="rate_limit_error")
    assert value(s, errors, endpoint=CHAT, model="smart", key="team-a", type="server_error") == 1
    assert value(s, errors, endpoint=CHAT, model="-", key="-", type="authentication_error") == 1
    assert total(s, errors, type="invalid_request_error") == 1  # the unknown model
    assert total(s, errors) == 4

    smart_in = plain.usage.prompt_tokens + stream_usage.prompt_tokens
    smart_out = plain.usage.completion_tokens + stream_usage.completion_tokens
    assert value(s, "input_tokens_total", model="smart", key="team-a") == smart_in > 0
    assert value(s, "output_tokens_total", model="smart", key="team-a") == smart_out > 0
    assert value(s, "input_tokens_total", model="claude", key="team-b") == (
        claude.usage.prompt_tokens
    )
    assert value(s, "output_tokens_total", model="claude", key="team-b") == (
        claude.usage.completion_tokens
    )
    assert value(s, "input_tokens_total", model="embed", key="team-a") == (
        embedded.usage.prompt_tokens
    )

    latency = "request_duration_seconds_count"
    assert value(s, latency, endpoint=CHAT, model="smart") == 3  # two answers and the 502
    assert value(s, latency, endpoint=CHAT, model="claude") == 2
    assert value(s, latency, endpoint=CHAT, model="-") == 2  # the 404 and the 401
    assert value(s, "request_duration_seconds_sum", endpoint=CHAT, model="smart") > 0
    inf = {"endpoint": CHAT, "model": "smart", "le": "+Inf"}
    assert value(s, "request_duration_seconds_bucket", **inf) == 3
    assert value(s, "time_to_first_token_seconds_count", endpoint=CHAT, model="smart") == 1
    assert total(s, "time_to_first_token_seconds_count") == 1  # streams only
    ttft = value(s, "time_to_first_token_seconds_sum", endpoint=CHAT, model="smart")
    assert 0 < ttft <= value(s, "request_duration_seconds_sum", endpoint=CHAT, model="smart")
    assert total(s, "streams_in_flight") == 0
    assert value(s, "streams_in_flight", endpoint=CHAT, model="smart", key="team-a") == 0
    assert value(s, "worker_requests") == 8

    secrets = [KEY, OTHER_KEY, key_hash(KEY), key_hash(KEY).removeprefix("sha256:")]
    secrets += [key_hash(OTHER_KEY).removeprefix("sha256:"), *UPSTREAM_ENV.values()]
    assert not [secret for secret in secrets if secret in text]


@pytest.mark.parametrize("path", [CHAT, "/v1/messages"])
async def test_a_stream_is_in_flight_until_it_ends_and_a_client_that_left_is_499(
    tmp_path: Path, anyio_backend: str, path: str
) -> None:
    body: dict[str, Any] = {"model": "smart", "messages": user("hang"), "stream": True}
    if path == "/v1/messages":
        body["max_tokens"] = 100
    labels = {"endpoint": path, "model": "smart", "key": "team-a"}
    async with gateway(tmp_path, anyio_backend) as url:
        async with Raw.open(url) as raw:
            await raw.send(request("POST", path, msgspec.json.encode(body)))
            data = b""
            with anyio.fail_after(10):
                while b"word0" not in data:  # the first content is out; the rest never comes
                    data += await raw.stream.receive()
            during = parse((await scrape(url))[2])
            assert value(during, "streams_in_flight", **labels) == 1
            assert value(during, "requests_total", **labels, status="200") == 0  # not over yet
        left = {**labels, "status": "499"}
        after = await settled(url, lambda s: value(s, "requests_total", **left) == 1)
    assert value(after, "streams_in_flight", **labels) == 0
    assert value(after, "time_to_first_token_seconds_count", endpoint=path, model="smart") == 1
    assert total(after, "errors_total") == 0  # the client left: no error was answered


async def test_an_error_after_the_stream_started_is_counted_by_type(
    tmp_path: Path, anyio_backend: str
) -> None:
    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "partial"})]
    async with MockServer(handler=lambda request: Reply.reset_mid_body(events, after=2)) as up:
        text = config_text(up.base_url, up.base_url, keys=KEYS)
        async with running(make_app(tmp_path, text), anyio_backend) as url:
            a = client(url, KEY)
            try:
                stream = await a.chat.completions.create(
                    model="smart", messages=user("hi"), stream=True
                )
                with pytest.raises(openai.APIError):
                    async for _ in stream:
                        pass
            finally:
                await a.close()
            s = parse((await scrape(url))[2])
    labels = {"endpoint": CHAT, "model": "smart", "key": "team-a"}
    assert value(s, "requests_total", **labels, status="200") == 1  # the head went out as 200
    (kind,) = [dict(ls)["type"] for (n, ls), v in s.items() if n == P + "errors_total" and v]
    assert kind in ("api_connection_error", "stream_error")
    assert value(s, "streams_in_flight", **labels) == 0


async def test_anonymous_gateway_direct_models_are_bounded_and_openmetrics_on_request(
    tmp_path: Path, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with MockServer(handler=provider_reply) as up:
        # Direct provider/model calls take the provider's key and URL from the environment.
        for name, value_ in {**UPSTREAM_ENV, "OPENAI_API_KEY": "sk-direct-secret"}.items():
            monkeypatch.setenv(name, value_)
        monkeypatch.setenv("OPENAI_BASE_URL", up.base_url + "/v1")
        path = tmp_path / "gateway.toml"
        path.write_text("allow_direct = true\n" + config_text(up.base_url))
        async with running(create_app(path), anyio_backend) as url:
            c = client(url, "unused")
            try:
                for model in ("smart", "openai/gpt-4o", "openai/any-name-at-all", "zzz/x"):
                    try:
                        await c.chat.completions.create(model=model, messages=user("hi"))
                    except openai.NotFoundError:
                        assert model == "zzz/x"
            finally:
                await c.close()
            status, kind, body = await scrape(url, "application/openmetrics-text; version=1.0.0")
            s = parse((await scrape(url))[2])
    assert status == 200 and kind.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")
    by_model = {dict(ls)["model"]: v for (n, ls), v in s.items() if n == P + "requests_total" and v}
    # gpt-4o is a configured deployment; any other name under a provider is counted as provider/*
    assert by_model == {"smart": 1, "openai/gpt-4o": 1, "openai/*": 1, "-": 1}
    assert {dict(ls)["key"] for (n, ls) in s if n == P + "requests_total"} == {"anonymous"}


async def test_metrics_false_is_404_and_the_setting_is_checked(
    tmp_path: Path, anyio_backend: str
) -> None:
    async with gateway(tmp_path, anyio_backend, gateway="metrics = false") as url:
        status, _, body = await scrape(url)
    assert status == 404 and "Unknown request URL" in body
    with pytest.raises(ValidationError, match=r"^gateway\.metrics: must be true or false"):
        read_settings({"metrics": "yes"})
    assert read_settings({}).metrics is True


def test_prometheus_client_is_imported_only_for_a_gateway_with_metrics() -> None:
    code = (
        "import sys, agent_adapter, agent_adapter.gateway, agent_adapter.cli\n"
        "from agent_adapter.gateway import Gateway, GatewaySettings\n"
        "assert 'prometheus_client' not in sys.modules\n"
        "router = agent_adapter.Router({}, allow_direct=True)\n"
        "Gateway(router, GatewaySettings(metrics=False), env={})\n"
        "assert 'prometheus_client' not in sys.modules\n"
        "Gateway(router, env={})\n"
        "assert 'prometheus_client' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
