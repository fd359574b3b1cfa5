"""Proof by killing: datagen -> tumbling-window aggregation -> filesystem sink (json),
parallelism 2, checkpoints every 200 ms. The job is SIGKILLed at random moments and at
every crash point of ``runtime/faults.py``, restarted until it finishes, and the published
files are compared with DuckDB's answer over the same rows.

    .venv/bin/pytest tests/crash/test_filesystem_exactly_once.py -q -m "not slow"   # CI
    SQLSTREAM_CRASH_KILLS=50 .venv/bin/pytest tests/crash/test_filesystem_exactly_once.py -m slow -q -s
                                                              # long, see RESULTS.md

Exactly-once: every expected row exactly once, no in-progress file left. At-least-once:
nothing lost, duplicates allowed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Hashable, Sequence
from pathlib import Path

import duckdb

from tests.crash.harness import CRASH_POINTS, CrashReport, crash_until_done, kill_at_each, long_run, missed

WINDOW_MS = 1000


def script(tmp: Path, rows: int, mode: str, rate: int) -> Path:
    path = tmp / "job.sql"
    path.write_text(
        f"""
SET 'execution.checkpointing.interval' = '200 ms';
SET 'execution.checkpointing.mode' = '{mode}';
SET 'pipeline.name' = 'crash-fs-{mode.lower()}';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
CREATE TABLE src (v BIGINT, k AS v % 7, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}', 'sqlstream.seed' = '42',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{rows}');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "out"}', 'format' = 'json');
INSERT INTO out SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
"""
    )
    return path


def expected(rows: int) -> list[Hashable]:
    """The no-crash answer, computed by DuckDB over the same rows."""
    got = duckdb.sql(
        f"SELECT v % 7, (v * 10) // {WINDOW_MS} * {WINDOW_MS}, count(*), sum(v) "
        f"FROM range(1, {rows + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    return [tuple(int(x) for x in r) for r in got]


def read_published(out: Path) -> list[Hashable]:
    rows: list[Hashable] = []
    for name in sorted(os.listdir(out)):
        if name.startswith((".", "_")):
            continue  # hidden: in progress, invisible to readers
        for line in (out / name).read_text().splitlines():
            r = json.loads(line)
            start = dt.datetime.fromisoformat(r["window_start"]).replace(tzinfo=dt.UTC)
            rows.append((r["k"], int(start.timestamp() * 1000), r["c"], r["s"]))
    return rows


def run(
    tmp: Path,
    mode: str,
    kills: int,
    seed: int,
    rows: int,
    rate: int,
    keys_only: bool = False,
    points: Sequence[str] = (),
) -> CrashReport:
    """``points``: one kill at each in turn (``kill_at_each``); else ``kills`` at random."""
    path = script(tmp, rows, mode, rate)
    marker = tmp / "checkpoints" / f"crash-fs-{mode.lower()}" / "_finished"
    want = expected(rows)
    if keys_only:  # at-least-once compares (key, window): a replayed row may count twice
        want = [r[:2] for r in want]  # type: ignore[index]
    def read() -> list[Hashable]:
        got = read_published(tmp / "out")
        return [r[:2] for r in got] if keys_only else got  # type: ignore[index]

    if points:
        report = kill_at_each(path, read, want, points, marker.exists, seed)
    else:
        report = crash_until_done(
            path, read, want, kills=kills, seed=seed, timeout=300, finished=marker.exists
        )
    print(report.summary())
    return report


def assert_exactly_once(tmp: Path, report: CrashReport) -> None:
    assert report.exact, report.summary()
    leftovers = [n for n in os.listdir(tmp / "out") if n.endswith(".inprogress")]
    assert leftovers == [], f"in-progress files left: {leftovers}"
    # a finished job leaves no checkpoint behind
    assert not list((tmp / "checkpoints").glob("*/chk-*"))


def test_exactly_once_survives_kills(tmp_path: Path) -> None:
    points = (*CRASH_POINTS, "timer")
    report = run(tmp_path, "EXACTLY_ONCE", kills=0, seed=1, rows=12000, rate=4000, points=points)
    assert not missed(report) and report.kills == len(points), report.summary()
    assert_exactly_once(tmp_path, report)


def test_at_least_once_loses_nothing(tmp_path: Path) -> None:
    """Without alignment a snapshot may hold rows that the restored sources replay, so a
    window may count a row twice (Flink's at-least-once): every (key, window) is there,
    none with less than its true count."""
    points = ("processing", "pre_commit", "timer")
    report = run(
        tmp_path, "AT_LEAST_ONCE", kills=0, seed=2, rows=12000, rate=4000, keys_only=True, points=points
    )
    assert not missed(report) and report.kills == len(points), report.summary()
    assert report.missing == [] and report.unexpected == [], report.summary()
    true = {r[:2]: r for r in expected(12000)}  # type: ignore[index]
    for k, ws, c, s in read_published(tmp_path / "out"):  # type: ignore[misc]
        assert c >= true[(k, ws)][2] and s >= true[(k, ws)][3]  # type: ignore[index]


@long_run
def test_exactly_once_many_kills(tmp_path: Path) -> None:
    kills = int(os.environ.get("SQLSTREAM_CRASH_KILLS", "50"))
    rows = int(os.environ.get("SQLSTREAM_CRASH_ROWS", "500000"))
    seed = int(os.environ.get("SQLSTREAM_CRASH_SEED0", "7"))
    report = run(tmp_path, "EXACTLY_ONCE", kills=kills, seed=seed, rows=rows, rate=5000)
    assert report.kills >= kills, f"only {report.kills} of the {kills} kills landed: {report.summary()}"
    assert_exactly_once(tmp_path, report)
