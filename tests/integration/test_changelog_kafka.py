"""A changelog into Kafka in debezium-json, canal-json and maxwell-json, and back: a
PostgreSQL table's changes (``postgres-cdc``) written exactly-once to a topic, where a
plain consumer sees the deletes, and a ``kafka`` table in the same format reads them
back as Flink's changelog (an update comes back as a delete and an insert, as in Flink)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from typing import Any

import pytest

import sqlstream
from tests.integration.test_kafka_source import create_topic, read_records, unique
from tests.integration.test_postgres_cdc import _conn, options
from tests.integration.test_postgres_cdc import table as table  # the fixture

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.mark.parametrize("fmt", ["debezium-json", "canal-json", "maxwell-json"])
def test_a_postgres_changelog_into_kafka_and_back(
    fmt: str, kafka_bootstrap: str, pg_dsn: str, table: str
) -> None:
    topic = unique(f"cdc-{fmt}")
    asyncio.run(create_topic(kafka_bootstrap, topic))
    with _conn(pg_dsn) as c:
        c.execute(f"INSERT INTO {table} VALUES (1, 'a', 1), (2, 'b', 2)")
    cdc = ", ".join(f"'{k}' = '{v}'" for k, v in options(pg_dsn, table).items())
    kafka = (
        f"'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{kafka_bootstrap}', "
        f"'value.format' = '{fmt}'"
    )
    with (
        tempfile.TemporaryDirectory() as ck,
        sqlstream.connect(
            config={"execution.checkpointing.interval": "200 ms", "state.checkpoints.dir": ck}
        ) as s,
    ):
        s.execute(f"CREATE TABLE src (id BIGINT, name STRING, amount DECIMAL(10, 2), "
                  f"PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'postgres-cdc', {cdc})")  # fmt: skip
        eo = f"'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{topic}'"
        s.execute(f"CREATE TABLE out (id BIGINT, name STRING, amount DECIMAL(10, 2)) WITH ({kafka}, {eo})")
        job = s.execute("INSERT INTO out SELECT * FROM src").job
        assert job is not None
        wait_for_records(kafka_bootstrap, topic, 2)  # the snapshot is in: the job streams
        with _conn(pg_dsn) as c:
            c.execute(f"UPDATE {table} SET name = 'A' WHERE id = 1")
            c.execute(f"DELETE FROM {table} WHERE id = 2")
        records = wait_for_records(kafka_bootstrap, topic, 5)
        job.cancel()
        bounded = "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'"
        s.execute(
            f"CREATE TABLE back (id BIGINT, name STRING, amount DECIMAL(10, 2)) WITH ({kafka}, {bounded})"
        )
        read_back = [(kind, row[0], row[1]) for kind, row in s.sql("SELECT * FROM back").changelog()]
    values = [json.loads(r.value) for r in records]
    deletes = [v for v in values if v.get("op") == "d" or v.get("type") in ("DELETE", "delete")]
    assert len(deletes) == 2  # the update's old row, and the delete
    assert read_back == [(0, 1, "a"), (0, 2, "b"), (3, 1, "a"), (0, 1, "A"), (3, 2, "b")]


def wait_for_records(bootstrap: str, topic: str, n: int) -> list[Any]:
    deadline = time.monotonic() + 60
    while True:
        records = asyncio.run(read_records(bootstrap, topic))
        if len(records) >= n or time.monotonic() > deadline:
            assert len(records) == n, [r.value for r in records]
            return records
        time.sleep(0.3)
