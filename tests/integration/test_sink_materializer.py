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
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sqlstream.session import Session
from tests.integration.test_kafka_source import create_topic, read_records, unique
from tests.integration.test_postgres_connector import execute, unique_table
from tests.integration.test_postgres_sql import jdbc, run

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
    session = Session(config={"table.dml-sync": "true", **ALLOW, **config})
    try:
        run(
            session,
            f"""{source(tmp_path, rows)}
            CREATE TABLE pg (name STRING, id INT, cnt BIGINT, PRIMARY KEY (name) NOT ENFORCED)
            WITH ({jdbc(pg_url, table)});
            INSERT INTO pg {QUERY};""",
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
    final: dict[str, tuple[Any, ...]] = {}
    for record in asyncio.run(read_records(kafka_bootstrap, topic, "read_uncommitted")):
        key = json.loads(record.key)["name"]
        if record.value is None:
            final.pop(key, None)
        else:
            value = json.loads(record.value)
            final[key] = (value["name"], value["id"], value["cnt"])
    assert sorted(final.values()) == expected
