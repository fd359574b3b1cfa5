"""CPU seconds of each operator kind's blocking work (what it hands to the job's thread pool:
DuckDB queries, Arrow work) in a Nexmark query (``nexmark.py``'s names) or one of
``compare.py``'s (its 2M-row bids file), with the whole process's CPU beside it. The
whole-process figures of ``nexmark.py`` move by +-0.2 s on a shared machine; an operator's
own thread CPU is steadier, for before/after comparisons of one operator.

    .venv/bin/python benchmarks/operator_cpu.py --events 1000000 q16 q21
    .venv/bin/python benchmarks/operator_cpu.py --tree /tmp/before q16   # another source tree
    .venv/bin/python benchmarks/operator_cpu.py projection filter      # compare.py's bids
    .venv/bin/python benchmarks/operator_cpu.py -p 2 tumble group      # at parallelism.default 2

Each query runs in a fresh process (``--tree`` puts that tree first on its path). A source
reads in threads of its own, so its work is in the process total only. At parallelism > 1
the hash exchange's cutting (``Exchange``) and a two-phase window aggregation's local phase
run on the producer's worker and are counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import collections, json, sys, time
from runtime import graph, operator
from runtime.operators import local_window_aggregate as local
from sqlstream import cli
cpu = collections.Counter()
def timed(kind, fn):
    def call(*a):
        t = time.thread_time()
        try:
            return fn(*a)
        finally:
            cpu[kind] += time.thread_time() - t
    return call
run = operator.OperatorContext.run
async def timed_run(self, fn, *args):
    return await run(self, timed(type(self.node.spec).__name__.removesuffix("Spec"), fn), *args)
operator.OperatorContext.run = timed_run
# the work a producer's router does on its worker (parallelism > 1)
graph._Hash.split = timed("Exchange", graph._Hash.split)
local.LocalWindowAggregate.apply = timed("LocalWindowAggregate", local.LocalWindowAggregate.apply)
started = time.process_time()
code = cli.main(["run", sys.argv[1]])
print(json.dumps({"process": time.process_time() - started, **cpu, "code": code}))
"""


def measure(script: Path, tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result.pop("code"):
        raise SystemExit(f"{script.name} failed:\n{done.stderr}")
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("queries", nargs="+", metavar="QUERY")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("-p", "--parallelism", type=int, default=1, help="compare.py's queries' parallelism")
    p.add_argument("--tree", type=Path, default=ROOT, help="the source tree to run (default: this one)")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import compare  # this folder's: the files and the query texts
    import nexmark

    bids = compare.ROOT / ".cache" / "compare" / "bids-2000000.json"
    with tempfile.TemporaryDirectory() as tmp:
        for q in args.queries:
            script = Path(tmp) / f"{q}.sql"
            if q in compare.QUERIES:  # (compare.py generates the file)
                script.write_text(compare.sqlstream_script(bids, q, args.parallelism, False, "json", ""))
            else:
                script.write_text(nexmark.script(q, nexmark.events_files(args.events)))
            figures = measure(script, args.tree)
            parts = ", ".join(f"{k} {v:.3f}" for k, v in sorted(figures.items(), key=lambda kv: -kv[1]))
            print(f"{q:<5} {parts}  (load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
