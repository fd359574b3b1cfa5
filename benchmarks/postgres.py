"""Rows/s into PostgreSQL: exactly-once (two-phase or epoch) vs at-least-once, append and
upsert, and how long the sink's commit steps take.

    source <(scripts/services up postgres)
    .venv/bin/python benchmarks/postgres.py --rows 2000000 [-p 1] [--interval '1 s'] [--repeat 3] [--epoch]

Each case is what a user would run: a Flink SQL script through the Session (planner, tasks,
checkpoints under a temporary ``state.checkpoints.dir``), ``datagen`` (a sequence ``v``,
not rate-limited) -> ``jdbc`` sink into a fresh table of the server named by
``SQLSTREAM_PG_DSN`` / ``SQLSTREAM_PG_URL``, with EXACTLY_ONCE checkpoints every
``--interval``; the sink's ``sink.delivery-guarantee`` is ``exactly-once`` (one prepared
transaction per checkpoint and subtask, COMMIT PREPARED on completion) or
``at-least-once`` (each flush commits). Rows/s is the input rows over the job's wall time,
from submit to the last commit; the table is checked to hold every row afterwards.

    append   INSERT INTO t SELECT v, v % 1000, 'name-' || v, ts       (no primary key)
    upsert   the same into a table with PRIMARY KEY (id), id = v % (rows / 2): the first
             half of the rows insert, the second half update (INSERT ... ON CONFLICT)

``--baseline`` adds the same job into ``blackhole``: the pipeline without PostgreSQL.
``--epoch`` adds ``exactly-once`` with ``'sink.exactly-once.mode' = 'epoch'`` on the same
server (each checkpoint's rows and progress rows committed at the barrier; what a server
with ``max_prepared_transactions = 0`` gets).

Commit latency: the time the sink spends, per checkpoint and subtask, at the barrier
(``pre_commit``: flush + PREPARE TRANSACTION, or flush + progress rows + COMMIT) and on the
checkpoint's completion (``commit``: COMMIT PREPARED; nothing in epoch mode), medians in ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.connectors.postgres.sink import PostgresSink
from sqlstream.session import Session

TIMINGS: dict[str, list[float]] = {"pre_commit": [], "commit": []}


def _timed(name: str, method: Any) -> Any:
    async def wrapper(self: PostgresSink, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await method(self, *args)
        finally:
            if self.exactly_once:
                TIMINGS[name].append((time.perf_counter() - t0) * 1000)

    return wrapper


PostgresSink.pre_commit = _timed("pre_commit", PostgresSink.pre_commit)  # type: ignore[method-assign]
PostgresSink.commit = _timed("commit", PostgresSink.commit)  # type: ignore[method-assign]

SOURCE = """
CREATE TABLE src (v BIGINT, ts AS TO_TIMESTAMP_LTZ(1767225600000 + v, 3),
  WATERMARK FOR ts AS ts) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000000000', 'sqlstream.seed' = '1',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{rows}');
"""
COLUMNS = "id BIGINT, grp INT, name STRING, ts TIMESTAMP(3)"
SELECT = (
    "SELECT {key} AS id, CAST(v % 1000 AS INT) AS grp, "
    "CONCAT('name-', CAST(v AS STRING)) AS name, ts FROM src"
)
PG_COLUMNS = "id bigint {pk}, grp int, name text, ts timestamp(3)"


def env(var: str) -> str:
    value = os.environ.get(var, "").strip()
    if not value:
        sys.exit(f"{var} is not set: run `source <(scripts/services up postgres)` first")
    return value


def execute(dsn: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def run_case(args: argparse.Namespace, mode: str, guarantee: str, dsn: str, url: str) -> float:
    """One job; returns rows/s. ``guarantee``: exactly-once, exactly-once/epoch,
    at-least-once or blackhole."""
    guarantee, _, commit_mode = guarantee.partition("/")
    table = f"bench_{mode}_{uuid.uuid4().hex[:8]}"
    upsert = mode == "upsert"
    key = f"v % {max(1, args.rows // 2)}" if upsert else "v"
    pk = ", PRIMARY KEY (id) NOT ENFORCED" if upsert else ""
    if guarantee == "blackhole":
        sink = "'connector' = 'blackhole'"
    else:
        execute(dsn, f"CREATE TABLE {table} ({PG_COLUMNS.format(pk='PRIMARY KEY' if upsert else '')})")
        sink = (
            f"'connector' = 'jdbc', 'url' = '{url}', 'table-name' = '{table}', "
            f"'username' = '{os.environ.get('SQLSTREAM_PG_USER', 'sqlstream')}', "
            f"'password' = '{os.environ.get('SQLSTREAM_PG_PASSWORD', 'sqlstream')}', "
            f"'sink.delivery-guarantee' = '{guarantee}', 'sink.transactional-id-prefix' = '{table}', "
            f"'sink.buffer-flush.max-rows' = '{args.flush_rows}'"
            + (f", 'sink.exactly-once.mode' = '{commit_mode}'" if commit_mode else "")
        )
    with tempfile.TemporaryDirectory() as tmp:
        script = f"""
