"""ORDER BY / LIMIT / OFFSET as Flink runs them, against DuckDB's batch answer over random
bounded inputs (duplicated and NULL values), through SQL at parallelism 1 and 2:

- on a stream, ``ORDER BY .. LIMIT`` is a Top-N whose applied changelog (+I, -D) is the
  rows DuckDB's ORDER BY .. LIMIT keeps, over append-only and updating input;
- ``LIMIT`` alone keeps rows in arrival order; a sort by a rowtime attribute emits every
  row in time order, as the watermark passes;
- in batch mode (``execution.runtime-mode`` = batch) the result is final and insert-only,
  in DuckDB's order, and an updating query gives only its final rows.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
import sqlstream
from catalog.errors import SqlStreamError
from tests.unit.runtime.test_join_oracle import SETTINGS, applied, left_rows, session, write_table

UPDATING = "(SELECT k, COUNT(*) AS v FROM l GROUP BY k) g"


def run(
    rows: list[tuple[Any, ...]], query: str, parallelism: int, batch: int, mode: str = "streaming"
) -> list[tuple[int, tuple[Any, ...]]]:
    with tempfile.TemporaryDirectory() as tmp:
        write_table(Path(tmp), "l", ("k", "v"), rows)
        s = session(Path(tmp), parallelism, batch)
        try:
            s.execute(f"SET 'execution.runtime-mode' = '{mode}'")
            return list(s.sql(query).changelog())
        finally:
            s.close()


def duck(rows: list[tuple[Any, ...]], query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    schema = pa.schema([("k", pa.int64()), ("v", pa.int64())])
    con.register("l", pa.table({"k": [r[0] for r in rows], "v": [r[1] for r in rows]}, schema=schema))
    return con.sql(query).fetchall()


# every column in the order, so that ties are whole-row duplicates and the answer is one
TOP_N = (
    "SELECT k, v FROM {src} ORDER BY v DESC NULLS LAST, k NULLS FIRST LIMIT 3",
    "SELECT k, v FROM {src} ORDER BY k NULLS LAST, v LIMIT 2 OFFSET 1",
    "SELECT v, k FROM {src} WHERE v > 1 ORDER BY 1, 2 DESC LIMIT 4",
)


@settings(SETTINGS, max_examples=10)
@pytest.mark.parametrize("query", TOP_N)
@pytest.mark.parametrize("updating", [False, True])
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_streaming_top_n_equals_duckdb(
    query: str, updating: bool, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    sql = query.format(src=UPDATING if updating else "l")
    log = run(rows, sql, parallelism, batch)
    assert {kind for kind, _ in log} <= {0, 3}  # Flink's Top-N without rank number: +I and -D
    assert applied(iter(log)) == Counter(duck(rows, sql))


@settings(SETTINGS, max_examples=10)
@pytest.mark.parametrize("updating", [False, True])
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_batch_mode_gives_final_sorted_insert_only_rows(
    updating: bool, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    src = UPDATING if updating else "l"
    sorted_sql = f"SELECT k, v FROM {src} ORDER BY v DESC NULLS FIRST, k NULLS LAST LIMIT 5 OFFSET 1"
    log = run(rows, sorted_sql, parallelism, batch, "batch")
    assert [row for _, row in log] == duck(rows, sorted_sql)
    assert {kind for kind, _ in log} <= {0}
    final_sql = f"SELECT k, v FROM {src}"  # no order: only the final rows, each once
    log = run(rows, final_sql, parallelism, batch, "batch")
    assert {kind for kind, _ in log} <= {0}
    assert Counter(row for _, row in log) == Counter(duck(rows, final_sql))


@settings(SETTINGS, max_examples=10)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_limit_without_order_keeps_the_first_rows(
    rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    log = run(rows, "SELECT k, v FROM l LIMIT 4 OFFSET 2", parallelism, batch)
    assert {kind for kind, _ in log} <= {0}
    assert len(log) == min(max(len(rows) - 2, 0), 4)
    assert not Counter(row for _, row in log) - Counter(rows)


@settings(SETTINGS, max_examples=10)
@given(
    rows=st.lists(st.tuples(st.one_of(st.integers(0, 3), st.none()), st.integers(0, 7)), max_size=25),
    parallelism=st.sampled_from([1, 2]),
    batch=st.integers(1, 6),
)
def test_sort_by_rowtime_emits_every_row_in_time_order(
    rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    """Out-of-order rows within the watermark's delay: none is late, all come out sorted
    by time, then by the next key."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "e"
        folder.mkdir()
        for part in range(2):
            lines = [{"k": k, "ts": f"1970-01-01 00:00:0{t}.000"} for k, t in rows[part::2]]
            (folder / f"part-{part}.json").write_text("".join(json.dumps(r) + "\n" for r in lines))
        s = session(Path(tmp), parallelism, batch)
        try:
            s.execute(
                "CREATE TABLE e (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '8' SECOND) "
                f"WITH ('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json')"
            )
            log = list(s.sql("SELECT EXTRACT(SECOND FROM ts) AS t, k FROM e ORDER BY ts, k DESC").changelog())
        finally:
            s.close()
    got = [row for _, row in log]
    assert {kind for kind, _ in log} <= {0}
    assert got == sorted(((t, k) for k, t in rows), key=lambda r: (r[0], -1 if r[1] is None else -r[1] - 2))


