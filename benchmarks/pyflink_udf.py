"""The queries of ``benchmarks/udf.py`` in PyFlink, for the side-by-side figures of issue #15.

Run by Flink's own Python (``scripts/flink-oracle`` installs it into
``.cache/flink-oracle/venv``), never by the project's venv:

    .cache/flink-oracle/venv/bin/python benchmarks/pyflink_udf.py --rows 1000000 builtin row

Each query is one job, datagen -> blackhole at parallelism 1, timed from submission to its
end (so a job's start-up, a few seconds, is in every figure: ``builtin`` shows how much).
Flink runs Python functions in a separate Python worker fed over gRPC (Beam's fn API).
"""

from __future__ import annotations

import argparse
import time

from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment
from pyflink.table.udf import AggregateFunction, udaf, udf, udtf

QUERIES = {
    "builtin": "SELECT k, v + 1 AS v2 FROM src",
    "vectorized": "SELECT k, plus_one_pandas(v) AS v2 FROM src",
    "row": "SELECT k, plus_one(v) AS v2 FROM src",
    "udtf": "SELECT k, x AS v2 FROM src, LATERAL TABLE(next_one(v)) AS T(x)",
    "udaf": "SELECT k, py_sum(v) AS v2 FROM src GROUP BY k",
    "builtin-agg": "SELECT k, SUM(v) AS v2 FROM src GROUP BY k",
}


class PySum(AggregateFunction):
    def create_accumulator(self) -> list[int]:
        return [0]

    def accumulate(self, acc: list[int], v: int) -> None:
        acc[0] += v

    def retract(self, acc: list[int], v: int) -> None:
        acc[0] -= v

    def get_value(self, acc: list[int]) -> int:
        return acc[0]


def next_one(v: int):  # type: ignore[no-untyped-def]
    yield v + 1


def run(name: str, rows: int) -> float:
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", "1")
    env.create_temporary_function("plus_one", udf(lambda v: v + 1, result_type=DataTypes.BIGINT()))
    env.create_temporary_function(
        "plus_one_pandas", udf(lambda v: v + 1, result_type=DataTypes.BIGINT(), func_type="pandas")
    )
    env.create_temporary_function("next_one", udtf(next_one, result_types=[DataTypes.BIGINT()]))
    acc_type = DataTypes.ARRAY(DataTypes.BIGINT())
    env.create_temporary_function(
        "py_sum", udaf(PySum(), result_type=DataTypes.BIGINT(), accumulator_type=acc_type)
    )
    env.execute_sql(
        "CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'datagen', "
        f"'number-of-rows' = '{rows}', 'rows-per-second' = '1000000000', 'fields.k.min' = '0', "
        "'fields.k.max' = '9999', "
        "'fields.v.min' = '0', 'fields.v.max' = '999')"
    )
    env.execute_sql("CREATE TABLE sink (k BIGINT, v2 BIGINT) WITH ('connector' = 'blackhole')")
    t0 = time.perf_counter()
    env.execute_sql(f"INSERT INTO sink {QUERIES[name]}").wait()
    return rows / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("queries", nargs="*", default=list(QUERIES), choices=sorted(QUERIES))
    args = ap.parse_args()
    for name in args.queries:
        print(f"{'pyflink ' + name:>24}: {run(name, args.rows):,.0f} rows/s", flush=True)


if __name__ == "__main__":
    main()
