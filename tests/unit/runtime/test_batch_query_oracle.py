"""Batch mode's fast path (``planner.batch_fusion``): a query over bounded files whose every
operator has a DuckDB equivalent runs as one DuckDB query. Over random inputs (duplicated
and NULL keys) at parallelism 1 and 2, its rows must equal the streaming operators' final
rows (the same query with ``sqlstream.batch.one-query`` = false), and DuckDB's answer
where DuckDB's types are Flink's; what it cannot run keeps the streaming path."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sqlstream
from tests.unit.runtime.test_batch_over_oracle import duckdb_answer, run_batch
from tests.unit.runtime.test_join_oracle import SETTINGS, left_rows

GROUPED = "(SELECT k, COUNT(*) AS v FROM l GROUP BY k)"
# (query, whether DuckDB's answer has Flink's types)
QUERIES = (
    ("SELECT k, COUNT(*), SUM(v), MIN(v), MAX(v) FROM l GROUP BY k", True),
    ("SELECT COUNT(*) AS n, SUM(v) AS s FROM l WHERE v > 5", True),  # one row, also for no input
    (
        "SELECT k, COUNT(DISTINCT v), COUNT(v) FILTER (WHERE v > 3) FROM l GROUP BY k HAVING COUNT(*) > 1",
        True,
    ),
    ("SELECT k, AVG(v), STDDEV_POP(v), VAR_SAMP(v) FROM l GROUP BY k", False),  # INT AVG truncates
    # the distinct values' squares: 2 and -2 are two values, with one square
    (
        "SELECT k, VAR_POP(DISTINCT CAST(v - 4 AS DECIMAL(10, 2))), STDDEV_SAMP(DISTINCT v - 4) "
        "FROM l GROUP BY k",
        False,
    ),
    ("SELECT v, COUNT(*) AS n FROM " + GROUPED + " GROUP BY v", True),  # over an updating input
    ("SELECT k, v % 2, SUM(v) FROM l GROUP BY GROUPING SETS ((k), (v % 2), ())", True),
    ("SELECT k, SUM(v) FROM (SELECT k, v FROM l UNION ALL SELECT v, k FROM l) GROUP BY k", True),
    ("SELECT DISTINCT k FROM l", True),
    ("SELECT k, COUNT(*) AS n FROM l GROUP BY k ORDER BY n DESC, k NULLS FIRST LIMIT 2", True),
    ("SELECT k, v, RANK() OVER (PARTITION BY k ORDER BY v) FROM " + GROUPED, True),
)


@settings(SETTINGS, max_examples=8)
@pytest.mark.parametrize(("query", "typed"), QUERIES)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
@example(rows=[(None, 0), (None, 4), (None, 6), (None, 0)], parallelism=1, batch=1)  # VAR_SAMP 9, not 8
def test_one_query_equals_the_streaming_operators_and_duckdb(
    query: str, typed: bool, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    fast = run_batch(rows, query, parallelism, batch, one_query=True)
    assert Counter(fast) == Counter(run_batch(rows, query, parallelism, batch, one_query=False))
    # over no rows, DuckDB's GROUPING SETS answer the () set with a row; Flink's plan (Expand,
    # then an aggregate keyed by the set's id) and ours answer nothing
    if typed and (rows or "GROUPING SETS" not in query):
        assert Counter(fast) == duckdb_answer(rows, query)
    if " LIMIT " in query:  # and in the order asked for
        assert fast == sorted(fast, key=lambda r: (-r[1], r[0] is not None, r[0] or 0))


def explain(sql: str) -> str:
    s = sqlstream.connect(config={"execution.runtime-mode": "batch", "parallelism.default": "2"})
    try:
        s.execute("CREATE TABLE t (k INT, v INT) WITH ('connector' = 'datagen', 'number-of-rows' = '9')")
        s.execute("CREATE TABLE u (k INT, w INT) WITH ('connector' = 'datagen', 'number-of-rows' = '9')")
        return s.execute(f"EXPLAIN {sql}").message or ""
    finally:
        s.close()


def test_explain_shows_the_one_query_and_what_it_stands_for() -> None:
    text = explain("SELECT k, COUNT(*) FROM t WHERE v > 0 GROUP BY k ORDER BY k LIMIT 3")
    assert "BatchQuery(operators=[Calc, GroupAggregate, Calc, SortLimit]" in text
    assert "emit=[at end of input]" in text
    assert "TableSourceScan(table=[t]" in text  # the source still reads as it always does


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT t.k, COUNT(*) FROM t JOIN u ON t.k = u.k GROUP BY t.k",  # a join
        "SELECT k, v * 2 FROM t WHERE v > 0",  # nothing stateful: it streams
    ],
)
def test_what_one_query_does_not_cover_keeps_the_streaming_operators(sql: str) -> None:
    assert "BatchQuery" not in explain(sql)
