"""``sqlstream verify`` on a real Kafka -> window -> Kafka + PostgreSQL exactly-once job: it
passes on the real sinks, catches a sink broken on purpose, and leaves no shadow behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.own_services import ROOT, OwnServices
from tests.integration.test_kafka_source import create_topic, produce, read_records, unique
from tests.integration.test_postgres_connector import execute, unique_table
from tests.integration.test_postgres_sql import jdbc
from tests.unit.sqlstream.test_cli import run

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROWS = 20_000


def report(stdout: str) -> dict[str, list[str]]:
    """The report's rows by sink name."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in stdout.splitlines()
            if line.startswith("| ")]  # fmt: skip
    return {r[0]: r for r in rows[1:]}


def billing_job(
    kafka: str, pg_dsn: str, pg_url: str, tmp_path: Path, rows: int = ROWS
) -> tuple[Path, str, str]:
    """Its input in Kafka (``rows`` records), its tables and its script: (script, sink topic,
    sink table)."""
    src, dst, table = unique("verify-src"), unique("verify-dst"), unique_table("per_window")

    async def setup() -> None:
        await create_topic(kafka, src, partitions=2)
        await create_topic(kafka, dst, partitions=2)
        for p in (0, 1):
            await produce(kafka, src, [b'{"v":%d}' % v for v in range(p, rows, 2)], partition=p)

    asyncio.run(setup())
    execute(pg_dsn, f'CREATE TABLE "{table}" (k bigint, window_start timestamp(3), c bigint, s bigint)')
    script = tmp_path / "billing.sql"
    script.write_text(f"""
        SET 'execution.checkpointing.interval' = '200 ms';
        SET 'parallelism.default' = '2';
        SET 'sqlstream.runtime.batch-size' = '100';
        CREATE TABLE clicks (v BIGINT, k AS v % 5, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
            WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
        ) WITH ('connector' = 'kafka', 'topic' = '{src}',
                'properties.bootstrap.servers' = '{kafka}',
                'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
        CREATE TABLE to_kafka (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
            'connector' = 'kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{kafka}',
            'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
            'sink.transactional-id-prefix' = '{dst}');
        CREATE TABLE to_pg (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT)
            WITH ({jdbc(pg_url, table)});
        CREATE TABLE to_print (k BIGINT, c BIGINT) WITH ('connector' = 'print');
        EXECUTE STATEMENT SET BEGIN
        INSERT INTO to_kafka SELECT k, window_start, COUNT(*), SUM(v)
            FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
            GROUP BY k, window_start, window_end;
        INSERT INTO to_pg SELECT k, window_start, COUNT(*), SUM(v)
            FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
            GROUP BY k, window_start, window_end;
        INSERT INTO to_print SELECT k, v FROM clicks WHERE v < 3;
        END;
    """)
    return script, dst, table


@pytest.fixture
def job(kafka_bootstrap: str, pg_dsn: str, pg_url: str, tmp_path: Path) -> tuple[Path, str, str]:
    return billing_job(kafka_bootstrap, pg_dsn, pg_url, tmp_path)


