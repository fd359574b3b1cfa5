"""Proof by killing, into PostgreSQL (issue 6).

(a) datagen -> tumbling-window aggregation -> PostgreSQL append table (no primary key, so
    a duplicate shows as a second row), exactly-once, parallelism 2, checkpoints every
    250 ms; (b) Kafka -> unwindowed GROUP BY (a changelog) -> PostgreSQL upsert table
    (primary key), exactly-once. The job is SIGKILLed at random moments and at every crash
    point of ``runtime/faults.py``, restarted (``sqlstream run`` resumes from the newest
    complete checkpoint) until it finishes; then the table must equal the no-crash answer
    (DuckDB's batch answer over the same rows) and ``pg_prepared_xacts`` must hold no
    transaction of the sink's prefix.

    source <(scripts/services up)
    .venv/bin/pytest tests/crash/test_postgres_exactly_once.py -q                  # short (CI)
    SQLSTREAM_CRASH_KILLS=50 .venv/bin/pytest tests/crash/test_postgres_exactly_once.py \\
        -m slow -q -s                                                              # long, RESULTS.md
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.crash.harness import CrashReport, crash_until_done, kill_at_each, long_run, missed

pytestmark = pytest.mark.postgres

WINDOW_MS = 1000
KEYS = 7


def _env(var: str) -> str:
    value = os.environ.get(var, "").strip()
    if not value:
        pytest.fail(
            f"{var} is not set: start the services with `source <(scripts/services up)`", pytrace=False
        )
    return value


@pytest.fixture(scope="module")
def pg_dsn() -> str:
    return _env("SQLSTREAM_PG_DSN")


@pytest.fixture(scope="module")
def pg_url() -> str:
    return _env("SQLSTREAM_PG_URL")


@pytest.fixture(scope="module")
def kafka_bootstrap() -> str:
    return _env("SQLSTREAM_KAFKA_BOOTSTRAP")


def execute(dsn: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def prepared(dsn: str, prefix: str) -> list[str]:
    rows = execute(dsn, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE %s", [prefix + "-%"])
    return [r[0] for r in rows]


@pytest.fixture
def table(pg_dsn: str) -> Iterator[str]:
    name = f"crash_{uuid.uuid4().hex[:10]}"
    yield name
    for gid in prepared(pg_dsn, name):  # only if the test failed
        execute(pg_dsn, f"ROLLBACK PREPARED '{gid}'")
    execute(pg_dsn, f'DROP TABLE IF EXISTS "{name}"')
    execute(pg_dsn, "DELETE FROM sqlstream_commits WHERE sink_id = %s", [name])


def jdbc(pg_url: str, table: str, **extra: str) -> str:
    opts = {
        "connector": "jdbc",
        "url": pg_url,
        "username": "sqlstream",
        "password": "sqlstream",
        "table-name": table,
        "sink.transactional-id-prefix": table,
        **extra,
    }
    return ", ".join(f"'{k}' = '{v}'" for k, v in opts.items())


def settings(tmp: Path, name: str, mode: str = "EXACTLY_ONCE") -> str:
    return f"""
SET 'execution.checkpointing.interval' = '250 ms';
SET 'execution.checkpointing.mode' = '{mode}';
SET 'pipeline.name' = '{name}';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
"""


def finished_marker(tmp: Path, name: str) -> Path:
    return tmp / "checkpoints" / name / "_finished"


# ---- (a) datagen -> tumbling windows -> append table -------------------------------------


def window_script(tmp: Path, pg_url: str, table: str, rows: int, rate: int) -> Path:
    path = tmp / "windows.sql"
    path.write_text(
        settings(tmp, table)
        + f"""
