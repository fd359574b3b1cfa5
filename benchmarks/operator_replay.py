"""CPU seconds of one operator over the input it gets in a Nexmark query, replayed: steadier
than whole processes on a shared machine, and the same input for two source trees.

    .venv/bin/python benchmarks/operator_replay.py --events 3000000 --tree /tmp/before q18 Rank
    .venv/bin/python benchmarks/operator_replay.py --events 3000000 --tree /tmp/before q11 WindowAggregate

A job of ``nexmark.py``'s query runs once (this tree) with the operator kind's hooks
recorded: every batch, watermark and end of input it gets, in order, pickled under
``.cache/replay/``. Then, for this tree and ``--tree`` alternately, a fresh process opens
that operator alone (as the unit tests do) and feeds it the recording ``--repeat`` times,
timing the hooks with ``time.thread_time()``; printed: the least and the median of the
replays, and the rows the operator sent with a checksum of their values (equal for equal
output, whatever the batches). The least is the figure to compare: other work on the
machine only adds to it. Upstream operators and the source are not run in the replay.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = {  # the spec's name less "Spec": the operator's module and class
    "Join": ("join", "JoinOp"),
    "Rank": ("rank", "RankOp"),
    "WindowAggregate": ("window_aggregate", "WindowAggregateOp"),
    "WindowJoin": ("window_join", "WindowJoinOp"),
    "GroupAggregate": ("group_aggregate", "GroupAggregateOp"),
}

_RECORD = """
import importlib, pickle, sys
from sqlstream import cli
module, name, out = sys.argv[2], sys.argv[3], sys.argv[4]
cls = getattr(importlib.import_module("runtime.operators." + module), name)
events = []
for hook in ("process_batch", "on_watermark", "on_input_ended", "on_end_of_input"):
    original = getattr(cls, hook)
    def recorded(self, *args, _original=original, _hook=hook):
        events.append((_hook, args))
        return _original(self, *args)
    setattr(cls, hook, recorded)
if cli.main(["run", sys.argv[1]]):
    raise SystemExit("the job failed")
with open(out, "wb") as f:
    pickle.dump(events, f, protocol=5)
"""

_REPLAY = """
import asyncio, importlib, pickle, re, statistics, sys, time
import pyarrow as pa, pyarrow.compute as pc
from planner import physical
from tests.unit.runtime.test_rank_changelog import open_operator
script, spec, module, name, recording, repeat = sys.argv[1:7]
text = open(script).read()
ddl = ";\\n".join(s for s in text.split(";\\n") if s.startswith("CREATE TABLE") and "blackhole" not in s)
query = re.search(r"INSERT INTO sink (.*);", text, re.S).group(1)
kind = getattr(importlib.import_module("runtime.operators." + module), name)
events = pickle.load(open(recording, "rb"))
times = []
for _ in range(int(repeat)):
    op = open_operator(ddl, query, getattr(physical, spec + "Spec"), kind)
    total, rows, check = 0.0, 0, 0
    for hook, args in events:
        started = time.thread_time()
        out = asyncio.run(getattr(op, hook)(*args))
        total += time.thread_time() - started
        for batch in (m for m in out or [] if isinstance(m, pa.RecordBatch)):
            rows += batch.num_rows
            for c in batch.columns:
                if pa.types.is_string(c.type) or pa.types.is_large_string(c.type):
                    check += pc.sum(pc.binary_length(c)).as_py() or 0
                elif pa.types.is_integer(c.type) or pa.types.is_timestamp(c.type):
                    check += pc.sum(c.cast(pa.int64())).as_py() or 0
    asyncio.run(op.close())
    times.append(total)
print(f"least {min(times):.3f} s, median {statistics.median(times):.3f} s; {rows:,} rows, checksum {check}")
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("query", help="one of nexmark.py's queries")
    p.add_argument("kind", choices=sorted(KINDS), help="the operator kind (its spec's name less 'Spec')")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--tree", type=Path, help="another source tree to replay in too (before/after)")
    p.add_argument("--repeat", type=int, default=5, help="replays per tree")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import nexmark

    module, name = KINDS[args.kind]
    cache = ROOT / ".cache" / "replay"
    cache.mkdir(parents=True, exist_ok=True)
    script = cache / f"{args.query}-{args.events}.sql"
    script.write_text(nexmark.script(args.query, nexmark.events_files(args.events)))
    recording = cache / f"{args.query}-{args.events}-{args.kind}.pkl"
    env = dict(os.environ)
    if not recording.exists():
        env["PYTHONPATH"] = str(ROOT)
        subprocess.run([sys.executable, "-c", _RECORD, str(script), module, name, str(recording)],
                       env=env, cwd=cache, check=True, capture_output=True)  # fmt: skip
    runs = [("after", ROOT)]
    if args.tree:  # before, after, after, before: both under the same load
        runs = [("before", args.tree.resolve()), ("after", ROOT)]
        runs += runs[::-1]
    command = [sys.executable, "-c", _REPLAY, str(script), args.kind, module, name, str(recording)]
    for which, tree in runs:
        env["PYTHONPATH"] = str(tree)
        run = [*command, str(args.repeat)]
        done = subprocess.run(run, env=env, cwd=cache, check=True, capture_output=True, text=True)
        load = os.getloadavg()[0]
        print(f"{args.query} {args.kind:<16} {which:<6} {done.stdout.strip()}  (load {load:.1f})", flush=True)


if __name__ == "__main__":
    main()
