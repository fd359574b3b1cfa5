"""Throughput of Python scalar functions through a projection, datagen -> blackhole, at
parallelism 1 (issue #15's targets: vectorized >= 5M rows/s, row-at-a-time >= 1M rows/s).

    .venv/bin/python benchmarks/udf.py --rows 5000000 --repeat 3

Runs three projections over the same generated rows, each a job as a user runs it (SQL
through the planner, the function registered like ``session.create_function``):
    builtin      SELECT k, v + 1 FROM src            (no Python: the ceiling)
    vectorized   SELECT k, plus_one_arrow(v) ...     (@udf(func_type='arrow'), pyarrow.compute)
    row          SELECT k, plus_one(v) ...           (a plain annotated function, per row)
    udtf         SELECT k, x FROM src, LATERAL TABLE(next_one(v)) AS T(x)  (@udtf, a row each)
    udaf         SELECT k, py_sum(v) FROM src GROUP BY k     (@udaf, 10,000 keys)
    builtin-agg  SELECT k, SUM(v) FROM src GROUP BY k        (its ceiling)
(the last three report input rows per second), each as rows per wall-clock second and per
CPU-second of the process (all its threads: on a machine shared with other work the CPU
figure is the steadier one), and then the row function through DuckDB's
own per-row ("native") Python UDFs against our Arrow loop over the same column, in DuckDB
alone, to show which mechanism is faster.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planner
from catalog import Catalog
from runtime import udf as runtime_udf
from runtime.connectors.base import SinkWriter
from runtime.connectors.registry import register_sink
from runtime.job import Job
from sqlstream.functions import register
from sqlstream.udf import AggregateFunction, udaf, udf, udtf


def plus_one(v: int) -> int:
    return v + 1


@udf(input_types=["BIGINT"], result_type="BIGINT", func_type="arrow")
def plus_one_arrow(v: pa.Array) -> pa.Array:
    return pc.add(v, 1)


@udtf(result_types="BIGINT")
def next_one(v: int):  # type: ignore[no-untyped-def]
    yield v + 1


class PySum(AggregateFunction):
    def create_accumulator(self) -> list[int]:
        return [0]

    def accumulate(self, acc: list[int], v: int) -> None:
        acc[0] += v

    def retract(self, acc: list[int], v: int) -> None:
        acc[0] -= v

    def get_value(self, acc: list[int]) -> int:
        return acc[0]


QUERIES = {
    "builtin": "SELECT k, v + 1 AS v2 FROM src",
    "vectorized": "SELECT k, plus_one_arrow(v) AS v2 FROM src",
    "row": "SELECT k, plus_one(v) AS v2 FROM src",
    "udtf": "SELECT k, x AS v2 FROM src, LATERAL TABLE(next_one(v)) AS T(x)",
    "udaf": "SELECT k, py_sum(v) AS v2 FROM src GROUP BY k",
    "builtin-agg": "SELECT k, SUM(v) AS v2 FROM src GROUP BY k",
}


class Blackhole(SinkWriter):
    async def write(self, batch: pa.RecordBatch) -> None:
        self.rows_written += batch.num_rows


def run(query: str, rows: int) -> tuple[float, float]:
    """(rows per wall-clock second, rows per CPU second of this process, all its threads)."""
    register_sink("blackhole", Blackhole)
    cat = Catalog()
    register(cat, "plus_one", plus_one)
    register(cat, "plus_one_arrow", plus_one_arrow)
    register(cat, "next_one", next_one)
    register(cat, "py_sum", udaf(PySum()))
    ddl = (
        "CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'datagen', "
        f"'number-of-rows' = '{rows}', 'rows-per-second' = '1000000000', 'sqlstream.seed' = '7', "
        "'fields.k.min' = '0', 'fields.k.max' = '9999', 'fields.v.min' = '0', 'fields.v.max' = '999');"
        "CREATE TABLE out (k BIGINT, v2 BIGINT) WITH ('connector' = 'blackhole')"
    )
    for stmt in planner.parse(ddl):
        cat.create(planner.create_table(stmt, cat))
    plan = planner.plan(f"INSERT INTO out {query}", cat, {"parallelism.default": "1"})
    job = Job(plan)
    t0, c0 = time.perf_counter(), time.process_time()
    asyncio.run(job.run())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert job.metrics()["rows_read"] == rows
    return rows / seconds, rows / cpu


def duckdb_mechanisms(rows: int) -> dict[str, float]:
    """The row function over one BIGINT column in DuckDB: native per-row UDF vs our loop."""
    cat = Catalog()
    fdef = register(cat, "plus_one", plus_one)
    data = pa.table({"v": pa.array(range(rows), pa.int64())})
    out: dict[str, float] = {}
    for name in ("native", "arrow-loop"):
        con = duckdb.connect(config={"threads": 1})
        if name == "native":
            con.create_function("f", plus_one, ["BIGINT"], "BIGINT", null_handling=duckdb.func.SPECIAL)
        else:
            runtime_udf.install(con, [fdef])
            con.execute("CREATE MACRO f(x) AS plus_one(x)")
        con.register("data", data)
        for _ in range(5):  # the best of five, in CPU-seconds: the machine is shared
            c0 = time.process_time()
            con.sql("SELECT sum(f(v)) FROM data").fetchall()
            out[name] = max(out.get(name, 0.0), rows / (time.process_time() - c0))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--only", choices=sorted(QUERIES))
    ap.add_argument("--repeat", type=int, default=1, help="runs of each query; the best is printed")
    ap.add_argument("--no-mechanisms", action="store_true", help="skip DuckDB's native UDF vs our loop")
    args = ap.parse_args(argv)
    for name, query in QUERIES.items():
        if args.only in (None, name):
            runs = [run(query, args.rows) for _ in range(args.repeat)]
            wall, cpu = max(r[0] for r in runs), max(r[1] for r in runs)
            print(f"{name:>24}: {wall:,.0f} rows/s wall, {cpu:,.0f} rows per CPU-second")
    for name, rate in () if args.no_mechanisms else duckdb_mechanisms(min(args.rows, 1_000_000)).items():
        print(f"{'duckdb ' + name:>24}: {rate:,.0f} rows per CPU-second (row function alone, 1 thread)")


if __name__ == "__main__":
    main()
