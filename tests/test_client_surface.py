"""The public surface: input validation before I/O, secrets, structured output, proxies, sync."""

from __future__ import annotations

import logging

import msgspec
import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from agent_adapter.transport import _bypassed
from sse_builders import USER, completion, text_stream

SECRET = "sk-live-0123456789abcdef"


def tool(name: str = "f", **parameters: object) -> dict[str, object]:
    function: dict[str, object] = {"name": name}
    if parameters:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


NAMED = {"type": "function", "function": {"name": "nope"}}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "assistant"}]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]},
         "messages[0].content[0].type"),
        ({"messages": USER, "temperature": 3}, "temperature"),
        ({"messages": USER, "top_p": -0.1}, "top_p"),
        ({"messages": USER, "max_tokens": 0}, "max_tokens"),
        ({"messages": USER, "tools": [tool("bad name!")]}, "tools[0].function.name"),
        ({"messages": USER, "tools": [tool(type="array")]}, "tools[0].function.parameters.type"),
        ({"messages": USER, "tools": [tool(type="object", properties={}, required=["x"])]},
         "tools[0].function.parameters.required"),
        ({"messages": USER, "tool_choice": "required"}, "tool_choice"),
        ({"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": NAMED}, "tool_choice"),
        ({"messages": USER, "reasoning": "extreme"}, "reasoning"),
        ({"messages": USER, "response_format": {"type": "xml"}}, "response_format"),
        ({"messages": USER, "stop": [""]}, "stop"),
        ({"messages": USER, "frobnicate": True}, "frobnicate"),
    ],
)  # fmt: skip
@pytest.mark.anyio
async def test_bad_input_raises_validation_error_before_any_io(
    kwargs: dict[str, object], field: str
) -> None:
    async with MockServer() as srv:
        async with aa.Client("openai", api_key="k", base_url=srv.base_url + "/v1") as client:
            with pytest.raises(aa.ValidationError) as info:
                await client.chat(model="gpt-4o", **kwargs)  # type: ignore[arg-type]
            assert info.value.field == field
            assert field in str(info.value)
            with pytest.raises(aa.ValidationError):
                client.stream(model="gpt-4o", **kwargs)  # type: ignore[arg-type]
        assert srv.requests == []
        assert srv.connections_opened == 0


def test_unknown_provider_and_missing_key_are_clear() -> None:
    with pytest.raises(aa.ValidationError) as info:
        aa.Client("nonexistent")
    assert info.value.field == "provider"
    with pytest.raises(aa.AuthenticationError) as auth:
        aa.Client("groq", env={})
    assert "GROQ_API_KEY" in str(auth.value)


def test_model_prefix_picks_the_provider() -> None:
    client = aa.Client(env={"GROQ_API_KEY": "gsk-x"})
    adapter, model = client._resolve("groq/llama-3.3-70b")
    assert adapter.name == "groq" and model == "llama-3.3-70b"
    with pytest.raises(aa.ValidationError) as info:
        client._resolve("gpt-4o")
    assert info.value.field == "model"


@pytest.mark.anyio
async def test_api_key_never_leaks_into_repr_errors_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                      "param": None, "code": "invalid_api_key"}}  # fmt: skip
    async with (
        MockServer() as srv,
        aa.Client("openai", api_key=SECRET, base_url=srv.base_url + "/v1") as client,
    ):
        srv.enqueue(Reply.error(401, body))
        with pytest.raises(aa.AuthenticationError) as info:
            await client.chat(model="gpt-4o", messages=USER)
        adapter = client._adapter("openai")
        http = adapter.encode(
            aa.ChatRequest(model="m", messages=[aa.Message(role="user", content="x")])
        )
        exposed = [
                repr(client), repr(adapter), repr(adapter.api_key), str(adapter.api_key),
                repr(http), str(info.value), repr(info.value), str(info.value.body),
                caplog.text,
            ]  # fmt: skip
        assert not any(SECRET in text for text in exposed)
        assert srv.requests[0].headers["authorization"] == f"Bearer {SECRET}"


class Weather(msgspec.Struct):
    city: str
    temp_c: float


@pytest.mark.anyio
async def test_structured_output_from_a_struct_type() -> None:
    async with (
        MockServer() as srv,
        aa.Client("openai", api_key="k", base_url=srv.base_url + "/v1") as client,
    ):
        srv.enqueue(Reply.json(completion('{"city": "Paris", "temp_c": 18.5}')))
        r = await client.chat(model="gpt-4o", messages=USER, response_format=Weather)
        assert r.parsed == Weather(city="Paris", temp_c=18.5)
        sent = srv.requests[0].json()["response_format"]
        assert sent["type"] == "json_schema"
        assert sent["json_schema"]["name"] == "Weather"
        assert sent["json_schema"]["schema"]["required"] == ["city", "temp_c"]
        assert sent["json_schema"]["schema"]["additionalProperties"] is False

        srv.enqueue(Reply.json(completion('{"city": "Paris"}')))
        with pytest.raises(aa.StructuredOutputError) as info:
            await client.chat(model="gpt-4o", messages=USER, response_format=Weather)
        assert info.value.raw == '{"city": "Paris"}'

        srv.enqueue(Reply.sse(text_stream('{"city": "Lyon", ', '"temp_c": 9}')))
        async with client.stream(model="gpt-4o", messages=USER, response_format=Weather) as s:
            async for _ in s:
                pass
        assert s.response.parsed == Weather(city="Lyon", temp_c=9)


