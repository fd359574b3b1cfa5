"""Correctness oracle for OVER aggregations on event time: random bounded inputs (NULL
keys and values, ties in time) run through SQL by the Session in small batches at
parallelism 1 and 2; the rows equal DuckDB's window functions over the same rows, with
ROWS and RANGE frames, bounded and UNBOUNDED, and the WINDOW clause. Input is in time
order (ties within a second, the watermark a second behind), so no row is late."""

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

import sqlstream
from tests.unit.runtime.test_join_oracle import SETTINGS

FRAMES = (
    "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW",
    "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
    "RANGE BETWEEN INTERVAL '3' SECOND PRECEDING AND CURRENT ROW",
    "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
)
# ties in time only where the frame orders them alike in both engines: RANGE treats
# rows of one time as peers; ROWS orders them by arrival, which DuckDB cannot see
rows_st = st.lists(
    st.tuples(st.one_of(st.integers(0, 2), st.none()), st.one_of(st.integers(-5, 9), st.none())), max_size=30
)


def changelog(
    data: list[dict[str, Any]], columns: str, watermark: str, query: str, parallelism: int, batch: int
) -> list[tuple[int, tuple[Any, ...]]]:
    """``query`` over table ``t`` (``columns``, then ``ts TIMESTAMP(3)`` with ``WATERMARK
    FOR ts AS <watermark>``) holding ``data``, run through the Session in batches of
    ``batch`` rows at ``parallelism``: its changelog."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "t"
        folder.mkdir()
        (folder / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in data))
        config = {
            "parallelism.default": str(parallelism),
            "sqlstream.runtime.batch-size": str(batch),
            "sqlstream.runtime.linger": "0 ms",
        }
        with sqlstream.connect(config=config) as s:
            s.execute(
                f"CREATE TABLE t ({columns}, ts TIMESTAMP(3), WATERMARK FOR ts AS {watermark}) WITH "
                f"('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json')"
            )
            return list(s.sql(query).changelog())


def run(rows: list[tuple[Any, ...]], frame: str, parallelism: int, batch: int, distinct_times: bool) -> None:
    times = list(range(len(rows))) if distinct_times else [i // 3 for i in range(len(rows))]
    data = [{"k": k, "v": v, "ts": f"2024-01-01 00:00:{t:02d}"} for (k, v), t in zip(rows, times)]
    query = (
        "SELECT k, v, ts, SUM(v) OVER w AS s, COUNT(v) OVER w AS c, COUNT(*) OVER w AS n, "
        "MIN(v) OVER w AS lo, MAX(v) OVER w AS hi, AVG(v) OVER w AS a FROM t "
        f"WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"
    )
    log = changelog(data, "k INT, v INT", "ts - INTERVAL '1' SECOND", query, parallelism, batch)
    assert {kind for kind, _ in log} <= {0}
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INT, v INT, ts TIMESTAMP)")
    for d in data:
        con.execute("INSERT INTO t VALUES (?, ?, ?)", [d["k"], d["v"], d["ts"]])
    # Flink's AVG of INT is an INT, truncated toward zero
    expected = con.sql(query.replace("AVG(v) OVER w", "CAST(trunc(AVG(v) OVER w) AS INT)")).fetchall()
    assert Counter(row for _, row in log) == Counter(tuple(r) for r in expected)


@settings(SETTINGS, max_examples=4)
@pytest.mark.parametrize("frame", FRAMES)
@given(rows=rows_st, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 7))
def test_over_aggregate_equals_duckdb(
    frame: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    run(rows, frame, parallelism, batch, distinct_times=frame.startswith("ROWS"))


def test_rows_behind_the_watermark_are_late_and_dropped(tmp_path: Path) -> None:
    data = [
        {"k": 1, "v": v, "ts": f"2024-01-01 00:00:{t:02d}"} for v, t in ((1, 10), (2, 20), (3, 5), (4, 21))
    ]
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in data))
    config = {"sqlstream.runtime.batch-size": "1", "sqlstream.runtime.linger": "0 ms"}
    with sqlstream.connect(config=config) as s:
        s.execute(
            "CREATE TABLE t (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH "
            f"('connector' = 'filesystem', 'path' = '{tmp_path / 't'}', 'format' = 'json')"
        )
        frame = "PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW"
        query = f"SELECT v, SUM(v) OVER ({frame}) FROM t"
        got = [row for _, row in s.sql(query).changelog()]
    assert got == [(1, 1), (2, 3), (4, 6)]  # 3 came at 00:05, behind the watermark 00:20


@pytest.mark.parametrize("frame", [f for f in FRAMES if "UNBOUNDED" in f])
@pytest.mark.parametrize("parallelism", [1, 2])
def test_min_max_of_strings_over_an_unbounded_frame(frame: str, parallelism: int) -> None:
    """An UNBOUNDED frame keeps per-partition accumulators between firings; a STRING has a
    MIN and a MAX but no SUM, which the accumulator once computed for every argument."""
    words = ["pear", None, "apple", "fig", "zucchini", "apple", None, "kiwi", "banana"]
    data = [{"k": i % 2, "v": w, "ts": f"2024-01-01 00:00:{i:02d}"} for i, w in enumerate(words)]
    query = (
        "SELECT k, v, MIN(v) OVER w AS lo, MAX(v) OVER w AS hi, COUNT(v) OVER w AS c FROM t "
        f"WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"
    )
    log = changelog(data, "k INT, v STRING", "ts - INTERVAL '1' SECOND", query, parallelism, 1)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INT, v VARCHAR, ts TIMESTAMP)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", [[d["k"], d["v"], d["ts"]] for d in data])
    expected = con.sql(query).fetchall()
    assert Counter(row for _, row in log) == Counter(tuple(r) for r in expected)
