"""Correctness oracle for MIN, MAX and DISTINCT aggregates over an updating input (a GROUP BY
over a GROUP BY): random bounded inputs with duplicated and NULL keys, run through SQL by
the Session in small batches at parallelism 1 and 2; the applied changelog must equal
DuckDB's batch answer, so a retracted MIN/MAX gives way to the next value and a DISTINCT
value leaves when its last row is retracted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS, check, left_rows

# the inner GROUP BY's results change with every row, so the outer one sees -U/+U pairs
INNER = "(SELECT k, SUM(v) AS s, COUNT(*) AS n, MAX(v) AS m FROM l GROUP BY k)"

QUERIES = (
    f"SELECT n, MIN(s), MAX(s), MIN(k), MAX(m) FROM {INNER} g GROUP BY n",
    f"SELECT n % 2 AS p, COUNT(DISTINCT s), SUM(DISTINCT m), COUNT(*), AVG(DISTINCT CAST(s AS DOUBLE)) "
    f"FROM {INNER} g GROUP BY n % 2",
    # no key: a streaming GROUP BY of no rows has no row (HAVING gives DuckDB the same)
    f"SELECT MIN(s), MAX(k), COUNT(DISTINCT n), SUM(DISTINCT s) FROM {INNER} g HAVING COUNT(*) > 0",
    f"SELECT m, MIN(s) FILTER (WHERE n > 1), COUNT(DISTINCT k) FILTER (WHERE s > 3) "
    f"FROM {INNER} g GROUP BY m",
)


@settings(SETTINGS, max_examples=20)
@pytest.mark.parametrize("query", QUERIES)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_min_max_distinct_over_retractions_equal_duckdb(
    query: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    check(rows, [], query, parallelism, batch)
