"""Throughput benchmark: a Flink SQL query over generated rows, run by sqlstream to a
blackhole sink, against DuckDB running the same query as one batch over the same rows.

    .venv/bin/python benchmarks/run.py tumble --rows 10000000
    .venv/bin/python benchmarks/run.py projection --rows 10000000 --input json

Everything a user would run: the SQL goes through the planner, the rows come from the
``datagen`` connector (``--input datagen``) or from a JSON or Parquet file the benchmark
writes first with the same rows (``--input json|parquet``, read by the ``filesystem``
connector). Printed: rows/s over the job's wall time, the process's CPU seconds (and input
rows per CPU second: steadier than wall time on a shared machine), peak RSS, p50/p99 latency (from a
row's processing-time stamp after the source to the sink, per result batch; window
results also wait for their window to close), and DuckDB's rows/s for the same query over
the same rows: already in memory (``--input datagen``, the strict ceiling) or read from
the same file (``--input json|parquet``, the batch engine doing the same job end to end).

Queries (10,000 keys by default, event time advancing 1 ms every 1,000 rows):
    projection   projection + filter
    tumble       1 s tumbling window: COUNT(*), SUM, MAX per key
    hop          4 s windows every 1 s: COUNT(*), SUM, MAX per key
    session      session windows, 100 ms gap, per key
    rollup       1 s tumbling window GROUP BY window_start, window_end, ROLLUP (k): per key
                 and a total per window (each row counted twice, through an Expand)
    topn         ORDER BY v DESC LIMIT 10 over the whole stream (a Top-N, -D/+I out)
    group        unwindowed GROUP BY (a changelog out)
    join         Nexmark q3-like regular join: every row of ``src`` (an auction, its seller
                 ``k``) joined with ``person`` (``--keys`` rows, one per seller), filtered
                 after the join as q3 is written; both sides' rows stay in the join's state
    interval     interval join of ``src`` with ``bid`` (the same rows again, a second source):
                 each row with the rows of its key up to 10 ms later; state is dropped as the
                 watermark (1 s behind) passes, so it stays ~(1 s + 10 ms) of rows per side
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import planner
from catalog import Catalog
from runtime.connectors.base import SinkWriter
from runtime.connectors.registry import register_sink
from runtime.job import Job

T0_MS = 1_700_000_000_000
QUERIES: dict[str, tuple[str, str]] = {
    # name: (sqlstream query over `src`, DuckDB batch query over `data`)
    "projection": (
        "SELECT k, v * 2 + 1 AS v2, ts, created FROM src WHERE v % 2 = 0",
        "SELECT k, v * 2 + 1 AS v2, ts FROM data WHERE v % 2 = 0",
    ),
    "tumble": (
        "SELECT k, window_start, window_end, COUNT(*) AS cnt, SUM(v) AS total, MAX(v) AS top, "
        "MAX(created) AS created "
        "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
        "GROUP BY window_start, window_end, k",
        "SELECT k, time_bucket(INTERVAL 1 SECOND, ts) AS w, count(*), sum(v), max(v) FROM data GROUP BY ALL",
    ),
    "hop": (
        "SELECT k, window_start, window_end, COUNT(*) AS cnt, SUM(v) AS total, MAX(v) AS top, "
        "MAX(created) AS created "
        "FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '4' SECOND)) "
        "GROUP BY window_start, window_end, k",
        "SELECT k, w, count(*), sum(v), max(v) FROM ("
        "  SELECT k, v, time_bucket(INTERVAL 1 SECOND, ts) - to_seconds(i) AS w"
        "  FROM data, range(4) r(i)) GROUP BY ALL",
    ),
    "session": (
        "SELECT k, window_start, window_end, COUNT(*) AS cnt, SUM(v) AS total, MAX(v) AS top, "
        "MAX(created) AS created "
        "FROM TABLE(SESSION(TABLE src PARTITION BY k, DESCRIPTOR(ts), INTERVAL '100' MILLISECONDS)) "
        "GROUP BY window_start, window_end, k",
        "SELECT k, s, count(*), sum(v), max(v) FROM ("
        "  SELECT k, v, sum(gap) OVER (PARTITION BY k ORDER BY ts) AS s FROM ("
        "    SELECT k, v, ts,"
        "      (ts - lag(ts) OVER (PARTITION BY k ORDER BY ts) > INTERVAL 100 MILLISECOND)::INT AS gap"
        "    FROM data)) GROUP BY ALL",
    ),
    "rollup": (
        "SELECT k, window_start, window_end, COUNT(*) AS cnt, SUM(v) AS total, MAX(v) AS top, "
        "MAX(created) AS created "
        "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
        "GROUP BY window_start, window_end, ROLLUP (k)",
        "SELECT k, time_bucket(INTERVAL 1 SECOND, ts) AS w, count(*), sum(v), max(v) FROM data "
        "GROUP BY w, ROLLUP (k)",
    ),
    "topn": (
        "SELECT k, v, created FROM src ORDER BY v DESC LIMIT 10",
        "SELECT k, v FROM data ORDER BY v DESC LIMIT 10",
    ),
    "group": (
        "SELECT k, COUNT(*) AS cnt, SUM(v) AS total, MAX(created) AS created FROM src GROUP BY k",
        "SELECT k, count(*), sum(v) FROM data GROUP BY k",
    ),
    "join": (
        "SELECT p.id, p.city, a.seq AS auction, a.created FROM src a JOIN person p ON a.k = p.id "
        "WHERE a.v % 10 = 0 AND p.city < 50",
        "SELECT p.id, p.city, a.seq FROM data a JOIN "
        "(SELECT range AS id, range % 100 AS city FROM range(10000)) p ON a.k = p.id "
        "WHERE a.v % 10 = 0 AND p.city < 50",
    ),
    "interval": (
        "SELECT a.k, a.seq AS auction, b.seq AS bid, a.created FROM src a JOIN bid b ON a.k = b.k "
        "AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' MILLISECOND",
        "SELECT a.k, a.seq, b.seq FROM data a JOIN data b ON a.k = b.k "
        "AND b.ts BETWEEN a.ts AND a.ts + INTERVAL 10 MILLISECOND",
    ),
}
LATENCIES: list[float] = []


class LatencySink(SinkWriter):
    """The blackhole, also noting how old each batch's newest ``created`` stamp is."""

    async def write(self, batch: pa.RecordBatch) -> None:
        self.rows_written += batch.num_rows
        if "created" in batch.schema.names and batch.num_rows:
            newest = pc.max(batch.column("created")).as_py()
            if newest is not None:
                LATENCIES.append(time.time() - newest.timestamp())


