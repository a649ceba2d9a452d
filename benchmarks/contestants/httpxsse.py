"""httpx-sse: ``EventSource(response).iter_sse()`` over an in-memory ``httpx.Response``.

The response's body iterator yields the same random-size reads as every
other parse contestant; ``iter_sse`` runs httpx's ``iter_lines`` and
httpx-sse's ``SSEDecoder`` as in production. Payload decoding, two variants:

* ``--variant json`` (default, how httpx-sse is used in practice):
  ``json.loads(sse.data)`` into plain dicts, untyped;
* ``--variant msgspec``: ``msgspec.json.Decoder(Chunk).decode(sse.data)``
  into the floor's typed structs (``_floor.Chunk``).
"""

from __future__ import annotations

import json
import time

from _common import PARSE_CASES, args, check, data, parse_reads, rate_result, reps, size
from _floor import CHUNK


def parse(ns) -> None:  # type: ignore[no-untyped-def]
    import httpx
    from httpx_sse import EventSource

    variant = ns.variant or "json"
    name = f"httpx-sse + {variant}"
    n = size(ns, "events")
    stream = data.openai_stream(n)
    reads = parse_reads(ns, stream.body)
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    decode = json.loads if variant == "json" else CHUNK.decode

    def run(pieces: list[bytes], collect: list[str] | None = None) -> int:
        response = httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=iter(pieces),
            request=request,
        )
        count = 0
        for sse in EventSource(response).iter_sse():
            if sse.data == "[DONE]":
                break
            chunk = decode(sse.data)
            count += 1
            if collect is not None:
                choices = chunk["choices"] if variant == "json" else chunk.choices
                if choices:
                    delta = choices[0]["delta"] if variant == "json" else choices[0].delta
                    content = delta.get("content") if variant == "json" else delta.content
                    if content:
                        collect.append(content)
        return count

    small = data.openai_stream(1000)
    text: list[str] = []
    run(parse_reads(ns, small.body), text)  # warm-up + correctness (untimed, a 1000-event stream)
    assert "".join(text) == small.text, "decoded text differs"
    seconds = []
    for _ in reps(ns):
        t0 = time.perf_counter()
        count = run(reads)
        seconds.append(time.perf_counter() - t0)
        check(name, count, stream.events)
    rate_result(ns, name, n, seconds, count)


def main() -> None:
    ns = args([*PARSE_CASES])
    parse(ns)


if __name__ == "__main__":
    main()
