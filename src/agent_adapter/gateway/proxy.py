"""Who the client is behind a reverse proxy: ``X-Forwarded-For`` read only from trusted hops.

Behind a TLS-terminating proxy every connection comes from the proxy, and
the client's address is in ``X-Forwarded-For``, which each proxy appends to
(``client, proxy1, proxy2``). Anyone can send that header, so it counts only
when the connection comes from a trusted proxy, and then only as far as the
chain of trusted hops goes: walking from the right, each trusted address is
a proxy of ours, and the first untrusted one is the client (what it claims
further left is unverifiable). A malformed entry ends the walk: the client
is then the nearest hop that is known, never the garbage. The same hop's
``X-Forwarded-Proto`` says whether the client spoke https. See
https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Forwarded-For
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from .settings import IPNetwork

__all__ = ["LOOPBACK", "TrustedProxies", "parse_address"]

LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
"""The proxies trusted when none are configured: one on this machine."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(value: str) -> Address | None:
    """``value`` as an IP address (``1.2.3.4``, ``::1``, ``[::1]:443``, ``1.2.3.4:80``) or None."""
    text = value.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text, bracket, port = text[1:].partition("]")
        if not bracket or not (port == "" or (port[:1] == ":" and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:  # v4:port (a bare v6 address has several colons)
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1, as a dual-stack socket shows it
    return address


class TrustedProxies:
    """The proxies whose forwarding headers count, and what those headers say about the client."""

    __slots__ = ("networks",)

    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        self.networks = tuple(networks) or LOOPBACK

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]!r})"

    def trusts(self, address: Address) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        return any(address in network for network in self.networks)

    def client(
        self, peer: str | None, forwarded_for: Sequence[bytes], forwarded_proto: Sequence[bytes]
    ) -> tuple[str | None, str | None]:
        """(the client's address, its scheme if a trusted hop said so) behind ``peer``.

        ``forwarded_for`` and ``forwarded_proto`` are the header values in
        the order received (a repeated header is one list, as if joined by
        commas). Without a trusted ``peer`` both are ignored.
        """
        if peer is None:
            return None, None
        here = parse_address(peer)
        if here is None or not self.trusts(here):
            return peer, None
        hops = _entries(forwarded_for)
        if not hops:
            return peer, None
        client = str(here)
        index = len(hops)
        for index in range(len(hops) - 1, -1, -1):
            address = parse_address(hops[index])
            if address is None:  # garbage: stop at the nearest hop known
                index += 1
                break
            client = str(address)
            if not self.trusts(address):
                break
        return client, _scheme(_entries(forwarded_proto), index, len(hops))


def _entries(values: Sequence[bytes]) -> list[str]:
    return [
        part.strip()
        for value in values
        for part in value.decode("latin-1").split(",")
        if part.strip()
    ]


def _scheme(protos: list[str], index: int, hops: int) -> str | None:
    """The scheme hop ``index`` reported: aligned if every hop added one, else the only one."""
    if len(protos) == hops and index < hops:
        chosen = protos[index]
    elif len(protos) == 1:
        chosen = protos[0]
    else:
        return None
    chosen = chosen.lower()
    return chosen if chosen in ("http", "https") else None
