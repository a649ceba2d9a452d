"""Profile one contestant on one case with cProfile, against the benchmark server.

    python benchmarks/profile_case.py stream1                 # ours, one 5,000-chunk stream
    python benchmarks/profile_case.py stream64 --top 30
    python benchmarks/profile_case.py rps1 --script openai_sdk.py

Starts ``server.py``, runs ``contestants/<script> <case>`` in a fresh process
with ``BENCH_PROFILE`` set, so that ``cProfile`` covers only the timed
regions (not imports, data generation or warm-up), and prints the functions
with the most own time and the most cumulative time, as percentages of the
profiled total. cProfile inflates the cost of Python calls relative to C
calls, so read the percentages as where time goes, not as absolute costs.
The raw profile is kept in ``benchmarks/results/<script>-<case>.prof.raw``
(git-ignored); open it with ``pstats`` or snakeviz.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys

from run import ENV, HERE, PY, RESULTS_DIR, Server


def short(func: tuple[str, int, str]) -> str:
    path, line, name = func
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})" if line else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case")
    parser.add_argument("--script", default="ours.py")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("extra", nargs="*", help="more contestant arguments")
    ns = parser.parse_args()
    os.makedirs(RESULTS_DIR, exist_ok=True)
    # *.raw under results/ is git-ignored: profiles are for looking at, not for committing
    out = os.path.join(RESULTS_DIR, f"{ns.script.removesuffix('.py')}-{ns.case}.prof.raw")
    server = Server(None)
    try:
        cmd = [PY, os.path.join(HERE, "contestants", ns.script), ns.case, "--base", server.base]
        cmd += ns.extra
        env = dict(ENV, BENCH_PROFILE=out)  # the contestant profiles its timed regions only
        subprocess.run(cmd, check=True, env=env, cwd=os.path.join(HERE, "contestants"))
    finally:
        server.stop()
    stats = pstats.Stats(out)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())  # sum of own times = profiled total
    rows = [(func, v[2], v[3], v[1]) for func, v in raw.items()]
    print(f"\nprofiled total {total:.3f} s; top {ns.top} by OWN time:")
    for func, own, cum, calls in sorted(rows, key=lambda r: -r[1])[: ns.top]:
        pct = f"{100 * own / total:5.1f}% own {100 * cum / total:5.1f}% cum"
        print(f"  {pct} {calls:>8} {short(func)}")
    print(f"\ntop {ns.top} by CUMULATIVE time:")
    for func, own, cum, calls in sorted(rows, key=lambda r: -r[2])[: ns.top]:
        pct = f"{100 * cum / total:5.1f}% cum {100 * own / total:5.1f}% own"
        print(f"  {pct} {calls:>8} {short(func)}")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
