"""Table functions in SQL, as a user writes them: a ``@udtf`` generator or a TableFunction
class, created with CREATE FUNCTION or ``session.create_function``, called with
``CROSS JOIN LATERAL TABLE``, the comma form and ``LEFT JOIN LATERAL ... ON TRUE``; and
``CROSS JOIN UNNEST`` of arrays and maps. Over an updating input, the applied changelog
equals DuckDB's lateral join of the same rows."""

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
from planner.determinism import replay_nondeterminism
from planner.physical import CorrelateSpec
from sqlstream.udf import UdfError, signature, udtf
from tests.unit.runtime.test_join_oracle import SETTINGS, applied, left_rows, session, write_table

MOD = "tests.unit.sqlstream.udf_module"
LINES = """CREATE TABLE lines (id BIGINT, line STRING) WITH ('connector' = 'filesystem',
  'path' = '{path}', 'format' = 'json')"""


@pytest.fixture
def s(tmp_path: Path):  # type: ignore[no-untyped-def]
    rows = [
        {"id": 1, "line": "a bb ccc"},
        {"id": 2, "line": ""},
        {"id": 3, "line": None},
        {"id": 4, "line": "dd"},
    ]
    (tmp_path / "lines").mkdir()
    (tmp_path / "lines" / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    session = sqlstream.connect()
    session.execute(LINES.format(path=tmp_path / "lines"))
    for name in ("split_words", "replicate", "bad_rows"):
        session.execute(f"CREATE TEMPORARY FUNCTION {name} AS '{MOD}.{name}' LANGUAGE PYTHON")
    yield session
    session.close()


# ---- declaring -------------------------------------------------------------------------


def test_udtf_declares_its_columns_as_a_row_of_f0_f1() -> None:
    @udtf(result_types=["STRING", "BIGINT"])
    def pairs(s: str):  # type: ignore[no-untyped-def]
        yield s, 1

    inputs, result, _, deterministic = signature(pairs)
    assert [t.sql() for t in inputs] == ["STRING"] and deterministic
    assert result.sql() == "ROW<`f0` STRING, `f1` BIGINT>"
    assert list(pairs("x")) == [("x", 1)]  # still callable


def test_udtf_without_result_types_is_refused() -> None:
    with pytest.raises(UdfError, match="needs result_types"):
        udtf(lambda s: [s])


def test_create_function_says_it_is_a_table_function(s: sqlstream.Session) -> None:
    info = dict(s.execute("DESCRIBE FUNCTION split_words").rows)
    assert (
        info["kind"] == "TABLE" and info["signature"] == "split_words(STRING) -> ROW<`f0` STRING, `f1` INT>"
    )


# ---- LATERAL TABLE ---------------------------------------------------------------------


def test_cross_join_lateral_table_gives_each_row_its_rows(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT id, T.word, T.n FROM lines CROSS JOIN LATERAL TABLE(split_words(line)) AS T(word, n)"
    ).fetchall()
    assert rows == [(1, "a", 1), (1, "bb", 2), (1, "ccc", 3), (4, "dd", 2)]


def test_comma_lateral_table_with_default_column_names(s: sqlstream.Session) -> None:
    handle = s.sql("SELECT * FROM lines, LATERAL TABLE(split_words(line))")
    assert handle.columns == ["id", "line", "f0", "f1"]
    assert [r[2] for r in handle.fetchall()] == ["a", "bb", "ccc", "dd"]


def test_left_join_lateral_keeps_rows_without_rows_null_padded(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT id, word FROM lines LEFT JOIN LATERAL TABLE(split_words(line)) AS T(word, n) ON TRUE"
    ).fetchall()
    assert rows == [(1, "a"), (1, "bb"), (1, "ccc"), (2, None), (3, None), (4, "dd")]


def test_a_table_function_class_and_arguments_from_expressions(s: sqlstream.Session) -> None:
    rows = s.sql("SELECT id, r FROM lines, LATERAL TABLE(replicate(id * 10, id - 2)) AS T(r)").fetchall()
    assert rows == [(3, 30), (4, 40), (4, 40)]


def test_session_create_function_registers_a_generator(s: sqlstream.Session) -> None:
    @udtf(result_types="STRING")
    def letters(line: str | None):  # type: ignore[no-untyped-def]
        yield from line or ""

    s.create_function("letters", letters)
    rows = s.sql(
        "SELECT id, c FROM lines CROSS JOIN LATERAL TABLE(letters(line)) AS T(c) WHERE id = 4"
    ).fetchall()
    assert rows == [(4, "d"), (4, "d")]


def test_columns_clashing_with_the_inputs_get_a_suffix(s: sqlstream.Session) -> None:
    handle = s.sql("SELECT * FROM lines, LATERAL TABLE(split_words(line)) AS T(id, n)")
    assert handle.columns == ["id", "line", "id0", "n"]
    assert handle.fetchall()[0] == (1, "a bb ccc", "a", 1)


def test_explain_shows_the_correlate(s: sqlstream.Session) -> None:
    text = s.execute(
        "EXPLAIN SELECT id, w FROM lines LEFT JOIN LATERAL TABLE(split_words(line)) AS T(w, n) ON TRUE"
    ).message
    assert "Correlate(invocation=[split_words(line)], select=[id, line, w, n], joinType=[LEFT]" in text


# ---- over an updating input: retractions pass through ----------------------------------

INNER = "(SELECT k, SUM(v) AS s FROM l GROUP BY k)"
QUERIES = (
    (
        f"SELECT k, s, r FROM {INNER} g, LATERAL TABLE(replicate(s, MOD(s, 3))) AS T(r)",
        f"SELECT k, s, s AS r FROM {INNER} g, range(CAST(s % 3 AS BIGINT))",
    ),
    (
        f"SELECT k, s, r FROM {INNER} g LEFT JOIN LATERAL TABLE(replicate(s, MOD(s, 3))) AS T(r) ON TRUE",
        f"SELECT k, s, t.r FROM {INNER} g "
        "LEFT JOIN LATERAL (SELECT g.s AS r FROM range(CAST(g.s % 3 AS BIGINT))) t ON TRUE",
    ),
)


@settings(SETTINGS, max_examples=8)
@pytest.mark.parametrize(("query", "duck"), QUERIES)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_over_an_updating_input_each_retraction_retracts_the_rows_it_gave(
    query: str, duck: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    log, expected = changelog_and_duckdb(rows, parallelism, batch, "replicate", query, duck)
    assert applied(iter(log)) == Counter(expected)  # applied() checks each retraction


def changelog_and_duckdb(
    rows: list[tuple[Any, ...]], parallelism: int, batch: int, function: str, query: str, duck: str
) -> tuple[list[tuple[int, tuple[Any, ...]]], list[tuple[Any, ...]]]:
    """``query`` over table ``l`` (k, v) of ``rows`` through the Session, with ``function``
    of this package's UDF module created, in batches of ``batch`` rows at ``parallelism``;
    and DuckDB's answer to ``duck`` over the same rows."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_table(root, "l", ("k", "v"), rows)
        write_table(root, "r", ("k", "w"), [])
        sess = session(root, parallelism, batch)
        try:
            sess.execute(f"CREATE TEMPORARY FUNCTION {function} AS '{MOD}.{function}' LANGUAGE PYTHON")
            log = list(sess.sql(query).changelog())
        finally:
            sess.close()
    con = duckdb.connect()
    schema = pa.schema([("k", pa.int64()), ("v", pa.int64())])
    con.register("l", pa.table({"k": [r[0] for r in rows], "v": [r[1] for r in rows]}, schema=schema))
    return log, con.sql(duck).fetchall()


# ---- UNNEST ----------------------------------------------------------------------------


@pytest.fixture
def arrays(tmp_path: Path) -> sqlstream.Session:
    rows = [
        {"id": 1, "arr": [1, 2], "m": {"a": 1}, "pts": [{"x": 1, "y": "p"}, {"x": 2, "y": "q"}]},
        {"id": 2, "arr": [], "m": {}, "pts": []},
        {"id": 3, "arr": None, "m": None, "pts": None},
        {"id": 4, "arr": [3], "m": {"b": 2, "c": 3}, "pts": [{"x": 5, "y": None}]},
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    session = sqlstream.connect()
    session.execute(
        "CREATE TABLE a (id BIGINT, arr ARRAY<INT>, m MAP<STRING, INT>, pts ARRAY<ROW<x INT, y STRING>>) "
        f"WITH ('connector' = 'filesystem', 'path' = '{tmp_path / 'a'}', 'format' = 'json')"
    )
    return session


def test_cross_join_unnest_of_an_array(arrays: sqlstream.Session) -> None:
    assert arrays.sql("SELECT id, x FROM a CROSS JOIN UNNEST(arr) AS T(x)").fetchall() == [
        (1, 1),
        (1, 2),
        (4, 3),
    ]
    assert arrays.sql("SELECT id, x FROM a, UNNEST(arr) AS T(x)").fetchall() == [(1, 1), (1, 2), (4, 3)]


def test_left_join_unnest_keeps_empty_and_null_arrays(arrays: sqlstream.Session) -> None:
    rows = arrays.sql("SELECT id, x FROM a LEFT JOIN UNNEST(arr) AS T(x) ON TRUE").fetchall()
    assert rows == [(1, 1), (1, 2), (2, None), (3, None), (4, 3)]


def test_unnest_of_a_map_and_of_an_array_of_rows(arrays: sqlstream.Session) -> None:
    assert arrays.sql("SELECT id, k, v FROM a CROSS JOIN UNNEST(m) AS T(k, v)").fetchall() == [
        (1, "a", 1),
        (4, "b", 2),
        (4, "c", 3),
    ]
    handle = arrays.sql("SELECT id, T.* FROM a CROSS JOIN UNNEST(pts) AS T")
    assert handle.columns == ["id", "x", "y"]
    assert handle.fetchall() == [(1, 1, "p"), (1, 2, "q"), (4, 5, None)]


def test_unnest_of_a_computed_array(s: sqlstream.Session) -> None:
    rows = s.sql(
        "SELECT id, w FROM lines CROSS JOIN UNNEST(SPLIT(line, ' ')) AS T(w) WHERE id = 1"
    ).fetchall()
    assert rows == [(1, "a"), (1, "bb"), (1, "ccc")]


# ---- refusals and failures -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM lines LEFT JOIN LATERAL TABLE(split_words(line)) AS T(w, n) ON n > 1",
         "accepts only ON TRUE"),
        ("SELECT * FROM lines RIGHT JOIN LATERAL TABLE(split_words(line)) AS T(w, n) ON TRUE",
         "RIGHT JOIN LATERAL TABLE"),
        ("SELECT split_words(line) FROM lines", "split_words is a table function"),
        ("SELECT * FROM lines, LATERAL TABLE(split_words(line)) AS T(w)",
         r"gives 2 column\(s\) but its alias names 1"),
        ("SELECT * FROM lines, LATERAL TABLE(upper(line))", "UPPER is not a user table function"),
        ("SELECT * FROM lines, LATERAL TABLE(split_words(line, line))", r"takes 1 argument\(s\), got 2"),
        ("SELECT * FROM lines CROSS JOIN UNNEST(line) AS T(x)", "UNNEST needs an ARRAY or a MAP, not STRING"),
    ],
)  # fmt: skip
def test_refused_by_the_planner_with_a_position(s: sqlstream.Session, sql: str, message: str) -> None:
    with pytest.raises(SqlStreamError, match=message) as info:
        s.execute(sql)
    assert info.value.line == 1 and info.value.col is not None


def test_an_exception_inside_names_the_function_and_the_input(s: sqlstream.Session) -> None:
    @udtf(result_types="BIGINT")
    def fussy(v: int):  # type: ignore[no-untyped-def]
        if v == 3:
            raise ValueError("not three")
        yield v

    s.create_function("fussy", fussy)
    with pytest.raises(SqlStreamError) as info:
        s.sql("SELECT * FROM lines, LATERAL TABLE(fussy(id))").fetchall()
    assert "function fussy raised ValueError on input (3,)" in str(info.value)
    assert "not three" in str(info.value)


def test_a_row_of_the_wrong_width_names_the_function(s: sqlstream.Session) -> None:
    with pytest.raises(
        SqlStreamError, match=r"function bad_rows returned a value that is not .*yielded \(1,\)"
    ):
        s.sql("SELECT * FROM lines, LATERAL TABLE(bad_rows(id))").fetchall()


def test_a_non_deterministic_table_function_makes_the_plan_not_replayable(s: sqlstream.Session) -> None:
    s.create_function("shuffled", udtf(lambda v: [v], input_types=["BIGINT"], result_types="BIGINT",
                                       deterministic=False))  # fmt: skip
    roots = planner.logical_plan(
        planner.parse("SELECT * FROM lines, LATERAL TABLE(shuffled(id))")[0], s.catalog, {}
    )
    assert "shuffled() is declared deterministic=False" in (replay_nondeterminism(roots[0]) or "")
    plan = planner.plan("SELECT * FROM lines, LATERAL TABLE(shuffled(id))", s.catalog)
    assert [n.spec.function for n in plan.nodes if isinstance(n.spec, CorrelateSpec)] == ["shuffled"]
    assert [f.name for f in plan.functions] == ["shuffled"]
