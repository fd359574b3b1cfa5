"""A checkpoint whose Top-N kept wider rows than the restoring query's does (a checkpoint
of a version of sqlstream that did not prune columns below ranks, or of the same query
selecting more columns) is refused by name, with what changed and the way out; with
``execution.savepoint.ignore-unclaimed-state`` the Top-N starts empty and the job runs.
Its fingerprint is the same (same partition, order and range), so only the columns tell."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner
import sqlstream
from catalog.errors import SqlStreamError
from runtime.state.compat import compatibility_text
from tests.unit.checkpoint.test_runtime_checkpoints import config, resume, run_until_checkpoint

TOP = "FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY pt) AS rn FROM src) WHERE rn <= 3"
WIDE = f"INSERT INTO out SELECT id, k, note {TOP}"
NARROW = f"INSERT INTO out SELECT id, k {TOP}"


def ddl(out: Path, rate: int, sink: str) -> str:
    return f"""
CREATE TABLE src (id BIGINT, note STRING, k AS id % 50, pt AS PROCTIME()) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000',
  'fields.note.length' = '20');
CREATE TABLE out ({sink}) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


def test_a_top_n_checkpoint_of_wider_rows_is_refused_with_what_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    wide = ddl(out, 400, "id BIGINT, k BIGINT, note STRING")
    run_until_checkpoint(tmp_path, 1, out, script=wide, query=WIDE, checkpoints=2)
    narrow = ddl(out, 40000, "id BIGINT, k BIGINT")
    with pytest.raises(SqlStreamError) as refused:
        resume(tmp_path, 1, out, script=narrow, query=NARROW)
    message = str(refused.value)
    assert "does not fit this query's operator" in message and "Rank" in message
    assert "[id, k, pt], the checkpoint has rows of [id, note, k, pt]" in message

    # EXPLAIN --from-savepoint says the same before anything runs
    with sqlstream.connect(config=config(tmp_path, 1)) as s:
        s.execute(narrow)
        plan = planner.plan(NARROW, s.catalog, s.config)
    checkpoint = next((tmp_path / "checkpoints").glob("*/chk-*"))
    text = compatibility_text(plan, checkpoint)
    assert "incompatible (it keeps rows of [id, k, pt]" in text

    # ignore-unclaimed-state: the Top-N starts empty, the job runs to its end
    metrics = resume(
        tmp_path,
        1,
        out,
        script=narrow,
        query=NARROW,
        **{"execution.savepoint.ignore-unclaimed-state": "true"},
    )
    assert metrics["checkpoints"]["restored_from"] is not None


def test_a_join_checkpoint_of_wider_rows_is_refused_as_another_query(tmp_path: Path) -> None:
    """A join's fingerprint holds how many columns of each input it outputs: a checkpoint of
    wider rows is another query's, refused before anything runs."""
    out = tmp_path / "out"
    join = "FROM src a JOIN src2 b ON a.id = b.id"
    second = """CREATE TABLE src2 (id BIGINT, extra STRING) WITH ('connector' = 'datagen',
      'rows-per-second' = '400', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
      'fields.id.end' = '3000');"""
    wide = ddl(out, 400, "id BIGINT, note STRING, extra STRING") + second
    run_until_checkpoint(
        tmp_path, 1, out, script=wide, query=f"INSERT INTO out SELECT a.id, a.note, b.extra {join}"
    )
    narrow = ddl(out, 40000, "id BIGINT") + second
    with pytest.raises(SqlStreamError, match="it was written by a different query"):
        resume(tmp_path, 1, out, script=narrow, query=f"INSERT INTO out SELECT a.id {join}")
