"""litellm's ``Router.acompletion``: the same two routing cases as ``routing.py``.

litellm is configured as its docs describe for an OpenAI-compatible endpoint
(``openai/<model>`` with ``api_base``), retries off (``num_retries=0``), and its
model-price map read from the package (``LITELLM_LOCAL_MODEL_COST_MAP``: there is
no network here). Everything else is its defaults.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

from _common import MESSAGES, MODEL, TOOLS, args, check, emit, profiled, rate_result, size

NAME = "litellm Router"


def _entry(group: str, base: str, route: str) -> dict[str, object]:
    return {
        "model_name": group,
        "litellm_params": {
            "model": f"openai/{MODEL}",
            "api_base": f"{base}/{route}/v1",
            "api_key": "sk-bench",
        },
    }


def _usage(r) -> int:  # type: ignore[no-untyped-def]
    return int(r.usage.completion_tokens)


async def router64(ns) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from litellm import Router

    conc = size(ns, "concurrency")
    router = Router(model_list=[_entry("g", ns.base, "json")], num_retries=0)
    done = 0

    async def one() -> None:
        r = await router.acompletion(model="g", messages=MESSAGES, tools=TOOLS)
        assert _usage(r) == 96

    async def worker(deadline: float) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    r = await router.acompletion(model="g", messages=MESSAGES, tools=TOOLS)
    assert r.choices[0].message.content.startswith("Lisbon")
    await asyncio.gather(*(one() for _ in range(conc)))  # warm-up: opens the connections
    t0 = time.perf_counter()
    with profiled():
        await asyncio.gather(*(worker(t0 + size(ns, "seconds")) for _ in range(conc)))
    seconds = time.perf_counter() - t0
    rate_result(ns, NAME, done, [seconds], done)


async def fallback(ns) -> None:  # type: ignore[no-untyped-def]
    from litellm import Router

    calls = size(ns, "calls")
    router = Router(
        model_list=[_entry("bad", ns.base, "e503"), _entry("good", ns.base, "json")],
        fallbacks=[{"bad": ["good"]}],
        num_retries=0,
    )
    r = await router.acompletion(model="bad", messages=MESSAGES, tools=TOOLS)  # warm-up
    assert r.choices[0].message.content.startswith("Lisbon")
    latencies = []
    for _ in range(calls):
        t0 = time.perf_counter()
        r = await router.acompletion(model="bad", messages=MESSAGES, tools=TOOLS)
        latencies.append((time.perf_counter() - t0) * 1000)
        assert _usage(r) == 96
    check(NAME, len(latencies), calls)
    emit(ns, NAME, statistics.median(latencies), "ms", latencies, calls)


def main() -> None:
    import asyncio

    ns = args(["router64", "fallback"])
    asyncio.run({"router64": router64, "fallback": fallback}[ns.case](ns))


if __name__ == "__main__":
    main()