def explain(sql: str, mode: str = "streaming") -> str:
    s = sqlstream.connect()
    s.execute("CREATE TABLE t (a INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector'='datagen')")
    try:
        return planner.explain(sql, s.catalog, {"execution.runtime-mode": mode})
    finally:
        s.close()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT a FROM t\nORDER BY a", "Sort on a non-time-attribute field is not supported."),
        ("SELECT a, ts FROM t\nORDER BY ts DESC", "Sort on a non-time-attribute field is not supported."),
        ("SELECT a, COUNT(*) FROM t GROUP BY a\nLIMIT 3", "LIMIT without ORDER BY over an updating input"),
        ("SELECT a, ts FROM t\nORDER BY ts OFFSET 2", "OFFSET without LIMIT on a stream"),
        ("SELECT DISTINCT a FROM t\nORDER BY ts LIMIT 1", "ORDER BY ts, which the query does not select"),
    ],
)
def test_sorts_a_stream_cannot_have_are_refused_by_name_and_position(sql: str, message: str) -> None:
    with pytest.raises(SqlStreamError) as e:
        explain(sql)
    assert message in e.value.message
    assert e.value.line == 2


def test_an_order_by_without_limit_in_a_subquery_orders_nothing_as_in_calcite() -> None:
    text = explain("SELECT a FROM (SELECT a FROM t ORDER BY a) x WHERE a > 1")
    assert "Sort" not in text
    assert "SortLimit" in explain("SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 2) x")


def test_batch_mode_refuses_an_unbounded_table_as_flink_does() -> None:
    with pytest.raises(SqlStreamError) as e:
        explain("SELECT a FROM t ORDER BY a", "batch")
    assert "Querying an unbounded table 't' in batch mode is not allowed" in e.value.message


def test_explain_names_the_sort_and_its_state() -> None:
    top = explain("SELECT a FROM t ORDER BY a DESC LIMIT 3")
    assert "SortLimit(orderBy=[a DESC NULLS LAST], offset=[0], fetch=[3], state=[the top rows]" in top
    s = sqlstream.connect()
    try:
        s.execute("CREATE TABLE t (a INT) WITH ('connector'='datagen')")
        plan = planner.plan("SELECT a FROM t ORDER BY a DESC LIMIT 3 OFFSET 1", s.catalog)
    finally:
        s.close()
    (limit,) = [n for n in plan.nodes if n.name.startswith("SortLimit")]
    # Flink's SortLimit is a Rank over one partition: ranks 2 .. 4, no rank number
    assert (limit.kind, limit.spec.start, limit.spec.end, limit.spec.rank_column) == ("rank", 2, 4, None)
    assert "state=[the top rows]" in top and "changelogMode=[I,UB,UA,D]" in top
    assert "TemporalSort(orderBy=[" in explain("SELECT a, ts FROM t ORDER BY ts")
