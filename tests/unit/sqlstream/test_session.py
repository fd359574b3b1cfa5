"""The Session API: what a Python user of sqlstream sees."""

import asyncio
import gc
import itertools
import json
import sys
import time
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from runtime.job import JobStatus
from sqlstream import jobs
from sqlstream.results import ResultKind

SEQ = """CREATE TABLE nums (n BIGINT, k INT) WITH (
    'connector' = 'datagen', 'number-of-rows' = '100',
    'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '100',
    'fields.k.min' = '1', 'fields.k.max' = '4')"""


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    s = sqlstream.connect()
    yield s
    s.close()


def test_ddl_show_and_describe(session: sqlstream.Session) -> None:
    assert session.execute(SEQ).message == "Table 'nums' created."
    assert session.execute("SHOW TABLES").rows == [("nums",)]
    described = session.execute("DESCRIBE nums")
    assert described.kind == ResultKind.TABLE
    assert [r[0] for r in described.rows] == ["n", "k"]
    assert [r[1] for r in described.rows] == ["BIGINT", "INT"]


def test_show_create_table_round_trips_through_the_catalog(session: sqlstream.Session) -> None:
    session.execute(SEQ)
    ddl = session.execute("SHOW CREATE TABLE nums").message
    other = sqlstream.connect()
    other.execute(ddl)
    assert other.catalog.table("nums") == session.catalog.table("nums")
    other.close()


def test_set_unknown_key_warns_with_the_closest_known_key(session: sqlstream.Session) -> None:
    result = session.execute("SET 'parallelism.defualt' = '2'")
    assert result.warnings and "parallelism.default" in result.warnings[0]
    listing = dict(session.execute("SET").rows)
    assert listing["parallelism.defualt"] == "2"
    with pytest.raises(SqlStreamError, match=r"execution\.checkpointing\.interval"):
        session.execute("SET 'execution.checkpointing.interval' = 'often'")


def test_bounded_query_returns_its_rows(session: sqlstream.Session) -> None:
    session.execute(SEQ)
    rows = session.sql("SELECT n, n * n AS sq FROM nums WHERE n <= 3").fetchall()
    assert sorted(rows) == [(1, 1), (2, 4), (3, 9)]


def test_updating_query_result_is_the_final_table(session: sqlstream.Session) -> None:
    session.execute(SEQ)
    rows = dict(session.sql("SELECT k, COUNT(*) FROM nums GROUP BY k").fetchall())
    assert sum(rows.values()) == 100
    assert set(rows) <= {1, 2, 3, 4}


def test_insert_runs_a_job_to_completion_into_files(session: sqlstream.Session, tmp_path: Path) -> None:
    session.execute(SEQ)
    session.execute(
        f"CREATE TABLE out (n BIGINT, half DOUBLE) WITH ("
        f"'connector' = 'filesystem', 'path' = '{tmp_path}', 'format' = 'json')"
    )
    result = session.execute("INSERT INTO out SELECT n, n / 2.0 FROM nums WHERE n > 90")
    assert result.kind == ResultKind.JOB and result.job is not None
    assert result.job.wait(timeout=60)
    assert result.job.error is None
    written = [
        json.loads(line) for f in sorted(tmp_path.glob("part-*")) for line in f.read_text().splitlines()
    ]
    assert sorted(r["n"] for r in written) == list(range(91, 101))
    assert result.job.status == "FINISHED"


def test_errors_name_the_problem_and_the_line(session: sqlstream.Session) -> None:
    session.execute(SEQ)
    with pytest.raises(SqlStreamError) as e:
        session.execute("SHOW TABLES;\nSELECT nn FROM nums;")
    assert e.value.line == 2 and "column 'nn' not found" in e.value.message
    assert "did you mean 'n'" in (e.value.hint or "")


def test_unbounded_query_streams_its_changelog_until_closed(session: sqlstream.Session) -> None:
    session.execute(
        "CREATE TABLE ticks (k INT) WITH ('connector' = 'datagen', 'rows-per-second' = '200', "
        "'fields.k.min' = '1', 'fields.k.max' = '3')"
    )
    query = session.sql("SELECT k, COUNT(*) AS c FROM ticks GROUP BY k")
    assert not query.bounded
    seen = []
    for kind, row in query.changelog():
        seen.append((kind, row))
        if len(seen) >= 20:
            break
    query.close()
    kinds = {k for k, _ in seen}
    assert 0 in kinds and kinds <= {0, 1, 2}  # +I first, then -U/+U as counts grow
    assert all(row[0] in (1, 2, 3) for _, row in seen)
    assert query.job.status_is_final()


