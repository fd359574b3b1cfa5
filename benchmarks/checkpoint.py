"""Checkpoint figures: their cost on throughput, their duration and size against the
state size, and how fast a job with 1M keys of state is back after a crash.

    .venv/bin/python benchmarks/checkpoint.py all
    .venv/bin/python benchmarks/checkpoint.py throughput --rows 50000000
    .venv/bin/python benchmarks/checkpoint.py size --keys 1000 100000 1000000
    .venv/bin/python benchmarks/checkpoint.py restart --keys 1000000
    .venv/bin/python benchmarks/checkpoint.py size --s3      # to SeaweedFS (scripts/services up s3)

- throughput: a 1 s TUMBLE over 10,000 keys (datagen -> blackhole) without checkpoints
  and with a checkpoint every 1 s (EXACTLY_ONCE, aligned), rows/s over the job's wall time.
- size: an unwindowed ``GROUP BY k`` over N distinct keys (keyed state of N rows); the
  job's final checkpoint holds all of them: its duration, sync / async / alignment parts
  and the bytes of its DuckDB files.
- restart: the same aggregation over 1M keys runs until a checkpoint holds every key,
  then is cancelled as a crash would leave it (checkpoints kept); a second job resumes
  from the newest checkpoint, and the time from its start to its first output row is
  measured (in process: planning, restoring 1M keys, first batch through the sink;
  a new Python process adds its start-up, ~1 s here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planner
from catalog import Catalog
from runtime.job import Job

TUMBLE_DDL = """
CREATE TABLE src (k BIGINT, v BIGINT, seq BIGINT,
    ts AS TO_TIMESTAMP_LTZ(1700000000000 + seq / 1000, 3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '{rows}',
    'fields.k.min' = '0', 'fields.k.max' = '9999', 'fields.v.min' = '0', 'fields.v.max' = '999',
    'fields.seq.kind' = 'sequence', 'fields.seq.start' = '0', 'fields.seq.end' = '1000000000000');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), cnt BIGINT, total BIGINT)
    WITH ('connector' = 'blackhole');
"""
TUMBLE = (
    "INSERT INTO out SELECT k, window_start, COUNT(*), SUM(v) "
    "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k"
)

GROUP_DDL = """
CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'datagen',
    'rows-per-second' = '{rate}'{bounded},
    'fields.k.kind' = '{kind}', {k_options}, 'fields.v.min' = '0', 'fields.v.max' = '999');
