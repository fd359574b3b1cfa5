"""Correctness oracle for GROUPING SETS, ROLLUP and CUBE with GROUPING()/GROUPING_ID():
random bounded inputs with duplicated and NULL keys, append-only or an updating GROUP BY
result (whose -U/+U pairs the Expand must carry to every set), through SQL by the Session
in small batches at parallelism 1 and 2; the applied changelog must equal DuckDB's batch
answer, so a NULL key of the input stays apart from the NULL of a rolled-up key."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
import sqlstream
from catalog.errors import SqlStreamError
from tests.unit.runtime.test_join_oracle import SETTINGS, applied, check, keys, left_rows, session

# the inner GROUP BY's results change with every row, so the outer one sees -U/+U pairs
INNER = "(SELECT k, SUM(v) AS v, COUNT(*) AS n FROM l GROUP BY k)"
# DuckDB answers one row for the empty grouping set over no rows; a stream has no row then
NONEMPTY = "HAVING COUNT(*) > 0"

QUERIES = (
    "SELECT k, v % 3 AS p, COUNT(*), SUM(v), MIN(v), GROUPING(k), GROUPING_ID(k, v % 3) "
    f"FROM {{src}} GROUP BY GROUPING SETS ((k, v % 3), (k), ()) {NONEMPTY}",
    # a key that is also an aggregate's argument keeps its own values for the aggregate
    "SELECT k, v, SUM(k), MAX(v), COUNT(DISTINCT v), GROUPING(v, k) "
    f"FROM {{src}} GROUP BY ROLLUP (k, v) {NONEMPTY}",
    "SELECT k, v % 2 AS p, COUNT(*) FILTER (WHERE v > 2), AVG(CAST(v AS DOUBLE)), GROUPING(v % 2) "
    f"FROM {{src}} GROUP BY CUBE (k, v % 2) {NONEMPTY}",
    # a set written twice gives its groups twice; a plain key joins every set
    "SELECT k, v % 2 AS p, COUNT(*) "
    f"FROM {{src}} GROUP BY k, GROUPING SETS ((v % 2), (v % 2), ()) {NONEMPTY}",
    # GROUP BY (k, v): the keys k and v; GROUP BY (): the global aggregate
    f"SELECT k, v, COUNT(*) FROM {{src}} GROUP BY (k, v) {NONEMPTY}",
    f"SELECT COUNT(*), SUM(v) FROM {{src}} GROUP BY () {NONEMPTY}",
    "SELECT k, COUNT(*) AS c, GROUPING(k) AS g FROM {src} GROUP BY GROUPING SETS ((k), ()) "
    "HAVING COUNT(*) > 0 AND (COUNT(*) > 1 OR GROUPING(k) = 1)",
)


@settings(SETTINGS, max_examples=8)
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("updating", [False, True])
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_grouping_sets_equal_duckdb(
    query: str, updating: bool, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    check(rows, [], query.format(src=f"{INNER} g" if updating else "l"), parallelism, batch)


def test_grouping_set_rows_of_a_null_key_and_of_a_rolled_up_key_stay_apart() -> None:
    query = "SELECT k, COUNT(*), GROUPING(k) FROM l GROUP BY ROLLUP (k)"
    log = check([(None, 1), (1, 2), (1, 3)], [], query, 2, 1)
    assert applied(iter(log)) == {(None, 1, 0): 1, (1, 2, 0): 1, (None, 3, 1): 1}


events = st.lists(st.tuples(keys, st.integers(0, 9), st.integers(0, 7)), max_size=25)

WINDOWED = (
    (
        "SELECT window_start, window_end, k, COUNT(*), SUM(v), GROUPING(k) "
        "FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '2' SECOND)) "
        "GROUP BY window_start, window_end, GROUPING SETS ((k), ())",
        "SELECT ws, ws + INTERVAL 2 SECOND, k, COUNT(*), SUM(v), GROUPING(k) "
        "FROM (SELECT *, time_bucket(INTERVAL 2 SECOND, ts) AS ws FROM e) "
        "GROUP BY ws, GROUPING SETS ((k), ())",
    ),
    (
        "SELECT window_end, k, v % 2, MAX(v), SUM(k), GROUPING_ID(k, v % 2) "
        "FROM TABLE(CUMULATE(TABLE e, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '4' SECOND)) "
        "GROUP BY window_start, window_end, CUBE (k, v % 2)",
        "SELECT we, k, v % 2, MAX(v), SUM(k), GROUPING_ID(k, v % 2) FROM (SELECT *, "
        "unnest([time_bucket(INTERVAL 4 SECOND, ts) + INTERVAL 2 SECOND, time_bucket(INTERVAL 4 SECOND, ts) "
        "+ INTERVAL 4 SECOND]) AS we FROM e) WHERE ts < we GROUP BY we, CUBE (k, v % 2)",
    ),
)


@settings(SETTINGS, max_examples=8)
@pytest.mark.parametrize(("query", "oracle"), WINDOWED)
@given(rows=events, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_window_grouping_sets_equal_duckdb(
    query: str, oracle: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    """``GROUP BY window_start, window_end, GROUPING SETS (...)`` over a window TVF, rows
    out of order (within the watermark's delay): insert-only, one row per set and window."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "e"
        folder.mkdir()
        for part in range(2):
            lines = [{"k": k, "v": v, "ts": f"1970-01-01 00:00:0{t}.000"} for k, v, t in rows[part::2]]
            (folder / f"part-{part}.json").write_text("".join(json.dumps(r) + "\n" for r in lines))
        s = session(Path(tmp), parallelism, batch)
        try:
            s.execute(
                "CREATE TABLE e (k INT, v INT, ts TIMESTAMP(3), "
                "WATERMARK FOR ts AS ts - INTERVAL '8' SECOND) "
                f"WITH ('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json')"
            )
            log = list(s.sql(query).changelog())
        finally:
            s.close()
    assert {kind for kind, _ in log} <= {0}
    con = duckdb.connect()
    con.execute("CREATE TABLE e (k INT, v INT, ts TIMESTAMP)")
    if rows:
        con.executemany("INSERT INTO e VALUES (?, ?, TIMESTAMP '1970-01-01' + to_seconds(?))", rows)
    assert applied(iter(log)) == Counter(con.sql(oracle).fetchall())


def explain(sql: str) -> str:
    s = sqlstream.connect()
    s.execute(
        "CREATE TABLE t (a INT, b STRING, c INT) WITH ('connector' = 'datagen', 'number-of-rows' = '2')"
    )
    try:
        return planner.explain(sql, s.catalog)
    finally:
        s.close()


def test_explain_shows_the_expand_and_the_expand_id_key() -> None:
    text = explain("SELECT a, b, SUM(a) FROM t GROUP BY GROUPING SETS ((a, b), (b))")
    assert "Expand(projects=[{" in text
    assert "$e" in text and "groupBy=[a, b, $e]" in text
    assert "a_0" in text  # a keeps its values for SUM(a) beside the NULLed key


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT GROUPING(c) FROM t GROUP BY ROLLUP (a, b)", "must be a GROUP BY expression"),
        ("SELECT GROUPING(a) FROM t", "must be a GROUP BY expression"),
    ],
)
def test_grouping_of_an_ungrouped_column_is_refused_with_its_position(sql: str, message: str) -> None:
    with pytest.raises(SqlStreamError) as e:
        explain(sql)
    assert message in e.value.message
    assert e.value.line is not None
