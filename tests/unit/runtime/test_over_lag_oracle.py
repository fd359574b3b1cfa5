"""Correctness oracle for LAG OVER a stream (Flink's LagAggFunction over the default RANGE
frame): random bounded inputs (NULL keys and values, rows of one time) arrive shuffled
within the watermark's bound, in small batches, at parallelism 1 and 2, so that each
partition's rows fire over several watermarks; the rows equal DuckDB's batch ``lag()``
over the same rows ordered by time, then arrival, where rows of one time all take the value
of the last of them to arrive (as Flink accumulates them together, tests/oracle/corpus/
over_lag.sql). Rows behind the watermark are late: dropped and counted."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sqlstream
from tests.unit.runtime.test_join_oracle import SETTINGS
from tests.unit.runtime.test_over_oracle import changelog

BOUND = 2  # seconds: the watermark is the largest time seen less this

rows_st = st.lists(
    st.tuples(st.one_of(st.integers(0, 2), st.none()), st.one_of(st.integers(-5, 9), st.none())), max_size=30
)


def shuffled(times: list[int], seed: int) -> list[int]:
    """The rows' indexes in an arrival order where none is behind the watermark: each row
    moves at most BOUND - 1 seconds' worth of jitter, so when it arrives no row seen is
    BOUND seconds later than it."""
    jitter = random.Random(seed)
    keys = [t + jitter.uniform(0, BOUND - 0.01) for t in times]
    return sorted(range(len(times)), key=lambda i: keys[i])


def reference(data: list[dict[str, Any]], value_type: str) -> duckdb.DuckDBPyConnection:
    """DuckDB holding ``data`` as table ``t``, with each row's arrival number."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (k INT, v {value_type}, ts TIMESTAMP, arrival INT)")
    for n, d in enumerate(data):
        con.execute("INSERT INTO t VALUES (?, ?, ?, ?)", [d["k"], d["v"], d["ts"], n])
    return con


def expected(con: duckdb.DuckDBPyConnection, offset: int, default: str) -> list[tuple[Any, ...]]:
    lag = f"lag(v, {offset}{', ' + default if default else ''})"
    return con.sql(
        "SELECT k, v, ts, first_value(l) OVER (PARTITION BY k, ts ORDER BY arrival DESC) AS p, "
        "count(*) OVER (PARTITION BY k ORDER BY ts) AS n "
        f"FROM (SELECT *, {lag} OVER (PARTITION BY k ORDER BY ts, arrival) AS l FROM t)"
    ).fetchall()


@settings(SETTINGS, max_examples=30)
@given(
    rows=rows_st,
    offset=st.sampled_from([0, 1, 2, 3, 7]),
    default=st.sampled_from(["", "-1"]),
    parallelism=st.sampled_from([1, 2]),
    batch=st.integers(1, 7),
    seed=st.integers(0, 1000),
)
def test_lag_equals_duckdb_over_shuffled_input(
    rows: list[tuple[Any, ...]], offset: int, default: str, parallelism: int, batch: int, seed: int
) -> None:
    times = [i // 2 for i in range(len(rows))]  # two rows a second: ties
    order = shuffled(times, seed)
    data = [{"k": rows[i][0], "v": rows[i][1], "ts": f"2024-01-01 00:00:{times[i]:02d}"} for i in order]
    args = f"v, {offset}{', ' + default if default else ''}"
    query = (
        f"SELECT k, v, ts, LAG({args}) OVER w AS p, COUNT(*) OVER w AS n FROM t "
        "WINDOW w AS (PARTITION BY k ORDER BY ts)"
    )
    log = changelog(data, "k INT, v INT", f"ts - INTERVAL '{BOUND}' SECOND", query, parallelism, batch)
    assert {kind for kind, _ in log} <= {0}
    con = reference(data, "INT")
    assert Counter(row for _, row in log) == Counter(tuple(r) for r in expected(con, offset, default))


def test_a_partition_keeps_only_its_last_values_between_firings(tmp_path: Path) -> None:
    """One row a batch, the watermark on each row's time: every row fires alone, so each
    LAG reaches back into the values earlier firings kept (LAG 3 on the 4th row on)."""
    data = [{"k": i % 2, "v": i * 10, "ts": f"2024-01-01 00:00:{i:02d}"} for i in range(12)]
    query = "SELECT v, LAG(v, 3) OVER (PARTITION BY k ORDER BY ts) AS p FROM t"
    log = changelog(data, "k INT, v INT", "ts", query, 2, 1)
    want = {i * 10: (i - 6) * 10 if i >= 6 else None for i in range(12)}
    assert sorted(row for _, row in log) == sorted(want.items())


def test_rows_behind_the_watermark_are_late_dropped_and_counted(tmp_path: Path) -> None:
    data = [
        {"k": 1, "v": v, "ts": f"2024-01-01 00:00:{t:02d}"}
        for v, t in ((1, 10), (2, 20), (3, 5), (4, 21), (5, 8))
    ]
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in data))
    config = {"sqlstream.runtime.batch-size": "1", "sqlstream.runtime.linger": "0 ms"}
    with sqlstream.connect(config=config) as s:
        s.execute(
            "CREATE TABLE t (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH "
            f"('connector' = 'filesystem', 'path' = '{tmp_path / 't'}', 'format' = 'json')"
        )
        job = s.sql("SELECT v, LAG(v) OVER (PARTITION BY k ORDER BY ts) FROM t")
        got = [row for _, row in job.changelog()]
        dropped = job.job.metrics()["late_rows_dropped"]
    # 3 came at 00:05 and 5 at 00:08, behind the watermark 00:20
    assert (got, dropped) == ([(1, None), (2, 1), (4, 2)], 2)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_lag_of_strings_timestamps_and_decimals(parallelism: int) -> None:
    words = ["pear", None, "apple", "fig", "zucchini", "apple", None, "kiwi", "banana"]
    data = [{"k": i % 2, "v": w, "ts": f"2024-01-01 00:00:{i // 2:02d}"} for i, w in enumerate(words)]
    query = (
        "SELECT k, v, LAG(v, 1, 'none') OVER w AS s, LAG(ts, 2) OVER w AS t, "
        "LAG(CAST(LENGTH(v) AS DECIMAL(5, 2))) OVER w AS d FROM t WINDOW w AS (PARTITION BY k ORDER BY ts)"
    )
    log = changelog(data, "k INT, v STRING", "ts - INTERVAL '1' SECOND", query, parallelism, 2)
    con = reference(data, "VARCHAR")
    want = con.sql(
        "SELECT k, v, first_value(s) OVER g, first_value(t) OVER g, first_value(d) OVER g FROM (SELECT *, "
        "lag(v, 1, 'none') OVER w AS s, lag(ts, 2) OVER w AS t, "
        "lag(CAST(length(v) AS DECIMAL(5, 2))) OVER w AS d FROM t "
        "WINDOW w AS (PARTITION BY k ORDER BY ts, arrival)) "
        "WINDOW g AS (PARTITION BY k, ts ORDER BY arrival DESC)"
    ).fetchall()
    assert Counter(row for _, row in log) == Counter(tuple(r) for r in want)
