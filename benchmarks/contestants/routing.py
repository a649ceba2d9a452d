"""agent-adapter's Router against its plain Client and against litellm's Router.

Cases:

* ``router64``: non-streaming requests/s at concurrency 64 through a Router with one
  deployment (``--variant router``) or the plain Client (``--variant client``): what
  routing costs per call.
* ``fallback``: end-to-end latency of one call whose first deployment answers 503 and whose
  fallback answers: the Router's fallback path (retries off).
"""

from __future__ import annotations

import statistics
import time

from _common import MESSAGES, MODEL, TOOLS, args, check, emit, profiled, rate_result, size

NAME = "agent-adapter"


def _deployment(base: str, route: str):  # type: ignore[no-untyped-def]
    import agent_adapter as aa

    return aa.Deployment(f"openai/{MODEL}", api_key="sk-bench", base_url=f"{base}/{route}/v1")


async def router64(ns) -> None:  # type: ignore[no-untyped-def]
    import anyio

    import agent_adapter as aa

    conc = size(ns, "concurrency")
    done = 0
    if ns.variant == "router":
        target = aa.Router(models={"g": [_deployment(ns.base, "json")]}, retry=0)
        model, label = "g", f"{NAME} Router"
    else:
        target = aa.Client("openai", api_key="sk-bench", base_url=f"{ns.base}/json/v1", retry=0)
        model, label = MODEL, f"{NAME} Client"

    async def one() -> None:
        r = await target.chat(model=model, messages=MESSAGES, tools=TOOLS)
        assert r.usage is not None
        assert r.usage.completion_tokens == 96

    async def worker(deadline: float) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    async with target:
        r = await target.chat(model=model, messages=MESSAGES, tools=TOOLS)
        assert r.content.startswith("Lisbon")
        async with anyio.create_task_group() as tg:  # warm-up: opens the connections
            for _ in range(conc):
                tg.start_soon(one)
        t0 = time.perf_counter()
        with profiled():
            async with anyio.create_task_group() as tg:
                for _ in range(conc):
                    tg.start_soon(worker, t0 + size(ns, "seconds"))
        seconds = time.perf_counter() - t0
    rate_result(ns, label, done, [seconds], done)


async def fallback(ns) -> None:  # type: ignore[no-untyped-def]
    import agent_adapter as aa

    calls = size(ns, "calls")
    router = aa.Router(
        models={"bad": [_deployment(ns.base, "e503")], "good": [_deployment(ns.base, "json")]},
        fallbacks={"bad": ["good"]},
        retry=0,
    )
    async with router:
        r = await router.chat(model="bad", messages=MESSAGES, tools=TOOLS)  # warm-up + check
        assert r.content.startswith("Lisbon")
        assert r.deployment is not None
        assert "/json/" in r.deployment
        latencies = []
        for _ in range(calls):
            t0 = time.perf_counter()
            r = await router.chat(model="bad", messages=MESSAGES, tools=TOOLS)
            latencies.append((time.perf_counter() - t0) * 1000)
            assert r.usage is not None
            assert r.usage.completion_tokens == 96
    check(f"{NAME} Router", len(latencies), calls)
    emit(ns, f"{NAME} Router", statistics.median(latencies), "ms", latencies, calls)


def main() -> None:
    ns = args(["router64", "fallback"])
    import anyio

    anyio.run({"router64": router64, "fallback": fallback}[ns.case], ns, backend=ns.backend)


if __name__ == "__main__":
    main()