def source_ddl(args: argparse.Namespace, path: Path | None, name: str = "src") -> str:
    columns = (
        "k BIGINT, v BIGINT, seq BIGINT, "
        f"ts AS TO_TIMESTAMP_LTZ({T0_MS} + seq / {args.rows_per_ms}, 3), created AS PROCTIME(), "
        "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND"
    )
    if path is not None:
        fmt = path.suffix.lstrip(".")
        options = f"'connector' = 'filesystem', 'path' = '{path}', 'format' = '{fmt}'"
        return f"CREATE TABLE {name} ({columns}) WITH ({options})"
    return (
        f"CREATE TABLE {name} ({columns}) WITH ('connector' = 'datagen', 'number-of-rows' = '{args.rows}', "
        f"'rows-per-second' = '1000000000', 'sqlstream.seed' = '7', "
        f"'fields.k.min' = '0', 'fields.k.max' = '{args.keys - 1}', "
        "'fields.v.min' = '0', 'fields.v.max' = '999', "
        f"'fields.seq.kind' = 'sequence', 'fields.seq.start' = '0', 'fields.seq.end' = '{args.rows - 1}')"
    )


def generate(args: argparse.Namespace) -> pa.Table:
    """The rows the datagen table above produces, materialised (for DuckDB and files)."""
    cat = Catalog()
    for stmt in planner.parse(source_ddl(args, None)):
        cat.create(planner.create_table(stmt, cat))
    plan = planner.plan("SELECT k, v, seq FROM src", cat)

    async def collect() -> pa.Table:
        job = Job(plan)
        return pa.Table.from_batches([b async for b in job.results()])

    data = asyncio.run(collect())
    ts = (
        pc.cast(pc.add(pc.divide(data.column("seq"), args.rows_per_ms), T0_MS), pa.int64())
        .cast(pa.timestamp("ms"))
        .cast(pa.timestamp("us"))
    )
    return data.append_column("ts", ts)


def run_sqlstream(args: argparse.Namespace, path: Path | None) -> tuple[float, dict[str, Any]]:
    register_sink("blackhole", LatencySink)
    query = QUERIES[args.query][0]
    cat = Catalog()
    fields = {
        "projection": "k BIGINT, v2 BIGINT, ts TIMESTAMP_LTZ(3), created TIMESTAMP_LTZ(3)",
        "group": "k BIGINT, cnt BIGINT, total BIGINT, created TIMESTAMP_LTZ(3), PRIMARY KEY (k) NOT ENFORCED",
        "join": "id BIGINT, city BIGINT, auction BIGINT, created TIMESTAMP_LTZ(3)",
        "interval": "k BIGINT, auction BIGINT, bid BIGINT, created TIMESTAMP_LTZ(3)",
        "topn": "k BIGINT, v BIGINT, created TIMESTAMP_LTZ(3)",
    }.get(
        args.query,
        "k BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), cnt BIGINT, total BIGINT, "
        "top BIGINT, created TIMESTAMP_LTZ(3)",
    )
    person = (
        "CREATE TABLE person (id BIGINT, city AS id % 100) WITH ('connector' = 'datagen', "
        f"'number-of-rows' = '{args.keys}', 'rows-per-second' = '1000000000', "
        f"'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '{args.keys - 1}');"
    )
    for stmt in planner.parse(
        f"{source_ddl(args, path)}; {source_ddl(args, path, 'bid')}; {person} "
        f"CREATE TABLE out ({fields}) WITH ('connector' = 'blackhole')"
    ):
        cat.create(planner.create_table(stmt, cat))
    config = {
        "parallelism.default": str(args.parallelism),
        "table.exec.state.ttl": args.ttl,
        "execution.runtime-mode": args.mode,
        "sqlstream.batch.one-query": str(not args.no_one_query).lower(),
    }
    plan = planner.plan(f"INSERT INTO out {query}", cat, config)
    job = Job(plan)
    t0, cpu0 = time.perf_counter(), time.process_time()
    asyncio.run(job.run())
    metrics = job.metrics()
    metrics["cpu_s"] = time.process_time() - cpu0
    return time.perf_counter() - t0, metrics


