"""Avro keys and values on the real broker: what sqlstream writes, an independent Avro
reader (fastavro, with the schema Flink derives) reads; what another producer wrote with
that schema, sqlstream reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import io

import fastavro
import pytest

import sqlstream
from tests.integration.test_kafka_source import create_topic, produce, read_records, unique

pytestmark = pytest.mark.kafka

KEY_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "org.apache.flink.avro.generated.record",
        "fields": [{"name": "id", "type": "long"}],
    }
)
MILLIS = {"type": "long", "logicalType": "timestamp-millis"}
DECIMAL_10_2 = {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}
VALUE_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "org.apache.flink.avro.generated.record",
        "fields": [
            {"name": "amount", "type": ["null", DECIMAL_10_2], "default": None},
            {"name": "ts", "type": ["null", MILLIS], "default": None},
        ],
    }
)  # fmt: skip


def avro(schema: object, datum: dict[str, object]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, datum)
    return out.getvalue()


def test_avro_keys_and_values_both_ways(kafka_bootstrap: str) -> None:
    src, dst = unique("avro-src"), unique("avro-dst")
    ts = dt.datetime(2024, 5, 1, 7, 0, 0, 250000, tzinfo=dt.UTC)

    async def setup() -> None:
        await create_topic(kafka_bootstrap, src)
        await create_topic(kafka_bootstrap, dst)
        values = [avro(VALUE_SCHEMA, {"amount": decimal.Decimal(f"{i}.50"), "ts": ts}) for i in range(3)]
        keys = [avro(KEY_SCHEMA, {"id": i}) for i in range(3)]
        await produce(kafka_bootstrap, src, values, keys=keys)

    asyncio.run(setup())
    table = """(id BIGINT NOT NULL, amount DECIMAL(10, 2), ts TIMESTAMP(3)) WITH (
        'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{servers}',
        'key.format' = 'avro', 'key.fields' = 'id', 'value.format' = 'avro',
        'value.fields-include' = 'EXCEPT_KEY', {extra})"""
    with sqlstream.connect() as s:
        bounded = "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'"
        s.execute("CREATE TABLE src " + table.format(topic=src, servers=kafka_bootstrap, extra=bounded))
        rows = s.sql("SELECT id, amount, ts FROM src").fetchall()
        assert sorted(rows) == [(i, decimal.Decimal(f"{i}.50"), ts.replace(tzinfo=None)) for i in range(3)]
        at_least = "'sink.delivery-guarantee' = 'at-least-once'"
        s.execute("CREATE TABLE dst " + table.format(topic=dst, servers=kafka_bootstrap, extra=at_least))
        job = s.execute("INSERT INTO dst SELECT id * 10, amount * 2, ts FROM src").job
        assert job is not None and job.wait(30) and job.error is None
    written = asyncio.run(read_records(kafka_bootstrap, dst))
    got = sorted(
        (
            fastavro.schemaless_reader(io.BytesIO(r.key), KEY_SCHEMA, None)["id"],  # type: ignore[index, call-overload]
            fastavro.schemaless_reader(io.BytesIO(r.value), VALUE_SCHEMA, None),
        )
        for r in written
    )
    assert got == [(i * 10, {"amount": decimal.Decimal(f"{i * 2 + 1}.00"), "ts": ts}) for i in range(3)]
