"""Memory on an unbounded stream: it must stay flat where the state is bounded.

    .venv/bin/python benchmarks/memory.py --seconds 60
    .venv/bin/python benchmarks/memory.py join --ttl '5 s' --seconds 60 --rate 100000

``window`` (the default) runs an unbounded datagen source (event time from a sequence, so
windows keep closing) through a 1 s tumbling-window aggregation over 10,000 keys into a
blackhole. ``join`` runs a regular join of two unbounded datagen sources whose keys are
ever new (each side's ``seq``, so every row meets its partner once and its key is never
seen again) under ``table.exec.state.ttl`` = ``--ttl`` (``0`` keeps every row forever).
Both print the process's resident memory, its CPU seconds and the operators' state rows
every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planner
from catalog import Catalog
from runtime.job import Job

DDL = """
CREATE TABLE src (k BIGINT, v BIGINT, seq BIGINT,
    ts AS TO_TIMESTAMP_LTZ(1700000000000 + seq / 1000, 3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
    'fields.k.min' = '0', 'fields.k.max' = '9999', 'fields.v.min' = '0', 'fields.v.max' = '999',
    'fields.seq.kind' = 'sequence', 'fields.seq.start' = '0', 'fields.seq.end' = '1000000000000');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), cnt BIGINT, total BIGINT)
    WITH ('connector' = 'blackhole');
"""
QUERY = (
    "INSERT INTO out SELECT k, window_start, COUNT(*), SUM(v) "
    "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k"
)
JOIN_DDL = """
CREATE TABLE src (seq BIGINT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
    'fields.v.min' = '0', 'fields.v.max' = '999',
    'fields.seq.kind' = 'sequence', 'fields.seq.start' = '0', 'fields.seq.end' = '1000000000000');
CREATE TABLE person (id BIGINT, city BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
    'fields.city.min' = '0', 'fields.city.max' = '99',
    'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '1000000000000');
CREATE TABLE out (auction BIGINT, v BIGINT, city BIGINT) WITH ('connector' = 'blackhole');
"""
JOIN_QUERY = "INSERT INTO out SELECT a.seq, a.v, p.city FROM src a JOIN person p ON a.seq = p.id"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def watch(
    seconds: float, every: float, rate: int, query: str = "window", ttl: str = "0"
) -> list[tuple[float, float, int, int]]:
    cat = Catalog()
    ddl, sql = (JOIN_DDL, JOIN_QUERY) if query == "join" else (DDL, QUERY)
    for stmt in planner.parse(ddl.format(rate=rate)):
        cat.create(planner.create_table(stmt, cat))
    job = Job(planner.plan(sql, cat, {"table.exec.state.ttl": ttl}))
    await job.start()
    samples = []
    t0, cpu0 = time.monotonic(), time.process_time()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(every)
        m = job.metrics()
        state = sum(op["state_rows"] for op in m["operators"])
        expired = sum(op["state_rows_expired"] for op in m["operators"])
        samples.append((time.monotonic() - t0, rss_mb(), m["rows_read"], state))
        print(
            f"{samples[-1][0]:6.1f} s  cpu {time.process_time() - cpu0:6.1f} s  "
            f"rss {samples[-1][1]:7.1f} MB  "
            f"rows read {m['rows_read']:>12,}  {query} state rows {state:>10,}  expired {expired:>10,}",
            flush=True,
        )
    job.cancel()
    await job.wait()
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("query", nargs="?", choices=["window", "join"], default="window")
    ap.add_argument("--ttl", default="0", help="table.exec.state.ttl of the join (0: none)")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--rate", type=int, default=1_000_000, help="rows per second from the source")
    args = ap.parse_args()
    samples = asyncio.run(watch(args.seconds, args.every, args.rate, args.query, args.ttl))
    half = len(samples) // 2
    if half:
        first = max(s[1] for s in samples[:half])
        second = max(s[1] for s in samples[half:])
        print(f"peak RSS, first half {first:.0f} MB, second half {second:.0f} MB")


if __name__ == "__main__":
    main()
