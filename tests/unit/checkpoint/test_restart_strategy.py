"""A failed job with checkpointing restarts by itself from its newest checkpoint."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import sqlstream
from runtime.restart import RestartStrategy


def _write(path: Path, ids: range, bad_at: int | None = None) -> None:
    """Write the file whole, by renaming: rewritten in place while the restarted job reads
    it, it could be read empty (truncated, not yet written) and its rows never come."""
    lines = [json.dumps({"id": i, "v": i * 10}) if i != bad_at else '{"id": oops' for i in ids]
    part = path.with_name(f".{path.name}.tmp")
    part.write_text("\n".join(lines) + "\n")
    os.replace(part, path)


def _session(tmp_path: Path, attempts: int) -> sqlstream.Session:
    s = sqlstream.connect(
        config={
            "execution.checkpointing.interval": "100 ms",
            "state.checkpoints.dir": str(tmp_path / "chk"),
            "pipeline.name": "restart-test",
            "restart-strategy.fixed-delay.attempts": str(attempts),
            "restart-strategy.fixed-delay.delay": "500 ms",
        }
    )
    (tmp_path / "in").mkdir()
    s.execute(
        f"CREATE TABLE src (id BIGINT, v BIGINT) WITH ('connector' = 'filesystem', "
        f"'path' = '{tmp_path / 'in'}', 'format' = 'json')"
    )
    s.execute(
        f"CREATE TABLE out (id BIGINT, v BIGINT) WITH ('connector' = 'filesystem', "
        f"'path' = '{tmp_path / 'out'}', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once')"
    )
    return s


def _published(folder: Path) -> list[int]:
    ids = []
    for part in sorted(folder.glob("part-*")):
        ids.extend(json.loads(line)["id"] for line in part.read_text().splitlines())
    return ids


def test_defaults_follow_flink() -> None:
    assert RestartStrategy.from_config({}).attempts == 0  # no checkpoints: nothing to restart from
    with_checkpoints = RestartStrategy.from_config({"execution.checkpointing.interval": "1 s"})
    assert (with_checkpoints.attempts, with_checkpoints.delay_s) == (3, 1.0)
    off = RestartStrategy.from_config(
        {"execution.checkpointing.interval": "1 s", "restart-strategy.type": "none"}
    )
    assert off.attempts == 0


def test_a_job_restarts_after_its_input_is_fixed_and_writes_each_row_once(tmp_path: Path) -> None:
    s = _session(tmp_path, attempts=5)
    _write(tmp_path / "in" / "a.json", range(0, 3000))
    _write(tmp_path / "in" / "b.json", range(3000, 6000), bad_at=4500)
    job = s.execute("INSERT INTO out SELECT id, v FROM src").job
    assert job is not None
    deadline = time.monotonic() + 30
    while not job.restarts and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.restarts, "the job should have failed on the bad record and restarted"
    assert "line 1501" in job.restarts[0]  # the failure names the bad record
    _write(tmp_path / "in" / "b.json", range(3000, 6000))  # the data is fixed in place
    assert job.wait(timeout=60)
    assert job.error is None, job.error
    ids = _published(tmp_path / "out")
    assert sorted(ids) == list(range(6000))  # every row, none twice
    s.close()


def test_a_job_that_keeps_failing_gives_up_after_its_attempts(tmp_path: Path) -> None:
    s = _session(tmp_path, attempts=2)
    _write(tmp_path / "in" / "a.json", range(0, 100), bad_at=50)
    job = s.execute("INSERT INTO out SELECT id, v FROM src").job
    assert job is not None
    assert job.wait(timeout=60)
    assert job.error is not None and "line 51" in str(job.error)
    assert len(job.restarts) == 2
    assert job.status == "FAILED"
    s.close()


@pytest.mark.parametrize("kind", ["exponential-delay"])
def test_an_unsupported_strategy_is_named(kind: str) -> None:
    from catalog.errors import OptionError

    with pytest.raises(OptionError, match=kind):
        RestartStrategy.from_config({"restart-strategy.type": kind})


def test_a_job_that_another_instance_took_over_does_not_restart(tmp_path: Path) -> None:
    """A zombie (an older instance of the same job) must not come back from its
    checkpoints: it would redo what the newer instance already wrote."""
    from runtime.job import Job
    from runtime.restart import claim

    s = _session(tmp_path, attempts=5)
    _write(tmp_path / "in" / "a.json", range(0, 100), bad_at=50)
    job = s.execute("INSERT INTO out SELECT id, v FROM src").job
    assert job is not None
    deadline = time.monotonic() + 30
    while not job.restarts and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.restarts
    claim(Job(job.plan, config=job.job.config))  # a second instance of the job starts
    assert job.wait(timeout=60)
    assert job.error is not None and "another instance" in str(job.error)
    assert len(job.restarts) < 5
    s.close()