def test_a_bounded_query_read_after_its_job_finished_returns_every_row(
    session: sqlstream.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that lags holds the job back, but a job that finished meanwhile loses none
    of its rows: the pump gave up on a full buffer once the job's status was final, and
    dropped the batches still to come (a 30000-row SELECT read late gave 27048)."""
    monkeypatch.setattr(jobs, "RESULT_BUFFER", 1)  # the job finishes with its rows held up
    session.execute(SEQ.replace("100", "3000"))
    query = session.sql("SELECT n FROM nums")
    deadline = time.monotonic() + 30
    while not query.job.status_is_final() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert query.job.status == JobStatus.FINISHED
    assert sorted(n for (n,) in query.fetchall()) == list(range(1, 3001))


def test_describe_a_sink_only_table(session: sqlstream.Session) -> None:
    session.execute("CREATE TABLE out (a INT, b STRING) WITH ('connector' = 'print')")
    assert [r[:2] for r in session.execute("DESCRIBE out").rows] == [("a", "INT"), ("b", "STRING")]


def test_a_row_is_cast_to_a_row_field_by_field_in_order(session: sqlstream.Session, tmp_path: Path) -> None:
    """As Flink casts ROW to ROW (by position, whatever the names): DuckDB matches a
    STRUCT's fields by name, so a ROW(..) written into a ROW<x ..> column failed the job,
    and a cast whose names met in another order swapped the values."""
    got = session.sql("SELECT CAST(ROW(1, 'a') AS ROW<b INT, a STRING>) AS r").fetchall()
    assert got == [({"b": 1, "a": "a"},)]
    session.execute(
        f"CREATE TABLE o (r ROW<x DECIMAL(5, 2)>) WITH ('connector' = 'filesystem', "
        f"'path' = '{tmp_path / 'o'}', 'format' = 'json')"
    )
    session.execute("INSERT INTO o SELECT ROW(CAST(12.30 AS DECIMAL(5, 2)))").job.wait(30)  # type: ignore[union-attr]
    written = [
        line
        for f in (tmp_path / "o").iterdir()
        if not f.name.startswith(".")
        for line in f.read_text().splitlines()
    ]
    assert written == ['{"r":{"x":12.3}}']


def test_closing_the_session_cancels_a_query_still_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """A session closed while an unbounded SELECT still runs cancels the query's job before
    it stops its event loop: a job left pending there was freed by the garbage collector,
    whose closing of its subtasks' coroutines raised ("Exception ignored in: coroutine
    Job._run_task"), and its DuckDB connections were the collector's to release."""
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(f"{u.exc_value!r}: {u.object!r}"))
    session = sqlstream.connect()
    session.execute(
        "CREATE TABLE ticks (k INT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000', "
        "'fields.k.min' = '1', 'fields.k.max' = '3')"
    )
    query = session.sql("SELECT k FROM ticks")
    assert not query.bounded
    assert len(list(itertools.islice(query.changelog(), 2))) == 2
    loop = session.jobs.loop
    session.close()
    assert query.job.status == JobStatus.CANCELED
    assert not asyncio.all_tasks(loop)  # nothing of the query left pending on the stopped loop
    del session, query, loop
    gc.collect()
    assert unraisable == []


def test_a_query_used_as_a_context_manager_stops_its_job_at_the_block_end(session: sqlstream.Session) -> None:
    """An unbounded SELECT read in a ``with`` block is stopped when the block ends (a loop
    left with ``break`` would otherwise leave its job running until the session closes)."""
    session.execute(
        "CREATE TABLE ticks (k INT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000', "
        "'fields.k.min' = '1', 'fields.k.max' = '3')"
    )
    with session.sql("SELECT k FROM ticks") as query:
        rows = list(itertools.islice(query.changelog(), 2))
        assert not query.job.status_is_final()
    assert len(rows) == 2 and all(kind == 0 and 1 <= k <= 3 for kind, (k,) in rows)
    assert query.job.status == JobStatus.CANCELED
