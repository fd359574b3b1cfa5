"""Throughput benchmark: source -> query -> blackhole, as a Job, against DuckDB's ceiling.

    .venv/bin/python benchmarks/run.py tumble --rows 5000000
    .venv/bin/python benchmarks/run.py projection --rows 10000000 --source datagen

Prints rows/s (rows read over the job's wall time), peak RSS, p50/p99 latency of result
batches (time from the newest contributing row's creation to the sink), and the rows/s of
DuckDB running the same computation as one batch query over the same rows (the ceiling).

Queries: projection (projection + filter), tumble / hop / session (window count, sum, max
over ``--keys`` keys, 1 s windows), group (unwindowed GROUP BY, changelog out).
The default source ``bench`` makes batches with numpy (keys uniform over ``--keys``,
event time advancing 1 ms per ``--rows-per-ms`` rows, in order); ``--source datagen``
uses the datagen connector instead (wall-clock timestamps).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.connectors import ChangelogMode
from planner.physical import (
    AggCall,
    CalcSpec,
    Edge,
    Field,
    GroupAggregateSpec,
    Node,
    OperatorSpec,
    Partitioning,
    PhysicalPlan,
    SinkSpec,
    SourceSpec,
    WatermarkSpec,
    Window,
    WindowAggregateSpec,
)
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext
from runtime.connectors.registry import register_sink, register_source
from runtime.job import Job

FIELDS = (
    Field("k", "BIGINT"),
    Field("v", "BIGINT"),
    Field("ts", "TIMESTAMP(3)", "rowtime"),
    Field("emit", "DOUBLE"),
)
LATENCIES: list[float] = []


class BenchSource(SourceReader):
    """Rows ``number-of-rows`` split over subtasks; ``emit`` = creation time (s)."""

    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        total = int(spec.options["number-of-rows"])
        self.keys = int(spec.options.get("keys", "10000"))
        self.per_ms = int(spec.options.get("rows-per-ms", "1000"))
        self.left = total // ctx.parallelism + (ctx.subtask < total % ctx.parallelism)
        self.pos = 0
        self.rng = np.random.default_rng(ctx.subtask)

    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        n = min(max_rows, self.left)
        idx = np.arange(self.pos, self.pos + n, dtype=np.int64)
        k = self.rng.integers(0, self.keys, n, dtype=np.int64)
        v = self.rng.integers(0, 1000, n, dtype=np.int64)
        ts = (idx // self.per_ms) * 1000 + 1_700_000_000_000_000
        emit = np.full(n, time.time())
        self.pos += n
        self.left -= n
        return pa.record_batch(
            [pa.array(k), pa.array(v), pa.array(ts, pa.timestamp("us")), pa.array(emit)],
            names=["k", "v", "ts", "emit"],
        )

    @property
    def finished(self) -> bool:
        return self.left <= 0


class BenchSink(SinkWriter):
    async def write(self, batch: pa.RecordBatch) -> None:
        self.rows_written += batch.num_rows
        if "emit" in batch.schema.names:
            newest = pa.compute.max(batch.column("emit")).as_py()
            if newest is not None:
                LATENCIES.append(time.time() - newest)


register_source("bench", BenchSource)
register_sink("bench", BenchSink)


def build(query: str, rows: int, keys: int, p: int, source: str) -> tuple[PhysicalPlan, str]:
    """The plan, and the DuckDB batch SQL of the same computation over table ``data``."""
    nodes: list[Node] = []

    def add(
        name: str,
        spec: OperatorSpec,
        inputs: tuple[Edge, ...],
        schema: tuple[Field, ...],
        changelog: ChangelogMode = ChangelogMode.INSERT_ONLY,
        par: int = p,
    ) -> Node:
        node = Node(len(nodes) + 1, name, spec, inputs, schema, par, changelog)
        nodes.append(node)
        return node

    if source == "bench":
        opts = {"number-of-rows": str(rows), "keys": str(keys)}
    else:
        opts = {
            "number-of-rows": str(rows),
            "rows-per-second": str(10**9),
            "fields.k.min": "0",
            "fields.k.max": str(keys - 1),
            "fields.v.min": "0",
            "fields.v.max": "999",
            "fields.ts.max-past": "0",
        }
    fields = FIELDS if source == "bench" else FIELDS[:3]
    src = add("Source", SourceSpec("src", source, opts, fields, bounded=True), (), fields)
    sink_fields: tuple[Field, ...]
    if query == "projection":
        proj = [("k", '"k"'), ("v2", '"v" * 2 + 1'), ("ts", '"ts"')]
        if source == "bench":
            proj.append(("emit", '"emit"'))
        sink_fields = (Field("k", "BIGINT"), Field("v2", "BIGINT"), Field("ts", "TIMESTAMP(3)"))
        sink_fields += (Field("emit", "DOUBLE"),) if source == "bench" else ()
        last = add("Calc", CalcSpec(tuple(proj), '"v" % 2 = 0'), (Edge(src.id),), sink_fields)
        ceiling = "SELECT k, v * 2 + 1 AS v2, ts FROM data WHERE v % 2 = 0"
        changelog = ChangelogMode.INSERT_ONLY
    elif query in ("tumble", "hop", "session"):
        wm = add(
            "Watermark",
            WatermarkSpec("ts", "\"ts\" - INTERVAL 1 SECOND"),
            (Edge(src.id),),
            fields,
        )
        aggs = [
            AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),
            AggCall("total", "sum", '"v"', "BIGINT"),
            AggCall("top", "max", '"v"', "BIGINT"),
        ]
        if source == "bench":
            aggs.append(AggCall("emit", "max", '"emit"', "DOUBLE"))
        window = {
            "tumble": Window("tumble", "ts", size_ms=1000),
            "hop": Window("hop", "ts", size_ms=4000, slide_ms=1000),
            "session": Window("session", "ts", gap_ms=100),
        }[query]
        ts3 = "TIMESTAMP(3) NOT NULL"
        sink_fields = (
            Field("k", "BIGINT"),
            Field("window_start", ts3),
            Field("window_end", ts3),
            Field("window_time", ts3),
            *(Field(a.name, a.type) for a in aggs),
        )
        edge = Edge(wm.id, Partitioning.HASH, ("k",)) if p > 1 else Edge(wm.id)
        last = add("WindowAggregate", WindowAggregateSpec(window, ("k",), tuple(aggs)), (edge,), sink_fields)
        bucket = {
            "tumble": "time_bucket(INTERVAL 1 SECOND, ts)",
            "hop": "time_bucket(INTERVAL 1 SECOND, ts)",  # a lower bound for hop's 4x fan-out
            "session": "time_bucket(INTERVAL 1 SECOND, ts)",
        }[query]
        ceiling = f"SELECT k, {bucket} AS w, count(*), sum(v), max(v) FROM data GROUP BY ALL"
        changelog = ChangelogMode.INSERT_ONLY
    elif query == "group":
        aggs = [
            AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),
            AggCall("total", "sum", '"v"', "BIGINT"),
        ]
        sink_fields = (Field("k", "BIGINT"), *(Field(a.name, a.type) for a in aggs))
        edge = Edge(src.id, Partitioning.HASH, ("k",)) if p > 1 else Edge(src.id)
        last = add(
            "GroupAggregate",
            GroupAggregateSpec(("k",), tuple(aggs)),
            (edge,),
            sink_fields,
            ChangelogMode.ALL,
        )
        ceiling = "SELECT k, count(*), sum(v) FROM data GROUP BY k"
        changelog = ChangelogMode.ALL
    else:
        raise SystemExit(f"unknown query {query!r}")
    sink = "bench" if source == "bench" else "blackhole"
    add(
        "Sink",
        SinkSpec("out", sink, {"connector": sink}, sink_fields),
        (Edge(last.id),),
        sink_fields,
        changelog,
    )
    return PhysicalPlan(tuple(nodes), name=f"bench-{query}"), ceiling


def ceiling_rows_per_s(sql: str, rows: int, keys: int) -> float:
    import duckdb

    rng = np.random.default_rng(0)
    idx = np.arange(rows, dtype=np.int64)
    data = pa.table(
        {
            "k": rng.integers(0, keys, rows, dtype=np.int64),
            "v": rng.integers(0, 1000, rows, dtype=np.int64),
            "ts": pa.array((idx // 1000) * 1000 + 1_700_000_000_000_000, pa.timestamp("us")),
        }
    )
    con = duckdb.connect(config={"threads": 2})
    con.register("data", data)
    t0 = time.perf_counter()
    con.sql(sql).to_arrow_table()
    return rows / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("query", choices=["projection", "tumble", "hop", "session", "group"])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--parallelism", "-p", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--source", choices=["bench", "datagen"], default="bench")
    ap.add_argument("--no-ceiling", action="store_true")
    args = ap.parse_args(argv)
    plan, ceiling_sql = build(args.query, args.rows, args.keys, args.parallelism, args.source)
    config = {"sqlstream.runtime.batch-size": str(args.batch_size)}
    job = Job(plan, config=config)
    t0 = time.perf_counter()
    asyncio.run(job.run())
    secs = time.perf_counter() - t0
    m = job.metrics()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lat = sorted(LATENCIES)
    result: dict[str, Any] = {
        "query": args.query,
        "rows": m["rows_read"],
        "seconds": round(secs, 3),
        "rows_per_s": round(m["rows_read"] / secs),
        "rows_out": m["rows_written"],
        "peak_rss_mb": round(rss_mb),
        "p50_latency_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "p99_latency_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
    }
    if not args.no_ceiling:
        result["duckdb_batch_rows_per_s"] = round(ceiling_rows_per_s(ceiling_sql, args.rows, args.keys))
    for key, value in result.items():
        print(f"{key:>24}: {value:,}" if isinstance(value, int | float) else f"{key:>24}: {value}")
    return result


if __name__ == "__main__":
    main()
