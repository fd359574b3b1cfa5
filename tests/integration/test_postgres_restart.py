"""A PostgreSQL server restart in the middle of an exactly-once run loses nothing.

The shared test server is never restarted: this test initdb's its own throw-away cluster
(Debian's binaries, run as the ``postgres`` user when we are root, on a free port, with
``max_prepared_transactions`` > 0, as ``scripts/services`` does) and restarts it with
``pg_ctl restart -m immediate`` (a crash of the server: no shutdown checkpoint, open
transactions gone, prepared ones kept in ``pg_twophase``) while a job writes into it:
datagen -> tumbling windows -> PostgreSQL, exactly-once, parallelism 2, checkpoints every
250 ms, into an append table and into an upsert table (primary key).

Restart strategy: with checkpointing on, the runtime's default ``restart-strategy.type``
= fixed-delay (``runtime/restart.py``) restarts a job that fails because the server went
away, inside the same ``sqlstream run``, from the newest complete checkpoint; its sink's
``recover`` commits what that checkpoint recorded. The sink itself retries its COMMIT
PREPARED on a new connection, so a restart that falls between two writes may not fail
the job at all. Either way the table must equal DuckDB's
answer with no row missing or doubled, and no prepared transaction may be left. The same
job with an at-least-once sink must ride through the restart on its retries, losing nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from catalog.connectors import Guarantee
from runtime.connectors.postgres.sink import PostgresSink

from .test_postgres_connector import batch, cols, create, ctx, sink_spec

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
KEYS = 7


def bindir() -> Path:
    found = sorted(
        Path(d) for d in Path("/usr/lib/postgresql").glob("*/bin") if (Path(d) / "initdb").exists()
    )
    if not found:
        pytest.fail(
            "no /usr/lib/postgresql/*/bin/initdb: run scripts/services up postgres once to install it"
        )
    return found[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A throw-away PostgreSQL cluster of this test only."""

    bin: Path
    dir: Path
    port: int

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=sqlstream password=sqlstream dbname=sqlstream"

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/sqlstream"

    def run(self, *args: str, stdin: str | None = None) -> None:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or "ERROR" in done.stdout:
            raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    def pg_ctl(self, *args: str) -> None:
        self.run(
            str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", *args
        )

    def start(self) -> None:
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run(
            str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync", "--no-instructions", "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )  # fmt: skip
        with open(self.dir / "data" / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = ''\n"
                "max_prepared_transactions = 64\nfsync = off\nfull_page_writes = off\n"
            )
        self.run(
            str(self.bin / "postgres"), "--single", "-D", str(self.dir / "data"), "postgres",
            stdin="CREATE ROLE sqlstream LOGIN PASSWORD 'sqlstream'\n"
            "CREATE DATABASE sqlstream OWNER sqlstream\n",
        )  # fmt: skip
        self.pg_ctl("start")

    def stop(self) -> None:
        with contextlib.suppress(AssertionError):
            self.pg_ctl("-m", "immediate", "stop")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp_path: the `postgres` user cannot reach root's 0700 folder.
    c = Cluster(bindir(), Path(tempfile.mkdtemp(prefix="sqlstream-pgrestart-")), free_port())
    try:
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(c.dir, ignore_errors=True)


