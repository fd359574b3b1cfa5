"""Aggregate functions in SQL, as a user writes them: PyFlink's AggregateFunction shape
(create_accumulator, accumulate, retract, get_value) declared with ``@udaf``, in GROUP BY
beside the built-in aggregates, over an updating input (with retract; refused by name
without it) and in window aggregations."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sqlstream
from catalog.errors import SqlStreamError
from sqlstream.udf import AggregateFunction, UdfError, signature, udaf
from tests.unit.runtime.test_join_oracle import SETTINGS, applied, left_rows
from tests.unit.sqlstream.test_udtf import changelog_and_duckdb

MOD = "tests.unit.sqlstream.udf_module"
NUMS = """CREATE TABLE nums (v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '40',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '40')"""
EV = """CREATE TABLE ev (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v * 1000, 3), WATERMARK FOR ts AS ts) WITH (
  'connector' = 'datagen', 'number-of-rows' = '30', 'fields.v.kind' = 'sequence', 'fields.v.start' = '0',
  'fields.v.end' = '29')"""


@pytest.fixture
def s():  # type: ignore[no-untyped-def]
    session = sqlstream.connect()
    session.execute(NUMS)
    session.execute(EV)
    for name in ("weighted_avg", "concat_all"):
        session.execute(f"CREATE TEMPORARY FUNCTION {name} AS '{MOD}.{name}' LANGUAGE PYTHON")
    yield session
    session.close()


class Total(AggregateFunction):
    def create_accumulator(self):  # type: ignore[no-untyped-def]
        return [0]

    def accumulate(self, acc, v: int) -> None:  # type: ignore[no-untyped-def]
        acc[0] += v

    def get_value(self, acc) -> int:  # type: ignore[no-untyped-def]
        return acc[0]


def _mean(v):  # type: ignore[no-untyped-def]
    return v.mean()


# ---- declaring -------------------------------------------------------------------------


def test_types_come_from_accumulate_and_get_value_annotations() -> None:
    inputs, result, _, _ = signature(udaf(Total()))
    assert [t.sql() for t in inputs] == ["BIGINT"] and result.sql() == "BIGINT"


def test_describe_function_shows_an_aggregate(s: sqlstream.Session) -> None:
    info = dict(s.execute("DESCRIBE FUNCTION weighted_avg").rows)
    assert info["kind"] == "AGGREGATE" and info["signature"] == "weighted_avg(BIGINT, BIGINT) -> DOUBLE"
    assert info["accumulator type"] == "ARRAY<BIGINT>"


def test_what_is_not_an_aggregate_function_is_refused() -> None:
    with pytest.raises(UdfError, match="is not an AggregateFunction"):
        udaf(lambda v: v, result_type="BIGINT")
    with pytest.raises(UdfError, match=r"func_type='pandas' aggregate function is a plain function"):
        udaf(Total(), func_type="pandas")
    with pytest.raises(UdfError, match=r"pandas aggregate function '_mean' needs result_type"):
        udaf(_mean, func_type="pandas")


# ---- GROUP BY --------------------------------------------------------------------------


def test_group_by_beside_built_in_aggregates(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT MOD(v, 3) AS k, weighted_avg(v, v) AS wa, COUNT(*) AS c, SUM(v) AS sv "
        "FROM nums GROUP BY MOD(v, 3)"
    ).fetchall()
    expected = duckdb.sql(
        "SELECT v % 3, sum(v * v) / sum(v), count(*), sum(v) FROM range(1, 41) t(v) GROUP BY ALL"
    ).fetchall()
    assert sorted((k, round(w, 9), c, sv) for k, w, c, sv in rows) == sorted(
        (k, round(w, 9), c, sv) for k, w, c, sv in expected
    )
    plan = s.execute(
        "EXPLAIN SELECT MOD(v, 3) AS k, weighted_avg(v, v) AS wa FROM nums GROUP BY MOD(v, 3)"
    ).message
    assert 'select=[weighted_avg("v", "v") AS $a0], state=[accumulators by key (Python ones pickled)' in plan


def test_a_global_aggregate_and_filter_and_having(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT concat_all(CAST(v AS STRING)) FILTER (WHERE v < 4) AS c, weighted_avg(v, 1) AS a FROM nums "
        "HAVING COUNT(*) > 1"
    ).fetchall()
    assert rows == [("1|2|3", 20.5)]


def test_session_create_function_registers_an_aggregate(s: sqlstream.Session) -> None:
    s.create_function("total", udaf(Total()))
    assert s.sql("SELECT MOD(v, 2) AS k, total(v) AS t FROM nums GROUP BY MOD(v, 2)").fetchall() == [
        (1, 400),
        (0, 420),
    ]


INNER = "(SELECT k, SUM(v) AS s, COUNT(*) AS n FROM l GROUP BY k)"


@settings(SETTINGS, max_examples=8)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_over_an_updating_input_retract_takes_rows_back_out(
    rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    """weighted_avg(s, n) over the changing results of an inner GROUP BY equals DuckDB's
    answer over the final inner results."""
    query = f"SELECT n % 2 AS p, weighted_avg(s, n) AS w, COUNT(*) AS c FROM {INNER} g GROUP BY n % 2"
    duck = f"SELECT n % 2, sum(s * n) / sum(n), count(*) FROM {INNER} g GROUP BY n % 2"
    log, answer = changelog_and_duckdb(rows, parallelism, batch, "weighted_avg", query, duck)

    def rounded(p: Any, w: float | None, c: int) -> tuple[Any, ...]:
        return (p, None if w is None else round(w, 9), c)

    log = [(kind, rounded(*row)) for kind, row in log]
    expected = Counter(rounded(*row) for row in answer)
    assert applied(iter(log)) == expected


def test_without_retract_an_updating_input_is_refused_by_name(s: sqlstream.Session) -> None:
    with pytest.raises(SqlStreamError, match="concat_all has no retract method") as info:
        s.execute(
            "SELECT c, concat_all(CAST(k AS STRING)) FROM "
            "(SELECT MOD(v, 3) AS k, COUNT(*) AS c FROM nums GROUP BY MOD(v, 3)) GROUP BY c"
        )
    assert (info.value.line, info.value.col) == (1, 11)


def test_an_exception_inside_names_the_function_and_the_input(s: sqlstream.Session) -> None:
    class Picky(Total):
        def accumulate(self, acc, v: int) -> None:  # type: ignore[no-untyped-def]
            if v == 7:
                raise ValueError("no sevens")
            acc[0] += v

    s.create_function("picky", udaf(Picky()))
    with pytest.raises(SqlStreamError, match=r"function picky raised ValueError on input \(7,\)"):
        s.sql("SELECT picky(v) AS p FROM nums").fetchall()


def test_distinct_and_use_in_where_are_refused(s: sqlstream.Session) -> None:
    with pytest.raises(SqlStreamError, match="DISTINCT in a call of the aggregate function concat_all"):
        s.execute("SELECT concat_all(DISTINCT CAST(v AS STRING)) FROM nums")
    with pytest.raises(SqlStreamError, match="aggregate functions are not allowed in WHERE"):
        s.execute("SELECT v FROM nums WHERE weighted_avg(v, v) > 1")


# ---- windows ---------------------------------------------------------------------------


def test_in_a_tumbling_window_in_arrival_order(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT window_start, concat_all(CAST(v AS STRING)) AS c, weighted_avg(v, 1) AS w, COUNT(*) AS n "
        "FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end"
    ).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("|".join(str(v) for v in range(lo, lo + 10)), lo + 4.5, 10) for lo in (0, 10, 20)
    ]


def test_in_a_hopping_window(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT window_start, weighted_avg(v, v) AS w FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), "
        "INTERVAL '10' SECOND, INTERVAL '20' SECOND)) GROUP BY window_start, window_end"
    ).fetchall()
    assert len(rows) == 4
    got = {r[0].second + 60 * r[0].minute: round(r[1], 9) for r in rows if r[0].year == 1970}
    assert got[0] == round(sum(v * v for v in range(20)) / sum(range(20)), 9)
    assert got[10] == round(sum(v * v for v in range(10, 30)) / sum(range(10, 30)), 9)


def test_the_state_of_a_running_job_shows_the_python_aggregates(tmp_path: Path) -> None:
    """SELECT ... FROM STATE(job, op) reads a Python aggregate's last value beside the
    built-in ones (its pickled accumulator stays hidden), and how many rows a window keeps."""
    import time

    config = {"execution.checkpointing.interval": "200 ms", "state.checkpoints.dir": str(tmp_path / "ck")}
    with sqlstream.connect(config=config) as s:
        s.execute(f"CREATE TEMPORARY FUNCTION weighted_avg AS '{MOD}.weighted_avg' LANGUAGE PYTHON")
        s.execute(
            "CREATE TABLE src (k INT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' HOUR) "
            "WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'fields.k.min' = '1', "
            "'fields.k.max' = '3', 'fields.v.min' = '1', 'fields.v.max' = '9')"
        )
        s.execute("CREATE TABLE sink (k INT, w DOUBLE, n BIGINT) WITH ('connector' = 'blackhole')")
        job = s.execute(
            "INSERT INTO sink SELECT k, weighted_avg(v, 1) AS w, COUNT(*) AS n FROM src GROUP BY k"
        ).job
        assert job is not None
        deadline = time.monotonic() + 30
        while job.metrics().get("checkpoints", {}).get("completed", 0) < 2:
            assert time.monotonic() < deadline and not job.done, job.error
            time.sleep(0.1)
        got = s.execute(f"SELECT * FROM STATE('{job.id}', 'GroupAggregate') ORDER BY k")
        assert got.columns == ["subtask", "k", "row_count", "w", "n"]
        assert [r[1] for r in got.rows] == [1, 2, 3]
        assert all(1 <= r[3] <= 9 and r[2] == r[4] for r in got.rows)
        job.cancel()


def test_beside_distinct_and_min_max_over_retractions(s: sqlstream.Session) -> None:
    """The operator's value-count paths (DISTINCT, MIN/MAX over an updating input) and a
    Python aggregate in one GROUP BY."""
    rows = s.sql(
        "SELECT MOD(v, 3) AS k, COUNT(DISTINCT MOD(v, 5)) AS d, weighted_avg(v, 1) AS w, MAX(v) AS m "
        "FROM nums GROUP BY MOD(v, 3)"
    ).fetchall()
    assert sorted(rows) == [(0, 5, 21.0, 39), (1, 5, 20.5, 40), (2, 5, 20.0, 38)]
    rows = s.sql(
        "SELECT c, MIN(k) AS lo, weighted_avg(k, 1) AS w FROM "
        "(SELECT MOD(v, 3) AS k, COUNT(*) AS c FROM nums GROUP BY MOD(v, 3)) GROUP BY c"
    ).fetchall()
    assert sorted(rows) == [(13, 0, 1.0), (14, 1, 1.0)]  # keys 0 and 2 have 13 rows, key 1 has 14