def reset_peak_rss() -> None:
    """Forget the peak so far (Linux): the rows the benchmark made for DuckDB are not ours."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def duckdb_rows_per_s(args: argparse.Namespace, data: pa.Table | None, path: Path | None) -> float:
    con = duckdb.connect(config={"threads": 2})
    sql = QUERIES[args.query][1].replace("range(10000)", f"range({args.keys})")
    t0 = time.perf_counter()
    if path is None:
        assert data is not None
        con.register("data", data)
    else:
        ts = f"make_timestamp(({T0_MS} + seq // {args.rows_per_ms}) * 1000) AS ts"
        reader = (
            f"read_json('{path}', columns = {{k: 'BIGINT', v: 'BIGINT', seq: 'BIGINT'}})"
            if path.suffix == ".json"
            else f"read_parquet('{path}')"
        )
        con.execute(f"CREATE VIEW data AS SELECT k, v, seq, {ts} FROM {reader}")
    con.sql(sql).to_arrow_table()
    inputs = 2 if args.query == "interval" else 1  # the interval join reads the rows twice
    return inputs * args.rows / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("query", choices=sorted(QUERIES))
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument(
        "--rows-per-ms", type=int, default=1000, help="event time advances 1 ms per this many rows"
    )
    ap.add_argument("--parallelism", "-p", type=int, default=1)
    ap.add_argument("--input", choices=["datagen", "json", "parquet"], default="datagen")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the DuckDB measurement")
    ap.add_argument("--ttl", default="0", help="table.exec.state.ttl (the join's state; 0: none)")
    ap.add_argument(
        "--mode", choices=["streaming", "batch"], default="streaming", help="execution.runtime-mode"
    )
    ap.add_argument(
        "--no-one-query",
        action="store_true",
        help="batch mode through the streaming operators, not one DuckDB query",
    )
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path: Path | None = None
        data = generate(args) if args.input != "datagen" else None
        if args.input != "datagen":
            path = Path(tmp) / f"rows.{args.input}"
            con = duckdb.connect()
            assert data is not None
            con.register("rows", data.select(["k", "v", "seq"]))
            fmt = "(FORMAT json)" if args.input == "json" else "(FORMAT parquet)"
            con.execute(f"COPY rows TO '{path}' {fmt}")
            del con
        rows_for_duckdb = data if not args.no_ceiling and path is None else None
        del data
        reset_peak_rss()
        seconds, m = run_sqlstream(args, path)
        rss_mb = peak_rss_mb()
        lat = sorted(LATENCIES)
        result: dict[str, Any] = {
            "query": args.query,
            "mode": args.mode
            + (" (streaming operators)" if args.mode == "batch" and args.no_one_query else ""),
            "input": args.input,
            "parallelism": args.parallelism,
            "rows": m["rows_read"],
            "seconds": round(seconds, 3),
            "rows_per_s": round(m["rows_read"] / seconds),
            "cpu_s": round(m["cpu_s"], 1),
            "rows_per_cpu_s": round(m["rows_read"] / max(m["cpu_s"], 1e-9)),
            "rows_out": m["rows_written"],
            "state_rows": sum(op["state_rows"] for op in m["operators"]),
            "peak_rss_mb": round(rss_mb),
            "p50_latency_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "p99_latency_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
        }
        if not args.no_ceiling:
            if path is None and rows_for_duckdb is None:
                rows_for_duckdb = generate(args)
            ceiling = duckdb_rows_per_s(args, rows_for_duckdb, path)
            result["duckdb_batch_rows_per_s"] = round(ceiling)
            result["share_of_duckdb"] = f"{result['rows_per_s'] / ceiling:.0%}"
    for key, value in result.items():
        print(f"{key:>24}: {value:,}" if isinstance(value, int | float) else f"{key:>24}: {value}")
    return result


if __name__ == "__main__":
    main()
