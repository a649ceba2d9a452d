"""Reading the gateway's ``GET /metrics`` in the tests, as Prometheus reads it.

``scrape`` fetches it over a fresh raw connection without a client key;
``parse`` reads the text with prometheus-client's own parser into
``{(sample name, labels): value}``; ``value`` and ``total`` pick from that.
A request is recorded just after its answer went out, so a scrape right
after an answer may come first: ``settled`` scrapes until a check holds.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from prometheus_client.parser import text_string_to_metric_families

from gateway_support import Raw, header, request

P = "agent_adapter_gateway_"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str, accept: str | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of ``GET /metrics``, sent without a client key."""
    headers = {"Accept": accept} if accept else None
    async with Raw.open(url) as raw:
        await raw.send(request("GET", "/metrics", key=None, headers=headers))
        response, body = await raw.response()
    kind = header(response, b"content-type") or b""
    return response.status_code, kind.decode(), body.decode()


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels`` (0 when absent, as Prometheus reads it)."""
    return samples.get((P + name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == P + name and wanted <= ls)


async def settled(url: str, check: Callable[[Samples], bool], seconds: float = 10.0) -> Samples:
    """Scrape until ``check`` holds, or ``seconds`` passed: the last samples (assert on them)."""
    with anyio.move_on_after(seconds):
        while True:
            samples = parse((await scrape(url))[2])
            if check(samples):
                return samples
            await anyio.sleep(0.02)
    return parse((await scrape(url))[2])
