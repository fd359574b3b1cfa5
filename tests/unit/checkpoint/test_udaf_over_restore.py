"""A Python aggregate in an UNBOUNDED OVER frame keeps one pickled accumulator per
partition: it is in every checkpoint and split by key on restore, so a job cancelled
mid-stream and resumed at another parallelism writes exactly the rows of an
uninterrupted run (each row's running total over its partition)."""

from __future__ import annotations

import collections
from pathlib import Path

import duckdb
import pytest

from tests.unit.checkpoint.test_over_restore import ROWS, ddl
from tests.unit.checkpoint.test_runtime_checkpoints import published, resume, run_until_checkpoint

FUNCTION = "CREATE FUNCTION py_total AS 'tests.unit.sqlstream.udf_module.py_total' LANGUAGE PYTHON;\n"
QUERY = """INSERT INTO out SELECT id, k, py_total(id) OVER w FROM src
    WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"""


@pytest.mark.parametrize(("before", "after"), [(2, 1), (1, 2)])
def test_unbounded_accumulators_resume_exactly(tmp_path: Path, before: int, after: int) -> None:
    out = tmp_path / "out"
    # as test_over_restore: 100 ms checkpoints, 600 rows (6 s of event time) a second; by the
    # eighth, rows behind the 1 s watermark are committed (four were too few when the
    # machine was quiet: nothing had been committed yet), and ROWS outlast them under load
    run_until_checkpoint(tmp_path, before, out, script=FUNCTION + ddl(out, 600), query=QUERY, checkpoints=8)
    expected = collections.Counter(
        duckdb.sql(
            "SELECT id, id % 5, sum(id) OVER (PARTITION BY id % 5 ORDER BY id ROWS UNBOUNDED PRECEDING)"
            f"::BIGINT FROM range(1, {ROWS + 1}) r(id)"
        ).fetchall()
    )
    assert 0 < sum(collections.Counter(published(out)).values()) < sum(expected.values())
    metrics = resume(tmp_path, after, out, script=FUNCTION + ddl(out, 40000), query=QUERY)
    assert collections.Counter(published(out)) == expected
    assert metrics["checkpoints"]["restored_from"] is not None
