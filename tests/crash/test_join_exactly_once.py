"""Proof by killing, for joins (#12): one job (a statement set) writes a regular join and an
interval join of the same datagen rows into two exactly-once filesystem sinks, parallelism
2, checkpoints every 200 ms. It is SIGKILLed at every crash point of ``runtime/faults.py``
and at a random moment, and restarted until it finishes; both sinks must then hold DuckDB's
answer exactly once: each side's rows held in the joins' state, the interval join's
watermark-bounded state and the sources' positions all come back from the checkpoints.

    .venv/bin/pytest tests/crash/test_join_exactly_once.py -q -m "not slow"      # CI: 7 kills
    SQLSTREAM_CRASH_KILLS=50 .venv/bin/pytest tests/crash/test_join_exactly_once.py -m slow -q -s
                                                      # long: >= 50 kills at random moments

``SQLSTREAM_CRASH_ROWS`` (default 10,000 a kill: 10 s of input at 1,000 rows/s, so that the
kills land before the job ends, even at a crash point passed once a checkpoint, when a loaded
machine takes seconds a checkpoint) sets the long run's orders and payments, and
``SQLSTREAM_CRASH_SEED0`` (default 11) its random choices.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path

import duckdb

from tests.crash.harness import (
    CRASH_POINTS,
    CrashReport,
    crash_until_done,
    kill_at_each,
    long_run,
    missed,
    published,
)

CUSTOMERS = 100  # customer c is the account of every order v with v % 50 = c % 50


def script(tmp: Path, rows: int, rate: int) -> Path:
    path = tmp / "job.sql"
    path.write_text(
        f"""
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = 'crash-join';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
CREATE TABLE orders (v BIGINT, k AS v % 50, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{rows}');
CREATE TABLE payments (p BIGINT, k AS p % 50, ts AS TO_TIMESTAMP_LTZ(p * 10 + 500, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
  'fields.p.kind' = 'sequence', 'fields.p.start' = '1', 'fields.p.end' = '{rows}');
CREATE TABLE customers (c BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '50',
  'fields.c.kind' = 'sequence', 'fields.c.start' = '0', 'fields.c.end' = '{CUSTOMERS - 1}');
CREATE TABLE accounts (v BIGINT, c BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "accounts"}', 'format' = 'json');
CREATE TABLE paid (v BIGINT, p BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{tmp / "paid"}', 'format' = 'json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO accounts SELECT o.v, c.c FROM orders o JOIN customers c ON o.k = c.c % 50 AND o.v > c.c;
INSERT INTO paid SELECT o.v, p.p FROM orders o JOIN payments p
  ON o.k = p.k AND p.ts BETWEEN o.ts AND o.ts + INTERVAL '2' SECOND;
END;
"""
    )
    return path


def expected(rows: int) -> list[Hashable]:
    """The no-crash answer: DuckDB's batch joins of the same rows."""
    orders = f"range(1, {rows + 1}) o(v)"
    accounts = duckdb.sql(
        f"SELECT 'accounts', v, c FROM {orders} JOIN range(0, {CUSTOMERS}) c(c) ON v % 50 = c % 50 AND v > c"
    ).fetchall()
    paid = duckdb.sql(
        f"SELECT 'paid', v, p FROM {orders} JOIN range(1, {rows + 1}) p(p) "
        "ON v % 50 = p % 50 AND p * 10 + 500 BETWEEN v * 10 AND v * 10 + 2000"
    ).fetchall()
    return [tuple(r) for r in [*accounts, *paid]]


def read_published(tmp: Path) -> list[Hashable]:
    return [(sink, r["v"], r[other]) for sink, other in (("accounts", "c"), ("paid", "p"))
            for r in published(tmp / sink)]  # fmt: skip


def assert_exact(tmp: Path, report: CrashReport) -> None:
    assert report.exact, report.summary()
    for sink in ("accounts", "paid"):
        leftovers = [n for n in os.listdir(tmp / sink) if n.endswith(".inprogress")]
        assert leftovers == [], f"in-progress files left in {sink}: {leftovers}"


def test_regular_and_interval_joins_are_exact_across_kills(tmp_path: Path) -> None:
    rows = 6000
    want = expected(rows)
    assert len(want) > 3 * rows  # every order has accounts and several payments in its interval
    marker = tmp_path / "checkpoints" / "crash-join" / "_finished"
    points = (*CRASH_POINTS, "timer")
    report = kill_at_each(
        script(tmp_path, rows, 3000), lambda: read_published(tmp_path), want, points, marker.exists, 5
    )
    print(report.summary())
    assert not missed(report) and report.kills == len(points), report.summary()
    assert_exact(tmp_path, report)


@long_run
def test_regular_and_interval_joins_many_kills(tmp_path: Path) -> None:
    kills = int(os.environ.get("SQLSTREAM_CRASH_KILLS", "50"))
    rows = int(os.environ.get("SQLSTREAM_CRASH_ROWS", str(10_000 * kills)))  # 10 s of input a kill
    seed = int(os.environ.get("SQLSTREAM_CRASH_SEED0", "11"))
    marker = tmp_path / "checkpoints" / "crash-join" / "_finished"
    report = crash_until_done(
        script(tmp_path, rows, 1000),
        lambda: read_published(tmp_path),
        expected(rows),
        kills=kills,
        seed=seed,
        timeout=300,
        finished=marker.exists,
    )
    print(report.summary())
    assert report.kills >= kills, f"only {report.kills} of the {kills} kills landed: {report.summary()}"
    assert_exact(tmp_path, report)
