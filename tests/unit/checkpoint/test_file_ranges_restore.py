"""A job reading one file as byte ranges (``runtime/connectors/filesystem/splits.py``)
stops after a checkpoint and resumes, at the same or another parallelism: every line
reaches the exactly-once sink once."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from runtime.connectors.filesystem import splits

from .test_runtime_checkpoints import published, resume, run_until_checkpoint

ROWS = 20_000


def script(data: Path, out: Path) -> str:
    # many small batches, so that checkpoints land inside the ranges
    return f"""
SET 'sqlstream.runtime.batch-size' = '16';
CREATE TABLE src (v BIGINT, name STRING) WITH (
  'connector' = 'filesystem', 'path' = '{data}', 'format' = 'json');
CREATE TABLE out (v BIGINT, name STRING) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


@pytest.mark.parametrize(("before", "after"), [(2, 2), (2, 1), (2, 3)])
def test_ranges_of_one_file_resume_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: int, after: int
) -> None:
    monkeypatch.setattr(splits, "SPLIT_MIN_BYTES", 1)
    data, out = tmp_path / "in.json", tmp_path / "out"
    data.write_text("".join(json.dumps({"v": i, "name": f"n{i}" * (i % 7)}) + "\n" for i in range(ROWS)))
    query = "INSERT INTO out SELECT v, name FROM src"
    run_until_checkpoint(tmp_path, before, out, script=script(data, out), query=query, checkpoints=3)
    first = published(out)
    assert 0 < len(first) < ROWS
    assert any(v >= ROWS // 2 for v, _ in first)  # the second range was read alongside the first
    resume(tmp_path, after, out, script=script(data, out), query=query)
    counts = collections.Counter(v for v, _ in published(out))
    assert counts == collections.Counter(range(ROWS))
