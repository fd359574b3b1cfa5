"""A Calc computes an expression it uses more than once per row only once
(``planner/common_subexpressions.py``): its answers must stay DuckDB's for random inputs
(append-only and updating, strings passed on from the batch, at parallelism 1 and 2), and
an expression Flink evaluates only on some rows (a guarded division) must stay where it is,
or the job would fail on the rows the guard keeps it from."""

from __future__ import annotations

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
from planner.physical import CalcSpec
from tests.unit.runtime.test_join_oracle import (
    SETTINGS,
    applied,
    check,
    left_rows,
    right_rows,
    session,
    write_table,
)

# (query over l (k, v), how many expressions its last Calc shares)
QUERIES = [
    # in the WHERE (left of OR, so on every row) and twice in a CASE of the SELECT
    ("SELECT k, CASE WHEN REGEXP_EXTRACT(CAST(v AS VARCHAR), '([0-9])', 1) = '1' THEN 'one' "
     "ELSE REGEXP_EXTRACT(CAST(v AS VARCHAR), '([0-9])', 1) END AS a "
     "FROM l WHERE REGEXP_EXTRACT(CAST(v AS VARCHAR), '([0-9])', 1) <> '2' OR k IS NULL", 1),
    # no WHERE: the first WHEN is evaluated on every row, the second only on some
    ("SELECT k, CASE WHEN REGEXP_REPLACE(CAST(v AS VARCHAR), '[0-4]', 'x') = 'x' THEN 'low' "
     "WHEN REGEXP_REPLACE(CAST(v AS VARCHAR), '[0-4]', 'x') = '9' THEN 'nine' END AS m FROM l", 1),
    # guarded: the division is on the right of OR and in a THEN, never on every row (v is 0 at times)
    ("SELECT k, CASE WHEN v <> 0 THEN REGEXP_EXTRACT(CAST(100 / v AS VARCHAR), '([0-9]+)', 1) END AS q "
     "FROM l WHERE v = 0 OR REGEXP_EXTRACT(CAST(100 / v AS VARCHAR), '([0-9]+)', 1) <> '20'", 0),
    # over a changelog, a string key passed on from the batch beside the shared expression
    ("SELECT s, CASE WHEN c > 1 THEN REGEXP_REPLACE(s, '1', 'one') END AS u FROM (SELECT "
     "CAST(k AS VARCHAR) AS s, COUNT(*) AS c FROM l GROUP BY CAST(k AS VARCHAR)) "
     "WHERE REGEXP_REPLACE(s, '1', 'one') <> '2'", 1),
    # guarded by the IN list's first item and by BETWEEN's lower bound (x = 0 OR x = ...;
    # x >= 1 AND x <= ...): on the rows where v is 0 the division is never evaluated
    ("SELECT k, CASE WHEN v <> 0 THEN REGEXP_EXTRACT(CAST(100 / v AS VARCHAR), '([0-9]+)', 1) END AS q "
     "FROM l WHERE v IN (0, CAST(REGEXP_EXTRACT(CAST(100 / v AS VARCHAR), '([0-9]+)', 1) AS INT))", 0),
    ("SELECT k, CASE WHEN v <> 0 THEN REGEXP_EXTRACT(CAST(100 / v AS VARCHAR), '([0-9]+)', 1) END AS q "
     "FROM l WHERE v BETWEEN 1 AND CAST(REGEXP_EXTRACT(CAST(100 / v AS VARCHAR), '([0-9]+)', 1) AS INT)", 0),
    # Java's LOWER (a CASE with a regex) only where Flink may skip it (a THEN, the right of
    # OR): it fails on no text, so it is computed once for every row
    ("SELECT s, CASE WHEN c > 1 THEN LOWER(s) ELSE UPPER(s) END AS u FROM (SELECT "
     "CAST(k AS VARCHAR) || 'Ab' AS s, COUNT(*) AS c FROM l GROUP BY CAST(k AS VARCHAR) || 'Ab') "
     "WHERE c = 1 OR LOWER(s) <> '2ab'", 1),
    # computed twice, but cheap: not worth a column (ABS of a difference)
    ("SELECT k, CASE WHEN ABS(v - 5) > 2 THEN 'far' ELSE CAST(ABS(v - 5) AS VARCHAR) END AS a "
     "FROM l WHERE ABS(v - 5) <> 1 OR k IS NULL", 0),
]  # fmt: skip


