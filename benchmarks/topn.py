"""Top-N and deduplication figures: rows/s at parallelism 1 over many keys, the state
each keeps, and the duration and size of the checkpoint that holds it.

    .venv/bin/python benchmarks/topn.py --rows 3000000 --keys 1000000

- topn: the three highest ``v`` per key (``ROW_NUMBER() OVER (PARTITION BY k ORDER BY v
  DESC)``, ``rn <= 3``, rank not selected: -D/+I changes), into an upsert blackhole;
- dedup: the last row per key by event time (Nexmark q18's shape: -U/+U changes).

Rows come from ``datagen`` with ``k`` uniform over ``--keys`` keys; the job is bounded and
its final checkpoint (checkpointing on, interval 1 h, so only that one) holds all state.
Its duration runs from the trigger at the end of input, so it includes the batches still
queued before the operator; sync / async are the snapshot's own parts (pinning the view,
copying the tables to the file).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkpoint import checkpointing, plan, run_job  # benchmarks/checkpoint.py, beside this file

DDL = """
CREATE TABLE src (k BIGINT, v BIGINT, seq BIGINT,
    ts AS TO_TIMESTAMP_LTZ(1700000000000 + seq / 1000, 3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '{rows}',
    'sqlstream.seed' = '7', 'fields.k.min' = '0', 'fields.k.max' = '{max_key}',
    'fields.v.min' = '0', 'fields.v.max' = '999999',
    'fields.seq.kind' = 'sequence', 'fields.seq.start' = '0', 'fields.seq.end' = '{last}');
CREATE TABLE top3 (k BIGINT, v BIGINT, seq BIGINT, PRIMARY KEY (k, seq) NOT ENFORCED)
    WITH ('connector' = 'blackhole');
CREATE TABLE latest (k BIGINT, v BIGINT, seq BIGINT, PRIMARY KEY (k) NOT ENFORCED)
    WITH ('connector' = 'blackhole');
"""
QUERIES = {
    "topn": "INSERT INTO top3 SELECT k, v, seq FROM ("
    "SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM src) WHERE rn <= 3",
    "dedup": "INSERT INTO latest SELECT k, v, seq FROM ("
    "SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM src) WHERE rn = 1",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", help=f"some of {', '.join(QUERIES)} (default: both)")
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--keys", type=int, default=1_000_000)
    args = ap.parse_args()
    unknown = [w for w in args.which if w not in QUERIES]
    if unknown:
        ap.error(f"unknown query {unknown[0]!r}: choose from {', '.join(QUERIES)}")
    ddl = DDL.format(rows=args.rows, max_key=args.keys - 1, last=args.rows - 1)
    print(f"{args.rows:,} rows over {args.keys:,} keys, parallelism 1")
    print("| query | rows/s | rows out | state rows | final checkpoint (sync / async) | its size |")
    print("|---|---|---|---|---|---|")
    for name in args.which or QUERIES:
        folder = Path(tempfile.mkdtemp(prefix="sqlstream-bench-"))
        try:
            config = checkpointing({"state.checkpoints.dir": str(folder)}, "1 h")
            seconds, m = asyncio.run(run_job(plan(ddl, QUERIES[name], config)))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        last = m["checkpoints"]["last"] or {}
        state = sum(op["state_rows"] for op in m["operators"])
        print(
            f"| {name} | {m['rows_read'] / seconds:,.0f} | {m['rows_written']:,} | {state:,} | "
            f"{last.get('duration_ms', 0):.0f} ms "
            f"({last.get('sync_ms', 0):.1f} / {last.get('async_ms', 0):.0f} ms) | "
            f"{last.get('bytes', 0) / 1e6:.1f} MB |"
        )


if __name__ == "__main__":
    main()
