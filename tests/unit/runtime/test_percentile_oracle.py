"""Correctness oracle for PERCENTILE in a streaming GROUP BY: over an append-only input and
over an updating one (a GROUP BY over a GROUP BY, whose -U/+U pairs retract values), with
DISTINCT, FILTER and a frequency, random bounded inputs with duplicated and NULL keys, in
small batches at parallelism 1 and 2. The applied changelog must equal DuckDB's batch
answer (``quantile_cont``, the same linear interpolation as Flink's PercentileAggFunction,
whose answers on the corpus are in tests/oracle/corpus/percentile.sql); results are
rounded to 6 places, as the two engines may meet the values in another order."""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS, left_rows
from tests.unit.runtime.test_ordered_agg_oracle import hashable, run

INNER = "(SELECT k, SUM(v) AS s, COUNT(*) AS n FROM l GROUP BY k)"

# (sqlstream's query, DuckDB's): each row of ``l`` weighs (v % 3) in the frequency cases,
# which DuckDB's answer spells out by repeating the row
CASES = (
    (
        "SELECT k, ROUND(PERCENTILE(v, 0.5), 6), PERCENTILE(v, ARRAY[0.0, 0.3, 1.0]), "
        "ROUND(PERCENTILE(DISTINCT v, 0.75), 6) FROM l GROUP BY k",
        "SELECT k, round(quantile_cont(v::DOUBLE, 0.5), 6), quantile_cont(v::DOUBLE, [0.0, 0.3, 1.0]), "
        "round(quantile_cont(DISTINCT v::DOUBLE, 0.75), 6) FROM l GROUP BY k",
    ),
    (
        "SELECT k, ROUND(PERCENTILE(v, 0.4, v % 3), 6), ROUND(PERCENTILE(v, 0.5) FILTER (WHERE v > 4), 6) "
        "FROM l GROUP BY k",
        "SELECT k, round(quantile_cont(v::DOUBLE, 0.4) FILTER (WHERE w), 6), "
        "round(quantile_cont(v::DOUBLE, 0.5) FILTER (WHERE v > 4 AND i = 0), 6) "
        "FROM (SELECT *, i < v % 3 AS w FROM l, range(3) AS r(i)) GROUP BY k",
    ),
    (  # over retractions: each new row of a key retracts its previous (s, n)
        f"SELECT n, ROUND(PERCENTILE(s, 0.5), 6), ROUND(PERCENTILE(DISTINCT s, 0.25), 6), COUNT(*) "
        f"FROM {INNER} g GROUP BY n",
        f"SELECT n, round(quantile_cont(s::DOUBLE, 0.5), 6), "
        f"round(quantile_cont(DISTINCT s::DOUBLE, 0.25), 6), count(*) FROM {INNER} g GROUP BY n",
    ),
    (
        f"SELECT ROUND(PERCENTILE(s, 0.5, n), 6), PERCENTILE(n, ARRAY[0.5, 0.9]) FROM {INNER} g "
        "HAVING COUNT(*) > 0",
        f"SELECT round(quantile_cont(s::DOUBLE, 0.5) FILTER (WHERE i < n), 6), "
        f"quantile_cont(n::DOUBLE, [0.5, 0.9]) FILTER (WHERE i = 0) "
        f"FROM {INNER} g, range((SELECT coalesce(max(n), 0) FROM {INNER})) AS r(i) HAVING count(*) > 0",
    ),
)


@settings(SETTINGS, max_examples=12)
@pytest.mark.parametrize("case", range(len(CASES)))
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_percentile_over_retractions_equals_duckdb(
    case: int, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    ours, theirs = CASES[case]
    con = duckdb.connect()
    schema = pa.schema([("k", pa.int64()), ("v", pa.int64())])
    con.register("l", pa.table({"k": [r[0] for r in rows], "v": [r[1] for r in rows]}, schema=schema))
    assert run(rows, ours, parallelism, batch) == Counter(hashable(r) for r in con.sql(theirs).fetchall())
