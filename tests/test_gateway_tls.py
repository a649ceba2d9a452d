"""``serve --certfile/--keyfile`` serves https; the command line's TLS and proxy options.

A certificate authority made in the test (``trustme``) signs the gateway's
certificate; the real ``openai`` client, trusting that CA, talks to the
gateway process over TLS (and httpx, for a stream read whole), while a client that does not
trust it and a plain-http request both fail. The option checks run before
anything is bound: a missing key file, an unreadable certificate, a
``--trusted-proxy`` without ``--behind-proxy``; and a non-loopback bind in
clear is warned about unless a proxy terminates TLS in front.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import anyio
import httpx
import msgspec
import openai
import pytest
import trustme

from agent_adapter.cli import main
from agent_adapter.gateway import create_app
from agent_adapter.gateway.proxy import TrustedProxies
from agent_adapter.gateway.serve import banner
from agent_adapter.testing import MockServer
from agent_adapter.testing.fake import provider_reply
from gateway_support import KEY, config_text, request
from serve_support import served


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority of the test's own."""
    return trustme.CA()


@pytest.fixture
def pem(ca: trustme.CA, tmp_path: Path) -> tuple[str, str]:
    """(certificate chain, private key) files for 127.0.0.1, signed by ``ca``."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    return str(chain), str(key)


@pytest.mark.anyio
async def test_serve_over_tls(
    tmp_path: Path, anyio_backend: str, ca: trustme.CA, pem: tuple[str, str]
) -> None:
    certfile, keyfile = pem
    async with MockServer(handler=provider_reply) as up:
        path = tmp_path / "gateway.toml"
        path.write_text(config_text(up.base_url, keys={"team-a": {"key": KEY}}))
        args = ("--certfile", certfile, "--keyfile", keyfile)
        async with served(path, anyio_backend, *args) as gateway:
            assert gateway.url.startswith("https://127.0.0.1:")
            assert f'base_url="{gateway.url}/v1"' in gateway.banner
            trusted = ssl.create_default_context()
            ca.configure_trust(trusted)
            async with httpx.AsyncClient(verify=trusted) as http:
                client = openai.AsyncOpenAI(
                    base_url=gateway.url + "/v1", api_key=KEY, max_retries=0, http_client=http
                )
                messages: list[dict[str, str]] = [{"role": "user", "content": "over tls"}]
                answer = await client.chat.completions.create(
                    model="smart",
                    messages=messages,  # type: ignore[arg-type]
                )
                assert answer.choices[0].message.content == "You said: over tls"
                streamed = await http.post(
                    gateway.url + "/v1/chat/completions",
                    headers={"authorization": f"Bearer {KEY}"},
                    json={"model": "smart", "messages": messages, "stream": True},
                )
                assert streamed.status_code == 200
                assert streamed.headers["content-type"].startswith("text/event-stream")
                assert streamed.text.rstrip().endswith("data: [DONE]")
                events = [
                    msgspec.json.decode(line.removeprefix("data: "))
                    for line in streamed.text.split("\n\n")
                    if line.startswith("data: {")
                ]
                text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
                assert text == "You said: over tls"
            async with httpx.AsyncClient() as untrusting:  # the system CAs only
                stranger = openai.AsyncOpenAI(
                    base_url=gateway.url + "/v1", api_key=KEY, max_retries=0, http_client=untrusting
                )
                with pytest.raises(openai.APIConnectionError):
                    await stranger.models.list()
            async with await anyio.connect_tcp("127.0.0.1", gateway.port) as plain:
                await plain.send(request("GET", "/healthz", key=None))
                data = b""
                with anyio.fail_after(10):
                    try:
                        while chunk := await plain.receive():
                            data += chunk
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        pass
                assert not data.startswith(b"HTTP/1.1 200")  # no answer in clear
            assert len(up.requests) == 2


def test_tls_and_proxy_options_are_checked_before_serving(
    tmp_path: Path, pem: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    certfile, keyfile = pem
    missing = str(tmp_path / "missing.pem")
    for args, error in [
        (["--certfile", certfile], "error: --keyfile: is missing"),
        (["--keyfile", keyfile], "error: --certfile: is missing"),
        (["--certfile", missing, "--keyfile", keyfile], "error: --certfile/--keyfile: cannot"),
        (["--certfile", keyfile, "--keyfile", certfile], "error: --certfile/--keyfile: cannot"),
        (["--trusted-proxy", "10.0.0.1"], "error: --trusted-proxy: counts only with --behind"),
        (["--behind-proxy", "--trusted-proxy", "proxy"], "error: --trusted-proxy: must be an IP"),
        (["--grace", "-1"], "error: --grace: must be a number of seconds"),
    ]:
        assert main(["serve", "--port", "0", *args]) == 2
        assert capsys.readouterr().err.startswith(error)


@pytest.mark.parametrize(
    ("args", "warned"),
    [([], True), (["--behind-proxy"], False), (["--certfile", "C", "--keyfile", "K"], False)],
)
def test_a_public_bind_in_clear_is_warned_about(
    args: list[str], warned: bool, pem: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [{"C": pem[0], "K": pem[1]}.get(a, a) for a in args]
    # No client keys: refused after the warning, so nothing is served.
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0 without client keys" in err
    assert ("warning: serving plain http on 0.0.0.0" in err) is warned


def test_the_banner_says_https_and_which_proxies_are_trusted() -> None:
    app = create_app(None, env={})
    assert banner(app, "127.0.0.1", 8443, "trio", tls=True).startswith(
        "agent-adapter gateway listening on https://127.0.0.1:8443 (trio)"
    )
    assert "proxies:" not in banner(app, "::1", 8080, "asyncio")
    assert "http://[::1]:8080" in banner(app, "::1", 8080, "asyncio")
    app.proxies = TrustedProxies()
    assert "proxies:   X-Forwarded-For trusted from 127.0.0.0/8, ::1/128" in banner(
        app, "127.0.0.1", 8080, "asyncio"
    )
