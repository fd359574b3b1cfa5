"""Vectorized aggregate functions (PyFlink's ``@udaf(result_type=..., func_type='pandas')``):
each argument over a whole window, OVER frame or (batch mode) group arrives as one pandas
Series, and the function returns one value. They run where Flink runs them (group windows,
bounded OVER frames, batch GROUP BY) and are refused by name where Flink refuses them (a
streaming GROUP BY, an UNBOUNDED OVER frame)."""

from __future__ import annotations

import duckdb
import pytest

import sqlstream
from catalog.errors import SqlStreamError
from sqlstream.udf import UdfError, signature, udaf

MOD = "tests.unit.sqlstream.udf_module"
EV = """CREATE TABLE ev (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v * 1000, 3), WATERMARK FOR ts AS ts) WITH (
  'connector' = 'datagen', 'number-of-rows' = '30', 'fields.v.kind' = 'sequence', 'fields.v.start' = '0',
  'fields.v.end' = '29')"""
TUMBLE = "TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND))"


@pytest.fixture
def s():  # type: ignore[no-untyped-def]
    session = sqlstream.connect()
    session.execute(EV)
    for name in ("mean_udaf", "spread"):
        session.execute(f"CREATE TEMPORARY FUNCTION {name} AS '{MOD}.{name}' LANGUAGE PYTHON")
    yield session
    session.close()


def test_declaring_one() -> None:
    def mean(v):  # type: ignore[no-untyped-def]
        return v.mean()

    declared = udaf(mean, input_types=["INT"], result_type="DOUBLE", func_type="pandas")
    inputs, result, func_type, _ = signature(declared)
    assert ([t.sql() for t in inputs], result.sql(), func_type) == (["INT"], "DOUBLE", "pandas")
    with pytest.raises(UdfError, match="pandas aggregate function 'mean' needs result_type"):
        udaf(mean, func_type="pandas")
    with pytest.raises(UdfError, match=r"argument 'v' of mean has no annotation"):
        signature(udaf(mean, result_type="DOUBLE", func_type="pandas"))


def test_in_a_tumbling_window_beside_built_in_aggregates(s: sqlstream.Session) -> None:
    rows = s.sql(
        f"SELECT window_start, mean_udaf(v) AS m, spread(v, v) AS sp, COUNT(*) AS n FROM {TUMBLE} "
        "WHERE v <> 13 GROUP BY window_start, window_end"
    ).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [(4.5, 9, 10), (132 / 9, 9, 9), (24.5, 9, 10)]


def test_in_a_hopping_window_and_a_legacy_group_window(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT window_start, mean_udaf(v) AS m FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), "
        "INTERVAL '10' SECOND, INTERVAL '20' SECOND)) GROUP BY window_start, window_end"
    ).fetchall()
    assert sorted(r[1] for r in rows) == [4.5, 9.5, 19.5, 24.5]
    rows = s.sql("SELECT mean_udaf(v) AS m FROM ev GROUP BY TUMBLE(ts, INTERVAL '15' SECOND)").fetchall()
    assert [r[0] for r in rows] == [7.0, 22.0]


def test_over_a_bounded_frame_equals_duckdb(s: sqlstream.Session) -> None:
    got = s.sql(
        "SELECT v, mean_udaf(v) OVER w AS m, spread(v, v) OVER w AS sp FROM ev WHERE v <> 13 "
        "WINDOW w AS (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    ).fetchall()
    expected = duckdb.sql(
        "SELECT v, avg(v) OVER w, max(v) OVER w - min(v) OVER w FROM range(30) t(v) WHERE v <> 13 "
        "WINDOW w AS (ORDER BY v ROWS 2 PRECEDING) ORDER BY v"
    ).fetchall()
    assert got == expected


def test_in_a_batch_group_by(s: sqlstream.Session) -> None:
    s.execute("SET 'execution.runtime-mode' = 'batch'")
    query = "SELECT MOD(v, 3) AS k, mean_udaf(v) AS m, COUNT(*) AS n FROM ev GROUP BY MOD(v, 3)"
    got = s.sql(query).fetchall()
    assert sorted(got) == [(0, 13.5, 10), (1, 14.5, 10), (2, 15.5, 10)]


def test_a_streaming_group_by_and_an_unbounded_over_frame_are_refused_by_name(s: sqlstream.Session) -> None:
    streaming = r"mean_udaf \(func_type='pandas'\) in a streaming GROUP BY"
    with pytest.raises(SqlStreamError, match=streaming) as info:
        s.execute("SELECT MOD(v, 3) AS k, mean_udaf(v) FROM ev GROUP BY MOD(v, 3)")
    assert (info.value.line, info.value.col) == (1, 24)
    assert "execution.runtime-mode" in (info.value.hint or "")
    unbounded = r"mean_udaf \(func_type='pandas'\) over an UNBOUNDED OVER frame"
    with pytest.raises(SqlStreamError, match=unbounded):
        s.execute("SELECT v, mean_udaf(v) OVER (ORDER BY ts) FROM ev")


def test_an_exception_inside_names_the_function_and_the_window(s: sqlstream.Session) -> None:
    failed = r"function spread raised ValueError on input a window of 10 row"
    with pytest.raises(SqlStreamError, match=failed) as info:
        s.sql(f"SELECT window_start, spread(v, v) FROM {TUMBLE} GROUP BY window_start, window_end").fetchall()
    assert "13 in the window" in info.value.message and "udf_module.py" in info.value.message
