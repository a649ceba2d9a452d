"""A 2xx reply we cannot read is one non-retryable ``ServerError``, from every adapter.

Over real loopback HTTP (MockServer + aa.Client): the server answers 200
with a body that is not what the adapter reads (an HTML page, as a wrong base
URL serves; JSON without the expected shape, as a compatible service may
send). Every adapter raises a ``ServerError`` with ``retryable=False``, the
status, the request id and the start of the body, and the client does not
retry it even with retries allowed: the same reply would come back.
Malformed *streams* are ``StreamError``s, tested with each stream decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

import agent_adapter as aa
from agent_adapter.providers.gemini import GeminiAdapter
from agent_adapter.testing import MockServer, Reply

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "Hello?"}]
REQUEST_ID = "req_malformed_1"
# Longer than the 2000 characters the error keeps, so the test sees the cut.
HTML = (
    b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>"
    + b"<p>If you see this page, the web server is working.</p>" * 60
    + b"</body></html>"
)
SHAPELESS = b'{"object": "list", "data": "not what was asked for"}'


@dataclass(frozen=True)
class Case:
    provider: str
    chat_model: str
    embed_model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # Whether the adapter checks the shape of a JSON chat reply (Anthropic's and
    # Ollama's read any JSON object as a reply, empty if nothing in it fits).
    checks_chat_shape: bool = True

    def client(self, srv: MockServer) -> aa.Client:
        base_url = srv.base_url + "/v1" if self.provider == "openai" else srv.base_url
        key = None if self.provider == "ollama" else "test-key"
        return aa.Client(
            self.provider, api_key=key, base_url=base_url, options=self.options, retry=2
        )


CASES = [
    Case("openai", "gpt-4o", "text-embedding-3-small"),
    Case("groq", "llama-3.3-70b-versatile"),
    Case("azure", "gpt4o-deploy", "embed-deploy", options={"api_version": "2024-10-21"}),
    Case("anthropic", "claude-sonnet-4-5", checks_chat_shape=False),
    Case("gemini", "gemini-2.5-flash", "gemini-embedding-001"),
    Case("zhipu", "glm-4.6", "embedding-3"),
    Case("ollama", "qwen3:8b", "embeddinggemma", checks_chat_shape=False),
]


def name(case: Case) -> str:
    return case.provider


def reply(body: bytes, content_type: str) -> Reply:
    return Reply.raw(200, {"content-type": content_type, "x-request-id": REQUEST_ID}, body)


def check(error: aa.ServerError, case: Case, body: bytes, srv: MockServer) -> None:
    assert error.retryable is False
    assert error.status == 200
    assert error.provider == case.provider
    assert error.request_id == REQUEST_ID
    assert error.body == body.decode()[:2000]
    assert len(srv.requests) == 1  # retry=2, yet no second attempt


@pytest.mark.parametrize("case", CASES, ids=name)
async def test_unreadable_chat_reply_is_not_retried(case: Case) -> None:
    async with MockServer() as srv:
        srv.enqueue(*[reply(HTML, "text/html")] * 3)  # what a retry would get
        async with case.client(srv) as client:
            with pytest.raises(aa.ServerError) as info:
                await client.chat(model=case.chat_model, messages=USER)
        check(info.value, case, HTML, srv)
    assert len(info.value.body or "") == 2000


@pytest.mark.parametrize("case", [c for c in CASES if c.checks_chat_shape], ids=name)
async def test_shapeless_chat_reply_is_not_retried(case: Case) -> None:
    async with MockServer() as srv:
        srv.enqueue(*[reply(SHAPELESS, "application/json")] * 3)
        async with case.client(srv) as client:
            with pytest.raises(aa.ServerError) as info:
                await client.chat(model=case.chat_model, messages=USER)
        check(info.value, case, SHAPELESS, srv)


@pytest.mark.parametrize("body", [HTML, SHAPELESS], ids=["html", "shapeless"])
@pytest.mark.parametrize("case", [c for c in CASES if c.embed_model], ids=name)
async def test_unreadable_embeddings_reply_is_not_retried(case: Case, body: bytes) -> None:
    assert case.embed_model is not None
    async with MockServer() as srv:
        srv.enqueue(*[reply(body, "application/json")] * 3)
        async with case.client(srv) as client:
            with pytest.raises(aa.ServerError) as info:
                await client.embed(model=case.embed_model, input=["a", "b"])
        check(info.value, case, body, srv)


def test_gemini_function_call_without_a_name_is_malformed() -> None:
    body = b'{"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}'
    adapter = GeminiAdapter(name="gemini", base_url="https://generativelanguage.googleapis.com")
    with pytest.raises(aa.ServerError) as info:
        adapter.decode(200, [(b"x-request-id", REQUEST_ID.encode())], body)
    assert "without a name" in str(info.value)
    assert (info.value.retryable, info.value.status) == (False, 200)
    assert (info.value.request_id, info.value.body) == (REQUEST_ID, body.decode())
