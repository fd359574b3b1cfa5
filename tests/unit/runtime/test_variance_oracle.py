"""Correctness oracle for STDDEV_POP/SAMP and VAR_POP/SAMP, over an append-only input and
over an updating one (a GROUP BY over a GROUP BY, whose -U/+U pairs retract values): random
bounded inputs with duplicated and NULL keys, run through SQL by the Session in small
batches at parallelism 1 and 2; the applied changelog must equal DuckDB's batch answer.

DOUBLE results are rounded to 6 places and DECIMAL ones are Flink's DECIMAL(38, 6), so the
order in which each engine met the values (Welford's method is exact only up to the last
bits) does not show; the sample variants' denominators n(n - 1) never put an answer of
small integers on a rounding tie."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_batch_over_oracle import duckdb_rows, run_batch
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


# An integer's variance is its exact value truncated, whatever order the values came in
# (Welford's in a double gave 8 for 0, 4, 6, 0's VAR_SAMP of 9 in one order): each query,
# with its variances as lists of values, is what DuckDB answers and Python computes.
INTEGRAL = (
    (
        "SELECT k, VAR_SAMP(v), VAR_POP(v), STDDEV_SAMP(v), STDDEV_POP(DISTINCT v) FROM l GROUP BY k",
        "SELECT k, list(v), list(v), list(v), list(DISTINCT v) FROM l GROUP BY k",
    ),
    (  # n is a BIGINT (a COUNT), s an INT; over retractions
        f"SELECT m, VAR_SAMP(n), STDDEV_POP(s), VAR_POP(DISTINCT s) FROM {INNER} g GROUP BY m",
        f"SELECT m, list(n), list(s), list(DISTINCT s) FROM {INNER} g GROUP BY m",
    ),
)


def exact(func: str, values: list[int]) -> int | None:
    xs = [x for x in values if x is not None]
    n = len(xs)
    if n <= (1 if func.endswith("samp") else 0):
        return None
    spread = n * sum(x * x for x in xs) - sum(xs) ** 2
    variance = spread // (n * (n - 1) if func.endswith("samp") else n * n)
    return math.isqrt(variance) if func.startswith("stddev") else variance


@settings(SETTINGS, max_examples=15)
@pytest.mark.parametrize(("query", "lists"), INTEGRAL)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6), one_query=st.booleans())
@example(rows=[(None, 0), (None, 4), (None, 6), (None, 0)], parallelism=1, batch=1, one_query=False)
@example(rows=[(None, 6), (None, 0), (None, 4), (None, 0)], parallelism=1, batch=1, one_query=True)
def test_integer_variances_are_exact(
    query: str, lists: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int, one_query: bool
) -> None:
    funcs = [f.lower() for f in re.findall(r"((?:VAR|STDDEV)_\w+)\(", query)]
    expected = Counter(
        (r[0], *(exact(f, values) for f, values in zip(funcs, r[1:], strict=True)))
        for r in duckdb_rows(rows, lists)
    )
    if one_query:  # batch mode, as one DuckDB query (planner.batch_fusion)
        assert Counter(run_batch(rows, query, parallelism, batch, one_query=True)) == expected
    else:
        check(rows, [], query, parallelism, batch, expected=expected)