def execute(dsn: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def script(
    tmp: Path,
    url: str,
    table: str,
    rows: int,
    rate: int,
    guarantee: str = "exactly-once",
    upsert: bool = False,
) -> Path:
    path = tmp / "job.sql"
    key = ", PRIMARY KEY (k, window_start) NOT ENFORCED" if upsert else ""
    path.write_text(
        f"""
SET 'execution.checkpointing.interval' = '250 ms';
SET 'pipeline.name' = '{table}';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
CREATE TABLE src (v BIGINT, k AS v % {KEYS}, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}', 'sqlstream.seed' = '42',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{rows}');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT{key}) WITH (
  'connector' = 'jdbc', 'url' = '{url}', 'table-name' = '{table}', 'username' = 'sqlstream',
  'password' = 'sqlstream', 'sink.delivery-guarantee' = '{guarantee}',
  'sink.transactional-id-prefix' = '{table}', 'sink.max-retries' = '5');
INSERT INTO out SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
"""
    )
    return path


def expected(rows: int) -> list[tuple[int, ...]]:
    got = duckdb.sql(
        f"SELECT v % {KEYS}, (v * 10) // 1000 * 1000, count(*), sum(v) "
        f"FROM range(1, {rows + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    return [tuple(int(x) for x in r) for r in got]


def table_rows(dsn: str, table: str) -> list[tuple[int, ...]]:
    epoch = dt.datetime(1970, 1, 1)
    return [
        (k, (ws - epoch) // dt.timedelta(milliseconds=1), c, s)
        for k, ws, c, s in execute(dsn, f'SELECT k, window_start, c, s FROM "{table}"')
    ]


def committed(dsn: str, table: str, exactly_once: bool) -> int:
    """Checkpoints committed (exactly-once: marker rows), or rows written (at-least-once)."""
    try:
        if exactly_once:
            query, params = "SELECT count(*) FROM sqlstream_commits WHERE sink_id = %s", [table]
        else:
            query, params = f'SELECT count(*) FROM "{table}"', None
        return int(execute(dsn, query, params)[0][0])
    except psycopg.Error:
        return 0


def start_job(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sqlstream", "run", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("guarantee", "mode"),
    [("exactly-once", "append"), ("exactly-once", "upsert"), ("at-least-once", "append")],
)
def test_a_server_restart_mid_run_loses_nothing(
    tmp_path: Path, cluster: Cluster, guarantee: str, mode: str
) -> None:
    """Exactly-once: the open transaction dies with the server, so the job fails and is
    restarted from its checkpoint; the table ends exact. At-least-once: the sink retries
    the flush on a new connection ('sink.max-retries' = 5) and the job rides through the
    restart without failing; nothing is missing."""
    table = f"restart_{uuid.uuid4().hex[:8]}"
    rows, rate = 16000, 4000  # ~4 s of input
    upsert = mode == "upsert"  # a primary key: INSERT ... ON CONFLICT in the prepared transactions
    key = ", PRIMARY KEY (k, window_start)" if upsert else ""
    execute(
        cluster.dsn, f'CREATE TABLE "{table}" (k bigint, window_start timestamp(3), c bigint, s bigint{key})'
    )
    path = script(tmp_path, cluster.url, table, rows, rate, guarantee, upsert)
    exactly_once = guarantee == "exactly-once"
    proc = start_job(path)
    failures: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while committed(cluster.dsn, table, exactly_once) < 2:  # mid-run: some results are in
            assert proc.poll() is None, f"the job ended before the restart:\n{proc.communicate()[1][-3000:]}"
            assert time.monotonic() < deadline, "nothing committed within 60 s"
            time.sleep(0.05)
        cluster.pg_ctl("-m", "immediate", "restart")
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"the job did not recover by itself:\n{err[-3000:]}"
        failures = [line for line in err.splitlines() if "restarts from its newest checkpoint" in line]
        got, want = Counter(table_rows(cluster.dsn, table)), Counter(expected(rows))
        missing, extra = sorted((want - got).elements()), sorted((got - want).elements())
        assert not missing, f"after the restart (job failures: {failures}): missing {missing[:5]}"
        if exactly_once:
            assert not extra, f"after the restart (job failures: {failures}): extra {extra[:5]}"
        else:
            assert failures == [], "the at-least-once sink should have retried on a new connection"
            assert set(extra) <= set(want), f"rows that are no result: {extra[:5]}"
        assert execute(cluster.dsn, "SELECT gid FROM pg_prepared_xacts") == []
        print(f"{guarantee} {mode}: server restarted mid-run; failures: {failures}; duplicates: {len(extra)}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


# ---- the sink's own steps across a restart ------------------------------------------------


def test_commit_and_recover_reconnect_after_a_restart(cluster: Cluster) -> None:
    """A prepared transaction outlives a server crash; COMMIT PREPARED on the sink's old
    (now dead) connection is retried on a new one, and ``recover`` of a fresh writer
    commits a handle prepared before the crash."""
    table = f"restart_sink_{uuid.uuid4().hex[:8]}"
    columns = cols("id BIGINT", "v STRING")
    create(cluster.dsn, table, columns)
    spec = sink_spec(cluster.dsn, table, columns, guarantee=Guarantee.EXACTLY_ONCE)

    def ids() -> list[int]:
        return [r[0] for r in execute(cluster.dsn, f'SELECT id FROM "{table}" ORDER BY id')]

    async def run() -> None:
        first = PostgresSink(spec, ctx(0, 2))
        await first.open()
        await first.write(batch(columns, [(i, "a") for i in range(10)]))
        h1 = await first.pre_commit(1)
        cluster.pg_ctl("-m", "immediate", "restart")
        await first.commit(1, h1)  # the admin connection died with the server: retried
        assert ids() == list(range(10))

        second = PostgresSink(spec, ctx(1, 2))  # subtask 1 prepares 2, then "crashes"
        await second.open()
        await second.write(batch(columns, [(i, "b") for i in range(10, 15)]))
        h2 = await second.pre_commit(2)
        await second.write(batch(columns, [(i, "c") for i in range(15, 20)]))
        await second.pre_commit(3)  # never recorded by a complete checkpoint
        cluster.pg_ctl("-m", "immediate", "restart")
        with contextlib.suppress(Exception):
            await second.close()

        again = PostgresSink(spec, ctx(1, 2))  # the restarted subtask
        await again.open()
        await again.recover([(2, h2)])
        assert again.recovered.committed == [h2["gid"]] and len(again.recovered.rolled_back) == 1
        await again.close()
        await first.close()

    try:
        asyncio.run(run())
        assert ids() == list(range(15))
        assert execute(cluster.dsn, "SELECT gid FROM pg_prepared_xacts") == []
    finally:
        execute(cluster.dsn, f'DROP TABLE IF EXISTS "{table}"')
