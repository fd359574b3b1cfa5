"""``sqlstream run`` resumes from the newest checkpoint unless --fresh; a checkpoint of
another query is refused with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlstream.cli import main

SCRIPT = """
SET 'execution.checkpointing.interval' = '100 ms';
SET 'pipeline.name' = 'cli-resume';
SET 'state.checkpoints.dir' = '{chk}';
CREATE TABLE src (v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{rows}');
CREATE TABLE out (v BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT v % 3, COUNT(*) FROM src GROUP BY v % 3;
"""


def write(tmp: Path, rows: int) -> Path:
    path = tmp / f"job-{rows}.sql"
    path.write_text(SCRIPT.format(chk=tmp / "chk", rows=rows))
    return path


def fake_checkpoint_of_another_query(tmp: Path) -> Path:
    folder = tmp / "chk" / "cli-resume" / "chk-3"
    folder.mkdir(parents=True)
    (folder / "_metadata").write_text(
        '{"format_version": 1, "checkpoint_id": 3, "job_name": "cli-resume", '
        '"plan_fingerprint": "0000", "timestamp_ms": 0}'
    )
    return folder


def test_run_resumes_by_default_and_fresh_starts_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_checkpoint_of_another_query(tmp_path)
    assert main(["run", str(write(tmp_path, 100))]) == 1
    err = capsys.readouterr().err
    assert "different query" in err and "--fresh" in err
    assert main(["run", "--fresh", str(write(tmp_path, 100))]) == 0
    assert "finished" in capsys.readouterr().err
    assert not (tmp_path / "chk" / "cli-resume" / "chk-3").exists()  # a FINISHED job's go


def test_from_checkpoint_names_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["run", "--from-checkpoint", str(missing), str(write(tmp_path, 10))]) == 1
    assert "not a complete checkpoint" in capsys.readouterr().err
