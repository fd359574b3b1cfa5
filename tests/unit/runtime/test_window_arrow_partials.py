"""A window aggregate of COUNT(*), COUNT, MIN and MAX of integers takes its partial rows
from Arrow (``runtime/operators/window_partials.py``) instead of one DuckDB statement per
batch: the streamed windows still equal DuckDB's batch answer, over rows out of order
within the watermark delay, NULL keys and values, and partial state compacted often or
never; and where rows come too late, the same rows are dropped as by the SQL partials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from planner.physical import AggCall, Window
from runtime.operators.window_partials import ArrowPartials
from tests.unit.runtime.helpers import rows, run
from tests.unit.runtime.plans import table, window_plan
from tests.unit.runtime.test_oracle import SETTINGS, align, check_window, oracle, streamed_windows, streams

AGGS = (
    AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),
    AggCall("cnt_v", "count", '"v"', "BIGINT NOT NULL"),
    AggCall("max_v", "max", '"v"', "BIGINT"),
    AggCall("min_v", "min", '"v"', "BIGINT"),
)
AGG_SQL = "count(*) AS cnt, count(v) AS cnt_v, max(v) AS max_v, min(v) AS min_v"
# a SUM has no Arrow partial (DuckDB's is a HUGEINT): the whole aggregate takes the SQL path
SQL_ONLY = (*AGGS, AggCall("sum_v", "sum", '"v"', "BIGINT"))


def windows(kind: str) -> tuple[Window, str]:
    """A window of ``kind`` and the SQL of DuckDB's batch answer's windows over ``base``."""
    if kind == "tumble":
        ws = align("t", 500, 200)
        sql = f"SELECT *, {ws} AS ws, {ws} + 500 AS we FROM base"
        return Window("tumble", "ts", size_ms=500, offset_ms=200), sql
    if kind == "hop":
        a = align("t", 300)
        starts = f"unnest(generate_series({a} - 600, {a}, 300))"
        sql = f"SELECT *, ws + 900 AS we FROM (SELECT *, {starts} AS ws FROM base)"
        return Window("hop", "ts", size_ms=900, slide_ms=300), sql
    if kind == "cumulate":
        ps = align("t", 600)
        ends = f"unnest(generate_series({ps} + 200, {ps} + 600, 200))"
        sql = f"SELECT * FROM (SELECT *, {ps} AS ws, {ends} AS we FROM base) WHERE we > t"
        return Window("cumulate", "ts", size_ms=600, step_ms=200), sql
    sql = (  # gap 151 ms over even timestamps (see test_oracle.test_session)
        "SELECT *, min(t) OVER (PARTITION BY k, sid) AS ws, "
        "max(t) OVER (PARTITION BY k, sid) + 151 AS we FROM ("
        "SELECT *, sum(new) OVER (PARTITION BY k ORDER BY t ROWS UNBOUNDED PRECEDING) AS sid "
        "FROM (SELECT *, CASE WHEN t - lag(t) OVER (PARTITION BY k ORDER BY t) <= 151 "
        "THEN 0 ELSE 1 END AS new FROM base))"
    )
    return Window("session", "ts", gap_ms=151), sql


@contextmanager
def arrow_batches() -> Iterator[list[int]]:
    """The number of rows of each batch whose partial rows Arrow computed."""
    seen: list[int] = []
    partials = ArrowPartials.partials

    def counted(self: ArrowPartials, batch: Any) -> Any:
        seen.append(batch.num_rows)
        return partials(self, batch)

    with mock.patch.object(ArrowPartials, "partials", counted):
        yield seen


@SETTINGS
@given(streams(step=2), st.sampled_from([1, 2]), st.sampled_from(["tumble", "hop", "cumulate", "session"]))
def test_arrow_partials_equal_duckdb(s: Any, p: int, kind: str) -> None:
    data, batch = s
    window, sql = windows(kind)
    with arrow_batches() as seen:
        check_window(data, batch, p, window, sql, AGGS, AGG_SQL)
    assert sum(seen) == len(data)  # every row went through Arrow (none is late here)


@SETTINGS
@given(
    streams(delay=900, step=2),
    st.sampled_from(["tumble", "hop", "cumulate", "session"]),
    st.sampled_from([("k",), ()]),
)
def test_late_rows_are_dropped_as_by_the_sql_partials(s: Any, kind: str, keys: tuple[str, ...]) -> None:
    # rows up to 900 ms out of order behind a watermark delay of 100 ms: some come after
    # their windows fired. One source subtask: with two, which rows are late depends on
    # how their batches and watermarks interleave, which differs from run to run
    data_rows, batch = s
    window, _ = windows(kind)
    data = table(data_rows)
    config = {"sqlstream.runtime.compact-min-rows": "3" if batch % 2 else "1000000"}
    with arrow_batches() as seen:
        arrow = run(window_plan(data, window, AGGS, 100, 1, batch, keys, config=config))
    assert seen
    sql = run(window_plan(data, window, SQL_ONLY, 100, 1, batch, keys, config=config))
    without_sum = [r[:-1] for r in rows(sql)]
    assert sorted(rows(arrow), key=str) == sorted(without_sum, key=str)


@SETTINGS
@given(streams(step=50), st.integers(1, 12), st.sampled_from([1, 2]), st.sampled_from([50, 100, 150]))
def test_session_rows_a_gap_apart(s: Any, batch: int, p: int, gap: int) -> None:
    # test_oracle's case: rows exactly a gap apart are one session, and rows sit on the
    # edges of the gap-long buckets a batch's fragments are cut at (it fails with buckets
    # twice as long); the watermark fires only at the end
    data_rows, _ = s
    sql = (
        f"SELECT *, min(t) OVER (PARTITION BY k, sid) AS ws, max(t) OVER (PARTITION BY k, sid) + {gap} AS we "
        f"FROM (SELECT *, sum(new) OVER (PARTITION BY k ORDER BY t RANGE UNBOUNDED PRECEDING) AS sid "
        f"FROM (SELECT *, CASE WHEN t - lag(t) OVER (PARTITION BY k ORDER BY t) <= {gap} "
        f"THEN 0 ELSE 1 END AS new FROM base))"
    )
    data = table(data_rows)
    config = {"sqlstream.runtime.compact-min-rows": "3" if batch % 2 else "1000000"}
    with arrow_batches() as seen:
        out = run(
            window_plan(data, Window("session", "ts", gap_ms=gap), AGGS, 10**9, p, batch, config=config)
        )
    assert sum(seen) == len(data_rows)
    assert streamed_windows(out) == oracle(data, sql, AGG_SQL)
