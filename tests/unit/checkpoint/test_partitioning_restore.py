"""A checkpoint whose keyed state was assigned to subtasks by another hash partitioning (one
written before ``runtime/partition.py``, by DuckDB's ``hash()``) resumes exactly: its state
is split again by key, as at another parallelism, so every key meets its own state."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import duckdb

from tests.unit.checkpoint.test_runtime_checkpoints import published, resume, run_until_checkpoint

ROWS = 12000  # 20 s at 600 rows/s: the job is cancelled mid-stream, with windows open


def ddl(out: Path, rate: int) -> str:
    return f"""
CREATE TABLE src (v BIGINT, k AS v % 5, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


def test_state_of_another_partitioning_is_split_again_by_key(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, 2, out, script=ddl(out, 600), checkpoints=4)
    newest = max((tmp_path / "checkpoints").glob("*/chk-*"), key=lambda p: int(p.name.split("-")[1]))
    meta_path = newest / "_metadata"
    meta = json.loads(meta_path.read_text())
    assert meta["partitioning"]
    # as an older version left it: no partitioning recorded, and each key's state in the
    # other subtask's file than the one this version's exchange sends the key to
    meta["partitioning"] = ""
    swapped = 0
    for subtasks in meta["operators"].values():
        if {"0", "1"} <= subtasks.keys() and any("file" in (s or {}) for s in subtasks.values()):
            subtasks["0"], subtasks["1"] = subtasks["1"], subtasks["0"]
            swapped += 1
    assert swapped
    meta_path.write_text(json.dumps(meta))
    resume(tmp_path, 2, out, script=ddl(out, 40000))
    expected = duckdb.sql(
        "SELECT v % 5, strftime(make_timestamp((v * 10) // 1000 * 1000000), '%Y-%m-%d %H:%M:%S'), "
        f"count(*), sum(v) FROM range(1, {ROWS + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    assert collections.Counter(published(out)) == collections.Counter(tuple(r) for r in expected)
