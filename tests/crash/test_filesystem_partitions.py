"""Proof by killing, for a partitioned filesystem sink with partition commit: datagen
(event time from a sequence, 100 ms a row) -> `PARTITIONED BY (dt, mi)` (the row's day and
minute), json, exactly-once, parallelism 2, checkpoints every 200 ms, partition-time trigger
with a 1 min delay, success files.

The job is SIGKILLed at the first call of every crash point of ``runtime/faults.py`` (but
async_snapshot: no operator here keeps state), then three times at a random later commit,
restarted each time from its newest checkpoint. After every kill, what a reader sees must
be true already: each partition that has a ``_SUCCESS`` holds exactly its rows (it was
complete when committed, and nothing was duplicated since), and no row anywhere is visible
twice. At the end every row is in its partition exactly once, every partition has its
``_SUCCESS``, and no in-progress file is left.

    .venv/bin/pytest tests/crash/test_filesystem_partitions.py -q
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

from tests.crash.harness import CRASH_POINTS, run_job

ROWS = 24_000  # 2,400 s of event time: 40 minute partitions
ROW_MS = 100


def script(tmp: Path) -> Path:
    path = tmp / "job.sql"
    path.write_text(
        f"""
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = 'crash-fs-partitions';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
SET 'table.local-time-zone' = 'UTC';
CREATE TABLE src (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v * {ROW_MS}, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '4000',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE out (v BIGINT, dt STRING, mi STRING) PARTITIONED BY (dt, mi) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "out"}', 'format' = 'json',
  'sink.partition-commit.policy.kind' = 'success-file',
  'sink.partition-commit.trigger' = 'partition-time',
  'sink.partition-commit.delay' = '1 min',
  'partition.time-extractor.timestamp-pattern' = '$dt $mi:00');
INSERT INTO out SELECT v, DATE_FORMAT(ts, 'yyyy-MM-dd'), DATE_FORMAT(ts, 'HH:mm') FROM src;
"""
    )
    return path


def expected() -> dict[str, list[int]]:
    """Each partition's directory and its rows, as Flink names it (':' escaped)."""
    out: dict[str, list[int]] = {}
    for v in range(1, ROWS + 1):
        minute = v * ROW_MS // 60_000
        out.setdefault(f"dt=1970-01-01/mi={minute // 60:02d}%3A{minute % 60:02d}", []).append(v)
    return out


def seen(out: Path) -> tuple[dict[str, list[int]], set[str], list[str]]:
    """What a reader sees: each partition's rows (from its visible part files), the
    partitions with a success file, and the in-progress files."""
    rows: dict[str, list[int]] = {}
    done: set[str] = set()
    hidden: list[str] = []
    for d, _, names in os.walk(out):
        partition = os.path.relpath(d, out)
        for name in names:
            if name.endswith(".inprogress"):
                hidden.append(name)
            elif name == "_SUCCESS":
                done.add(partition)
            elif name.startswith("part-") and name.endswith(".json"):
                values = [json.loads(line) for line in Path(d, name).read_text().splitlines()]
                assert all(set(r) == {"v"} for r in values)  # partition columns are in the path only
                rows.setdefault(partition, []).extend(r["v"] for r in values)
    return {p: sorted(v) for p, v in rows.items()}, done, hidden


def check_committed(out: Path, want: dict[str, list[int]]) -> int:
    rows, done, _ = seen(out)
    duplicated = [v for vs in rows.values() for v, n in Counter(vs).items() if n > 1]
    assert duplicated == [], f"rows visible twice: {duplicated[:10]}"
    for p in done:
        assert rows.get(p) == want[p], f"partition {p} has _SUCCESS but not exactly its rows"
    return len(done)


def test_success_files_only_for_complete_partitions_through_kills(tmp_path: Path) -> None:
    job, want = script(tmp_path), expected()
    marker = tmp_path / "checkpoints" / "crash-fs-partitions" / "_finished"
    committed_mid_run = 0
    kills = 0
    first = [f"{p}:1.0" for p in CRASH_POINTS if p != "async_snapshot"]
    points = [*first, *["after_commit:0.15"] * 3]
    for seed, point in enumerate((*points, "")):
        env = {"SQLSTREAM_CRASH_AT": point, "SQLSTREAM_CRASH_SEED": str(seed)}
        code, err = run_job(job, env, timeout=300)
        if code == -signal.SIGKILL:
            kills += 1
            if not marker.exists():
                committed_mid_run = max(committed_mid_run, check_committed(tmp_path / "out", want))
            continue
        assert code == 0, f"the job failed (exit {code}) instead of recovering:\n{err[-3000:]}"
        if marker.exists():
            break
    # the random ones may find the job finished (how far a run gets depends on the load)
    assert kills > len(first), f"only {kills} of {len(points)} kills landed"
    assert committed_mid_run > 0, "no partition was committed before the job finished"
    rows, done, hidden = seen(tmp_path / "out")
    assert rows == want
    assert done == set(want)
    assert hidden == []
