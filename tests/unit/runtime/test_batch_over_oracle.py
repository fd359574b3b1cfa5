"""Correctness oracle for window functions in batch mode (``execution.runtime-mode`` =
batch): RANK, DENSE_RANK, ROW_NUMBER, LAG, LEAD and aggregates OVER any order and frame, which a
stream refuses, run over random bounded inputs (duplicated and NULL keys, ties) at
parallelism 1 and 2; the final rows must equal DuckDB's answer."""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sqlstream
from catalog.errors import SqlStreamError
from tests.unit.runtime.test_join_oracle import SETTINGS, left_rows, session, write_table

UPDATING = "(SELECT k, COUNT(*) AS v FROM l GROUP BY k)"
QUERIES = (
    "SELECT k, v, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM l",
    "SELECT k, v, DENSE_RANK() OVER (ORDER BY v) AS r FROM l",
    # Top-N by RANK and DENSE_RANK: a filter on the rank around the ranking subquery
    "SELECT * FROM (SELECT k, v, RANK() OVER (PARTITION BY k ORDER BY v) AS r FROM l) WHERE r <= 2",
    "SELECT k, v FROM (SELECT *, DENSE_RANK() OVER (ORDER BY v DESC) AS r FROM l) t WHERE r = 2",
    # ROW_NUMBER unfiltered (a stream refuses it); tied rows are equal rows here
    "SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v NULLS LAST) FROM l",
    # aggregates ordered by a non-time column, default and explicit frames
    "SELECT k, v, SUM(v) OVER (PARTITION BY k ORDER BY v) AS s, COUNT(*) OVER (PARTITION BY k) AS n FROM l",
    "SELECT v, MIN(v) OVER (ORDER BY v ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS lo, "
    "MAX(v) OVER (ORDER BY v DESC ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS hi FROM l",
    "SELECT k, SUM(v) OVER w + 1 AS s, COUNT(v) OVER w AS c FROM l WHERE v > 1 "
    "WINDOW w AS (PARTITION BY k ORDER BY v RANGE BETWEEN 2 PRECEDING AND CURRENT ROW)",
    # LAG and LEAD (a stream refuses LEAD); tied rows are equal rows here too
    "SELECT k, v, LAG(v) OVER (PARTITION BY k ORDER BY v) AS p, "
    "LEAD(v, 2, -1) OVER (ORDER BY k NULLS FIRST, v NULLS FIRST) AS n FROM l",
    "SELECT k, v, LAG(k, 3, 0) OVER (ORDER BY v DESC NULLS LAST, k NULLS LAST) AS p FROM l",
    # over an updating input: its final rows are ranked
    f"SELECT k, v, RANK() OVER (ORDER BY v DESC) AS r FROM {UPDATING}",
    f"SELECT k, v, SUM(v) OVER (ORDER BY k NULLS FIRST) AS s FROM {UPDATING}",
)


