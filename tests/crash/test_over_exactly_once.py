"""Proof by killing, for what is built on OVER: one job (a statement set) computes an OVER
aggregation and a window Top-N of the same datagen rows into two filesystem sinks,
parallelism 2, checkpoints every 200 ms. It is SIGKILLed at every crash point of
``runtime/faults.py`` and restarted until it finishes; both sinks must then hold DuckDB's
answer exactly once: the rows waiting for the watermark, the frames' history and each
open window's best rows all come back from the checkpoints.

    .venv/bin/pytest tests/crash/test_over_exactly_once.py -q
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import duckdb

from tests.crash.harness import CRASH_POINTS, kill_at_each, missed, published

ROWS = 12000


def script(tmp: Path) -> Path:
    path = tmp / "job.sql"
    path.write_text(
        f"""
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = 'crash-over';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
CREATE TABLE src (v BIGINT, k AS v % 7, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '4000',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE running (v BIGINT, k BIGINT, s BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "running"}', 'format' = 'json');
CREATE TABLE top2 (v BIGINT, k BIGINT, rn BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "top2"}', 'format' = 'json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO running SELECT v, k, SUM(v) OVER (PARTITION BY k ORDER BY ts
  ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM src;
INSERT INTO top2 SELECT v, k, rn FROM (
  SELECT v, k, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY v DESC) AS rn
  FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))) WHERE rn <= 2;
END;
"""
    )
    return path


def expected() -> list[Hashable]:
    r = f"range(1, {ROWS + 1}) t(v)"
    running = duckdb.sql(
        f"SELECT 'running', v, v % 7, sum(v) OVER (PARTITION BY v % 7 ORDER BY v ROWS 3 PRECEDING) FROM {r}"
    ).fetchall()
    top2 = duckdb.sql(
        f"SELECT 'top2', v, v % 7, rn FROM (SELECT v, row_number() OVER "
        f"(PARTITION BY (v * 10) // 1000, v % 7 ORDER BY v DESC) AS rn FROM {r}) WHERE rn <= 2"
    ).fetchall()
    return [tuple(x) for x in [*running, *top2]]


def read_published(tmp: Path) -> list[Hashable]:
    return [(sink, r["v"], r["k"], r[last]) for sink, last in (("running", "s"), ("top2", "rn"))
            for r in published(tmp / sink)]  # fmt: skip


def test_over_and_window_top_n_are_exact_across_kills(tmp_path: Path) -> None:
    marker = tmp_path / "checkpoints" / "crash-over" / "_finished"
    points = (*CRASH_POINTS, "timer")
    report = kill_at_each(
        script(tmp_path), lambda: read_published(tmp_path), expected(), points, marker.exists, 3
    )
    print(report.summary())
    assert not missed(report) and report.kills == len(points), report.summary()
    assert report.exact, report.summary()
