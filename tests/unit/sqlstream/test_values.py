"""VALUES as a table and INSERT ... VALUES: bounded, insert-only rows of constants whose
column types are derived as Flink derives them (the common type of each column, literals
typed as Flink types them), run by the Session like any other bounded query."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import planner
import sqlstream
from catalog.errors import SqlStreamError


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    s = sqlstream.connect()
    yield s
    s.close()


def test_values_in_from_gives_its_rows(session: sqlstream.Session) -> None:
    rows = session.sql("SELECT b, a + 1 FROM (VALUES (1, 'a'), (2, 'bc'), (NULL, 'x')) AS t(a, b)").fetchall()
    assert sorted(rows, key=str) == [("a", 2), ("bc", 3), ("x", None)]


def test_a_column_has_the_common_type_of_its_values(session: sqlstream.Session) -> None:
    session.execute("CREATE VIEW v AS SELECT * FROM (VALUES (1, 2.5, 'a'), (20, 3, 'bc')) AS t(i, d, s)")
    session.execute("CREATE VIEW w AS SELECT * FROM (VALUES (1, CAST(NULL AS BIGINT)), (2, 5))")
    described = {r[0]: (r[1], r[2]) for r in session.execute("DESCRIBE v").rows}
    # INT and DECIMAL(2, 1) meet in DECIMAL(11, 1): an INT needs 10 integer digits
    assert described == {"i": ("INT", False), "d": ("DECIMAL(11, 1)", False), "s": ("STRING", False)}
    # Flink's names for unnamed columns; a NULL makes the column nullable
    described = {r[0]: (r[1], r[2]) for r in session.execute("DESCRIBE w").rows}
    assert described == {"EXPR$0": ("INT", False), "EXPR$1": ("BIGINT", True)}
    assert sorted(session.sql("SELECT i, d FROM v").fetchall()) == [(1, Decimal("2.5")), (20, Decimal("3.0"))]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_values_joined_and_in_union_all(session: sqlstream.Session, parallelism: int) -> None:
    """VALUES runs as one source subtask, whatever the parallelism of what reads it."""
    session.execute(f"SET 'parallelism.default' = '{parallelism}'")
    joined = session.sql(
        "SELECT t.a, u.c FROM (VALUES (1), (2), (2)) t(a) "
        "JOIN (VALUES (2, 'x'), (3, 'y')) AS u(k, c) ON t.a = u.k"
    ).fetchall()
    assert joined == [(2, "x"), (2, "x")]
    union = session.sql(
        "SELECT a FROM (VALUES (1), (2)) t(a) UNION ALL SELECT k FROM (VALUES (5)) u(k)"
    ).fetchall()
    assert sorted(union) == [(1,), (2,), (5,)]


def test_insert_values_into_files(session: sqlstream.Session, tmp_path: Path) -> None:
    session.execute(
        f"CREATE TABLE out (a INT, b STRING) WITH ('connector' = 'filesystem', 'path' = '{tmp_path}', "
        "'format' = 'json')"
    )
    for sql in ("INSERT INTO out VALUES (1, 'x'), (2, 'y')", "INSERT INTO out (b) VALUES ('z')"):
        job = session.execute(sql).job
        assert job is not None and job.wait(timeout=60) and job.error is None
    files = sorted(tmp_path.glob("part-*"))
    written = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert sorted(written, key=str) == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": None, "b": "z"}]


def test_rows_of_finer_timestamps_keep_their_fraction(session: sqlstream.Session, tmp_path: Path) -> None:
    """A column's type is the finest precision among its rows, as Flink's: VALUES of a
    TIMESTAMP(3) and a TIMESTAMP(0) literal is TIMESTAMP(3). Typed by the last row, the
    first row's milliseconds were cut off on their way into a TIMESTAMP(3) column."""
    session.execute(
        f"CREATE TABLE out (ts TIMESTAMP(3), a INT) WITH ('connector' = 'filesystem', 'path' = '{tmp_path}', "
        "'format' = 'csv')"
    )
    sql = (
        "INSERT INTO out VALUES (TIMESTAMP '2024-01-01 00:00:10.120', 1), "
        "(TIMESTAMP '2024-01-01 00:00:00', 2), (CASE WHEN 1 > 0 "
        "THEN TIMESTAMP '1969-12-31 23:59:59.999' ELSE TIMESTAMP '2024-01-01 00:00:00' END, 3)"
    )
    job = session.execute(sql).job
    assert job is not None and job.wait(timeout=60) and job.error is None
    written = sorted(line for f in tmp_path.glob("part-*") for line in f.read_text().splitlines())
    # in quotes for their space, as Flink's csv writer quotes them (tests/oracle/sink_text.json)
    assert written == ['"1969-12-31 23:59:59.999",3', '"2024-01-01 00:00:00",2', '"2024-01-01 00:00:10.12",1']


