"""A window aggregate whose partial rows and firings are in Arrow (COUNT(*) and MAX of an
integer over a TIMESTAMP rowtime: ``runtime/operators/window_partials.py``) writes them
into its state table when a checkpoint is taken: a job cancelled mid-stream and resumed
from its last checkpoint, at the same or another parallelism, writes exactly the rows of
an uninterrupted run."""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.unit.checkpoint.test_runtime_checkpoints import ROWS, published, resume, run_until_checkpoint


def ddl(out: Path, rate: int) -> str:
    return f"""
CREATE TABLE src (v BIGINT, k AS v % 5, ts AS CAST(TO_TIMESTAMP_LTZ(v * 10, 3) AS TIMESTAMP(3)),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, m BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


WINDOWS = {
    "hop": (
        "HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)",
        "unnest([(v * 10) // 1000 - 1, (v * 10) // 1000])",
    ),
    "session": ("SESSION(TABLE src PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' SECOND)", None),
}


def expected(kind: str) -> collections.Counter[tuple[Any, ...]]:
    """(k, window_start in epoch ms, count, max) of each window."""
    if kind == "session":  # a row every 10 ms: one session per key
        sql = f"SELECT v % 5, min(v) * 10, count(*), max(v) FROM range(1, {ROWS + 1}) t(v) GROUP BY ALL"
    else:
        sql = (
            f"SELECT k, s * 1000, count(*), max(v) FROM (SELECT v, v % 5 AS k, {WINDOWS[kind][1]} AS s "
            f"FROM range(1, {ROWS + 1}) t(v)) GROUP BY ALL"
        )
    return collections.Counter(tuple(r) for r in duckdb.sql(sql).fetchall())


def written(out: Path) -> collections.Counter[tuple[Any, ...]]:
    """The rows written, window_start in epoch ms."""
    epoch = dt.datetime(1970, 1, 1)
    return collections.Counter(
        (k, (dt.datetime.fromisoformat(start) - epoch) // dt.timedelta(milliseconds=1), c, m)
        for k, start, c, m in published(out)
    )


@pytest.mark.parametrize(("kind", "before", "after"), [("hop", 1, 1), ("hop", 2, 1), ("session", 1, 2)])
def test_window_aggregate_in_arrow_resumes_exactly(
    tmp_path: Path, kind: str, before: int, after: int
) -> None:
    out = tmp_path / "out"
    query = (
        f"INSERT INTO out SELECT k, window_start, COUNT(*) AS c, MAX(v) AS m FROM TABLE({WINDOWS[kind][0]}) "
        "GROUP BY k, window_start, window_end"
    )
    # one session per key closes only at the end of the input: cancelled with them all open
    opened = ddl(out, 2000)
    run_until_checkpoint(tmp_path, before, out, script=opened, query=query, until_output=kind != "session")
    resume(tmp_path, after, out, script=ddl(out, 20000), query=query)
    assert written(out) == expected(kind)
