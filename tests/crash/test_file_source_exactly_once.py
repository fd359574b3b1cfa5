"""Proof by killing, for the file *source*: a JSON file read as two byte ranges (parallelism
2) in small chunks -> exactly-once filesystem sink, checkpoints every 200 ms. The source
reads each chunk's bytes ahead, on a thread of its own, while the last chunk is decoded
(``runtime/connectors/filesystem/source.py``); its position must still be the end of the
rows it handed on, whatever moment the kill lands on. Every line of the file exactly once.

    .venv/bin/pytest tests/crash/test_file_source_exactly_once.py -q -m "not slow"   # CI
    SQLSTREAM_CRASH_KILLS=50 .venv/bin/pytest tests/crash/test_file_source_exactly_once.py -m slow -q -s
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable
from pathlib import Path

from tests.crash.harness import (
    CRASH_POINTS,
    CrashReport,
    crash_until_done,
    kill_at_each,
    long_run,
    missed,
    published,
)


def script(tmp: Path, rows: int) -> Path:
    data = tmp / "in.json"
    with open(data, "w") as f:  # lines of uneven length: chunks end anywhere in a read
        for i in range(rows):
            f.write(json.dumps({"v": i, "name": "n" * (i % 61)}) + "\n")
    path = tmp / "job.sql"
    path.write_text(
        f"""
SET 'execution.checkpointing.interval' = '200 ms';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'pipeline.name' = 'crash-file-source';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
SET 'sqlstream.runtime.batch-size' = '256';
CREATE TABLE src (v BIGINT, name STRING) WITH (
  'connector' = 'filesystem', 'path' = '{data}', 'format' = 'json');
CREATE TABLE out (v BIGINT, n INT) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "out"}', 'format' = 'json');
INSERT INTO out SELECT v, CHAR_LENGTH(name) AS n FROM src;
"""
    )
    return path


def read_published(out: Path) -> list[Hashable]:
    return [(r["v"], r["n"]) for r in published(out)]


# Source, Calc and sink of a subtask are joined by forward edges (no barrier aligns) and hold
# no state (nothing is snapshot asynchronously): the other crash points all fire.
POINTS = tuple(p for p in CRASH_POINTS if p not in ("alignment", "async_snapshot"))


def run(tmp: Path, rows: int, kills: int, seed: int, points: tuple[str, ...] = ()) -> CrashReport:
    path = script(tmp, rows)
    marker = tmp / "checkpoints" / "crash-file-source" / "_finished"
    want: list[Hashable] = [(i, i % 61) for i in range(rows)]

    def read() -> list[Hashable]:
        return read_published(tmp / "out")

    if points:
        report = kill_at_each(path, read, want, points, marker.exists, seed)
    else:
        report = crash_until_done(
            path,
            read,
            want,
            kills=kills,
            seed=seed,
            timeout=300,
            finished=marker.exists,
            points=(*POINTS, "timer", "timer"),
        )
    print(report.summary())
    return report


def test_every_line_once_whatever_the_kill(tmp_path: Path) -> None:
    report = run(tmp_path, rows=300_000, kills=0, seed=3, points=(*POINTS, "timer"))
    assert not missed(report) and report.kills == len(POINTS) + 1, report.summary()
    assert report.exact, report.summary()
    assert [n for n in os.listdir(tmp_path / "out") if n.endswith(".inprogress")] == []


@long_run
def test_every_line_once_under_many_kills(tmp_path: Path) -> None:
    kills = int(os.environ.get("SQLSTREAM_CRASH_KILLS", "50"))
    rows = int(os.environ.get("SQLSTREAM_CRASH_ROWS", "4000000"))
    report = run(tmp_path, rows=rows, kills=kills, seed=int(os.environ.get("SQLSTREAM_CRASH_SEED0", "11")))
    assert report.kills >= kills, f"only {report.kills} of the {kills} kills landed: {report.summary()}"
    assert report.exact, report.summary()
