"""Correctness oracle for STDDEV_POP/SAMP and VAR_POP/SAMP, over an append-only input and
over an updating one (a GROUP BY over a GROUP BY, whose -U/+U pairs retract values): random
bounded inputs with duplicated and NULL keys, run through SQL by the Session in small
batches at parallelism 1 and 2; the applied changelog must equal DuckDB's batch answer.

DOUBLE results are rounded to 6 places and DECIMAL ones are Flink's DECIMAL(38, 6), so the
order in which each engine met the values (Welford's method is exact only up to the last
bits) does not show; the sample variants' denominators n(n - 1) never put an answer of
small integers on a rounding tie."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS, check, left_rows

INNER = "(SELECT k, SUM(v) AS s, COUNT(*) AS n, MAX(v) AS m FROM l GROUP BY k)"

QUERIES = (
    # over the append-only input
    "SELECT k, ROUND(STDDEV_POP(CAST(v AS DOUBLE)), 6), ROUND(VAR_SAMP(CAST(v AS DOUBLE)), 6), "
    "CAST(STDDEV_SAMP(CAST(v AS DECIMAL(10, 2))) AS DECIMAL(38, 6)) FROM l GROUP BY k",
    # over retractions: each new row of a key retracts its previous (s, n, m)
    f"SELECT n, ROUND(STDDEV_POP(CAST(s AS DOUBLE)), 6), ROUND(VAR_SAMP(CAST(s AS DOUBLE)), 6), "
    f"COUNT(*) FROM {INNER} g GROUP BY n",
    f"SELECT m % 2 AS p, CAST(VAR_SAMP(CAST(s AS DECIMAL(10, 2))) AS DECIMAL(38, 6)), "
    f"CAST(STDDEV_SAMP(CAST(s AS DECIMAL(10, 2))) AS DECIMAL(38, 6)) FROM {INNER} g GROUP BY m % 2",
    f"SELECT ROUND(STDDEV_SAMP(CAST(s AS DOUBLE)) FILTER (WHERE n > 1), 6), "
    f"ROUND(VAR_SAMP(DISTINCT CAST(m AS DOUBLE)), 6) FROM {INNER} g HAVING COUNT(*) > 0",
)


@settings(SETTINGS, max_examples=15)
@pytest.mark.parametrize("query", QUERIES)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_variances_over_retractions_equal_duckdb(
    query: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    check(rows, [], query, parallelism, batch)
