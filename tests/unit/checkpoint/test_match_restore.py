"""The state of MATCH_RECOGNIZE (rows waiting for the watermark, each partition's partial
matches) is in every checkpoint: a job cancelled mid-stream and resumed from its last
checkpoint, at another parallelism, writes exactly the matches of an uninterrupted run."""

from __future__ import annotations

import collections
from pathlib import Path

import duckdb
import pytest

from tests.unit.checkpoint.test_over_restore import ROWS, ddl
from tests.unit.checkpoint.test_runtime_checkpoints import published, resume, run_until_checkpoint

# Per k = id % 5, the ids k, k+5, k+10, ...: A is an id divisible by 3 (every 15 ids), then
# three more rows; past the last row (which is divisible by 3 again) the next A is 30 on.
QUERY = """INSERT INTO out SELECT * FROM src MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
    MEASURES A.id AS a, LAST(C.id) AS c ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
    PATTERN (A B{2} C) DEFINE A AS A.id % 3 = 0)"""
EXPECTED = "SELECT id % 5, id, id + 15 FROM {r} WHERE id % 3 = 0 AND (id - 1) % 30 < 15 AND id + 15 <= {n}"


@pytest.mark.parametrize(("before", "after"), [(2, 1), (1, 2)])
def test_resumes_from_a_checkpoint_exactly(tmp_path: Path, before: int, after: int) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, before, out, script=ddl(out, 600), query=QUERY, checkpoints=8)
    expected = collections.Counter(
        tuple(row) for row in duckdb.sql(EXPECTED.format(r=f"range(1, {ROWS + 1}) r(id)", n=ROWS)).fetchall()
    )
    assert 0 < sum(collections.Counter(published(out)).values()) < sum(expected.values())
    metrics = resume(tmp_path, after, out, script=ddl(out, 40000), query=QUERY)
    assert collections.Counter(published(out)) == expected
    assert metrics["checkpoints"]["restored_from"] is not None
