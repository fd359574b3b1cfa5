"""Proof by killing, into a PostgreSQL server without prepared transactions (issue 20).

The pipelines of ``test_postgres_exactly_once.py`` ((a) datagen -> tumbling windows ->
append table, (b) Kafka -> unwindowed GROUP BY -> upsert table; exactly-once, parallelism
2, checkpoints every 250 ms), pointed at the second server of ``scripts/services``
(``max_prepared_transactions = 0``): the sink commits each epoch at its barrier and, after a
restart, drops the replay of what it had committed. SIGKILLed at every crash point (short
run, CI) and at random (long run, ``-m slow``); the table must equal the no-crash answer.
The same pipelines over a processing-time window are refused, at planning when the mode
is named and at start when the server makes the choice.

    source <(scripts/services up)
    .venv/bin/pytest tests/crash/test_postgres_epoch.py -q                           # short (CI)
    SQLSTREAM_CRASH_KILLS=50 SQLSTREAM_CRASH_ROWS=1800000 \\
        .venv/bin/pytest tests/crash/test_postgres_epoch.py -m slow -q -s
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crash.harness import ROOT, long_run, missed
from tests.crash.test_postgres_exactly_once import (
    UPSERT_ROWS,
    _env,
    assert_exact,
    execute,
    finished_marker,
    forget_sink,
    jdbc,
    run_upserts,
    run_windows,
    settings,
    upsert_rounds,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def noprep_dsn() -> str:
    return _env("SQLSTREAM_PG_NOPREP_DSN")


@pytest.fixture(scope="module")
def noprep_url() -> str:
    return _env("SQLSTREAM_PG_NOPREP_URL")


@pytest.fixture(scope="module")
def kafka_bootstrap() -> str:
    return _env("SQLSTREAM_KAFKA_BOOTSTRAP")


@pytest.fixture
def table(noprep_dsn: str) -> Iterator[str]:
    name = f"epoch_{uuid.uuid4().hex[:10]}"
    yield name
    execute(noprep_dsn, f'DROP TABLE IF EXISTS "{name}"')
    forget_sink(noprep_dsn, name)


def test_windows_in_epoch_mode_survive_kills(
    tmp_path: Path, noprep_dsn: str, noprep_url: str, table: str
) -> None:
    report = run_windows(tmp_path, noprep_dsn, noprep_url, table, kills=0, seed=13, rows=24000, rate=4000)
    assert not missed(report), report.summary()
    assert_exact(noprep_dsn, tmp_path, table, report)


def test_upserts_in_epoch_mode_survive_kills(
    tmp_path: Path, noprep_dsn: str, noprep_url: str, kafka_bootstrap: str, table: str
) -> None:
    report = run_upserts(
        tmp_path, noprep_dsn, noprep_url, kafka_bootstrap, table, kills=0, seed=3, rows=UPSERT_ROWS
    )
    assert not missed(report), report.summary()
    assert_exact(noprep_dsn, tmp_path, table, report)


@long_run
def test_windows_in_epoch_mode_many_kills(
    tmp_path: Path, noprep_dsn: str, noprep_url: str, table: str
) -> None:
    kills = int(os.environ["SQLSTREAM_CRASH_KILLS"])
    rows = int(os.environ.get("SQLSTREAM_CRASH_ROWS", str(8000 * kills)))
    seed = int(os.environ.get("SQLSTREAM_CRASH_SEED0", "7"))
    report = run_windows(
        tmp_path, noprep_dsn, noprep_url, table, kills=kills, seed=seed, rows=rows, rate=5000
    )
    assert report.kills >= kills, report.summary()
    assert_exact(noprep_dsn, tmp_path, table, report)


@long_run
def test_upserts_in_epoch_mode_many_kills(
    tmp_path: Path, noprep_dsn: str, noprep_url: str, kafka_bootstrap: str
) -> None:
    """Rounds on fresh topics and tables until the kills add up, as for two-phase mode."""
    total, rounds = upsert_rounds(tmp_path, noprep_dsn, noprep_url, kafka_bootstrap)
    print(f"kafka -> upserts -> postgres (epoch mode), {rounds} rounds: {total.summary()}")


# ---- processing time: refused -------------------------------------------------------------


def proctime_script(tmp: Path, url: str, table: str, mode: str | None) -> Path:
    """Pipeline (a) with its window on processing time."""
    extra = {"sink.exactly-once.mode": mode} if mode else {}
    path = tmp / "proctime.sql"
    path.write_text(
        settings(tmp, table)
        + f"""
CREATE TABLE src (v BIGINT, k AS v % 7, pt AS PROCTIME())
WITH ('connector' = 'datagen', 'rows-per-second' = '1000', 'fields.v.kind' = 'sequence',
  'fields.v.start' = '1', 'fields.v.end' = '2000');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH ({jdbc(url, table, **extra)});
INSERT INTO out SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(pt), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
"""
    )
    return path


@pytest.mark.parametrize("mode", ["epoch", None])
def test_processing_time_windows_are_refused_for_epoch_mode(
    tmp_path: Path, noprep_dsn: str, noprep_url: str, table: str, mode: str | None
) -> None:
    """Named (``'sink.exactly-once.mode' = 'epoch'``): refused when planning. Left to the
    server: refused at start, because this server has no prepared transactions. Either
    way the message gives the reason and the way out, and no row is written."""
    execute(noprep_dsn, f'CREATE TABLE "{table}" (k bigint, window_start timestamp(3), c bigint, s bigint)')
    script = proctime_script(tmp_path, noprep_url, table, mode)
    command = [sys.executable, "-m", "sqlstream", "run", str(script)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "epoch mode needs a plan that replays the same rows" in out, out
    assert "processing-time TUMBLE window" in out, out
    assert "'sink.delivery-guarantee' = 'at-least-once'" in out, out
    assert "Traceback" not in out, out
    if mode is None:
        assert "max_prepared_transactions = 0" in out, out
    assert execute(noprep_dsn, f'SELECT count(*) FROM "{table}"') == [(0,)]
    assert not finished_marker(tmp_path, table).exists()
