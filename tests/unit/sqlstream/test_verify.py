"""``sqlstream verify`` on a filesystem job (no services needed): its report, its exit code,
and a sink broken on purpose caught. The Kafka and PostgreSQL variant is
``tests/integration/test_verify.py``."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlstream.verify.chaos import CrashReport, compare
from tests.unit.sqlstream.test_cli import run

SCRIPT = """
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE src (v BIGINT, k AS v % 7, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '5000');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
INSERT INTO out SELECT k, window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts),
  INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end;
"""


def cells(stdout: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in stdout.splitlines()
            if line.startswith("| ")]  # fmt: skip


def test_compare_tells_lost_from_duplicated_from_unexpected() -> None:
    report = CrashReport()
    compare(["a", "b", "b", "c"], ["a", "a", "b", "d"], report)
    assert (report.missing, report.duplicated, report.unexpected) == (["b", "c"], ["a"], ["d"])
    assert not report.exact


def test_a_filesystem_job_verifies_and_a_broken_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "job.sql"
    script.write_text(SCRIPT.format(out=tmp_path / "real"))
    good = run("verify", str(script), "--kills", "3", "--crash-points", "before_commit,pre_commit,timer")
    assert good.returncode == 0, good.stdout + good.stderr
    windows = duckdb.sql("SELECT count(DISTINCT (v % 7, v * 10 // 1000)) FROM range(1, 5001) t(v)").fetchall()
    expected = str(windows[0][0])  # DuckDB's answer: (key, window) pairs of the 5000 rows
    assert cells(good.stdout)[1] == ["out", "filesystem", "exactly-once", expected, "0", "0", "0", "exact"]
    assert "[verify] clean run finished" in good.stderr and "Traceback" not in good.stderr
    assert not (tmp_path / "real").exists()  # the real sink was never written
    monkeypatch.setenv("SQLSTREAM_TEST_BROKEN_SINK", "skip-recovery")
    # The broken sink loses what the checkpoint it restores from pre-committed; a window
    # query's early checkpoints may hold nothing (no window fired yet under load), so the
    # broken run is a projection: every batch between two barriers is in the checkpoint's
    # part file, and seed 1's first kill lands on the second checkpoint, after the source ran.
    projection = tmp_path / "projection.sql"
    tables = SCRIPT.split("INSERT INTO")[0].format(out=tmp_path / "real")
    projection.write_text(tables + "INSERT INTO out SELECT k, CAST(ts AS TIMESTAMP(3)), v FROM src;\n")
    broken = run("verify", str(projection), "--kills", "3", "--crash-points", "before_commit", "--seed", "1")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    row = cells(broken.stdout)[1]
    assert int(row[4]) > 0 and row[-1].startswith("FAILED:")  # rows lost, and said so


def test_a_script_with_two_jobs_is_refused_with_a_way_out(tmp_path: Path) -> None:
    script = tmp_path / "two.sql"
    script.write_text(SCRIPT.format(out=tmp_path / "o") + "INSERT INTO out SELECT k, ts, v FROM src;\n")
    out = run("verify", str(script))
    assert out.returncode == 1 and "verify checks one job" in out.stderr
    assert "EXECUTE STATEMENT SET" in out.stderr and "Traceback" not in out.stderr


def test_an_at_least_once_sink_is_reported_with_its_repeats_not_failed() -> None:
    from catalog.connectors import Guarantee
    from sqlstream.verify.command import SinkResult

    report = CrashReport()
    compare(["a", "b"], ["a", "a", "b"], report)
    repeated = SinkResult("out", "filesystem", Guarantee.AT_LEAST_ONCE, 2, report)
    assert repeated.ok and repeated.row()[-1] == "ok: 1 repeats allowed"
    assert not SinkResult("out", "filesystem", Guarantee.EXACTLY_ONCE, 2, report).ok
    lost = CrashReport()
    compare(["a", "b"], ["a"], lost)
    assert not SinkResult("out", "filesystem", Guarantee.AT_LEAST_ONCE, 2, lost).ok


def test_an_at_least_once_job_verifies_without_losing_rows(tmp_path: Path) -> None:
    script = tmp_path / "alo.sql"
    text = SCRIPT.format(out=tmp_path / "real")
    script.write_text("SET 'execution.checkpointing.mode' = 'AT_LEAST_ONCE';\n" + text)
    out = run("verify", str(script), "--kills", "2", "--crash-points", "after_commit,timer")
    assert out.returncode == 0, out.stdout + out.stderr
    row = cells(out.stdout)[1]
    assert row[2] == "at-least-once" and row[4] == "0" and row[6] == "0"  # nothing lost or made up
