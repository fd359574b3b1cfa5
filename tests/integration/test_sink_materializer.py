"""A GROUP BY name, id written into sinks keyed by name alone, on the real PostgreSQL server
and the real Kafka broker, through Flink's SinkUpsertMaterializer: groups of one name meet
under one sink key, and a group that HAVING-like filtering drops (its count reaches 3)
sends only its -U. Without the materializer that -U deletes the name's row although
another group of the name still holds one (a lost row), and the row a group wrote stays
after it is gone. Answers: Flink 2.3's on a small input (recorded from Flink itself, see
the test), and DuckDB's batch answer on a larger one built so that each name ends with at
most one live group (so the answer does not depend on arrival order; Flink 2.3.0 at
parallelism 2 gave the same 20 rows)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sqlstream.jobs import JobHandle
from sqlstream.session import Session
from tests.integration import resumed_jobs
from tests.integration.test_kafka_source import create_topic, produce, read_records, unique
from tests.integration.test_postgres_connector import execute, unique_table
from tests.integration.test_postgres_sql import jdbc, run
from tests.unit.checkpoint.test_runtime_checkpoints import config as checkpointing

QUERY = "SELECT * FROM (SELECT name, id, COUNT(*) AS cnt FROM t GROUP BY name, id) WHERE cnt < 3"
ALLOW = {"table.exec.sink.require-on-conflict": "false"}

# What Flink 2.3.0 answered for QUERY over SMALL (toChangelogStream in upsert mode keyed by
# name, 'table.exec.sink.require-on-conflict' = 'false', applied by key); its changelog:
# +I(a,1,1) +U(a,2,1) +U(a,1,2) +I(b,3,1) +U(a,2,2) +U(a,1,2) -D(b,3,1) +I(b,3,2)
SMALL = ["a,1", "a,2", "a,1", "b,3", "a,2", "a,2", "b,3"]
FLINK_SMALL = [("a", 1, 2), ("b", 3, 2)]


def large(seed: int = 19) -> list[str]:
    """Per name one surviving group of one or two rows (or none), its other groups three to
    five rows each (dropped when they reach three), all shuffled."""
    rng = random.Random(seed)
    rows = []
    for n in range(30):
        name = f"n{n:02}"
        survivor = rng.choice([None, 0, 1, 2])
        for i in range(4):
            count = rng.randint(1, 2) if i == survivor else rng.randint(3, 5)
            rows += [f"{name},{i}"] * count
    rng.shuffle(rows)
    return rows


def duckdb_answer(rows: list[str]) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (name VARCHAR, id INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [r.split(",") for r in rows])
    return sorted(con.execute(QUERY).fetchall())


def source(tmp_path: Path, rows: list[str]) -> str:
    path = tmp_path / "t.csv"
    path.write_text("".join(r + "\n" for r in rows))
    options = f"'connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv'"
    return f"CREATE TABLE t (name STRING, id INT) WITH ({options});"


CASES = [
    pytest.param(SMALL, {"sqlstream.runtime.batch-size": "1"}, FLINK_SMALL, id="flink-small"),
    pytest.param(
        large(),
        {"sqlstream.runtime.batch-size": "7", "parallelism.default": "2"},
        duckdb_answer(large()),
        id="duckdb-large",
    ),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("rows", "config", "expected"), CASES)
def test_postgres_keyed_by_name_holds_each_names_live_group(
    pg_dsn: str, pg_url: str, tmp_path: Path, rows: list[str], config: dict[str, str], expected: list[Any]
) -> None:
    table = unique_table("by_name")
    execute(pg_dsn, f'CREATE TABLE "{table}" (name text PRIMARY KEY, id int, cnt bigint)')
    session = Session(config={"table.dml-sync": "true", **config})  # Flink 2.3's clause instead of ALLOW
    try:
        run(
            session,
            f"""{source(tmp_path, rows)}
            CREATE TABLE pg (name STRING, id INT, cnt BIGINT, PRIMARY KEY (name) NOT ENFORCED)
            WITH ({jdbc(pg_url, table)});
            INSERT INTO pg {QUERY} ON CONFLICT DO DEDUPLICATE;""",
        )
        assert execute(pg_dsn, f'SELECT name, id, cnt FROM "{table}" ORDER BY 1') == expected
    finally:
        session.close()
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{table}"')


@pytest.mark.kafka
@pytest.mark.parametrize(("rows", "config", "expected"), CASES)
def test_upsert_kafka_keyed_by_name_holds_each_names_live_group(
    kafka_bootstrap: str, tmp_path: Path, rows: list[str], config: dict[str, str], expected: list[Any]
) -> None:
    """Read back as upsert-kafka's readers read it: the last record of each key, a
    tombstone deleting the key."""
    topic = unique("materialized")
    asyncio.run(create_topic(kafka_bootstrap, topic))
    session = Session(config={"table.dml-sync": "true", **ALLOW, **config})
    try:
        run(
            session,
            f"""{source(tmp_path, rows)}
            CREATE TABLE out (name STRING, id INT, cnt BIGINT, PRIMARY KEY (name) NOT ENFORCED) WITH (
              'connector' = 'upsert-kafka', 'topic' = '{topic}',
              'properties.bootstrap.servers' = '{kafka_bootstrap}', 'key.format' = 'json',
              'value.format' = 'json');
            INSERT INTO out {QUERY};""",
        )
    finally:
        session.close()
    assert topic_rows(kafka_bootstrap, topic) == expected


@pytest.mark.kafka
def test_a_job_resumed_mid_stream_keeps_every_live_row_of_a_key(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The materializer's rows are in the checkpoint. Before the stop, name c holds two
    live groups, (c,0,1) and (c,1,1); after the restore, c,1 counts to 3: its -U (of
    (c,1,1), or of (c,1,2)) must give back (c,0,1). Restored without its rows, the
    materializer would find nothing to retract and leave (c,1,1), or send -D and lose c."""
    topic, out = unique("materialize-in"), unique("materialize-out")
    first = ["c,0", "c,1", "d,0", "d,1", "d,1", "d,1"]
    then = ["c,1", "c,1"]

    def publish(rows: list[str]) -> None:
        values = [json.dumps({"name": r.split(",")[0], "id": int(r.split(",")[1])}).encode() for r in rows]
        asyncio.run(produce(kafka_bootstrap, topic, values))

    asyncio.run(create_topic(kafka_bootstrap, topic))
    asyncio.run(create_topic(kafka_bootstrap, out))
    publish(first)
    script = f"""
        CREATE TABLE t (name STRING, id INT) WITH (
          'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{kafka_bootstrap}',
          'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
        CREATE TABLE out (name STRING, id INT, cnt BIGINT, PRIMARY KEY (name) NOT ENFORCED) WITH (
          'connector' = 'upsert-kafka', 'topic' = '{out}',
          'properties.bootstrap.servers' = '{kafka_bootstrap}', 'key.format' = 'json',
          'value.format' = 'json')"""

    def run_until(
        kept_rows: int, expected: Callable[[list[tuple[Any, ...]]], bool], resume: bool
    ) -> dict[str, Any]:
        """Run until the materializer keeps ``kept_rows`` rows, the topic's rows are
        ``expected`` and two more checkpoints completed."""
        extra = {"sqlstream.checkpoint.resume": "latest"} if resume else {}

        def seen(job: JobHandle) -> tuple[int, list[tuple[Any, ...]]]:
            ops = job.metrics()["operators"]
            rows = [op["state_rows"] for op in ops if op["kind"] == "sink_materializer"]
            return int(rows[0]) if rows else -1, topic_rows(kafka_bootstrap, out)  # -1: not started yet

        def reached(job: JobHandle) -> bool:
            kept, rows = seen(job)
            return kept == kept_rows and expected(rows)

        config = checkpointing(tmp_path, 1, **ALLOW, **extra)
        return resumed_jobs.run_until(config, script, f"INSERT INTO out {QUERY}", reached, seen)

    # before the stop: c's two live groups, the one that reached the materializer last
    # written (the order within a batch is the aggregate's); d,1 is gone
    run_until(3, lambda rows: rows in ([("c", 0, 1), ("d", 0, 1)], [("c", 1, 1), ("d", 0, 1)]), resume=False)
    publish(then)
    metrics = run_until(2, lambda rows: rows == duckdb_answer(first + then), resume=True)
    assert metrics["checkpoints"]["restored_from"] is not None
    assert duckdb_answer(first + then) == [("c", 0, 1), ("d", 0, 1)]


def topic_rows(bootstrap: str, topic: str) -> list[tuple[Any, ...]]:
    """An upsert topic keyed by name as its readers see it: the last record of each key, a
    tombstone deleting the key; rows as (name, id, cnt)."""
    final: dict[str, tuple[Any, ...]] = {}
    for record in asyncio.run(read_records(bootstrap, topic, "read_uncommitted")):
        key = json.loads(record.key)["name"]
        if record.value is None:
            final.pop(key, None)
        else:
            value = json.loads(record.value)
            final[key] = (value["name"], value["id"], value["cnt"])
    return sorted(final.values())
