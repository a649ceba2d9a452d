"""Run every benchmark case against its peers, in one run, and report ratios.

    python benchmarks/run.py            # full run (5 rounds, ~8-9 minutes on 2 cores)
    python benchmarks/run.py --quick    # 3 rounds, smaller inner loops (~3-4 minutes)
    python benchmarks/run.py --cases parse,import --rounds 3

One server process (``server.py``, pinned to CPU 1) serves pre-built bytes on
loopback; each contestant runs in a FRESH process (pinned to CPU 0) per case
per round, contestants of a case interleaved in a rotating order within each
round, and prints one JSON result line. The reported figure is the median
over rounds; ratios are ratios of those medians, and the range of the
per-round ratios (both sides measured seconds apart) shows their stability.
Results go to ``benchmarks/results/results.{json,md}`` (``quick.*`` with
``--quick``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
CONTESTANTS_DIR = os.path.join(HERE, "contestants")
RESULTS_DIR = os.path.join(HERE, "results")
PY = sys.executable

# Byte-code caches in one private tree for every subprocess: this machine sets
# PYTHONDONTWRITEBYTECODE, and the editable ``src/`` has no __pycache__, so without
# this our package would be compiled from source in every fresh interpreter while
# pip pre-compiled the peers. With a prefix, ALL modules (ours and theirs) are
# compiled once and then loaded from the same kind of cache.
PYCACHE = os.path.join(os.environ.get("TMPDIR", "/tmp"), "agent-adapter-bench-pycache")
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = PYCACHE

OURS = "agent-adapter"
OPENAI = "openai-python"


@dataclass(frozen=True)
class Entry:
    label: str
    script: str
    extra: tuple[str, ...] = ()


_NET = [
    Entry(OURS, "ours.py"),
    Entry(OPENAI, "openai_sdk.py"),
    Entry("floor (h11)", "floor.py", ("--variant", "h11")),
    Entry("floor (httpcore)", "floor.py", ("--variant", "httpcore")),
]

CASES: dict[str, list[Entry]] = {
    "parse": [
        Entry(OURS, "ours.py"),
        Entry(OPENAI, "openai_sdk.py"),
        Entry("httpx-sse + json", "httpxsse.py", ("--variant", "json")),
        Entry("httpx-sse + msgspec", "httpxsse.py", ("--variant", "msgspec")),
        Entry("floor (split+msgspec)", "floor.py"),
    ],
    # the same stream cut one read per SSE event and into 64-byte reads (realistic TCP segments)
    "parse_event": [
        Entry(OURS, "ours.py"),
        Entry("httpx-sse + msgspec", "httpxsse.py", ("--variant", "msgspec")),
        Entry("floor (split+msgspec)", "floor.py"),
    ],
    "parse64": [
        Entry(OURS, "ours.py"),
        Entry("httpx-sse + msgspec", "httpxsse.py", ("--variant", "msgspec")),
        Entry("floor (split+msgspec)", "floor.py"),
    ],
    "stream1": [*_NET[:1], Entry(f"{OURS} (trio)", "ours.py", ("--backend", "trio")), *_NET[1:]],
    "stream64": _NET,
    "rps1": _NET,
    "rps64": _NET,
    "memory": [
        Entry(OURS, "ours.py"),
        Entry(OPENAI, "openai_sdk.py"),
        Entry(f"{OURS} (traced heap)", "ours.py", ("--variant", "traced")),
        Entry(f"{OPENAI} (traced heap)", "openai_sdk.py", ("--variant", "traced")),
    ],
    "anthropic": [
        Entry(OURS, "ours.py"),
        Entry("anthropic create(stream=True)", "anthropic_sdk.py", ("--variant", "create")),
        Entry("anthropic messages.stream()", "anthropic_sdk.py", ("--variant", "stream")),
    ],
    "router64": [
        Entry(f"{OURS} Client", "routing.py", ("--variant", "client")),
        Entry(f"{OURS} Router", "routing.py", ("--variant", "router")),
        Entry("litellm Router", "litellm_router.py"),
    ],
    "fallback": [
        Entry(f"{OURS} Router", "routing.py"),
        Entry("litellm Router", "litellm_router.py"),
    ],
    "hooks_stream": [
        Entry(f"{OURS} (no hooks)", "observed.py", ("--variant", "none")),
        Entry(f"{OURS} + counting hook", "observed.py", ("--variant", "count")),
        Entry(f"{OURS} + OTel", "observed.py", ("--variant", "otel")),
    ],
    "hooks_rps64": [
        Entry(f"{OURS} (no hooks)", "observed.py", ("--variant", "none")),
        Entry(f"{OURS} + counting hook", "observed.py", ("--variant", "count")),
        Entry(f"{OURS} + OTel", "observed.py", ("--variant", "otel")),
    ],
}

CASE_TITLES = {
    "parse": "(a) SSE parse + typed decode, 10,000-event OpenAI stream (events/s)",
    "parse_event": "(a) SSE parse + typed decode, one read per event (events/s)",
    "parse64": "(a) SSE parse + typed decode, 64-byte reads (events/s)",
    "stream1": "(b) one 5,000-chunk stream end to end (chunks/s); (f) trio",
    "stream64": "(b) 64 concurrent 500-chunk streams (chunks/s)",
    "rps1": "(c) non-streaming requests/s, concurrency 1",
    "rps64": "(c) non-streaming requests/s, concurrency 64",
    "import": "(d) import wall time (ms, fresh interpreter)",
    "memory": "(e) RSS per open stream, 500 held open (KiB)",
    "anthropic": "(g) Anthropic 5,000-event stream end to end (events/s)",
    "router64": "(h) non-streaming requests/s at concurrency 64 through a Router (1 deployment)",
    "fallback": "(i) one call falling back from a 503 deployment to a healthy one (ms, median)",
    "hooks_stream": "(j) one 5,000-chunk stream with hooks: none, counting, OTel SDK (chunks/s)",
    "hooks_rps64": "(j) non-streaming requests/s at concurrency 64 with hooks",
}

IMPORTS: list[tuple[str, str]] = [
    (OURS, "import agent_adapter"),
    (OPENAI, "import openai"),
    (
        f"{OURS} + client ready",
        "import agent_adapter as aa\nc = aa.Client('openai', api_key='sk-bench')\nc.transport",
    ),
    (f"{OPENAI} + client ready", "import openai\nc = openai.AsyncOpenAI(api_key='sk-bench')"),
]


@dataclass(frozen=True)
class Target:
    id: str
    case: str
    num: str
    den: str
    op: str  # ">=" or "<=" (None-like "" for informational rows)
    threshold: float
    what: str


TARGETS = [
    Target("a", "parse", OURS, OPENAI, ">=", 30, "ours vs openai-python typed path (speedup)"),
    Target("a", "parse", "floor (split+msgspec)", OURS, "<=", 2.5, "floor vs ours (gap)"),
    Target("a", "parse", OURS, "httpx-sse + json", "", 0, "ours vs httpx-sse + json (speedup)"),
    Target("a", "parse", OURS, "httpx-sse + msgspec", "", 0, "ours vs httpx-sse + msgspec"),
    Target(
        "a",
        "parse_event",
        "floor (split+msgspec)",
        OURS,
        "<=",
        1.5,
        "one read per event: floor vs ours (gap)",
    ),
    Target(
        "a",
        "parse_event",
        OURS,
        "httpx-sse + msgspec",
        "",
        0,
        "one read per event: ours vs httpx-sse",
    ),
    Target("a", "parse64", "floor (split+msgspec)", OURS, "<=", 2, "64-byte reads: floor vs ours"),
    Target("a", "parse64", OURS, "httpx-sse + msgspec", "", 0, "64-byte reads: ours vs httpx-sse"),
    Target("b", "stream1", OURS, OPENAI, ">=", 6, "1 stream: ours vs openai-python"),
    Target("b", "stream1", "floor (h11)", OURS, "<=", 1.5, "1 stream: floor (h11) vs ours (gap)"),
    Target("b", "stream1", "floor (httpcore)", OURS, "", 0, "1 stream: floor (httpcore) vs ours"),
    Target("b", "stream64", OURS, OPENAI, ">=", 6, "64 streams: ours vs openai-python"),
    Target("b", "stream64", "floor (h11)", OURS, "<=", 1.5, "64 streams: floor (h11) vs ours"),
    Target(
        "b", "stream64", "floor (httpcore)", OURS, "", 0, "64 streams: floor (httpcore) vs ours"
    ),
    Target("c", "rps1", OURS, OPENAI, ">=", 3, "c=1: ours vs openai-python"),
    Target("c", "rps1", OURS, "floor (h11)", ">=", 0.85, "c=1: ours / floor (h11)"),
    Target("c", "rps64", OURS, OPENAI, ">=", 4, "c=64: ours vs openai-python"),
    Target("c", "rps64", OURS, "floor (h11)", ">=", 0.75, "c=64: ours / floor (h11)"),
    Target("d", "import", OURS, OPENAI, "<=", 0.15, "import time: ours / openai"),
    Target(
        "d",
        "import",
        f"{OURS} + client ready",
        f"{OPENAI} + client ready",
        "",
        0,
        "import + client ready: ours / openai",
    ),
    Target("e", "memory", OURS, OPENAI, "<=", 0.6, "RSS per open stream: ours / openai"),
    Target(
        "e",
        "memory",
        f"{OURS} (traced heap)",
        f"{OPENAI} (traced heap)",
        "",
        0,
        "Python heap per open stream (tracemalloc): ours / openai",
    ),
    Target("f", "stream1", f"{OURS} (trio)", OURS, ">=", 0.8, "ours on trio / ours on asyncio"),
    Target(
        "g",
        "anthropic",
        OURS,
        "anthropic create(stream=True)",
        ">=",
        3,
        "ours vs SDK create(stream)",
    ),
    Target("g", "anthropic", OURS, "anthropic messages.stream()", "", 0, "ours vs SDK .stream()"),
    Target("h", "router64", f"{OURS} Router", f"{OURS} Client", ">=", 0.9, "Router / plain Client"),
    Target("h", "router64", f"{OURS} Router", "litellm Router", ">=", 8, "ours vs litellm Router"),
    Target(
        "i",
        "fallback",
        f"{OURS} Router",
        "litellm Router",
        "<=",
        0.125,
        "fallback time: ours / litellm",
    ),
    Target(
        "j",
        "hooks_stream",
        f"{OURS} + counting hook",
        f"{OURS} (no hooks)",
        ">=",
        0.95,
        "stream chunks/s: counting hook / no hooks",
    ),
    Target(
        "j",
        "hooks_stream",
        f"{OURS} + OTel",
        f"{OURS} (no hooks)",
        ">=",
        0.95,
        "stream chunks/s: OTel hooks / no hooks",
    ),
    Target(
        "j",
        "hooks_rps64",
        f"{OURS} + counting hook",
        f"{OURS} (no hooks)",
        ">=",
        0.95,
        "c=64 req/s: counting hook / no hooks",
    ),
    Target(
        "j",
        "hooks_rps64",
        f"{OURS} + OTel",
        f"{OURS} (no hooks)",
        ">=",
        0.75,
        "c=64 req/s: OTel hooks / no hooks",
    ),
]


@dataclass
class Series:
    unit: str = ""
    values: list[float | None] = field(default_factory=list)  # one per round (None: failed)
    counts: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    extra: list[dict[str, object]] = field(default_factory=list)

    @property
    def ok(self) -> list[float]:
        return [v for v in self.values if v is not None]

    @property
    def median(self) -> float | None:
        return statistics.median(self.ok) if self.ok else None


# -- environment ---------------------------------------------------------------------------


def versions() -> dict[str, str]:
    out = {"python": platform.python_version() + f" ({platform.python_implementation()})"}
    for dist in (
        "agent-adapter",
        "openai",
        "anthropic",
        "httpx",
        "httpx2",
        "httpx-sse",
        "httpcore",
        "httpcore2",
        "h11",
        "msgspec",
        "anyio",
        "trio",
        "pydantic",
        "pydantic-core",
        "litellm",
        "jiter",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def source_state() -> dict[str, object]:
    """Which code was measured: git HEAD, uncommitted files under src/, a digest of src/."""
    import hashlib

    root = os.path.dirname(HERE)
    src = os.path.join(root, "src", "agent_adapter")
    digest = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(src)):
        for name in sorted(files):
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), "rb") as f:
                    digest.update(name.encode() + f.read())
    state: dict[str, object] = {"src_sha256": digest.hexdigest()[:16]}
    try:  # read-only git queries
        git = ["git", "-C", root]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True
        )
        state["git_head"] = head.stdout.strip()
        state["src_uncommitted_files"] = len(dirty.stdout.splitlines())
    except OSError:
        pass
    return state


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


# -- processes -----------------------------------------------------------------------------


class Server:
    def __init__(self, cpu: int | None) -> None:
        cmd = [PY, os.path.join(HERE, "server.py"), "--port", "0", "--watch-stdin"]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"server failed to start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()  # --watch-stdin: EOF stops it
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=5)


def run_contestant(
    case: str, entry: Entry, base: str, quick: bool, cpu: int | None, timeout: float
) -> dict[str, object]:
    cmd = [PY, os.path.join(CONTESTANTS_DIR, entry.script), case, "--base", base, *entry.extra]
    if quick:
        cmd.append("--quick")
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE, env=ENV
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def run_import(stmt: str, cpu: int | None) -> float:
    code = f"import time\nt0 = time.perf_counter()\n{stmt}\nprint((time.perf_counter() - t0) * 1e3)"
    pre = None
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        pre = lambda: os.sched_setaffinity(0, {cpu})  # noqa: E731
    out = subprocess.run(
        [PY, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=pre,
        cwd=HERE,
        env=ENV,
    )
    return float(out.stdout.strip().splitlines()[-1])


# -- reporting -----------------------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if unit == "per_s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "KiB":
        return f"{value:.1f} KiB"
    return f"{value:.3g}"


def _r(x: float) -> str:
    """A ratio: three decimals below 1 (0.600 vs a 0.6 target must not read as equal)."""
    return f"{x:.3f}" if x < 1 else f"{x:.2f}"


def ratios(results: dict[str, dict[str, Series]]) -> list[dict[str, object]]:
    rows = []
    for t in TARGETS:
        case = results.get(t.case, {})
        num, den = case.get(t.num), case.get(t.den)
        if num is None or den is None:
            continue
        value = None
        if num.median is not None and den.median:
            value = num.median / den.median
        per_round = [
            a / b for a, b in zip(num.values, den.values, strict=False) if a is not None and b
        ]
        met = None
        if t.op and value is not None:
            met = value >= t.threshold if t.op == ">=" else value <= t.threshold
        rows.append(
            {
                "id": t.id,
                "case": t.case,
                "what": t.what,
                "num": t.num,
                "den": t.den,
                "ratio": value,
                "per_round_min": min(per_round) if per_round else None,
                "per_round_max": max(per_round) if per_round else None,
                "target": f"{t.op} {t.threshold:g}" if t.op else "",
                "met": met,
            }
        )
    return rows


def markdown(meta: dict[str, object], results: dict[str, dict[str, Series]], rows) -> str:  # type: ignore[no-untyped-def]
    out = ["## Targets", "", "| case | comparison | ratio | per-round range | target | met |"]
    out.append("|---|---|---:|---:|---:|:---:|")
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{_r(r['ratio'])}x"
        rng = (
            ""
            if r["per_round_min"] is None
            else f"{_r(r['per_round_min'])}–{_r(r['per_round_max'])}"
        )
        met = {True: "yes", False: "**NO**", None: "(info)"}[r["met"]]
        out.append(f"| ({r['id']}) | {r['what']} | {ratio} | {rng} | {r['target']} | {met} |")
    out += ["", "## Medians per case", ""]
    for case, series in results.items():
        out += [f"### {CASE_TITLES.get(case, case)}", ""]
        out += [
            "| contestant | median | min | max | rounds ok | items/run |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for label, s in series.items():
            ok = s.ok
            lo = fmt(min(ok), s.unit) if ok else ""
            hi = fmt(max(ok), s.unit) if ok else ""
            count = s.counts[-1] if s.counts else ""
            out.append(
                f"| {label} | {fmt(s.median, s.unit)} | {lo} | {hi} | {len(ok)}/{len(s.values)} "
                f"| {count} |"
            )
            for err in dict.fromkeys(s.errors):
                out.append(f"|  ↳ error | {err[:200]} | | | | |")
        out.append("")
    v = meta["versions"]
    m = meta["machine"]
    src: dict[str, object] = meta["source"]  # type: ignore[assignment]
    out += [
        "## Environment",
        "",
        f"- command: `{meta['command']}` ({meta['rounds']} rounds, {meta['duration_s']:.0f} s)",
        f"- machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}; load average at "  # type: ignore[index]
        f"start {m['loadavg_start'][0]:.2f}, end {m['loadavg_end'][0]:.2f}; "  # type: ignore[index]
        f"pinning: {meta['pinning']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),  # type: ignore[union-attr]
        "- source measured: " + ", ".join(f"{k} {val}" for k, val in src.items()),
        "",
    ]
    return "\n".join(out)


def render(path: str) -> None:
    """Rebuild the markdown report from a results JSON (no benchmark is run)."""
    with open(path) as f:
        saved = json.load(f)
    results = {
        case: {
            label: Series(
                unit=v["unit"],
                values=v["rounds"],
                counts=v["counts"],
                errors=v["errors"],
                extra=v["details"],
            )
            for label, v in series.items()
        }
        for case, series in saved["cases"].items()
    }
    meta = saved["meta"]
    md = markdown(meta, results, ratios(results))
    with open(path.removesuffix(".json") + ".md", "w") as f:
        f.write(f"# Benchmark results ({meta['started']})\n\n" + md)
    print(md)


def main() -> None:
    parser = argparse.ArgumentParser(description="agent-adapter vs its peers, as ratios")
    parser.add_argument("--quick", action="store_true", help="3 rounds, smaller inner loops")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--cases", default="all", help="comma list of: " + ",".join([*CASES, "import"])
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/clients to CPUs")
    parser.add_argument("--timeout", type=float, default=300.0, help="per contestant process")
    parser.add_argument("--out", default=None, help="results file stem (default results|quick)")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the .md of a results .json")
    ns = parser.parse_args()
    if ns.render:
        render(ns.render)
        return
    rounds = ns.rounds or (3 if ns.quick else 5)
    wanted = [*CASES, "import"] if ns.cases == "all" else ns.cases.split(",")
    for c in wanted:
        if c not in CASES and c != "import":
            parser.error(f"unknown case {c!r}")
    pin = not ns.no_pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    server_cpu, client_cpu = (1, 0) if pin else (None, None)

    started = time.time()
    meta: dict[str, object] = {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "rounds": rounds,
        "quick": ns.quick,
        "pinning": "server CPU 1, contestants CPU 0" if pin else "none",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
        "versions": versions(),
        "machine": machine(),
        "source": source_state(),
    }
    results: dict[str, dict[str, Series]] = {c: {} for c in wanted}
    if "import" in wanted:
        for _, stmt in IMPORTS:  # fill the byte-code cache (untimed)
            run_import(stmt, client_cpu)
    server = Server(server_cpu)
    try:
        for rnd in range(rounds):
            for case in wanted:
                if case == "import":
                    per_round = 2 if ns.quick else 4
                    for label, stmt in IMPORTS:
                        s = results[case].setdefault(label, Series(unit="ms"))
                        samples = [run_import(stmt, client_cpu) for _ in range(per_round)]
                        s.values.append(statistics.median(samples))
                        s.extra.append({"samples": samples})
                    line = ", ".join(f"{k} {v.values[-1]:.1f} ms" for k, v in results[case].items())
                    print(f"[{rnd + 1}/{rounds}] import: {line}", file=sys.stderr, flush=True)
                    continue
                entries = CASES[case]
                k = rnd % len(entries)
                for entry in entries[k:] + entries[:k]:  # rotate who goes first
                    t0 = time.perf_counter()
                    res = run_contestant(case, entry, server.base, ns.quick, client_cpu, ns.timeout)
                    s = results[case].setdefault(entry.label, Series())
                    if "error" in res:
                        s.values.append(None)
                        s.errors.append(str(res["error"]))
                        s.extra.append({})
                        shown = f"FAILED {res['error']}"
                    else:
                        s.unit = str(res["unit"])
                        s.values.append(float(res["value"]))  # type: ignore[arg-type]
                        s.counts.append(int(res["count"]))  # type: ignore[call-overload]
                        s.extra.append({k: v for k, v in res.items() if k not in ("case",)})
                        shown = fmt(float(res["value"]), s.unit)  # type: ignore[arg-type]
                    print(
                        f"[{rnd + 1}/{rounds}] {case:9} {entry.label:30} {shown:>14}"
                        f"  ({time.perf_counter() - t0:.1f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
            # keep the order of contestants stable in the report
        for case in wanted:
            if case != "import":
                order = [e.label for e in CASES[case]]
                results[case] = {k: results[case][k] for k in order if k in results[case]}
    finally:
        server.stop()
    meta["duration_s"] = time.time() - started
    meta["machine"]["loadavg_end"] = os.getloadavg()  # type: ignore[index]
    rows = ratios(results)
    md = markdown(meta, results, rows)
    stem = ns.out or ("quick" if ns.quick else "results")
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(os.path.join(RESULTS_DIR, f"{stem}.json"), "w") as f:
        json.dump(
            {
                "meta": meta,
                "targets": rows,
                "cases": {
                    case: {
                        label: {
                            "unit": s.unit,
                            "median": s.median,
                            "rounds": s.values,
                            "counts": s.counts,
                            "errors": s.errors,
                            "details": s.extra,
                        }
                        for label, s in series.items()
                    }
                    for case, series in results.items()
                },
            },
            f,
            indent=1,
        )
    with open(os.path.join(RESULTS_DIR, f"{stem}.md"), "w") as f:
        f.write(f"# Benchmark results ({meta['started']})\n\n" + md)
    print(md)
    print(f"\nwritten: benchmarks/results/{stem}.json, benchmarks/results/{stem}.md")


if __name__ == "__main__":
    main()
