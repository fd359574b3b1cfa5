"""Start-up (issue #14): a one-row ``sqlstream run`` (datagen 'number-of-rows' = '1' into
a blackhole) in fresh processes, wall and CPU seconds, beside what importing the
libraries every job needs costs alone.

    .venv/bin/python benchmarks/start_up.py --runs 10
    .venv/bin/python benchmarks/start_up.py --runs 10 --tree /tmp/before   # another source tree

``--tree DIR`` runs the sqlstream of another tree (a ``git archive`` of an older commit,
given its bytecode first, as ``./scripts/bootstrap`` gives this one: ``compare.prepare_tree``).
CPU seconds are the figure to compare on a shared machine (wall seconds grow with the
load); medians and minimums of ``--runs`` processes are printed, with the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import compare  # benchmarks/compare.py (this folder is on sys.path): prepare_tree

ROOT = Path(__file__).resolve().parents[1]

ONE_ROW = """
CREATE TABLE src (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1');
CREATE TABLE out1 (x BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out1 SELECT x FROM src;
"""

#: What every job needs whatever we do: Python itself, then pyarrow (which imports numpy),
#: sqlglot with the Spark dialect our Flink dialect extends, and asyncio.
FLOOR = "import pyarrow, sqlglot, sqlglot.dialects.spark, asyncio"


def timed(cmd: list[str], tree: Path, runs: int) -> tuple[list[float], list[float]]:
    env = dict(os.environ, PYTHONPATH=str(tree))  # and run in it: ``-m`` puts the folder first on sys.path
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, timeout=120)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return walls, cpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--tree", type=Path, help="run the sqlstream of this source tree")
    args = ap.parse_args()
    tree = (args.tree or ROOT).resolve()
    if args.tree is not None:
        compare.prepare_tree(tree)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "one_row.sql"
        script.write_text(ONE_ROW)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            f"python -c '{FLOOR}'": [sys.executable, "-c", FLOOR],
            "sqlstream run one_row.sql": [sys.executable, "-m", "sqlstream", "run", str(script)],
        }
        where = subprocess.run(
            [sys.executable, "-c", "import runtime, sqlstream; print(sqlstream.__file__, runtime.__file__)"],
            env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree, capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(f"sqlstream and runtime from: {where.stdout.strip()}")
        print(f"{args.runs} runs each, load average {os.getloadavg()[0]:.1f}")
        for name, cmd in cases.items():
            walls, cpus = timed(cmd, tree, args.runs)
            print(
                f"{name:<70} wall median {statistics.median(walls):.3f} min {min(walls):.3f}"
                f" | CPU median {statistics.median(cpus):.3f} min {min(cpus):.3f} s"
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
