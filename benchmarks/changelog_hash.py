"""A hash of the changelog a Nexmark query sends its sink: every row, values and row kind, in
order, so that a change made for speed can be shown to leave the changelog as it was.

    .venv/bin/python benchmarks/changelog_hash.py --events 3000000 q15 q16 q17
    .venv/bin/python benchmarks/changelog_hash.py --events 3000000 --tree /tmp/before q15 q17

Each query runs in a fresh process (``--tree`` puts that tree first on its path) with the
sink operator's input hashed; printed: rows, batches and the hash. A query whose result
depends on how its sources interleave (q4: whether the first bids come before the auctions
are read) may print another hash from run to run on the same tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import hashlib, sys
from runtime.operators.sink import SinkOp
from sqlstream import cli
digest, counts = hashlib.sha256(), [0, 0]
original = SinkOp.process_batch
async def process_batch(self, batch, input_index):
    for row in batch.to_pylist():
        digest.update(repr(tuple(row.values())).encode())
    counts[0] += batch.num_rows
    counts[1] += 1
    return await original(self, batch, input_index)
SinkOp.process_batch = process_batch
code = cli.main(["run", sys.argv[1]])
print(f"rows {counts[0]:,} batches {counts[1]} sha256 {digest.hexdigest()[:16]}" if not code else "failed")
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("queries", nargs="+", metavar="QUERY", help="nexmark.py's queries")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--tree", type=Path, default=ROOT, help="the source tree to run (default: this one)")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import nexmark

    env = {**os.environ, "PYTHONPATH": str(args.tree)}
    with tempfile.TemporaryDirectory() as tmp:
        for q in args.queries:
            script = Path(tmp) / f"{q}.sql"
            script.write_text(nexmark.script(q, nexmark.events_files(args.events)))
            done = subprocess.run(  # from a directory that is not a source tree
                [sys.executable, "-c", _CHILD, str(script)], env=env, cwd=tmp, capture_output=True, text=True
            )
            lines = done.stdout.strip().splitlines()
            print(f"{q:<5} {lines[-1] if lines else 'failed: ' + done.stderr[-500:]}", flush=True)


if __name__ == "__main__":
    main()
