"""Memory on an unbounded stream whose windows close: it must stay flat.

    .venv/bin/python benchmarks/memory.py --seconds 60

Runs an unbounded datagen source (event time from a sequence, so windows keep closing)
through a 1 s tumbling-window aggregation over 10,000 keys into a blackhole, and prints
the process's resident memory and the window state's rows every few seconds.
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


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def watch(seconds: float, every: float, rate: int) -> list[tuple[float, float, int, int]]:
    cat = Catalog()
    for stmt in planner.parse(DDL.format(rate=rate)):
        cat.create(planner.create_table(stmt, cat))
    job = Job(planner.plan(QUERY, cat))
    await job.start()
    samples = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(every)
        m = job.metrics()
        state = sum(op["state_rows"] for op in m["operators"])
        samples.append((time.monotonic() - t0, rss_mb(), m["rows_read"], state))
        print(
            f"{samples[-1][0]:6.1f} s  rss {samples[-1][1]:7.1f} MB  rows read {m['rows_read']:>12,}  "
            f"window state rows {state:>8,}",
            flush=True,
        )
    job.cancel()
    await job.wait()
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--rate", type=int, default=1_000_000, help="rows per second from the source")
    args = ap.parse_args()
    samples = asyncio.run(watch(args.seconds, args.every, args.rate))
    half = len(samples) // 2
    if half:
        first = max(s[1] for s in samples[:half])
        second = max(s[1] for s in samples[half:])
        print(f"peak RSS, first half {first:.0f} MB, second half {second:.0f} MB")


if __name__ == "__main__":
    main()