def _last_calc(query: str) -> CalcSpec:
    s = sqlstream.connect()
    try:
        s.execute("CREATE TABLE l (k INT, v INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')")
        plan = planner.plan(query, s.catalog)
    finally:
        s.close()
    return [n.spec for n in plan.nodes if isinstance(n.spec, CalcSpec)][-1]


@pytest.mark.parametrize(("query", "shares"), QUERIES)
def test_what_a_calc_shares(query: str, shares: int) -> None:
    calc = _last_calc(query)
    assert len(calc.common) == shares
    if shares:  # computed once: the SQL of the shared expression is nowhere else
        ((name, sql),) = calc.common
        assert all(sql not in text for _, text in calc.projections)
        assert sql not in (calc.condition or "")
        assert f'"{name}"' in " ".join([text for _, text in calc.projections] + [calc.condition or ""])


@settings(SETTINGS, max_examples=10)
@pytest.mark.parametrize("query", [q for q, _ in QUERIES])
@given(left=left_rows, right=right_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_shared_expressions_give_duckdb_answers(
    query: str, left: list[tuple[Any, ...]], right: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    check(left, right, query, parallelism, batch)


def test_a_guarded_division_by_zero_does_not_fail_the_job() -> None:
    rows = check([(1, 0), (2, 4), (3, 0), (4, 5)], [], QUERIES[2][0], 1, 4)
    assert sorted(r for _, r in rows) == [(1, None), (2, "25"), (3, None)]


def test_a_division_guarded_by_in_or_between_does_not_fail_the_job() -> None:
    rows = [(1, 0), (2, 4), (3, 0), (4, 10)]
    assert sorted(r for _, r in check(rows, [], QUERIES[4][0], 1, 4)) == [(1, None), (3, None), (4, "10")]
    assert sorted(r for _, r in check(rows, [], QUERIES[5][0], 1, 4)) == [(2, "25"), (4, "10")]


def test_a_shared_column_never_takes_an_input_column_s_name() -> None:
    """The Calc selects every input column beside its shared ones: a shared column named
    like an input column the query does not read would be a second column of that name,
    and DuckDB answers with either. (A datagen source reads every column.)"""
    s = sqlstream.connect()
    try:
        s.execute(
            "CREATE TABLE t (u STRING, `__common0` INT) WITH ('connector' = 'datagen', "
            "'fields.u.kind' = 'sequence', 'fields.u.start' = '1', 'fields.u.end' = '3')"
        )
        digit = "REGEXP_EXTRACT(u, '([0-9])', 1)"
        query = f"SELECT {digit} AS d FROM t WHERE {digit} <> '2'"
        calc = [n.spec for n in planner.plan(query, s.catalog).nodes if isinstance(n.spec, CalcSpec)][-1]
        assert [name for name, _ in calc.common] == ["__common1"]
        assert sorted(s.sql(query).fetchall()) == [("1",), ("3",)]
    finally:
        s.close()


def test_explain_shows_what_is_computed_once() -> None:
    s = sqlstream.connect()
    try:
        s.execute("CREATE TABLE l (k INT, v INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')")
        text = planner.explain(QUERIES[0][0], s.catalog)
    finally:
        s.close()
    assert "Calc(common=[" in text and "REGEXP_EXTRACT(" in text and "AS __common0], select=[" in text


@settings(SETTINGS, max_examples=10)
@given(left=left_rows)
def test_a_batch_job_run_as_one_duckdb_query_reads_the_shared_columns(left: list[tuple[Any, ...]]) -> None:
    """Batch mode runs the Calc and the GROUP BY above it as one DuckDB query
    (``runtime/operators/batch_query.py``): the shared expression is a column there too."""
    query = f"SELECT a, COUNT(*) AS n FROM ({QUERIES[0][0]}) GROUP BY a"
    with tempfile.TemporaryDirectory() as tmp:
        write_table(Path(tmp), "l", ("k", "v"), left)
        s = session(Path(tmp), 1, 4)
        try:
            s.execute("SET 'execution.runtime-mode' = 'batch'")
            assert "BatchQuery(" in planner.explain(query, s.catalog, s.config.effective())
            got = applied(iter(s.sql(query).changelog()))
        finally:
            s.close()
    con = duckdb.connect()
    rows = {"k": [r[0] for r in left], "v": [r[1] for r in left]}
    con.register("l", pa.table(rows, schema=pa.schema([("k", pa.int32()), ("v", pa.int32())])))
    assert got == Counter(con.sql(query).fetchall())