def run_batch(
    rows: list[tuple[Any, ...]], query: str, parallelism: int, batch: int, one_query: bool = False
) -> list[tuple[Any, ...]]:
    """The query's rows in batch mode, through the streaming operators or (``one_query``)
    as one DuckDB query (``planner.batch_fusion``)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_table(root, "l", ("k", "v"), rows)
        write_table(root, "r", ("k", "w"), [])
        s = session(root, parallelism, batch)
        try:
            s.execute("SET 'execution.runtime-mode' = 'batch'")
            s.execute(f"SET 'sqlstream.batch.one-query' = '{str(one_query).lower()}'")
            return s.sql(query).fetchall()
        finally:
            s.close()


def duckdb_answer(rows: list[tuple[Any, ...]], query: str) -> Counter[tuple[Any, ...]]:
    return Counter(duckdb_rows(rows, query))


def duckdb_rows(rows: list[tuple[Any, ...]], query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    schema = pa.schema([("k", pa.int64()), ("v", pa.int64())])
    con.register("l", pa.table({"k": [r[0] for r in rows], "v": [r[1] for r in rows]}, schema=schema))
    return con.sql(query).fetchall()


@settings(SETTINGS, max_examples=8)
@pytest.mark.parametrize("query", QUERIES)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6), one_query=st.booleans())
def test_batch_window_functions_equal_duckdb(
    query: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int, one_query: bool
) -> None:
    got = run_batch(rows, query, parallelism, batch, one_query)
    assert Counter(got) == duckdb_answer(rows, query)


def test_integer_avg_over_truncates_as_flinks_does() -> None:
    """AVG of an INT column is an INT in Flink (the sum divided, truncated)."""
    rows = [(1, 1), (1, 2), (1, 2), (2, -3), (2, -4)]
    got = run_batch(rows, "SELECT k, v, AVG(v) OVER (PARTITION BY k) AS a FROM l", 2, 2)
    assert Counter(got) == Counter([(1, 1, 1), (1, 2, 1), (1, 2, 1), (2, -3, -3), (2, -4, -3)])


def flinks_over_variance(frame: list[int], func: str) -> int | None:
    """Flink's variance of INTs OVER a window: reduced to (SUM(x * x) - SUM(x) * SUM(x) /
    COUNT(x)) / COUNT(x) (or COUNT(x) - 1) in INT arithmetic, the divisions truncating, a
    deviation the square root cast to INT."""
    n, total, squares = len(frame), sum(frame), sum(x * x for x in frame)
    denominator = n if func.endswith("POP") else n - 1
    if denominator == 0:
        return None
    variance = int((squares - int(total * total / n)) / denominator)
    return int(math.sqrt(variance)) if func.startswith("STDDEV") else variance


@settings(SETTINGS, max_examples=8)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6), one_query=st.booleans())
@example(rows=[(1, 1), (1, 2)], parallelism=1, batch=1, one_query=True)  # STDDEV_SAMP 1, not 0
def test_variance_over_a_frame_is_flinks_reduced_formula(
    rows: list[tuple[Any, ...]], parallelism: int, batch: int, one_query: bool
) -> None:
    """Not the exact variance (1, 2's STDDEV_SAMP is 0.7, Flink says 1): the values ordered
    by themselves, so that a ROWS frame holds the same values whatever the order of ties."""
    funcs = ("STDDEV_SAMP", "STDDEV_POP", "VAR_SAMP", "VAR_POP")
    calls = ", ".join(f"{f}(v) OVER (ORDER BY v ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)" for f in funcs)
    got = run_batch(rows, f"SELECT v, {calls} FROM l", parallelism, batch, one_query)
    values = sorted(v for _, v in rows)
    frames = [values[max(0, i - 2) : i + 1] for i in range(len(values))]
    assert Counter(got) == Counter((f[-1], *(flinks_over_variance(f, fn) for fn in funcs)) for f in frames)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT RANK() OVER (PARTITION BY k) FROM l", "RANK() needs ORDER BY"),
        ("SELECT RANK() OVER (ORDER BY v ROWS 1 PRECEDING) FROM l", "ROWS/RANGE is not allowed with RANK()"),
        ("SELECT LAG(v) OVER (ORDER BY v ROWS 1 PRECEDING) FROM l", "ROW/RANGE not allowed"),
        ("SELECT LEAD(v, k) OVER (ORDER BY v) FROM l", "LEAD's offset must be an integer literal"),
        ("SELECT LAG(v, 1, 'x') OVER (ORDER BY v) FROM l", "does not have the type of its value"),
        ("SELECT COUNT(DISTINCT v) OVER (ORDER BY v) FROM l", "DISTINCT in an OVER aggregate"),
    ],
)
def test_what_batch_mode_cannot_run_is_refused_by_name(query: str, message: str) -> None:
    with pytest.raises(SqlStreamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_batch([(1, 1)], query, 1, 1)


def test_a_stream_refuses_rank_and_points_at_batch_mode() -> None:
    s = sqlstream.connect()
    try:
        s.execute("CREATE TABLE t (k INT, v INT) WITH ('connector' = 'datagen')")
        for sql in (
            "SELECT * FROM (SELECT *, RANK() OVER (PARTITION BY k ORDER BY v) AS r FROM t) WHERE r <= 3",
            "SELECT k, SUM(v) OVER (PARTITION BY k ORDER BY v) FROM t",
        ):
            with pytest.raises(SqlStreamError) as refused:
                s.sql(sql)
            assert refused.value.hint is not None and "'batch'" in refused.value.hint
    finally:
        s.close()


def test_explain_shows_the_batch_over_aggregate_and_flinks_column_names() -> None:
    config = {
        "parallelism.default": "2",
        "execution.runtime-mode": "batch",
        "sqlstream.batch.one-query": "false",
    }
    s = sqlstream.connect(config=config)
    try:
        s.execute("CREATE TABLE t (k INT, v INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5')")
        sql = "SELECT k, RANK() OVER (PARTITION BY k ORDER BY v DESC), SUM(v) OVER (PARTITION BY k) FROM t"
        text = s.execute(f"EXPLAIN {sql}").message or ""
        rank = 'RANK() OVER (PARTITION BY "k" ORDER BY "v" DESC NULLS LAST) AS w0$o0'
        assert f"OverAggregate(partitionBy=[k], select=[{rank}, " in text
        assert "emit=[at end of input]" in text and "hash[k]" in text
        result = s.sql(sql)
        result.fetchall()
        assert result.columns == ["k", "EXPR$1", "EXPR$2"]
    finally:
        s.close()


def test_a_stream_computes_a_variance_over_a_bounded_frame_only() -> None:
    """Its accumulators of an UNBOUNDED frame keep counts, sums and extremes, not values."""
    s = sqlstream.connect()
    frame = "PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW"
    try:
        s.execute(
            "CREATE TABLE t (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) "
            "WITH ('connector' = 'datagen')"
        )
        with pytest.raises(SqlStreamError, match=r"STDDEV_SAMP.* OVER an UNBOUNDED frame is not supported"):
            s.sql("SELECT k, STDDEV_SAMP(v) OVER (PARTITION BY k ORDER BY ts) FROM t")
        plan = s.execute(f"EXPLAIN SELECT k, STDDEV_SAMP(v) OVER ({frame}) FROM t")
        assert "OverAggregate" in (plan.message or "")
    finally:
        s.close()
