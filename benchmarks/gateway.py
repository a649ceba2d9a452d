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


class Target:
    """One way to reach the upstream: a client, its chat and stream model names."""

    def __init__(
        self, name: str, base_url: str, key: str, chat: str, stream: str, stream_url: str = ""
    ) -> None:
        self.name = name
        self.client = aa.Client("openai", api_key=key, base_url=base_url, retry=0)
        self.stream_client = self.client
        if stream_url:  # the fake upstream serves streams under their own path
            self.stream_client = aa.Client("openai", api_key=key, base_url=stream_url, retry=0)
        self.chat_model = chat
        self.stream_model = stream
        self.direct = name == "direct"

    def chat(self) -> Any:
        return self.client.chat(model=self.chat_model, messages=USER)

    async def stream(self) -> int:
        seen = 0
        async with self.stream_client.stream(model=self.stream_model, messages=USER) as s:
            async for chunk in s:
                seen += bool(chunk.delta)
        return seen


async def latencies(target: Target, n: int) -> list[float]:
    out = []
    for _ in range(n):
        began = time.perf_counter()
        await target.chat()
        out.append(time.perf_counter() - began)
    return out


async def throughput(target: Target, concurrency: int, seconds: float) -> float:
    done = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < end:
            await target.chat()
            done += 1

    began = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    return done / (time.perf_counter() - began)


async def streams_at_once(target: Target, count: int) -> float:
    """Seconds for ``count`` concurrent streams of 200 events, every one read to its end."""
    contents: list[int] = []

    async def one() -> None:
        contents.append(await target.stream())

    began = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(one)
    elapsed = time.perf_counter() - began
    if len(set(contents)) != 1 or contents[0] < 100:
        raise RuntimeError(f"{target.name}: streams came back short: {sorted(set(contents))}")
    return elapsed


async def measure(targets: list[Target], seconds: float, rounds: int) -> dict[str, float]:
    """Per round, each case for each target back to back; medians over rounds."""
    seen: dict[str, list[float]] = {}
    slow = {t.name: t.name == "litellm" for t in targets}  # ~100x slower: fewer calls
    try:
        for target in targets:  # warm-up: pools, caches, the proxies' first-call work
            await latencies(target, 20 if slow[target.name] else 50)
            await streams_at_once(target, 8)
        for _ in range(rounds):
            for target in targets:
                n = 40 if slow[target.name] else 200
                median = statistics.median(await latencies(target, n))
                seen.setdefault(f"{target.name}_c1_ms", []).append(1000 * median)
            for target in targets:
                rps = await throughput(target, 64, seconds)
                seen.setdefault(f"{target.name}_c64_rps", []).append(rps)
            for target in targets:
                elapsed = await streams_at_once(target, 64)
                seen.setdefault(f"{target.name}_streams64_s", []).append(elapsed)
    finally:
        for target in targets:
            await target.client.aclose()
            await target.stream_client.aclose()
    for other in (t.name for t in targets if not t.direct):
        pairs = (
            (f"{other}_added_c1_ms", "c1_ms", lambda a, b: a - b),
            (f"{other}_c64_ratio", "c64_rps", lambda a, b: a / b),
            (f"{other}_streams64_ratio", "streams64_s", lambda a, b: a / b),
        )
        for name, case, combine in pairs:  # per round, both sides measured seconds apart
            mine, theirs = seen[f"{other}_{case}"], seen[f"direct_{case}"]
            seen[name] = [combine(a, b) for a, b in zip(mine, theirs, strict=True)]
    if "litellm" in slow and "gateway" in slow:
        mine, theirs = seen["gateway_c64_rps"], seen["litellm_c64_rps"]
        seen["gateway_vs_litellm_c64"] = [a / b for a, b in zip(mine, theirs, strict=True)]
    return {name: statistics.median(values) for name, values in seen.items()}


LITELLM_KEY = "sk-bench-master-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def start_litellm(upstream: str, tmp: str) -> tuple[Any, str]:
    """The litellm proxy with the same two models, its defaults otherwise (one worker)."""
    import socket
    import urllib.request

    path = os.path.join(tmp, "litellm.yaml")
    with open(path, "w") as file:
        file.write("model_list:\n")
        for name, route in (("smart", "json"), ("stream", "s200")):
            file.write(
                f"  - model_name: {name}\n    litellm_params:\n      model: openai/gpt-4o\n"
                f"      api_base: {upstream}/{route}/v1\n      api_key: sk-bench\n"
            )
        file.write(f"general_settings:\n  master_key: {LITELLM_KEY}\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = os.path.join(os.path.dirname(sys.executable), "litellm")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    proc = subprocess.Popen(
        [command, "--config", path, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    request = urllib.request.Request(
        url + "/v1/models", headers={"Authorization": f"Bearer {LITELLM_KEY}"}
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the litellm proxy exited while starting")
        try:
            with urllib.request.urlopen(request, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the litellm proxy did not start within 120 s")


def run_overhead(seconds: float, backend: str, rounds: int, litellm: bool) -> dict[str, float]:
    upstream_proc, line = start([sys.executable, os.path.join(HERE, "server.py")], "PORT")
    upstream = f"http://127.0.0.1:{line.split()[1]}"
    procs = [upstream_proc]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gateway.toml")
        with open(path, "w") as file:
            file.write(
                "breaker = false\n[retry]\nmax_retries = 0\n[models]\n"
                f'smart = [{{ model = "openai/gpt-4o", base_url = "{upstream}/json/v1", '
                'api_key = "env:BENCH_KEY" }]\n'
                f'stream = [{{ model = "openai/gpt-4o", base_url = "{upstream}/s200/v1", '
                'api_key = "env:BENCH_KEY" }]\n'
                "[gateway]\nmax_in_flight = 4096\n"
            )
        env = {**os.environ, "BENCH_KEY": "sk-bench", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "agent_adapter", "serve", "--config", path]
        try:
            gateway_proc, line = start(
                [*command, "--port", "0", "--backend", backend], "listening on", env
            )
            procs.append(gateway_proc)
            gateway = line.split("listening on ", 1)[1].split()[0]
            targets = [
                Target(
                    "direct",
                    upstream + "/json/v1",
                    "sk-bench",
                    "gpt-4o",
                    "gpt-4o",
                    stream_url=upstream + "/s200/v1",
                ),
                Target("gateway", gateway + "/v1", "aa-bench", "smart", "stream"),
            ]
            if litellm:
                litellm_proc, litellm_url = start_litellm(upstream, tmp)
                procs.append(litellm_proc)
                targets.append(
                    Target("litellm", litellm_url + "/v1", LITELLM_KEY, "smart", "stream")
                )
            return anyio.run(measure, targets, seconds, rounds)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)


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
    parser.add_argument(
        "--no-litellm",
        action="store_true",
        help="leave out the litellm proxy (pip install 'litellm[proxy]')",
    )
    args = parser.parse_args()
    if args.asgi:
        results = run_asgi()
    else:
        results = run_overhead(args.seconds, args.backend, args.rounds, not args.no_litellm)
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:10.3f}")


if __name__ == "__main__":
    main()
