"""A Top-N's state (the rows of each partition so far) is in every checkpoint: a job
cancelled mid-stream and resumed from its last checkpoint, at the same or another
parallelism, writes exactly the rows of an uninterrupted run, so a partition that was full
before the restore takes no row after it."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tests.unit.checkpoint.test_runtime_checkpoints import published, resume, run_until_checkpoint

ROWS = 6000
KEYS = 500

# ordered by processing time: the first three rows to arrive per key, insert-only
QUERY = """INSERT INTO out SELECT id, k FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY pt) AS rn FROM src) WHERE rn <= 3"""


def ddl(out: Path, rate: int) -> str:
    return f"""
CREATE TABLE src (id BIGINT, k AS id % {KEYS}, pt AS PROCTIME()) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{ROWS}');
CREATE TABLE out (id BIGINT, k BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


@pytest.mark.parametrize(("before", "after"), [(2, 2), (2, 1), (1, 2)])
def test_top_n_resumes_from_a_checkpoint_exactly(tmp_path: Path, before: int, after: int) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, before, out, script=ddl(out, 400), query=QUERY, checkpoints=2)
    first = collections.Counter(published(out))
    assert 0 < sum(first.values()) < 3 * KEYS
    metrics = resume(tmp_path, after, out, script=ddl(out, 40000), query=QUERY)
    # one source subtask: a key's rows arrive in id order, so its first three are its smallest
    assert collections.Counter(published(out)) == collections.Counter(
        (i, i % KEYS) for i in range(1, 3 * KEYS + 1)
    )
    assert metrics["checkpoints"]["restored_from"] is not None
    rank = next(op for op in metrics["operators"] if op["kind"] == "rank")
    assert rank["state_tables"] == {"rows": 3 * KEYS}