@pytest.mark.anyio
async def test_explicit_http_proxy_receives_absolute_form_requests() -> None:
    async with MockServer() as proxy:
        proxy.enqueue(Reply.json(completion("via proxy")))
        async with aa.Client(
            "openai",
            api_key="k",
            base_url="http://api.example.invalid/v1",
            proxy=proxy.base_url,
            retry=0,
        ) as client:
            r = await client.chat(model="gpt-4o", messages=USER)
        assert r.content == "via proxy"
        assert proxy.requests[0].path == "http://api.example.invalid/v1/chat/completions"


def test_no_proxy_matching() -> None:
    assert _bypassed("api.openai.com", "localhost,.openai.com")
    assert _bypassed("openai.com", "openai.com:443")
    assert _bypassed("anything", "*")
    assert not _bypassed("api.openai.com", "localhost,example.com")
    assert not _bypassed("notopenai.com", "openai.com")


def test_sync_client_chat_and_stream() -> None:
    import anyio

    async def scenario() -> None:
        async with MockServer() as srv:
            srv.enqueue(Reply.json(completion("sync hi")), Reply.sse(text_stream("a", "b")))
            base = srv.base_url + "/v1"

            def blocking() -> tuple[str, str]:
                with aa.SyncClient("openai", api_key="k", base_url=base) as client:
                    r = client.chat(model="gpt-4o", messages=USER)
                    with client.stream(model="gpt-4o", messages=USER) as s:
                        text = "".join(c.delta for c in s)
                    return r.content, text

            assert await anyio.to_thread.run_sync(blocking) == ("sync hi", "ab")

    anyio.run(scenario)


def test_sync_client_wraps_anything_with_the_client_surface() -> None:
    import anyio

    class Prefixing:
        """Not a Client: delegates to one and marks what it returns."""

        def __init__(self, inner: aa.Client) -> None:
            self.inner = inner
            self.closed = False

        async def chat(self, **kwargs: object) -> aa.ChatResponse:
            response = await self.inner.chat(**kwargs)  # type: ignore[arg-type]
            response.content = "wrapped: " + response.content
            return response

        def stream(self, **kwargs: object) -> aa.ChatStream:
            return self.inner.stream(**kwargs)  # type: ignore[arg-type]

        async def embed(self, **kwargs: object) -> aa.EmbedResponse:
            return await self.inner.embed(**kwargs)  # type: ignore[arg-type]

        async def aclose(self) -> None:
            self.closed = True
            await self.inner.aclose()

    async def scenario() -> None:
        async with MockServer() as srv:
            srv.enqueue(Reply.json(completion("hi")), Reply.sse(text_stream("a", "b")))
            wrapped = Prefixing(aa.Client("openai", api_key="k", base_url=srv.base_url + "/v1"))

            def blocking() -> tuple[str, str]:
                with aa.SyncClient(wrapped) as client:
                    r = client.chat(model="gpt-4o", messages=USER)
                    with client.stream(model="gpt-4o", messages=USER) as s:
                        text = "".join(c.delta for c in s)
                    return r.content, text

            assert await anyio.to_thread.run_sync(blocking) == ("wrapped: hi", "ab")
            assert wrapped.closed
            with pytest.raises(aa.ValidationError, match="retry"):
                aa.SyncClient(wrapped, retry=3)

    anyio.run(scenario)


@pytest.mark.anyio
async def test_chat_response_carries_the_request_id() -> None:
    async with MockServer() as srv:
        async with aa.Client("openai", api_key="k", base_url=srv.base_url + "/v1") as client:
            srv.enqueue(Reply.json(completion(), headers={"x-request-id": "req_abc"}))
            r = await client.chat(model="gpt-4o", messages=USER)
        assert r.request_id == "req_abc"


@pytest.mark.anyio
async def test_proxy_from_the_environment_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    async with MockServer() as proxy, MockServer() as direct:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        proxy.enqueue(Reply.json(completion("via env proxy")))
        direct.enqueue(Reply.json(completion("direct")))
        async with aa.Client(
            "openai", api_key="k", base_url="http://api.example.invalid/v1", retry=0
        ) as client:
            assert (await client.chat(model="gpt-4o", messages=USER)).content == "via env proxy"
        async with aa.Client(
            "openai", api_key="k", base_url=direct.base_url + "/v1", retry=0
        ) as client:  # 127.0.0.1 is in NO_PROXY
            assert (await client.chat(model="gpt-4o", messages=USER)).content == "direct"
        assert proxy.requests[0].path == "http://api.example.invalid/v1/chat/completions"
        assert len(proxy.requests) == 1
