"""Kafka tables from SQL, through the planner and the runtime (no checkpoints needed)."""

from __future__ import annotations

import asyncio

import pytest

import sqlstream
from tests.integration.test_kafka_source import create_topic, produce, read_records, unique

pytestmark = pytest.mark.kafka


def test_bounded_kafka_to_kafka_through_sql_with_metadata_columns(kafka_bootstrap: str) -> None:
    src, dst = unique("sql-src"), unique("sql-dst")

    async def setup() -> None:
        await create_topic(kafka_bootstrap, src, partitions=2)
        await create_topic(kafka_bootstrap, dst)
        await produce(kafka_bootstrap, src, [b"hello", b"world"], partition=0)
        await produce(kafka_bootstrap, src, [b"again"], partition=1)

    asyncio.run(setup())
    with sqlstream.connect(config={"parallelism.default": "2"}) as s:
        s.execute(f"""
            CREATE TABLE words (
                line STRING,
                part INT METADATA FROM 'partition' VIRTUAL,
                off BIGINT METADATA FROM 'offset' VIRTUAL
            ) WITH (
                'connector' = 'kafka', 'topic' = '{src}',
                'properties.bootstrap.servers' = '{kafka_bootstrap}',
                'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
                'value.format' = 'raw'
            )""")
        rows = s.sql("SELECT line, part, off FROM words").fetchall()
        assert sorted(rows) == [("again", 1, 0), ("hello", 0, 0), ("world", 0, 1)]
        s.execute(f"""
            CREATE TABLE upper_words (line STRING) WITH (
                'connector' = 'kafka', 'topic' = '{dst}',
                'properties.bootstrap.servers' = '{kafka_bootstrap}',
                'value.format' = 'raw', 'sink.delivery-guarantee' = 'at-least-once'
            )""")
        job = s.execute("INSERT INTO upper_words SELECT UPPER(line) FROM words").job
        assert job is not None
        assert job.wait(30), "the bounded job did not finish"
        assert job.error is None
    written = asyncio.run(read_records(kafka_bootstrap, dst))
    assert sorted(r.value for r in written) == [b"AGAIN", b"HELLO", b"WORLD"]
