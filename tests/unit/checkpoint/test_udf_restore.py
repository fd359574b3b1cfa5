"""A pipeline with Python functions (a vectorized one in the window's key, a row one in
an aggregate's argument) resumes from a checkpoint and writes exactly the rows of an
uninterrupted run: the functions are registered again in the restored job."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import duckdb

from tests.unit.checkpoint.test_runtime_checkpoints import ROWS, published, resume, run_until_checkpoint

MOD = "tests.unit.sqlstream.udf_module"


def script(out: Path, rate: int) -> str:
    return f"""
CREATE FUNCTION bucket AS '{MOD}.bucket' LANGUAGE PYTHON;
CREATE FUNCTION count_char AS '{MOD}.count_char' LANGUAGE PYTHON;
CREATE TABLE src (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


QUERY = """INSERT INTO out SELECT MOD(bucket(v), 5) AS k, window_start, COUNT(*) AS c,
  SUM(count_char(CAST(v AS STRING), '7')) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY MOD(bucket(v), 5), window_start, window_end"""


def expected() -> collections.Counter[tuple[Any, ...]]:
    got = duckdb.sql(
        "SELECT (v // 10) % 5, strftime(make_timestamp((v * 10) // 1000 * 1000000), '%Y-%m-%d %H:%M:%S'), "
        "count(*), sum(length(v::VARCHAR) - length(replace(v::VARCHAR, '7', ''))) "
        f"FROM range(1, {ROWS + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    return collections.Counter(tuple(r) for r in got)


def test_udf_pipeline_resumes_from_a_checkpoint_exactly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, 1, out, script=script(out, 2000), query=QUERY)
    first = sum(collections.Counter(published(out)).values())
    assert 0 < first < sum(expected().values())
    metrics = resume(tmp_path, 1, out, script=script(out, 20000), query=QUERY)
    assert metrics["checkpoints"]["restored_from"] is not None
    assert collections.Counter(published(out)) == expected()