def test_explain_shows_flinks_values_node(session: sqlstream.Session) -> None:
    text = planner.explain("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(a, b)", session.catalog)
    assert "Values(tuples=[[1, 'a'], [2, 'b']], fields=[a, b], changelogMode=[I], parallelism=[1])" in text


@pytest.mark.parametrize(
    ("sql", "message", "col"),
    [
        ("SELECT * FROM (VALUES (1, 2), (3)) t(a, b)", "the rows of VALUES have 2 and 1 values", 32),
        ("SELECT * FROM (VALUES (NULL)) t(a)", "column 1 of VALUES is NULL in every row", 31),
        ("SELECT * FROM (VALUES (x)) t(a)", "column 'x' not found", 24),
        ("SELECT * FROM (VALUES (1)) t(a, b)", "VALUES has 1 columns but its alias names 2", 28),
    ],
)
def test_bad_values_are_refused_with_their_position(
    session: sqlstream.Session, sql: str, message: str, col: int
) -> None:
    with pytest.raises(SqlStreamError) as e:
        session.sql(sql).fetchall()
    assert message in e.value.message
    assert (e.value.line, e.value.col) == (1, col)


@pytest.mark.parametrize("mode", ["streaming", "batch"])
def test_select_without_from_gives_one_row(session: sqlstream.Session, mode: str) -> None:
    """Flink runs ``SELECT 1 + 1`` as a Calc over one row of VALUES, in either mode."""
    session.execute(f"SET 'execution.runtime-mode' = '{mode}'")
    assert session.sql("SELECT 'eu'").fetchall() == [("eu",)]
    assert session.sql("SELECT 1 + 1 AS two, UPPER('a') || 'b'").fetchall() == [(2, "Ab")]
    assert sorted(session.sql("SELECT 'x' AS s UNION ALL SELECT 'y'").fetchall()) == [("x",), ("y",)]
    with pytest.raises(SqlStreamError, match="column 'nope' not found"):
        session.sql("SELECT nope").fetchall()
    with pytest.raises(SqlStreamError, match="column 'ZERO' not found"):
        session.sql("SELECT ZERO").fetchall()  # Calcite's hidden column stays hidden
    with pytest.raises(SqlStreamError, match="SELECT \\* without FROM"):
        session.sql("SELECT *").fetchall()


def test_explain_of_select_without_from_shows_flinks_values_node(session: sqlstream.Session) -> None:
    text = planner.explain("SELECT 1 + 1", session.catalog)
    assert "Values(tuples=[[0]]" in text


def test_values_alone_is_a_query(session: sqlstream.Session) -> None:
    """Flink runs ``VALUES (...), (...)`` as a statement of its own, as the shell's users type it."""
    result = session.sql("VALUES (1, 'a'), (2, CAST(NULL AS STRING))")
    assert result.columns == ["EXPR$0", "EXPR$1"]
    assert sorted(result.fetchall(), key=str) == [(1, "a"), (2, None)]
    assert session.sql("VALUES 7, 8").fetchall() == [(7,), (8,)]
