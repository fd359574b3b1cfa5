"""Proof by killing, for the late-rows side output (``table.exec.late-rows.sink``): a window
job with out-of-order rows, its results and its late rows both in exactly-once filesystem
sinks, SIGKILLed at random and at every crash point and restarted until it finishes.

Which rows are late depends on when watermarks pass, so it may differ from run to run;
what may not differ is that every row of the input ends up exactly once: counted in a
window result, or kept as a late row, never both, never twice, never lost.

    .venv/bin/pytest tests/crash/test_late_rows_exactly_once.py -q
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sqlstream.verify.chaos import kill_until_done
from tests.crash.harness import ROOT, published

ROWS = 12_000


def script(tmp: Path) -> Path:
    path = tmp / "late.sql"
    # every 7th row is 3 s behind the rest: late once its window has fired
    path.write_text(f"""
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = 'crash-late-rows';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'table.exec.late-rows.sink' = 'late_rows';
CREATE TABLE src (v BIGINT,
  ts AS TO_TIMESTAMP_LTZ(CASE WHEN v % 7 = 0 THEN v * 10 - 3000 ELSE v * 10 END, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '4000',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE per_second (window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "windows"}', 'format' = 'json');
CREATE TABLE late_rows (operator STRING, row_json STRING) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "late"}', 'format' = 'json');
INSERT INTO per_second SELECT window_start, COUNT(*), SUM(v)
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end;
""")
    return path


def test_every_row_lands_once_in_a_window_or_as_a_late_row(tmp_path: Path) -> None:
    marker = tmp_path / "checkpoints" / "crash-late-rows" / "_finished"
    report = kill_until_done(script(tmp_path), kills=4, seed=3, timeout=300, finished=marker.exists, cwd=ROOT)
    assert report.kills >= 1, report.summary()
    windows = published(tmp_path / "windows")
    late = Counter(int(json.loads(str(r["row_json"]))["v"]) for r in published(tmp_path / "late"))
    assert late, "rows 3 s behind a 1 s watermark delay are late"
    assert max(late.values()) == 1, "a late row was kept twice"
    assert len({r["window_start"] for r in windows}) == len(windows), "a window was published twice"
    # each row once: counted in its window or kept as late (counts and sums both add up)
    assert sum(int(str(r["c"])) for r in windows) + len(late) == ROWS
    assert sum(int(str(r["s"])) for r in windows) + sum(late) == ROWS * (ROWS + 1) // 2