CREATE TABLE out (k BIGINT, cnt BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
"""
GROUP = "INSERT INTO out SELECT k, COUNT(*), SUM(v) FROM src GROUP BY k"


def plan(ddl: str, query: str, config: dict[str, str]) -> Any:
    cat = Catalog()
    for stmt in planner.parse(ddl):
        cat.create(planner.create_table(stmt, cat))
    return planner.plan(query, cat, config)


def checkpointing(where: dict[str, str], interval: str = "1 s", **extra: str) -> dict[str, str]:
    """``where``: ``state.checkpoints.dir`` (and the object store's s3.* keys)."""
    return {
        "execution.checkpointing.interval": interval,
        "pipeline.name": "bench",
        **where,
        **extra,
    }


def object_store() -> dict[str, str]:
    """A fresh prefix in the object store of ``scripts/services up s3`` (its exports)."""
    names = ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY", "BUCKET")
    env = {n: os.environ.get(f"SQLSTREAM_S3_{n}", "") for n in names}
    if not all(env.values()):
        sys.exit("--s3 needs the SQLSTREAM_S3_* exports: source <(scripts/services up s3)")
    return {
        "state.checkpoints.dir": f"s3://{env['BUCKET']}/bench-{uuid.uuid4().hex[:8]}",
        "s3.endpoint": env["ENDPOINT"],
        "s3.access-key": env["ACCESS_KEY"],
        "s3.secret-key": env["SECRET_KEY"],
        "s3.path.style.access": "true",
    }


async def run_job(p: Any) -> tuple[float, dict[str, Any]]:
    job = Job(p)
    t0 = time.perf_counter()
    await job.run()
    return time.perf_counter() - t0, job.metrics()


def throughput(rows: int, folder: dict[str, str], repeats: int) -> None:
    print(f"## throughput: 1 s TUMBLE over 10,000 keys, {rows:,} rows, parallelism 1")
    results: dict[str, list[float]] = {"off": [], "1 s": []}
    chk: dict[str, Any] = {}
    for _ in range(repeats):
        for label, config in (("off", {}), ("1 s", checkpointing(folder))):
            secs, metrics = asyncio.run(run_job(plan(TUMBLE_DDL.format(rows=rows), TUMBLE, config)))
            results[label].append(rows / secs)
            if label != "off":
                chk = metrics["checkpoints"]
    best = {k: max(v) for k, v in results.items()}
    print(f"without checkpoints: {best['off']:,.0f} rows/s (best of {repeats})")
    print(f"checkpoint every 1 s: {best['1 s']:,.0f} rows/s ({chk['completed']} checkpoints in the last run)")
    print(f"cost: {100 * (1 - best['1 s'] / best['off']):.1f}% lower")


def state_size(keys_list: list[int], folder: dict[str, str]) -> None:
    print("## checkpoint duration and size vs keyed state (GROUP BY k, final checkpoint)")
    print("| keys | duration | sync | async | alignment | size |")
    print("|---|---|---|---|---|---|")
    for keys in keys_list:
        ddl = GROUP_DDL.format(
            rate=1_000_000_000,
            bounded=f", 'number-of-rows' = '{keys}'",
            kind="sequence",
            k_options=f"'fields.k.start' = '1', 'fields.k.end' = '{keys}'",
        )
        _, metrics = asyncio.run(run_job(plan(ddl, GROUP, checkpointing(folder, "1 h"))))
        last = metrics["checkpoints"]["last"]
        print(
            f"| {keys:,} | {last['duration_ms']:.0f} ms | {last['sync_ms']:.1f} ms | "
            f"{last['async_ms']:.0f} ms | {last['alignment_ms']:.1f} ms | {last['bytes'] / 1e6:.1f} MB |"
        )


async def _until_checkpoint_with_all_keys(p: Any, keys: int) -> None:
    job = Job(p)
    await job.start()
    while True:
        await asyncio.sleep(0.1)
        m = job.metrics()
        state = sum(op["state_rows"] for op in m["operators"])
        if state >= keys and m["checkpoints"]["completed"] >= 1:
            done_at = m["checkpoints"]["completed"]
            while job.metrics()["checkpoints"]["completed"] == done_at:  # one taken after
                await asyncio.sleep(0.05)
            break
    job.cancel()  # as a crash leaves it: the checkpoints stay
    await job.wait()


async def _first_output(p: Any) -> tuple[float, dict[str, Any]]:
    job = Job(p)
    t0 = time.perf_counter()
    await job.start()
    while job.metrics()["rows_written"] == 0:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - t0
    metrics = job.metrics()
    job.cancel()
    await job.wait()
    return elapsed, metrics


def restart(keys: int, folder: dict[str, str]) -> None:
    print(f"## restart to first output after a crash, {keys:,} keys of state")
    ddl = GROUP_DDL.format(
        rate=2_000_000,
        bounded="",
        kind="random",
        k_options=f"'fields.k.min' = '1', 'fields.k.max' = '{keys}'",
    )
    config = checkpointing(folder, "1 s")
    t0 = time.perf_counter()
    asyncio.run(_until_checkpoint_with_all_keys(plan(ddl, GROUP, config), keys))
    print(f"first run: {time.perf_counter() - t0:.1f} s until a checkpoint held all {keys:,} keys")
    resumed = {**config, "sqlstream.checkpoint.resume": "latest"}
    t1 = time.perf_counter()
    elapsed, metrics = asyncio.run(_first_output(plan(ddl, GROUP, resumed)))
    restored = metrics["checkpoints"]["restored_from"]
    state = sum(op["state_rows"] for op in metrics["operators"])
    print(f"restored from {restored}: {state:,} keys of state")
    print(f"restart to first output: {elapsed:.2f} s (planning included: {time.perf_counter() - t1:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["all", "throughput", "size", "restart"])
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--keys", type=int, nargs="+", default=None)
    ap.add_argument("--s3", action="store_true", help="checkpoints to the object store of scripts/services")
    args = ap.parse_args()
    local = Path(tempfile.mkdtemp(prefix="sqlstream-bench-"))
    folder = object_store() if args.s3 else {"state.checkpoints.dir": str(local)}
    print(f"checkpoints in {folder['state.checkpoints.dir']}")
    try:
        if args.what in ("all", "throughput"):
            throughput(args.rows, folder, args.repeats)
        if args.what in ("all", "size"):
            state_size(args.keys or [1_000, 100_000, 1_000_000], folder)
        if args.what in ("all", "restart"):
            restart((args.keys or [1_000_000])[-1], folder)
    finally:
        shutil.rmtree(local, ignore_errors=True)


if __name__ == "__main__":
    main()
