"""What a Ray subtask actor's process pays to import the engine before it runs anything:
``import runtime.ray.subtask`` (what Ray imports to make the actor) in fresh Python
processes, CPU seconds and wall seconds each, and how many modules it loads, and whether
the planner's parser and binder (sqlglot) came along.

    .venv/bin/python benchmarks/actor_startup.py --runs 5

CPU seconds are the figure to compare on a shared machine (wall seconds grow with the
load); the median of ``--runs`` processes is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, resource, sys, time
t = time.perf_counter()
import runtime.ray.subtask
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "modules": len(sys.modules),
                  "sqlglot": "sqlglot" in sys.modules}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    runs = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    cpu = statistics.median(r["cpu"] for r in runs)
    wall = statistics.median(r["wall"] for r in runs)
    print("| process CPU s (median) | import wall s (median) | modules | sqlglot loaded |")
    print("|---|---|---|---|")
    print(f"| {cpu:.2f} | {wall:.2f} | {runs[0]['modules']} | {runs[0]['sqlglot']} |")


if __name__ == "__main__":
    main()
