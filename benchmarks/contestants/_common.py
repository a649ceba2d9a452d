"""Shared plumbing for contestant scripts: arguments, timing, RSS, the result line.

A contestant process runs ONE case, prints ONE JSON line on stdout
(``{"case", "contestant", "value", "unit", "samples", "count", ...}``) and
exits; a wrong chunk count is an ``AssertionError`` (exit status 1), so
nothing can be measured lazily or half-consumed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # benchmarks/ (for ``data``)

import data  # noqa: E402

# Per-case sizes: (default, --quick). ``reps`` is the minimum number of timed repetitions in
# one process; fast contestants repeat until ``budget`` seconds have passed (at most 50 reps),
# so their in-process median is as stable as a slow contestant's few long repetitions.
SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "parse": {"events": (10_000, 10_000), "reps": (2, 1), "budget": (1, 0.5)},
    "parse_event": {"events": (10_000, 10_000), "reps": (2, 1), "budget": (1, 0.5)},
    "parse64": {"events": (10_000, 10_000), "reps": (2, 1), "budget": (1, 0.5)},
    "stream1": {"events": (5000, 5000), "reps": (3, 2), "budget": (1, 0.5)},
    "stream64": {"events": (500, 500), "reps": (2, 1), "concurrency": (64, 64), "budget": (1.5, 1)},
    "rps1": {"seconds": (2, 1)},
    "rps64": {"seconds": (3, 1), "concurrency": (64, 64)},
    "memory": {"streams": (500, 500)},
    "anthropic": {"events": (5000, 5000), "reps": (3, 2), "budget": (1, 0.5)},
    "router64": {"seconds": (3, 1), "concurrency": (64, 64)},
    "fallback": {"calls": (200, 50)},
    "hooks_stream": {"events": (5000, 5000), "reps": (3, 2), "budget": (1, 0.5)},
    "hooks_rps64": {"seconds": (3, 1), "concurrency": (64, 64)},
}


# The parse cases differ only in how the same stream is cut into reads (``data.reads``).
PARSE_CASES = {"parse": "random", "parse_event": "event", "parse64": "64"}


def parse_reads(ns: argparse.Namespace, body: bytes) -> list[bytes]:
    """The reads of ``body`` for this parse case (random sizes, one per event, 64 bytes)."""
    return data.reads(body, PARSE_CASES[ns.case])


def args(cases: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=cases)
    parser.add_argument("--base", default="", help="server origin, http://127.0.0.1:PORT")
    parser.add_argument("--variant", default="", help="contestant variant")
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    ns = parser.parse_args()
    if ns.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {ns.cpu})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    return ns


def size(ns: argparse.Namespace, key: str) -> int:
    pair = SIZES[ns.case][key]
    return pair[1] if ns.quick else pair[0]


def reps(ns: argparse.Namespace) -> Iterator[int]:
    """Timed repetitions: at least ``reps``, more while under ``budget`` seconds (max 50)."""
    low, budget = size(ns, "reps"), size(ns, "budget")
    start = time.perf_counter()
    i = 0
    while i < low or (i < 50 and time.perf_counter() - start < budget):
        if _profiler is not None:
            _profiler.enable()
        yield i  # the loop body runs here (profiled under profile_case.py)
        if _profiler is not None:
            _profiler.disable()
        i += 1


_PROFILE = os.environ.get("BENCH_PROFILE")  # set by profile.py: profile timed regions only
_profiler = None
if _PROFILE:
    import atexit
    import cProfile

    _profiler = cProfile.Profile()
    atexit.register(lambda: _profiler.dump_stats(_PROFILE))  # type: ignore[union-attr]


@contextlib.contextmanager
def profiled() -> Iterator[None]:
    """Wrap a timed region: under ``profile.py`` it is profiled, otherwise a no-op."""
    if _profiler is None:
        yield
        return
    _profiler.enable()
    try:
        yield
    finally:
        _profiler.disable()


def rss_bytes() -> int:
    """Resident set size now, from /proc/self/statm (pages * page size)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def settle() -> None:
    gc.collect()
    gc.collect()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def emit(
    ns: argparse.Namespace,
    contestant: str,
    value: float,
    unit: str,
    samples: list[float],
    count: int,
    **extra: Any,
) -> None:
    line = {
        "case": ns.case,
        "contestant": contestant,
        "value": value,
        "unit": unit,
        "samples": samples,
        "count": count,
        **extra,
    }
    print(json.dumps(line), flush=True)


def rate_result(
    ns: argparse.Namespace, contestant: str, work: int, seconds: list[float], count: int
) -> None:
    """Emit a throughput: ``work`` units per run, the median over ``seconds``."""
    rates = [work / s for s in seconds]
    emit(ns, contestant, statistics.median(rates), "per_s", rates, count)


def check(name: str, got: int, want: int) -> None:
    assert got == want, f"{name}: consumed {got} items, expected {want}"


# Request body pieces for every OpenAI contestant (same content everywhere).
MODEL = data.MODEL
MESSAGES = data.MESSAGES
TOOLS = data.TOOLS

ANTHROPIC_SYSTEM = data.MESSAGES[0]["content"]
ANTHROPIC_MESSAGES = data.MESSAGES[1:]
ANTHROPIC_TOOLS = [
    {
        "name": t["function"]["name"],  # type: ignore[index]
        "description": t["function"]["description"],  # type: ignore[index]
        "input_schema": t["function"]["parameters"],  # type: ignore[index]
    }
    for t in data.TOOLS
]