def no_shadows_left(pg_dsn: str, kafka_bootstrap: str, dst: str, table: str) -> None:
    left = execute(pg_dsn, "SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (f"{table}_verify%",))
    assert left == []

    async def topics() -> set[str]:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    assert not any(t.startswith(f"{dst}.verify_") for t in asyncio.run(topics()))


def test_verify_passes_on_real_exactly_once_sinks(
    job: tuple[Path, str, str], pg_dsn: str, kafka_bootstrap: str
) -> None:
    script, dst, table = job
    out = run("verify", str(script), "--kills", "4", "--seed", "7")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = report(out.stdout)
    for sink in ("to_kafka", "to_pg"):
        _, _, guarantee, expected, lost, duplicated, unexpected, verdict = rows[sink]
        assert guarantee == "exactly-once" and verdict == "exact"
        assert int(expected) == 5 * (ROWS * 10 // 1000)  # 5 keys x 200 one-second windows
        assert (lost, duplicated, unexpected) == ("0", "0", "0")
    assert rows["to_print"][-1] == "not checked (no read-back)"
    assert "[verify] kill 1/4" in out.stderr  # progress, as it runs
    assert "Traceback" not in out.stderr
    # the real sinks were not touched, the shadows are gone
    assert execute(pg_dsn, f'SELECT count(*) FROM "{table}"') == [(0,)]
    no_shadows_left(pg_dsn, kafka_bootstrap, dst, table)


def test_verify_catches_a_sink_that_loses_what_its_checkpoint_recorded(
    kafka_bootstrap: str, pg_dsn: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kill loses rows only at a checkpoint whose transactions hold some: the job reads
    # ROWS records in about a second, so its first checkpoints (the source still opening)
    # and its last (every window fired) can be empty. Three times the input and three
    # kills: some of them land where windows are written.
    script, dst, table = billing_job(kafka_bootstrap, pg_dsn, pg_url, tmp_path, 3 * ROWS)
    monkeypatch.setitem(os.environ, "SQLSTREAM_TEST_BROKEN_SINK", "skip-recovery")
    out = run("verify", str(script), "--kills", "3", "--crash-points", "before_commit")
    assert out.returncode == 1, out.stdout + out.stderr
    rows = report(out.stdout)
    lost = [sink for sink in ("to_kafka", "to_pg") if int(rows[sink][4]) > 0]
    assert lost, out.stdout  # a checkpoint completed, its commit never happened, and recovery dropped it
    for sink in lost:
        assert rows[sink][-1].startswith("FAILED:") and "lost" in rows[sink][-1]
    assert "sinks did not keep their guarantee" in out.stderr
    no_shadows_left(pg_dsn, kafka_bootstrap, dst, table)


def test_verify_in_place_checks_what_the_run_added_to_the_real_sinks(
    job: tuple[Path, str, str], pg_dsn: str, kafka_bootstrap: str
) -> None:
    script, dst, table = job
    execute(pg_dsn, f'INSERT INTO "{table}" VALUES (99, NULL, 1, 1)')  # a row from before
    out = run("verify", str(script), "--kills", "2", "--in-place")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = report(out.stdout)
    assert rows["to_pg"][-1] == "exact" and rows["to_kafka"][-1] == "exact"
    windows = 5 * (ROWS * 10 // 1000)
    # the chaos run wrote into the real sinks, exactly once, next to what was there
    assert execute(pg_dsn, f'SELECT count(*) FROM "{table}"') == [(windows + 1,)]
    got = asyncio.run(read_records(kafka_bootstrap, dst, partitions=2))
    assert len(got) == windows
    no_shadows_left(pg_dsn, kafka_bootstrap, dst, table)


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    """``sqlstream verify``, given the time two runs and service restarts take."""
    cmd = [sys.executable, "-m", "sqlstream", "verify", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1200)


@pytest.fixture
def own_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnServices]:
    services = OwnServices(tmp_path_factory.mktemp("own-services"))
    try:
        yield services
    finally:
        services.down()


def test_verify_restarts_the_sinks_services_during_the_chaos_run(
    own_services: OwnServices, tmp_path: Path
) -> None:
    """Kafka and PostgreSQL of the test's own are restarted (a rolling restart of the
    broker, ``pg_ctl restart`` of the server) while the chaos run writes into them, between
    its kills: both exactly-once sinks still hold each window once."""
    exports = own_services.up("kafka", "postgres")
    kafka, dsn = exports["SQLSTREAM_KAFKA_BOOTSTRAP"], exports["SQLSTREAM_PG_DSN"]
    url = exports["SQLSTREAM_PG_URL"]
    # ten times the other tests' input: both restarts (a broker's takes seconds) and the kills
    # after them must land while the job runs, which takes only a few seconds over ROWS
    # records (at three times, a CI run ended 5 s in, before the second restart)
    rows = 10 * ROWS
    script, dst, table = billing_job(kafka, dsn, url, tmp_path, rows)
    out = verify(str(script), "--kills", "2", "--seed", "5",
                 "--restart-service", own_services.restart_command("kafka"),
                 "--restart-service", own_services.restart_command("postgres"))  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr[-4000:]
    found = report(out.stdout)
    for sink in ("to_kafka", "to_pg"):
        assert found[sink][2:] == ["exactly-once", str(5 * (rows * 10 // 1000)), "0", "0", "0", "exact"]
    assert "[verify] service restart 2/2 done" in out.stderr, out.stderr[-3000:]
    assert "2 service restarts; all 2 sinks kept their guarantee" in out.stderr
    assert "Traceback" not in out.stderr
    no_shadows_left(dsn, kafka, dst, table)


def test_verify_says_which_restart_command_failed(job: tuple[Path, str, str]) -> None:
    script, _, _ = job
    out = verify(str(script), "--kills", "1", "--restart-service", "echo no such service >&2; exit 3")
    assert out.returncode == 1
    assert "a service restart of the chaos run failed" in out.stderr
    assert "exit 3" in out.stderr and "no such service" in out.stderr
    assert "Traceback" not in out.stderr
