"""Correctness oracle for joins without an equality (a cross join, ON l.v < r.w) and for
scalar subqueries (planned as a LEFT JOIN ON TRUE with a global aggregate, or, correlated,
on the key of the aggregate grouped by it; in a query that aggregates, joined to its
aggregate's rows): random bounded
inputs with NULLs, append-only or updating, in small batches at parallelism 1 and 2 (the
join itself runs on one subtask); the applied changelog must equal DuckDB's answer."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS, check, left_rows, right_rows

LEFT = {"append": "l", "updating": "(SELECT k, COUNT(*) AS v FROM l GROUP BY k)"}
QUERIES = (
    "SELECT g.k, v, r.k AS rk, w FROM {l} g, r",
    "SELECT g.k, v, r.k AS rk, w FROM {l} g CROSS JOIN r WHERE g.v <= r.w",
    "SELECT g.k, v, r.k AS rk, w FROM {l} g JOIN r ON g.v < r.w",
    "SELECT g.k, v, r.k AS rk, w FROM {l} g LEFT JOIN r ON g.v > r.w + 1 OR g.k = r.k",
    "SELECT g.k, v, r.k AS rk, w FROM {l} g RIGHT JOIN r ON g.k <> r.k AND g.v < 5",
    "SELECT g.k, v, r.k AS rk, w FROM {l} g FULL OUTER JOIN r ON g.v - r.w > 2",
    "SELECT k, v FROM {l} g WHERE v > (SELECT MIN(w) FROM r)",
    "SELECT k, v, (SELECT MAX(w) FROM r WHERE w > 4) AS m FROM {l} g",
    "SELECT k, v - (SELECT SUM(w) FROM r) AS d FROM {l} g WHERE k IS NOT NULL",
    # correlated: grouped by the inner key and joined on it; COUNT of no rows is 0
    "SELECT k, v, (SELECT MAX(w) FROM r WHERE r.k = g.k) AS m FROM {l} g",
    "SELECT k, v, (SELECT COUNT(*) FROM r WHERE r.k = g.k AND r.w > 3) AS n FROM {l} g",
    "SELECT k, v FROM {l} g WHERE v <= (SELECT MIN(w) FROM r WHERE g.k = r.k)",
    # correlated by other comparisons: the outer rows' distinct values joined with the
    # subquery's rows, aggregated per value and joined back on it (NULL values join nothing)
    "SELECT k, v, (SELECT MAX(w) FROM r WHERE r.w < g.v) AS m FROM {l} g",
    "SELECT k, v, (SELECT COUNT(*) FROM r WHERE r.w BETWEEN g.v AND g.v + 3 AND r.k <> 2) AS n FROM {l} g",
    "SELECT k, v FROM {l} g WHERE v < (SELECT SUM(w) FROM r WHERE r.k > g.k) AND k > 0",
    # in a query that aggregates: joined to the aggregate's rows, updating with both sides
    "SELECT k, COUNT(*) AS n, SUM(v) - (SELECT MAX(w) FROM r) AS d FROM {l} g GROUP BY k",
    "SELECT k, SUM(v) AS s FROM {l} g GROUP BY k HAVING SUM(v) > (SELECT AVG(w) FROM r)",
)


@settings(SETTINGS, max_examples=40)
@given(
    left=left_rows,
    right=right_rows,
    query=st.sampled_from(QUERIES),
    left_kind=st.sampled_from(sorted(LEFT)),
    parallelism=st.sampled_from([1, 2]),
    batch=st.integers(1, 6),
)
def test_joins_without_an_equality_and_scalar_subqueries_equal_duckdb(
    left: list[tuple[Any, ...]],
    right: list[tuple[Any, ...]],
    query: str,
    left_kind: str,
    parallelism: int,
    batch: int,
) -> None:
    check(left, right, query.format(l=LEFT[left_kind]), parallelism, batch)


def test_a_scalar_subquery_over_no_rows_is_null_for_every_row() -> None:
    """Flink: an aggregate over no rows gives no row in streaming mode, and the LEFT JOIN
    pads it with NULL, as SQL's scalar subquery over no rows is NULL."""
    log = check([(1, 2), (None, 3)], [], "SELECT k, (SELECT MAX(w) FROM r) AS m FROM l", 1, 1)
    assert Counter(log) == Counter([(0, (1, None)), (0, (None, None))])
