"""The state of OVER aggregates and window Top-N (rows waiting for the watermark, the
history a frame reaches, LAG's last values of each partition, each open window's best
rows) is in every checkpoint: a job cancelled mid-stream and resumed from its last
checkpoint at another parallelism writes exactly the rows of an uninterrupted run."""

from __future__ import annotations

import collections
from pathlib import Path

import duckdb
import pytest

from tests.unit.checkpoint.test_runtime_checkpoints import published, resume, run_until_checkpoint

ROWS = 12000  # 20 s at 600 rows/s: under load, checkpoints slow down and the job must outlast eight


def ddl(out: Path, rate: int) -> str:
    return f"""
CREATE TABLE src (id BIGINT, k AS id % 5, ts AS TO_TIMESTAMP_LTZ(1700000000000 + id * 10, 3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{ROWS}');
CREATE TABLE out (id BIGINT, k BIGINT, n BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


OVER = """INSERT INTO out SELECT id, k, SUM(id) OVER w FROM src
    WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"""
LAG = """INSERT INTO out SELECT id, k, LAG(id, 3, CAST(0 AS BIGINT)) OVER (PARTITION BY k ORDER BY ts)
    FROM src"""
TOP2 = """INSERT INTO out SELECT id, k, rn FROM (
    SELECT id, k, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY id DESC) AS rn
    FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))) WHERE rn <= 2"""
EXPECTED = {
    OVER: "SELECT id, id % 5, sum(id) OVER (PARTITION BY id % 5 ORDER BY id ROWS 2 PRECEDING) FROM {r}",
    LAG: "SELECT id, id % 5, lag(id, 3, 0) OVER (PARTITION BY id % 5 ORDER BY id) FROM {r}",
    TOP2: "SELECT id, id % 5, rn FROM (SELECT id, row_number() OVER "
    "(PARTITION BY (id * 10) // 1000, id % 5 ORDER BY id DESC) AS rn FROM {r}) WHERE rn <= 2",
}


@pytest.mark.parametrize("query", [OVER, LAG, TOP2], ids=["over", "lag", "window-top-n"])
@pytest.mark.parametrize(("before", "after"), [(2, 1), (1, 2)])
def test_resumes_from_a_checkpoint_exactly(tmp_path: Path, query: str, before: int, after: int) -> None:
    out = tmp_path / "out"
    # 100 ms checkpoints, 600 rows (6 s of event time) a second: by the eighth, windows
    # and frames have closed behind the 1 s watermark and their rows are committed
    run_until_checkpoint(tmp_path, before, out, script=ddl(out, 600), query=query, checkpoints=8)
    expected = collections.Counter(
        tuple(row) for row in duckdb.sql(EXPECTED[query].format(r=f"range(1, {ROWS + 1}) r(id)")).fetchall()
    )
    assert 0 < sum(collections.Counter(published(out)).values()) < sum(expected.values())
    metrics = resume(tmp_path, after, out, script=ddl(out, 40000), query=query)
    assert collections.Counter(published(out)) == expected
    assert metrics["checkpoints"]["restored_from"] is not None
