"""Behind a reverse proxy: ``X-Forwarded-For`` names the client only through trusted hops.

Unit tests of the walk (from the right, trusted hops skipped, the first
untrusted address is the client; IPv6, ports, CIDR networks, repeated
headers, garbage), of ``X-Forwarded-Proto``, and of the settings that name
the proxies; then, through a real gateway, that the address it logs for a
request is the one the walk gives.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, strategies as st

import agent_adapter as aa
from agent_adapter.gateway import read_settings
from agent_adapter.gateway.proxy import LOOPBACK, TrustedProxies, parse_address
from agent_adapter.testing import MockServer, Reply
from gateway_support import Raw, config_text, make_app, request, running

NETWORKS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1")]
PROXIES = TrustedProxies(NETWORKS)


def client(peer: str | None, *forwarded: str, proto: tuple[str, ...] = ()) -> str | None:
    return PROXIES.client(peer, [f.encode() for f in forwarded], [p.encode() for p in proto])[0]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.1", ["203.0.113.7"], "198.51.100.1"),  # an untrusted peer's header: ignored
        ("127.0.0.1", [], "127.0.0.1"),  # a trusted peer that forwarded nothing
        ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        ("127.0.0.1", ["198.51.100.9, 203.0.113.7, 10.1.2.3"], "203.0.113.7"),  # spoof ignored
        ("127.0.0.1", ["198.51.100.9, 203.0.113.7", "10.1.2.3"], "203.0.113.7"),  # two headers
        ("127.0.0.1", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),  # trusted all the way: the furthest
        ("10.9.9.9", ["203.0.113.7:5555"], "203.0.113.7"),  # a port after an IPv4 address
        ("127.0.0.1", ["2001:db8::1"], "2001:db8::1"),
        ("127.0.0.1", ["[2001:db8::2]:4711"], "2001:db8::2"),
        ("2001:db8:ffff::1", ["2001:db8::3, 2001:db8:ffff:1::9"], "2001:db8::3"),  # v6 CIDR
        ("::ffff:127.0.0.1", ["203.0.113.7"], "203.0.113.7"),  # IPv4-mapped peer is 127.0.0.1
        ("127.0.0.1", ["203.0.113.7, not-an-ip"], "127.0.0.1"),  # garbage: the nearest known hop
        ("127.0.0.1", ["garbage, 10.0.0.2"], "10.0.0.2"),
        ("127.0.0.1", ["203.0.113.7, unknown, 10.0.0.2"], "10.0.0.2"),
        ("127.0.0.1", ["  ,  , "], "127.0.0.1"),
        ("127.0.0.1", ["999.1.1.1"], "127.0.0.1"),
        ("127.0.0.1", ["[2001:db8::2"], "127.0.0.1"),  # an unclosed bracket
        ("127.0.0.1", ["[2001:db8::2]:x"], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.7:"], "127.0.0.1"),
    ],
)
def test_x_forwarded_for_is_walked_from_the_right(
    peer: str, forwarded: list[str], expected: str
) -> None:
    assert client(peer, *forwarded) == expected


def test_no_peer_and_a_name_as_peer() -> None:
    assert client(None, "203.0.113.7") is None
    assert client("unix-socket", "203.0.113.7") == "unix-socket"


def test_loopback_is_the_default_and_networks_mean_networks() -> None:
    default = TrustedProxies()
    assert default.networks == LOOPBACK
    assert default.client("::1", [b"203.0.113.7"], [])[0] == "203.0.113.7"
    assert default.client("127.3.4.5", [b"203.0.113.7"], [])[0] == "203.0.113.7"
    assert default.client("10.0.0.1", [b"203.0.113.7"], [])[0] == "10.0.0.1"
    assert "10.0.0.0/8" in repr(PROXIES)
    assert parse_address(" 10.0.0.1 ") == ipaddress.ip_address("10.0.0.1")
    assert parse_address("10.0.0.1:80:90") is None


@pytest.mark.parametrize(
    ("forwarded", "proto", "scheme"),
    [
        (["203.0.113.7"], ["https"], "https"),
        (["203.0.113.7"], ["HTTPS"], "https"),
        (["203.0.113.7, 10.0.0.2"], ["https, http"], "https"),  # the client's hop's, aligned
        (["203.0.113.7, 10.0.0.2"], ["http, https"], "http"),
        (["203.0.113.7, 10.0.0.2"], ["https"], "https"),  # set once by the proxy
        (["203.0.113.7"], ["https, http, http"], None),  # neither aligned nor single
        (["203.0.113.7"], ["ftp"], None),
        (["203.0.113.7"], [], None),
    ],
)
def test_x_forwarded_proto_from_the_same_hop(
    forwarded: list[str], proto: list[str], scheme: str | None
) -> None:
    got = PROXIES.client("127.0.0.1", [f.encode() for f in forwarded], [p.encode() for p in proto])
    assert got == ("203.0.113.7", scheme)


def test_an_untrusted_peer_cannot_claim_https() -> None:
    assert PROXIES.client("198.51.100.1", [b"203.0.113.7"], [b"https"]) == ("198.51.100.1", None)


@given(st.lists(st.binary(max_size=40), max_size=4), st.lists(st.binary(max_size=10), max_size=3))
def test_any_header_gives_the_peer_or_an_address_it_names(
    forwarded: list[bytes], proto: list[bytes]
) -> None:
    found, scheme = PROXIES.client("127.0.0.1", forwarded, proto)
    assert found is not None and scheme in (None, "http", "https")
    address = ipaddress.ip_address(found)
    assert found == "127.0.0.1" or any(
        parse_address(part) == address
        for value in forwarded
        for part in value.decode("latin-1").split(",")
    )


def test_trusted_proxies_and_grace_period_settings() -> None:
    settings = read_settings(
        {"trusted_proxies": ["10.0.0.1", "10.1.0.0/16", "10.2.3.4/8", "::1"], "grace_period": 0}
    )
    assert [str(n) for n in settings.trusted_proxies] == [
        "10.0.0.1/32",
        "10.1.0.0/16",
        "10.0.0.0/8",
        "::1/128",
    ]
    assert settings.grace_period == 0.0
    assert read_settings({}).grace_period == 30.0 and read_settings({}).trusted_proxies == ()
    for raw, error in [
        ({"trusted_proxies": "10.0.0.0/8"}, "gateway.trusted_proxies: must be a list"),
        ({"trusted_proxies": ["10.0.0.0/33"]}, "gateway.trusted_proxies[0]: must be an IP"),
        ({"trusted_proxies": ["::1", "proxy.local"]}, "gateway.trusted_proxies[1]: must be"),
        ({"trusted_proxies": [10]}, "gateway.trusted_proxies[0]: must be an IP"),
        ({"grace_period": -1}, "gateway.grace_period: must be a number of seconds"),
        ({"grace_period": "30"}, "gateway.grace_period: must be a number of seconds"),
        ({"grace_period": True}, "gateway.grace_period: must be a number of seconds"),
    ]:
        with pytest.raises(aa.ValidationError) as info:
            read_settings(raw)
        assert str(info.value).startswith(error)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("trusted", "logged"),
    [(["127.0.0.1", "10.0.0.0/8"], "from 203.0.113.7 ->"), (["10.0.0.0/8"], "from 127.0.0.1 ->")],
)
async def test_the_gateway_logs_the_client_the_proxies_name(
    tmp_path: Path,
    anyio_backend: str,
    caplog: pytest.LogCaptureFixture,
    trusted: list[str],
    logged: str,
) -> None:
    failing = Reply.error(500, {"error": {"message": "boom", "type": "server_error"}})
    async with MockServer(handler=lambda req: failing) as up:
        app = make_app(tmp_path, config_text(up.base_url))
        app.proxies = TrustedProxies(ipaddress.ip_network(n) for n in trusted)
        async with running(app, anyio_backend) as url, Raw.open(url) as raw:
            body = {"model": "smart", "messages": [{"role": "user", "content": "hi"}]}
            forwarded = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7, 10.0.0.2"}
            await raw.send(
                request(
                    "POST",
                    "/v1/chat/completions",
                    msgspec.json.encode(body),
                    key=None,
                    headers=forwarded,
                )
            )
            response, _ = await raw.response()
    assert response.status_code == 502
    (record,) = [r for r in caplog.records if r.name == "agent_adapter.gateway"]
    assert record.levelno == logging.WARNING
    assert logged in record.getMessage() and "POST /v1/chat/completions" in record.getMessage()