SET 'execution.checkpointing.interval' = '{args.interval}';
SET 'state.checkpoints.dir' = '{tmp}';
SET 'parallelism.default' = '{args.parallelism}';
SET 'pipeline.name' = '{table}';
{SOURCE.format(rows=args.rows)}
CREATE TABLE out ({COLUMNS}{pk}) WITH ({sink});
INSERT INTO out {SELECT.format(key=key)};
"""
        session = Session(config={"table.dml-sync": "true"})
        try:
            t0 = time.perf_counter()
            for result in session.execute_script(script):
                if result.job is not None and result.job.error is not None:
                    raise result.job.error
            elapsed = time.perf_counter() - t0
        finally:
            session.close()
    if guarantee != "blackhole":
        try:
            (count,) = execute(dsn, f"SELECT count(*) FROM {table}")[0]
            want = args.rows // 2 if upsert else args.rows
            assert count == want, f"{table} holds {count} rows, not {want}"
            left = execute(dsn, f"SELECT gid FROM pg_prepared_xacts WHERE gid LIKE '{table}-%'")
            assert not left, f"prepared transactions left: {left}"
        finally:
            execute(dsn, f"DROP TABLE IF EXISTS {table}")
            execute(dsn, f"DELETE FROM sqlstream_commits WHERE sink_id = '{table}'")
            if commit_mode == "epoch":
                execute(dsn, f"DELETE FROM sqlstream_sink_progress WHERE sink_id = '{table}'")
    return args.rows / elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("-p", "--parallelism", type=int, default=1)
    parser.add_argument("--interval", default="1 s", help="checkpoint interval (default 1 s)")
    parser.add_argument(
        "--flush-rows", type=int, default=100, help="sink.buffer-flush.max-rows (default 100)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is printed")
    parser.add_argument("--modes", default="append,upsert")
    parser.add_argument("--baseline", action="store_true", help="also run into blackhole")
    parser.add_argument("--epoch", action="store_true", help="also exactly-once in epoch mode")
    args = parser.parse_args(argv)
    dsn, url = env("SQLSTREAM_PG_DSN"), env("SQLSTREAM_PG_URL")
    guarantees = ["exactly-once", *(["exactly-once/epoch"] if args.epoch else []), "at-least-once"]
    guarantees += ["blackhole"] if args.baseline else []
    out: dict[str, float] = {}
    print(f"{args.rows:,} rows, parallelism {args.parallelism}, checkpoints every {args.interval}")
    print("| table | sink.delivery-guarantee | rows/s (median) | runs | barrier ms | commit ms |")
    print("|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        for guarantee in guarantees:
            for timings in TIMINGS.values():
                timings.clear()
            runs = [run_case(args, mode, guarantee, dsn, url) for _ in range(args.repeat)]
            out[f"{mode}/{guarantee}"] = statistics.median(runs)
            shown = ", ".join(f"{r:,.0f}" for r in runs)
            ms = [f"{statistics.median(t):.1f}" if t else "" for t in TIMINGS.values()]
            label = guarantee.replace("/", " (") + ")" if "/" in guarantee else guarantee
            print(
                f"| {mode} | {label} | {statistics.median(runs):,.0f} | {shown} | {' | '.join(ms)} |",
                flush=True,
            )
    return out


if __name__ == "__main__":
    main()
