"""What the gateway costs: the same calls direct to an upstream and through the gateway.

Run by hand (not a test): ``python benchmarks/gateway.py [--rounds 5] [--backend asyncio]``.

* The upstream is ``server.py`` (pre-built replies, almost no work per
  request), in its own process; the gateway is ``agent-adapter serve`` in
  its own process, configured with that upstream; the load comes from this
  process, with ``aa.Client`` both ways, so only the gateway differs.
* ``c=1``: sequential non-streamed chats, median latency; the difference is
  what the gateway adds (target: at most 1 ms). Streams of 10 events too.
* ``c=64``: 64 tasks calling for ``--seconds``; requests per second, and the
  gateway's as a fraction of direct (target: at least 0.25).
* ``--asgi``: the framework question on its own, in-process and without a
  server: a raw ASGI endpoint and the same endpoint on Starlette (if it is
  installed: ``pip install starlette``), each reading a JSON body and
  answering JSON, microseconds per request.

Each round measures every case back to back; the differences and ratios
are taken per round (both sides seconds apart) and their median over the
rounds is reported. On a 2-core machine the three processes share the
cores, so read them as ratios from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import anyio
import msgspec

import agent_adapter as aa

HERE = os.path.dirname(os.path.abspath(__file__))
USER = [{"role": "user", "content": "What is the weather in Paris?"}]


def start(args: list[str], marker: str, env: dict[str, str] | None = None) -> tuple[Any, str]:
    """A subprocess and the first stdout line containing ``marker``."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return proc, line
    raise RuntimeError(f"{args[1]} exited without printing {marker!r}")


async def latencies(client: aa.Client, model: str, n: int, *, stream: bool) -> list[float]:
    out = []
    for _ in range(n):
        began = time.perf_counter()
        if stream:
            async with client.stream(model=model, messages=USER) as s:
                async for _chunk in s:
                    pass
        else:
            await client.chat(model=model, messages=USER)
        out.append(time.perf_counter() - began)
    return out


async def throughput(client: aa.Client, model: str, concurrency: int, seconds: float) -> float:
    done = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < end:
            await client.chat(model=model, messages=USER)
            done += 1

    began = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    return done / (time.perf_counter() - began)


async def measure(upstream: str, gateway: str, seconds: float, rounds: int) -> dict[str, float]:
    """Per round, each case back to back; the medians over rounds (the machine is shared)."""
    direct = aa.Client("openai", api_key="sk-bench", base_url=upstream + "/json/v1", retry=0)
    direct_stream = aa.Client("openai", api_key="sk-bench", base_url=upstream + "/s10/v1", retry=0)
    via = aa.Client("openai", api_key="aa-bench", base_url=gateway + "/v1", retry=0)
    cases = (
        (direct, "gpt-4o", "direct", False),
        (via, "smart", "gateway", False),
        (direct_stream, "gpt-4o", "direct_stream", True),
        (via, "stream", "gateway_stream", True),
    )
    seen: dict[str, list[float]] = {}
    async with direct, direct_stream, via:
        for client, model, _, stream in cases:
            await latencies(client, model, 50, stream=stream)  # warm-up: pools, caches
        for _ in range(rounds):
            for client, model, name, stream in cases:
                median = statistics.median(await latencies(client, model, 200, stream=stream))
                seen.setdefault(f"{name}_c1_ms", []).append(1000 * median)
            for client, model, name in ((direct, "gpt-4o", "direct"), (via, "smart", "gateway")):
                rps = await throughput(client, model, 64, seconds)
                seen.setdefault(f"{name}_c64_rps", []).append(rps)
    pairs = (
        ("added_c1_ms", "gateway_c1_ms", "direct_c1_ms", lambda a, b: a - b),
        ("added_stream_c1_ms", "gateway_stream_c1_ms", "direct_stream_c1_ms", lambda a, b: a - b),
        ("c64_ratio", "gateway_c64_rps", "direct_c64_rps", lambda a, b: a / b),
    )
    for name, mine, theirs, combine in pairs:  # per round, both sides measured seconds apart
        seen[name] = [combine(a, b) for a, b in zip(seen[mine], seen[theirs], strict=True)]
    return {name: statistics.median(values) for name, values in seen.items()}


def run_overhead(seconds: float, backend: str, rounds: int) -> dict[str, float]:
    upstream_proc, line = start([sys.executable, os.path.join(HERE, "server.py")], "PORT")
    upstream = f"http://127.0.0.1:{line.split()[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gateway.toml")
        with open(path, "w") as file:
            file.write(
                "breaker = false\n[retry]\nmax_retries = 0\n[models]\n"
                f'smart = [{{ model = "openai/gpt-4o", base_url = "{upstream}/json/v1", '
                'api_key = "env:BENCH_KEY" }]\n'
                f'stream = [{{ model = "openai/gpt-4o", base_url = "{upstream}/s10/v1", '
                'api_key = "env:BENCH_KEY" }]\n'
                "[gateway]\nmax_in_flight = 4096\n"
            )
        env = {**os.environ, "BENCH_KEY": "sk-bench", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "agent_adapter", "serve", "--config", path]
        gateway_proc, line = start(
            [*command, "--port", "0", "--backend", backend], "listening on", env
        )
        gateway = line.split("listening on ", 1)[1].split()[0]
        try:
            return anyio.run(measure, upstream, gateway, seconds, rounds)
        finally:
            for proc in (gateway_proc, upstream_proc):
                proc.terminate()
                proc.wait(10)


# -- the framework question -------------------------------------------------------------

BODY = msgspec.json.encode({"model": "smart", "messages": USER})


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    message = await receive()
    data = msgspec.json.decode(message["body"])
    answer = msgspec.json.encode({"model": data["model"], "ok": True})
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(answer)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        data = msgspec.json.decode(await request.body())
        answer = msgspec.json.encode({"model": data["model"], "ok": True})
        return Response(answer, media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def per_request(app: Any, n: int) -> float:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080),
    }
    message = {"type": "http.request", "body": BODY, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(event: dict[str, Any]) -> None:
        pass

    for _ in range(n // 10):
        await app(dict(scope), receive, send)
    began = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return 1e6 * (time.perf_counter() - began) / n


def run_asgi() -> dict[str, float]:
    results = {"raw_asgi_us": anyio.run(per_request, raw_app, 20000)}
    try:
        app = starlette_app()
    except ImportError:
        print("starlette is not installed: pip install starlette to compare", file=sys.stderr)
        return results
    results["starlette_us"] = anyio.run(per_request, app, 20000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of each c=64 run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--asgi", action="store_true", help="only the raw ASGI vs Starlette part")
    args = parser.parse_args()
    results = run_asgi() if args.asgi else run_overhead(args.seconds, args.backend, args.rounds)
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:10.3f}")


if __name__ == "__main__":
    main()
