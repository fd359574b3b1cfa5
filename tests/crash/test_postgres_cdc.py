"""Proof by killing, for the postgres-cdc source (issue 18): a table mirrored through
``postgres-cdc`` into a keyed PostgreSQL table (and, beside it, a per-group COUNT/SUM of
the changelog, which a duplicated or lost change would put off) while random inserts,
updates, key changes and deletes land, with the job SIGKILLed again and again (at random
moments and at the crash points of ``runtime/faults.py``) and restarted from its newest
checkpoint. Then the mirror must equal the source table, and the aggregate the source's.

    source <(scripts/services up)
    .venv/bin/pytest tests/crash/test_postgres_cdc.py -q                       # short (CI)
    SQLSTREAM_CRASH_KILLS=30 .venv/bin/pytest tests/crash/test_postgres_cdc.py -q -s
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.crash.harness import CRASH_POINTS, ROOT, run_job
from tests.crash.test_postgres_exactly_once import _env, execute, jdbc

pytestmark = pytest.mark.postgres

GROUPS = 10


@pytest.fixture
def names() -> Iterator[str]:
    dsn = _env("SQLSTREAM_PG_DSN")
    name = f"cdcx_{uuid.uuid4().hex[:10]}"
    yield name
    # a killed job's backend may still hold the slot for a moment
    execute(dsn, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s "
                 "AND active_pid IS NOT NULL", [name])  # fmt: skip
    deadline = time.monotonic() + 30
    while execute(dsn, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active", [name]):
        assert time.monotonic() < deadline, f"slot {name} stayed active"
        time.sleep(0.2)
    execute(
        dsn,
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        [name],
    )
    for gid in execute(dsn, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE %s", [name + "%"]):
        execute(dsn, f"ROLLBACK PREPARED '{gid[0]}'")
    execute(dsn, f"DROP PUBLICATION IF EXISTS {name}")
    for t in ("src", "dst", "agg"):
        execute(dsn, f"DROP TABLE IF EXISTS {name}_{t}")
    execute(dsn, "DELETE FROM sqlstream_commits WHERE sink_id LIKE %s", [name + "%"])


def script(tmp: Path, dsn: str, url: str, name: str) -> Path:
    p = conninfo_to_dict(dsn)
    cdc = {
        "connector": "postgres-cdc", "hostname": p["host"], "port": p["port"], "username": p["user"],
        "password": p["password"], "database-name": p["dbname"], "schema-name": "public",
        "table-name": f"{name}_src", "slot.name": name, "scan.incremental.snapshot.chunk.size": "500",
    }  # fmt: skip
    options = ", ".join(f"'{k}' = '{v}'" for k, v in cdc.items())
    eo = {"sink.delivery-guarantee": "exactly-once"}
    path = tmp / "mirror.sql"
    path.write_text(f"""
