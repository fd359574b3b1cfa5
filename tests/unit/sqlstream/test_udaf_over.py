"""Python aggregate functions in OVER aggregations: each row with its function's value over
its frame, as Flink's OverAggregate computes it. A bounded frame folds each row's frame
afresh; an UNBOUNDED one keeps one accumulator per partition (state: checkpointed and
split by key on restore, ``tests/unit/checkpoint/test_udaf_over_restore.py``)."""

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
from catalog.errors import SqlStreamError
from tests.unit.runtime.test_join_oracle import SETTINGS
from tests.unit.runtime.test_over_oracle import FRAMES, rows_st

MOD = "tests.unit.sqlstream.udf_module"


def over_rows(data: list[dict[str, Any]], query: str, parallelism: int, batch: int) -> list[tuple[int, Any]]:
    """The changelog of ``query`` over table ``t (k INT, v INT, ts)`` holding ``data``."""
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
            s.execute(f"CREATE TEMPORARY FUNCTION nullable_total AS '{MOD}.nullable_total' LANGUAGE PYTHON")
            s.execute(
                "CREATE TABLE t (k INT, v INT, ts TIMESTAMP(3), "
                "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) "
                f"WITH ('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json')"
            )
            return list(s.sql(query).changelog())


@settings(SETTINGS, max_examples=4)
@pytest.mark.parametrize("frame", FRAMES)
@given(rows=rows_st, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 7))
def test_a_python_aggregate_over_a_frame_equals_sum(
    frame: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    """``nullable_total`` (SUM's semantics in Python) beside SUM and COUNT over every kind of
    frame, NULL keys and values and (for RANGE) rows of one time, equals DuckDB's SUM."""
    distinct_times = frame.startswith("ROWS")
    times = list(range(len(rows))) if distinct_times else [i // 3 for i in range(len(rows))]
    data = [{"k": k, "v": v, "ts": f"2024-01-01 00:00:{t:02d}"} for (k, v), t in zip(rows, times)]
    query = (
        "SELECT k, v, ts, nullable_total(v) OVER w AS p, SUM(v) OVER w AS s, COUNT(*) OVER w AS n "
        f"FROM t WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"
    )
    log = over_rows(data, query, parallelism, batch)
    assert {kind for kind, _ in log} <= {0}
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INT, v INT, ts TIMESTAMP)")
    for d in data:
        con.execute("INSERT INTO t VALUES (?, ?, ?)", [d["k"], d["v"], d["ts"]])
    expected = con.sql(query.replace("nullable_total(v)", "SUM(v)")).fetchall()
    assert Counter(row for _, row in log) == Counter(tuple(r) for r in expected)


def test_rows_of_one_time_fold_in_arrival_order() -> None:
    """A ROWS frame orders rows of one time by arrival, as Flink's does: concat_all sees
    them in the order they were read."""
    data = [{"k": 1, "v": v, "ts": "2024-01-01 00:00:05"} for v in (3, 1, 2)]
    data.append({"k": 1, "v": 9, "ts": "2024-01-01 00:00:09"})
    query = (
        "SELECT v, concat_all(CAST(v AS STRING)) OVER (PARTITION BY k ORDER BY ts "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c FROM t"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "t"
        folder.mkdir()
        (folder / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in data))
        with sqlstream.connect() as s:
            s.execute(f"CREATE TEMPORARY FUNCTION concat_all AS '{MOD}.concat_all' LANGUAGE PYTHON")
            s.execute(
                "CREATE TABLE t (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH "
                f"('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json')"
            )
            got = s.sql(query).fetchall()
    assert got == [(3, "3"), (1, "3|1"), (2, "3|1|2"), (9, "3|1|2|9")]


def test_an_exception_inside_names_the_function_and_the_row() -> None:
    with sqlstream.connect() as s:
        s.execute(f"CREATE TEMPORARY FUNCTION weighted_avg AS '{MOD}.weighted_avg' LANGUAGE PYTHON")
        s.execute(
            "CREATE TABLE ev (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v * 1000, 3), WATERMARK FOR ts AS ts) WITH ("
            "'connector' = 'datagen', 'number-of-rows' = '5', 'fields.v.kind' = 'sequence', "
            "'fields.v.start' = '0', 'fields.v.end' = '4')"
        )
        failed = r"function weighted_avg raised TypeError on input \(0, None\)"
        with pytest.raises(SqlStreamError, match=failed):
            s.sql(
                "SELECT v, weighted_avg(v, CAST(NULL AS BIGINT)) OVER (ORDER BY ts "
                "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM ev"
            ).fetchall()