CREATE TABLE src (v BIGINT, k AS v % {KEYS}, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}', 'sqlstream.seed' = '42',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{rows}');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT)
WITH ({jdbc(pg_url, table)});
INSERT INTO out SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
"""
    )
    return path


def window_expected(rows: int) -> list[Hashable]:
    """The no-crash answer: DuckDB's batch aggregation over the same rows."""
    got = duckdb.sql(
        f"SELECT v % {KEYS}, (v * 10) // {WINDOW_MS} * {WINDOW_MS}, count(*), sum(v) "
        f"FROM range(1, {rows + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    return [tuple(int(x) for x in r) for r in got]


def window_rows(dsn: str, table: str) -> list[Hashable]:
    got = execute(dsn, f'SELECT k, window_start, c, s FROM "{table}"')
    epoch = dt.datetime(1970, 1, 1)
    return [(k, (ws - epoch) // dt.timedelta(milliseconds=1), c, s) for k, ws, c, s in got]


def run_windows(
    tmp: Path, dsn: str, url: str, table: str, kills: int, seed: int, rows: int, rate: int
) -> CrashReport:
    """``kills`` > 0: the random schedule of the harness; 0: ``kill_at_each`` crash point."""
    execute(dsn, f'CREATE TABLE "{table}" (k bigint, window_start timestamp(3), c bigint, s bigint)')
    script = window_script(tmp, url, table, rows, rate)
    marker = finished_marker(tmp, table)
    if kills:
        report = crash_until_done(
            script, lambda: window_rows(dsn, table), window_expected(rows), kills=kills, seed=seed,
            timeout=300, finished=marker.exists,
        )  # fmt: skip
    else:
        points = (
            "processing",
            "timer",
            "pre_commit",
            "before_commit",
            "after_commit",
            "alignment",
            "async_snapshot",
        )
        report = kill_at_each(
            script, lambda: window_rows(dsn, table), window_expected(rows), points, marker.exists, seed
        )
    print(f"windows -> postgres: {report.summary()}")
    return report


def assert_exact(dsn: str, tmp: Path, table: str, report: CrashReport) -> None:
    assert report.exact, (
        report.summary() + f"; missing {report.missing[:5]}, duplicated {report.duplicated[:5]}"
    )
    assert prepared(dsn, table) == [], "prepared transactions of the sink were left behind"
    assert not list((tmp / "checkpoints").glob("*/chk-*")), "a finished job leaves no checkpoint"


def test_windows_into_postgres_survive_kills(tmp_path: Path, pg_dsn: str, pg_url: str, table: str) -> None:
    report = run_windows(tmp_path, pg_dsn, pg_url, table, kills=0, seed=11, rows=24000, rate=4000)
    assert not missed(report), report.summary()
    assert_exact(pg_dsn, tmp_path, table, report)


@long_run
def test_windows_into_postgres_many_kills(tmp_path: Path, pg_dsn: str, pg_url: str, table: str) -> None:
    kills = int(os.environ["SQLSTREAM_CRASH_KILLS"])
    rows = int(os.environ.get("SQLSTREAM_CRASH_ROWS", str(8000 * kills)))
    seed = int(os.environ.get("SQLSTREAM_CRASH_SEED0", "7"))
    report = run_windows(tmp_path, pg_dsn, pg_url, table, kills=kills, seed=seed, rows=rows, rate=5000)
    assert report.kills >= kills, report.summary()
    assert_exact(pg_dsn, tmp_path, table, report)


# ---- (b) Kafka -> unwindowed GROUP BY -> upsert table ------------------------------------

# Each key's rows are consecutive (v = 3k, 3k+1, 3k+2), so its final value is written in
# one or two transactions: a lost or doubled transaction shows in the final table. With a
# few hot keys a later upsert would overwrite a lost one and hide it.
KEY = "v - v % 3"
# The job must outlast the kill timer's 0.3-1.5 s even on a fast machine, or the timer (and
# every point after it) is missed: 300,000 rows took 1.2-1.3 s once start-up got lighter.
UPSERT_ROWS = 1_000_000


def upsert_script(tmp: Path, servers: str, topic: str, pg_url: str, table: str) -> Path:
    path = tmp / "upserts.sql"
    path.write_text(
        settings(tmp, table)
        + f"""
SET 'execution.checkpointing.timeout' = '20 s';
CREATE TABLE src (v BIGINT) WITH ('connector' = 'kafka', 'topic' = '{topic}',
  'properties.bootstrap.servers' = '{servers}', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE totals (k BIGINT, c BIGINT, s BIGINT, m BIGINT, PRIMARY KEY (k) NOT ENFORCED)
WITH ({jdbc(pg_url, table)});
INSERT INTO totals SELECT {KEY} AS k, COUNT(*), SUM(v), MAX(v) FROM src GROUP BY {KEY};
"""
    )
    return path


def upsert_expected(rows: int) -> list[Hashable]:
    got = duckdb.sql(
        f"SELECT {KEY}, count(*), sum(v), max(v) FROM range(1, {rows + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    return [tuple(int(x) for x in r) for r in got]


def run_upserts(
    tmp: Path, dsn: str, url: str, servers: str, table: str, kills: int, seed: int, rows: int
) -> CrashReport:
    from tests.crash.test_kafka_exactly_once import create_topics, write_input

    topic = f"pg-crash-{table}"

    async def setup() -> None:
        await create_topics(servers, topic)
        await write_input(servers, topic, rows)

    asyncio.run(setup())
    execute(dsn, f'CREATE TABLE "{table}" (k bigint PRIMARY KEY, c bigint, s bigint, m bigint)')
    script = upsert_script(tmp, servers, topic, url, table)
    marker = finished_marker(tmp, table)

    def read() -> list[Hashable]:
        return [tuple(r) for r in execute(dsn, f'SELECT k, c, s, m FROM "{table}"')]

    if kills:
        report = crash_until_done(
            script, read, upsert_expected(rows), kills=kills, seed=seed, max_kill_delay=3.0, timeout=300,
            finished=marker.exists,
        )  # fmt: skip
    else:
        points = ("processing", "timer", "pre_commit", "before_commit", "after_commit")
        report = kill_at_each(script, read, upsert_expected(rows), points, marker.exists, seed)
    print(f"kafka -> upserts -> postgres: {report.summary()}")
    return report


def test_upserts_into_postgres_survive_kills(
    tmp_path: Path, pg_dsn: str, pg_url: str, kafka_bootstrap: str, table: str
) -> None:
    report = run_upserts(tmp_path, pg_dsn, pg_url, kafka_bootstrap, table, kills=0, seed=5, rows=UPSERT_ROWS)
    assert not missed(report), report.summary()
    assert_exact(pg_dsn, tmp_path, table, report)


@long_run
def test_upserts_into_postgres_many_kills(
    tmp_path: Path, pg_dsn: str, pg_url: str, kafka_bootstrap: str
) -> None:
    """A bounded Kafka scan cannot be rate-limited, so a run ends after a few kills: the
    long version runs rounds (each on a fresh topic and table, each checked) until the
    kills add up."""
    total, rounds = upsert_rounds(tmp_path, pg_dsn, pg_url, kafka_bootstrap)
    print(f"kafka -> upserts -> postgres, {rounds} rounds: {total.summary()}")


def forget_sink(dsn: str, sink_id: str) -> None:
    """Delete a sink's marker rows (two-phase) and progress rows (epoch mode), where the
    tables exist."""
    for ledger in ("sqlstream_commits", "sqlstream_sink_progress"):
        if execute(dsn, "SELECT to_regclass(%s)", [ledger]) != [(None,)]:
            execute(dsn, f"DELETE FROM {ledger} WHERE sink_id = %s", [sink_id])


def upsert_rounds(tmp_path: Path, dsn: str, url: str, servers: str) -> tuple[CrashReport, int]:
    """Rounds of ``run_upserts``, each on a fresh topic and table and each checked, until
    ``SQLSTREAM_CRASH_KILLS`` kills add up: (the total, the number of rounds)."""
    kills = int(os.environ["SQLSTREAM_CRASH_KILLS"])
    seed = int(os.environ.get("SQLSTREAM_CRASH_SEED0", "7"))
    total = CrashReport()
    round_no = 0
    while total.kills < kills:
        round_no += 1
        name = f"crash_{uuid.uuid4().hex[:10]}"
        tmp = tmp_path / f"round{round_no}"
        tmp.mkdir()
        try:
            report = run_upserts(
                tmp, dsn, url, servers, name, kills=10, seed=seed + round_no, rows=UPSERT_ROWS
            )
            assert_exact(dsn, tmp, name, report)
        finally:
            execute(dsn, f'DROP TABLE IF EXISTS "{name}"')
            forget_sink(dsn, name)
        total.runs += report.runs
        total.kills += report.kills
        total.kills_by_point.update(report.kills_by_point)
    return total, round_no