SET 'execution.checkpointing.interval' = '300 ms';
SET 'pipeline.name' = '{name}';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
CREATE TABLE src (id BIGINT, name STRING, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED)
WITH ({options});
CREATE TABLE dst (id BIGINT, name STRING, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED)
WITH ({jdbc(url, f"{name}_dst", **eo)});
CREATE TABLE agg (k BIGINT, c BIGINT, s DECIMAL(20, 2), PRIMARY KEY (k) NOT ENFORCED)
WITH ({jdbc(url, f"{name}_agg", **eo)});
EXECUTE STATEMENT SET BEGIN
INSERT INTO dst SELECT id, name, amount FROM src;
INSERT INTO agg SELECT id % {GROUPS}, COUNT(*), SUM(amount) FROM src GROUP BY id % {GROUPS};
END;
""")
    return path


class Mutator(threading.Thread):
    """Random transactions of inserts, updates, key changes and deletes, until stopped."""

    def __init__(self, dsn: str, table: str, seed: int, first_id: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.table, self.rng = dsn, table, random.Random(seed)
        self.next_id = first_id
        self.stop = threading.Event()
        self.transactions = 0

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as c:
            while not self.stop.is_set():
                with c.transaction():
                    for _ in range(self.rng.randint(1, 5)):
                        self._one(c)
                self.transactions += 1
                time.sleep(0.002)

    def _one(self, c: psycopg.Connection[Any]) -> None:
        t, rng = self.table, self.rng
        op = rng.random()
        if op < 0.35:
            self.next_id += 1
            c.execute(
                f"INSERT INTO {t} VALUES (%s, %s, %s)",
                [self.next_id, f"n{self.next_id}", rng.randint(0, 999)],
            )
            return
        row = c.execute(
            f"SELECT id FROM {t} WHERE id >= %s ORDER BY id LIMIT 1", [rng.randint(0, self.next_id)]
        )
        found = row.fetchone()
        if found is None:
            return
        if op < 0.75:
            c.execute(
                f"UPDATE {t} SET name = %s, amount = amount + 1 WHERE id = %s",
                [f"u{rng.random():.5f}", found[0]],
            )
        elif op < 0.85:
            self.next_id += 1
            c.execute(f"UPDATE {t} SET id = %s WHERE id = %s", [self.next_id, found[0]])
        else:
            c.execute(f"DELETE FROM {t} WHERE id = %s", [found[0]])


def mirrored(dsn: str, name: str) -> tuple[bool, str]:
    """Whether the mirror equals the source and the aggregate the source's; what differs."""
    rows = execute(
        dsn,
        f"SELECT (SELECT count(*) FROM (SELECT * FROM {name}_src EXCEPT SELECT * FROM {name}_dst) a), "
        f"(SELECT count(*) FROM (SELECT * FROM {name}_dst EXCEPT SELECT * FROM {name}_src) b), "
        f"(SELECT count(*) FROM (SELECT id % {GROUPS}, count(*), sum(amount) FROM {name}_src GROUP BY 1 "
        f"EXCEPT SELECT * FROM {name}_agg) c), "
        f"(SELECT count(*) FROM (SELECT * FROM {name}_agg EXCEPT SELECT id % {GROUPS}, count(*), "
        f"sum(amount) FROM {name}_src GROUP BY 1) d)",
    )
    missing, extra, agg_missing, agg_extra = rows[0]
    text = f"mirror: {missing} rows missing, {extra} wrong or extra; aggregate: {agg_missing} / {agg_extra}"
    return (missing, extra, agg_missing, agg_extra) == (0, 0, 0, 0), text


def run_crash_loop(tmp: Path, dsn: str, url: str, name: str, kills: int, seed: int) -> dict[str, int]:
    execute(dsn, f"CREATE TABLE {name}_src (id bigint PRIMARY KEY, name text, amount numeric(10,2))")
    execute(dsn, f"ALTER TABLE {name}_src REPLICA IDENTITY FULL")
    execute(dsn, f"INSERT INTO {name}_src SELECT g, 'n' || g, g % 1000 FROM generate_series(1, 5000) g")
    execute(dsn, f"CREATE TABLE {name}_dst (id bigint PRIMARY KEY, name text, amount numeric(10,2))")
    execute(dsn, f"CREATE TABLE {name}_agg (k bigint PRIMARY KEY, c bigint, s numeric(20,2))")
    path = script(tmp, dsn, url, name)
    rng = random.Random(seed)
    mutator = Mutator(dsn, f"{name}_src", seed, 5000)
    mutator.start()
    landed: dict[str, int] = {}
    try:
        while sum(landed.values()) < kills:
            point = rng.choice((*CRASH_POINTS, "timer", "timer"))
            env = {"SQLSTREAM_CRASH_SEED": str(rng.random())}
            if point == "timer":
                kill_after = rng.uniform(1.0, 4.0)  # start-up takes about a second
            else:
                env["SQLSTREAM_CRASH_AT"] = f"{point}:{rng.choice((0.05, 0.2, 0.5))}"
                kill_after = 8.0  # a point the job did not pass in time: killed anyway
            code, err = run_job(path, env, timeout=60, kill_after=kill_after)
            assert code == -signal.SIGKILL, f"the job failed (exit {code}) instead of running:\n{err[-3000:]}"
            landed[point] = landed.get(point, 0) + 1
    finally:
        mutator.stop.set()
        mutator.join()
    assert mutator.transactions > 50 * kills // 10
    # The last run catches up with everything and is stopped once the tables agree.
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlstream", "run", str(path)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 80
        ok, text = mirrored(dsn, name)
        while not ok and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            ok, text = mirrored(dsn, name)
        time.sleep(1.0)  # a late duplicate would still show
        ok, text = mirrored(dsn, name)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert ok, f"after {landed} kills: {text}\n{err[-3000:]}"
    return landed


def test_mirror_through_postgres_cdc_survives_kills(tmp_path: Path, names: str) -> None:
    dsn, url = _env("SQLSTREAM_PG_DSN"), _env("SQLSTREAM_PG_URL")
    kills = int(os.environ.get("SQLSTREAM_CRASH_KILLS", "8"))
    landed = run_crash_loop(tmp_path, dsn, url, names, kills=kills, seed=11)
    print(f"postgres-cdc -> mirror + aggregate: {sum(landed.values())} kills {landed}: exact")
