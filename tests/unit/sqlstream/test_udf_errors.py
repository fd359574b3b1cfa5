"""Rows a Python function raises on, kept instead of failing the job: with
``table.exec.udf-errors.sink`` set, every input row of an INSERT job lands either in its
sink or, with the function's name, the row and the error, in the udf-errors table, each
exactly once, also across a restore from a checkpoint."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from sqlstream.udf import udtf
from tests.unit.checkpoint.test_runtime_checkpoints import ROWS, resume, run_until_checkpoint

MOD = "tests.unit.sqlstream.udf_module"


def script(tmp: Path, rate: int) -> str:
    return f"""
SET 'table.exec.udf-errors.sink' = 'bad';
CREATE FUNCTION fails_on_thousands AS '{MOD}.fails_on_thousands' LANGUAGE PYTHON;
CREATE FUNCTION split_words AS '{MOD}.split_words' LANGUAGE PYTHON;
CREATE TABLE src (v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE ev (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v, 3), WATERMARK FOR ts AS ts) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'fields.v.kind' = 'sequence',
  'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE out (v BIGINT, d BIGINT) WITH ('connector' = 'filesystem', 'path' = '{tmp / "out"}',
  'format' = 'json');
CREATE TABLE bad (operator STRING, function STRING, input STRING, error STRING) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "bad"}', 'format' = 'json');
"""


QUERY = "INSERT INTO out SELECT v, fails_on_thousands(v) AS d FROM src WHERE v > 0"


def rows(folder: Path) -> list[dict[str, Any]]:
    files = sorted(f for f in folder.iterdir() if not f.name.startswith(".")) if folder.exists() else []
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def check(tmp: Path) -> None:
    good = collections.Counter((r["v"], r["d"]) for r in rows(tmp / "out"))
    bad = rows(tmp / "bad")
    assert good == collections.Counter((v, 2 * v) for v in range(1, ROWS + 1) if v % 1000)
    assert sorted(json.loads(r["input"])["v"] for r in bad) == list(range(1000, ROWS + 1, 1000))
    for r in bad:
        assert r["operator"].startswith("Calc#") and r["function"] == "fails_on_thousands"
        v = json.loads(r["input"])["v"]
        assert f"function fails_on_thousands raised ValueError on input ({v},)" in r["error"]
        assert f"{v} is a round number" in r["error"] and "udf_module.py" in r["error"]


def test_failing_rows_go_to_the_table_and_the_job_goes_on(tmp_path: Path) -> None:
    config = {"execution.checkpointing.interval": "200 ms", "state.checkpoints.dir": str(tmp_path / "ck")}
    with sqlstream.connect(config=config) as s:
        s.execute(script(tmp_path, 20000))
        job = s.execute(QUERY).job
        assert job is not None and job.wait(60) and job.error is None, job.error
        assert job.metrics()["udf_errors"] == ROWS // 1000
        plan = s.execute(f"EXPLAIN {QUERY}").message
    assert "Sink(table=[bad]" in plan and 'Calc(select=[CAST("operator"' in plan
    check(tmp_path)


IN_AGGREGATE = (
    "INSERT INTO out SELECT v, SUM(fails_on_thousands(v)) AS d FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), "
    "INTERVAL '1' SECOND)) GROUP BY window_start, window_end, v"
)
IN_JOIN = (
    "INSERT INTO out SELECT a.v, b.v * 2 AS d FROM src a JOIN src b "
    "ON a.v = b.v AND fails_on_thousands(a.v) > b.v"
)


@pytest.mark.parametrize("query", [IN_AGGREGATE, IN_JOIN], ids=["aggregate-argument", "join-condition"])
def test_a_function_in_an_aggregate_argument_or_a_join_condition(tmp_path: Path, query: str) -> None:
    """SUM(f(v)) and a join's ON f(a.v) > b.v: the function runs in a Calc below the
    aggregate or the join (as Flink projects them), so the rows it raises on go to the
    table and only those rows are missing from the result."""
    with sqlstream.connect() as s:
        s.execute(script(tmp_path, 20000))
        plan = s.execute(f"EXPLAIN {query}").message
        assert 'FAILS_ON_THOUSANDS("v") AS $' in plan
        job = s.execute(query).job
        assert job is not None and job.wait(60) and job.error is None, job.error
        assert job.metrics()["udf_errors"] == ROWS // 1000
    check(tmp_path)


def test_a_function_of_both_sides_of_a_join_is_refused_by_name(tmp_path: Path) -> None:
    """Only a Calc can leave a row out: a call that reads both sides stays in the join,
    which could not, so the policy refuses the plan instead of failing the job later."""
    query = (
        "INSERT INTO out SELECT a.v, b.v FROM src a JOIN src b "
        "ON a.v = b.v AND fails_on_thousands(a.v + b.v) > 0"
    )
    with sqlstream.connect() as s:
        s.execute(script(tmp_path, 1))
        with pytest.raises(SqlStreamError, match=r"rows function fails_on_thousands raises on in Join #\d"):
            s.execute(f"EXPLAIN {query}")
        s.execute("RESET 'table.exec.udf-errors.sink'")
        s.execute("SET 'table.exec.udf-errors.ignore' = 'true'")
        with pytest.raises(SqlStreamError, match=r"'table.exec.udf-errors.ignore' cannot go on without"):
            s.execute(f"EXPLAIN {query}")
        s.execute("RESET 'table.exec.udf-errors.ignore'")
        assert "Join(" in s.execute(f"EXPLAIN {query}").message  # no policy: the job would fail on it


def test_exactly_once_across_a_restore(tmp_path: Path) -> None:
    run_until_checkpoint(tmp_path, 1, tmp_path / "out", script=script(tmp_path, 2000), query=QUERY)
    assert 0 < len(rows(tmp_path / "out")) < ROWS - ROWS // 1000
    metrics = resume(tmp_path, 1, tmp_path / "out", script=script(tmp_path, 20000), query=QUERY)
    assert metrics["checkpoints"]["restored_from"] is not None
    check(tmp_path)


def words(line: str):  # type: ignore[no-untyped-def]
    """A table function that raises on the word 'boom'."""
    for w in line.split():
        if w == "boom":
            raise RuntimeError("no booms")
        yield w


def test_a_table_function_that_raises_loses_only_its_row(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    lines = ["a b", "boom", "c"]
    (tmp_path / "in" / "p.json").write_text("".join(json.dumps({"line": x}) + "\n" for x in lines))
    with sqlstream.connect(config={"table.exec.udf-errors.sink": "bad"}) as s:
        s.execute(script(tmp_path, 1))

        s.create_function("words", udtf(words, result_types="STRING"))
        for name, cols, folder in (("lines", "line STRING", "in"), ("w", "w STRING", "w")):
            s.execute(
                f"CREATE TABLE {name} ({cols}) WITH ('connector' = 'filesystem', "
                f"'path' = '{tmp_path / folder}', 'format' = 'json')"
            )
        job = s.execute("INSERT INTO w SELECT x FROM lines, LATERAL TABLE(words(line)) AS T(x)").job
        assert job is not None and job.wait(30) and job.error is None, job.error
    assert sorted(r["w"] for r in rows(tmp_path / "w")) == ["a", "b", "c"]
    (bad,) = rows(tmp_path / "bad")
    assert bad["operator"].startswith("Correlate#") and bad["function"] == "words"
    assert json.loads(bad["input"]) == {"line": "boom"} and "no booms" in bad["error"]


def test_a_table_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    with sqlstream.connect() as s:
        s.execute(script(tmp_path, 1))
        s.execute(
            f"CREATE TABLE wrong (operator STRING, nope STRING) WITH ('connector' = 'filesystem', "
            f"'path' = '{tmp_path / 'x'}', 'format' = 'json')"
        )
        s.execute("SET 'table.exec.udf-errors.sink' = 'wrong'")
        with pytest.raises(SqlStreamError, match="has a column 'nope' that udf-errors rows do not have"):
            s.execute(f"EXPLAIN {QUERY}")
        s.execute("SET 'table.exec.udf-errors.sink' = 'nowhere'")
        with pytest.raises(SqlStreamError, match=r"udf-errors\.sink' = 'nowhere' names no table"):
            s.execute(f"EXPLAIN {QUERY}")


def test_ignore_drops_and_counts_the_failing_rows(tmp_path: Path) -> None:
    """``table.exec.udf-errors.ignore``: the rows a scalar or table function raised on are
    dropped and counted, the job goes on; a query in the shell too (no side sink needed)."""
    with sqlstream.connect(config={"table.exec.udf-errors.ignore": "true"}) as s:
        s.execute(script(tmp_path, 20000).replace("SET 'table.exec.udf-errors.sink' = 'bad';", ""))
        job = s.execute(QUERY).job
        assert job is not None and job.wait(60) and job.error is None, job.error
        assert job.metrics()["udf_errors"] == ROWS // 1000
        s.create_function("words", udtf(words, result_types="STRING"))
        lines = "(VALUES ('a b'), ('boom'), ('c')) AS t(line)"
        got = s.sql(f"SELECT w FROM {lines}, LATERAL TABLE(words(line)) AS T(w)")
        assert sorted(got.fetchall()) == [("a",), ("b",), ("c",)]
        result = s.sql("SELECT v, fails_on_thousands(v) AS d FROM src WHERE v BETWEEN 990 AND 1010")
        assert [r[0] for r in result.fetchall()] == [v for v in range(990, 1011) if v != 1000]
        result = s.sql(
            "SELECT v % 2 AS p, SUM(fails_on_thousands(v)) AS d, COUNT(*) AS c FROM src GROUP BY v % 2"
        )
        kept = [v for v in range(1, ROWS + 1) if v % 1000]
        assert sorted(result.fetchall()) == [
            (p, sum(2 * v for v in kept if v % 2 == p), sum(1 for v in kept if v % 2 == p)) for p in (0, 1)
        ]
    good = collections.Counter((r["v"], r["d"]) for r in rows(tmp_path / "out"))
    assert good == collections.Counter((v, 2 * v) for v in range(1, ROWS + 1) if v % 1000)
    assert not (tmp_path / "bad").exists() or not rows(tmp_path / "bad")


def test_ignore_and_a_sink_together_are_refused(tmp_path: Path) -> None:
    with sqlstream.connect(config={"table.exec.udf-errors.ignore": "true"}) as s:
        s.execute(script(tmp_path, 1))
        both = r"udf-errors.sink' keeps .* 'table.exec.udf-errors.ignore' drops"
        with pytest.raises(SqlStreamError, match=both):
            s.execute(f"EXPLAIN {QUERY}")


def _divide(tmp: Path, policy: bool, query: str = "SELECT n, n / d FROM nums") -> Any:
    """An INSERT job dividing by a column that is 0 on two of five rows; its error."""
    (tmp / "in").mkdir()
    pairs = [(10, 2), (7, 0), (9, 3), (1, 0), (8, 4)]
    (tmp / "in" / "p.json").write_text("".join(json.dumps({"n": n, "d": d}) + "\n" for n, d in pairs))
    with sqlstream.connect() as s:
        s.execute(script(tmp, 1))  # sets the udf-errors table
        if not policy:
            s.execute("RESET 'table.exec.udf-errors.sink'")
        s.execute(
            f"CREATE TABLE nums (n INT, d INT) WITH ('connector' = 'filesystem', "
            f"'path' = '{tmp / 'in'}', 'format' = 'json')"
        )
        job = s.execute(f"INSERT INTO out {query}").job
        assert job is not None and job.wait(30)
        return job.error


def test_a_division_by_zero_takes_the_error_policy_and_loses_only_its_row(tmp_path: Path) -> None:
    """Flink fails the job on an integer division by zero; with the udf-errors table set the
    rows it fails on land there, as rows a Python function raised on do."""
    assert _divide(tmp_path, policy=True) is None
    assert sorted((r["v"], r["d"]) for r in rows(tmp_path / "out")) == [(8, 2), (9, 3), (10, 5)]
    bad = sorted(rows(tmp_path / "bad"), key=lambda r: json.loads(r["input"])["n"])
    assert [json.loads(r["input"]) for r in bad] == [{"n": 1, "d": 0}, {"n": 7, "d": 0}]
    for r in bad:
        assert r["operator"].startswith("Calc#") and r["function"] == "/"
        assert r["error"] == "division by zero in `n` / `d`"


def test_a_division_in_an_expression_computed_once_takes_the_error_policy(tmp_path: Path) -> None:
    """The WHERE and the SELECT share the costly expression around the division, which the
    Calc computes once (``planner/common_subexpressions.py``): its failures are routed too."""
    digits = "REGEXP_EXTRACT(CAST(n / d AS STRING), '([0-9]+)', 1)"
    query = f"SELECT n, CAST({digits} AS INT) FROM nums WHERE {digits} <> '0'"
    assert _divide(tmp_path, policy=True, query=query) is None
    assert sorted((r["v"], r["d"]) for r in rows(tmp_path / "out")) == [(8, 2), (9, 3), (10, 5)]
    bad = sorted(rows(tmp_path / "bad"), key=lambda r: json.loads(r["input"])["n"])
    assert [json.loads(r["input"]) for r in bad] == [{"n": 1, "d": 0}, {"n": 7, "d": 0}]


def test_without_an_error_policy_a_division_by_zero_fails_the_job_as_flinks_does(tmp_path: Path) -> None:
    error = _divide(tmp_path, policy=False)
    assert error is not None and "division by zero in `n` / `d`, at the row" in str(error)
    assert "table.exec.udf-errors.sink" in (getattr(error, "hint", None) or str(error))
