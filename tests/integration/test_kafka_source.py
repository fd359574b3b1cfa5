"""The ``kafka`` source against the real broker: options, positions, bad records.

Each test makes its own topics; the connector is driven through its ``SourceReader``
interface the way the source task drives it (open, poll, position, restore, close).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest

from catalog.errors import OptionError
from planner.physical import Field, SinkSpec, SourceSpec
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext
from runtime.connectors.registry import create_sink, create_source
from runtime.formats.base import FormatError

pytestmark = pytest.mark.kafka


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ctx(subtask: int = 0, parallelism: int = 1, config: dict[str, str] | None = None) -> SubtaskContext:
    return SubtaskContext("job", 1, "node", subtask, parallelism, dict(config or {}))


def fields(*specs: str) -> tuple[Field, ...]:
    out = []
    for s in specs:
        name, _, type_text = s.partition(" ")
        out.append(Field(name, type_text))
    return tuple(out)


def source(
    bootstrap: str,
    options: dict[str, str],
    cols: tuple[Field, ...],
    *,
    connector: str = "kafka",
    subtask: int = 0,
    parallelism: int = 1,
    **kw: Any,
) -> SourceReader:
    opts = {"connector": connector, "properties.bootstrap.servers": bootstrap, **options}
    return create_source(SourceSpec("t", connector, opts, cols, **kw), ctx(subtask, parallelism))


def sink(
    bootstrap: str,
    options: dict[str, str],
    cols: tuple[Field, ...],
    *,
    connector: str = "kafka",
    subtask: int = 0,
    parallelism: int = 1,
    config: dict[str, str] | None = None,
    **kw: Any,
) -> SinkWriter:
    opts = {"connector": connector, "properties.bootstrap.servers": bootstrap, **options}
    return create_sink(SinkSpec("t", connector, opts, cols, **kw), ctx(subtask, parallelism, config))


async def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes | None],
    *,
    keys: Sequence[bytes | None] | None = None,
    partition: int | None = 0,
    headers: list[tuple[str, bytes]] | None = None,
    timestamps: Sequence[int] | None = None,
) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        futures = []
        for i, v in enumerate(values):
            futures.append(
                await producer.send(
                    topic,
                    v,
                    key=keys[i] if keys else None,
                    partition=partition,
                    headers=headers,
                    timestamp_ms=timestamps[i] if timestamps else None,
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_records(
    bootstrap: str,
    topic: str,
    isolation_level: str = "read_committed",
    partitions: int = 1,
    expect: int | None = None,
) -> list[Any]:
    """Every record of the topic this isolation level sees (up to the end offsets now).

    A broker answers EndTxn before its commit markers are on every partition, so right after a
    commit the read_committed end offset may still stop short of the transaction: with `expect`,
    the end offsets are asked again until that many records are seen (or 20 s pass, and the
    caller's assertion shows what was missing).
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level=isolation_level, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + 20
        while True:
            ends = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                assert time.monotonic() < deadline, "reading the topic took too long"
                got = await consumer.getmany(*tps, timeout_ms=200)
                for records in got.values():
                    out += records
            if expect is None or len(out) >= expect or time.monotonic() >= deadline:
                return sorted(out, key=lambda r: (r.partition, r.offset))
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()


def json_values(*rows: dict[str, Any]) -> list[bytes]:
    return [json.dumps(r).encode() for r in rows]


async def drain(
    reader: SourceReader, open_: bool = True, max_rows: int = 1000, limit_s: float = 20
) -> pa.Table:
    """Poll a bounded reader until it is finished."""
    if open_:
        await reader.open()
    batches = []
    deadline = time.monotonic() + limit_s
    while not reader.finished:
        assert time.monotonic() < deadline, "the bounded source never finished"
        b = await reader.poll(max_rows)
        if b is not None and b.num_rows:
            batches.append(b)
    return pa.Table.from_batches(batches) if batches else pa.table({})


async def poll_rows(reader: SourceReader, want: int, max_rows: int = 1000, limit_s: float = 20) -> pa.Table:
    """Poll an unbounded reader until ``want`` rows came."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    deadline = time.monotonic() + limit_s
    while rows < want:
        assert time.monotonic() < deadline, f"only {rows} of {want} rows came"
        b = await reader.poll(min(max_rows, want - rows))
        if b is not None and b.num_rows:
            batches.append(b)
            rows += b.num_rows
    return pa.Table.from_batches(batches)


COLS = fields("id INT", "name STRING")


# ---- options ------------------------------------------------------------------------------


def test_bounded_read_of_a_topic_decodes_json_in_bulk(kafka_bootstrap: str) -> None:
    topic = unique("src-bounded")

    async def scenario() -> pa.Table:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, json_values(*({"id": i, "name": f"n{i}"} for i in range(500))))
        reader = source(
            kafka_bootstrap,
            {
                "topic": topic,
                "format": "json",
                "scan.startup.mode": "earliest-offset",
                "scan.bounded.mode": "latest-offset",
            },
            COLS,
        )
        table = await drain(reader, max_rows=128)
        # Records written after the start are beyond the bound.
        await produce(kafka_bootstrap, topic, json_values({"id": 999, "name": "late"}))
        assert reader.position() == {"offsets": {f"{topic}:0": 500}}
        await reader.close()
        return table

    table = asyncio.run(scenario())
    assert table.column("id").to_pylist() == list(range(500))
    assert table.column("name").to_pylist()[:2] == ["n0", "n1"]


def test_topic_list_and_pattern_split_partitions_over_subtasks(kafka_bootstrap: str) -> None:
    base = unique("src-multi")
    a, b = f"{base}-a", f"{base}-b"

    async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
        await create_topic(kafka_bootstrap, a, partitions=3)
        await create_topic(kafka_bootstrap, b, partitions=2)
        for p in range(3):
            await produce(kafka_bootstrap, a, json_values({"id": 100 + p, "name": "a"}), partition=p)
        for p in range(2):
            await produce(kafka_bootstrap, b, json_values({"id": 200 + p, "name": "b"}), partition=p)
        opts = {
            "format": "json",
            "scan.startup.mode": "earliest-offset",
            "scan.bounded.mode": "latest-offset",
        }
        got = []
        for subtask in range(2):
            reader = source(
                kafka_bootstrap,
                {**opts, "topic": f"{a};{b}"},
                fields("id INT", "name STRING", "topic STRING", "partition INT"),
                subtask=subtask,
                parallelism=2,
                metadata={"topic": "topic", "partition": "partition"},
            )
            t = await drain(reader)
            got.append(sorted(zip(t.column("topic").to_pylist(), t.column("partition").to_pylist())))
            await reader.close()
        reader = source(kafka_bootstrap, {**opts, "topic-pattern": f"{base}-.*"}, COLS)
        t = await drain(reader)
        await reader.close()
        return got[0], got[1], sorted(t.column("id").to_pylist())

    even, odd, everything = asyncio.run(scenario())
    assert even == [(a, 0), (a, 2), (b, 0)]
    assert odd == [(a, 1), (b, 1)]
    assert everything == [100, 101, 102, 200, 201]


def test_startup_modes(kafka_bootstrap: str) -> None:
    topic = unique("src-startup")
    group = unique("group")

    async def read(opts: dict[str, str]) -> list[int]:
        reader = source(
            kafka_bootstrap,
            {"topic": topic, "format": "json", "scan.bounded.mode": "latest-offset", **opts},
            COLS,
        )
        t = await drain(reader)
        await reader.close()
        return t.column("id").to_pylist() if t.num_rows else []

    async def scenario() -> dict[str, Any]:
        await create_topic(kafka_bootstrap, topic)
        stamps = [1_000_000 + 1000 * i for i in range(10)]
        await produce(kafka_bootstrap, topic, json_values(*({"id": i} for i in range(10))), timestamps=stamps)
        out: dict[str, Any] = {}
        out["earliest"] = await read({"scan.startup.mode": "earliest-offset"})
        out["latest"] = await read({"scan.startup.mode": "latest-offset"})
        out["timestamp"] = await read(
            {"scan.startup.mode": "timestamp", "scan.startup.timestamp-millis": str(stamps[7])}
        )
        out["specific"] = await read(
            {"scan.startup.mode": "specific-offsets", "scan.startup.specific-offsets": "partition:0,offset:8"}
        )
        out["bounded-specific"] = await read(
            {
                "scan.startup.mode": "earliest-offset",
                "scan.bounded.mode": "specific-offsets",
                "scan.bounded.specific-offsets": "partition:0,offset:3",
            }
        )
        # group-offsets: nothing committed yet -> auto.offset.reset decides ('none' fails).
        with pytest.raises(Exception, match="no committed offset"):
            await read({"properties.group.id": group})
        out["group-reset"] = await read(
            {"properties.group.id": group, "properties.auto.offset.reset": "latest"}
        )
        # A completed checkpoint commits the position to the group; group-offsets resumes there.
        reader = source(
            kafka_bootstrap,
            {
                "topic": topic,
                "format": "json",
                "properties.group.id": group,
                "scan.startup.mode": "earliest-offset",
            },
            COLS,
        )
        await reader.open()
        await poll_rows(reader, 4, max_rows=4)
        reader.position(1)  # type: ignore[call-arg]
        await reader.notify_checkpoint_complete(1)
        await reader.close()
        out["group"] = await read({"properties.group.id": group, "scan.startup.mode": "group-offsets"})
        return out

    out = asyncio.run(scenario())
    assert out["earliest"] == list(range(10))
    assert out["latest"] == []
    assert out["timestamp"] == [7, 8, 9]
    assert out["specific"] == [8, 9]
    assert out["bounded-specific"] == [0, 1, 2]
    assert out["group-reset"] == []
    assert out["group"] == [4, 5, 6, 7, 8, 9]


def test_restore_from_a_position_resumes_with_no_gap_and_no_duplicate(kafka_bootstrap: str) -> None:
    topic = unique("src-restore")
    opts = {"topic": topic, "format": "json", "scan.startup.mode": "earliest-offset"}

    async def scenario() -> tuple[list[int], list[int], dict[str, Any]]:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        for p in range(2):
            await produce(
                kafka_bootstrap, topic, json_values(*({"id": p * 1000 + i} for i in range(50))), partition=p
            )
        first = source(kafka_bootstrap, opts, COLS)
        await first.open()
        before = await poll_rows(first, 37, max_rows=10)
        position = json.loads(json.dumps(first.position()))  # it goes through the checkpoint as JSON
        await poll_rows(first, 20)  # read on past the checkpoint, then "crash"
        await first.close()
        second = source(kafka_bootstrap, opts, COLS)
        second.restore(position)
        await second.open()
        after = await poll_rows(second, 100 - 37)
        assert await second.poll(1000) is None
        await second.close()
        return before.column("id").to_pylist(), after.column("id").to_pylist(), position

    before, after, position = asyncio.run(scenario())
    assert sorted(before + after) == sorted([i for i in range(50)] + [1000 + i for i in range(50)])
    assert len(before) + len(after) == 100
    assert sum(position["offsets"].values()) == 37


def test_restore_at_another_parallelism_merges_the_old_subtasks_positions(kafka_bootstrap: str) -> None:
    topic = unique("src-rescale")
    opts = {"topic": topic, "format": "json", "scan.startup.mode": "earliest-offset"}

    async def scenario() -> list[int]:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        for p in range(2):
            await produce(
                kafka_bootstrap, topic, json_values(*({"id": p * 100 + i} for i in range(10))), partition=p
            )
        positions, seen = [], []
        for subtask in range(2):
            reader = source(kafka_bootstrap, opts, COLS, subtask=subtask, parallelism=2)
            await reader.open()
            seen += (await poll_rows(reader, 3 + subtask, max_rows=3 + subtask)).column("id").to_pylist()
            positions.append(reader.position())
            await reader.close()
        reader = source(kafka_bootstrap, opts, COLS)
        reader.restore_rescaled(positions)
        await reader.open()
        seen += (await poll_rows(reader, 20 - len(seen))).column("id").to_pylist()
        assert await reader.poll(100) is None
        await reader.close()
        return seen

    seen = asyncio.run(scenario())
    assert sorted(seen) == [*range(10), *range(100, 110)]


def test_key_format_key_fields_value_fields_include_and_metadata(kafka_bootstrap: str) -> None:
    topic = unique("src-key")

    async def scenario() -> pa.Table:
        await create_topic(kafka_bootstrap, topic)
        await produce(
            kafka_bootstrap,
            topic,
            json_values({"name": "alice"}, {"name": "bob"}),
            keys=[b'{"id": 1}', b'{"id": 2}'],  # the key format drops the prefix
            headers=[("h", b"v")],
            timestamps=[1_700_000_000_000, 1_700_000_001_000],
        )
        reader = source(
            kafka_bootstrap,
            {
                "topic": topic,
                "key.format": "json",
                "key.fields": "k_id",
                "key.fields-prefix": "k_",
                "value.format": "json",
                "value.fields-include": "EXCEPT_KEY",
                "scan.startup.mode": "earliest-offset",
                "scan.bounded.mode": "latest-offset",
            },
            fields(
                "k_id INT",
                "name STRING",
                "ts TIMESTAMP_LTZ(3)",
                "off BIGINT",
                "hdr MAP<STRING, BYTES>",
                "tstype STRING",
            ),
            metadata={"ts": "timestamp", "off": "offset", "hdr": "headers", "tstype": "timestamp-type"},
        )
        t = await drain(reader)
        await reader.close()
        return t

    t = asyncio.run(scenario())
    assert t.column("k_id").to_pylist() == [1, 2]
    assert t.column("name").to_pylist() == ["alice", "bob"]
    assert t.column("off").to_pylist() == [0, 1]
    assert [v.timestamp() for v in t.column("ts").to_pylist()] == [1_700_000_000.0, 1_700_000_001.0]
    assert t.column("hdr").to_pylist()[0] == [("h", b"v")]
    assert t.column("tstype").to_pylist() == ["CreateTime", "CreateTime"]


def test_csv_and_raw_value_formats(kafka_bootstrap: str) -> None:
    topic = unique("src-formats")

    async def scenario() -> tuple[list[Any], list[Any]]:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, [b"1,a", b"2,b"])
        bounded = {
            "topic": topic,
            "scan.startup.mode": "earliest-offset",
            "scan.bounded.mode": "latest-offset",
        }
        csv_reader = source(kafka_bootstrap, {**bounded, "format": "csv"}, COLS)
        t1 = await drain(csv_reader)
        await csv_reader.close()
        raw_reader = source(kafka_bootstrap, {**bounded, "value.format": "raw"}, fields("line STRING"))
        t2 = await drain(raw_reader)
        await raw_reader.close()
        return t1.to_pylist(), t2.column("line").to_pylist()

    rows, lines = asyncio.run(scenario())
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert lines == ["1,a", "2,b"]


def test_read_committed_by_default_and_read_uncommitted_on_request(kafka_bootstrap: str) -> None:
    from aiokafka import AIOKafkaProducer

    topic = unique("src-isolation")

    async def scenario() -> tuple[list[int], list[int]]:
        await create_topic(kafka_bootstrap, topic)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique("txn"))
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait(topic, b'{"id": 1}')
            await producer.begin_transaction()
            await producer.send_and_wait(topic, b'{"id": 2}')
            await producer.abort_transaction()
            async with producer.transaction():
                await producer.send_and_wait(topic, b'{"id": 3}')
        finally:
            await producer.stop()
        bounded = {
            "topic": topic,
            "format": "json",
            "scan.startup.mode": "earliest-offset",
            "scan.bounded.mode": "latest-offset",
        }
        out = []
        for extra in ({}, {"properties.isolation.level": "read_uncommitted"}):
            reader = source(kafka_bootstrap, {**bounded, **extra}, COLS)
            t = await drain(reader)
            await reader.close()
            out.append(t.column("id").to_pylist())
        return out[0], out[1]

    committed, uncommitted = asyncio.run(scenario())
    assert committed == [1, 3]
    assert uncommitted == [1, 2, 3]


def test_unknown_client_property_is_an_error_naming_it(kafka_bootstrap: str) -> None:
    with pytest.raises(OptionError, match=r"properties\.bootstrap\.servres"):
        source(kafka_bootstrap, {"topic": "x", "format": "json", "properties.bootstrap.servres": "y"}, COLS)
    with pytest.raises(OptionError, match=r"needs 'properties\.group\.id'"):
        source(kafka_bootstrap, {"topic": "x", "format": "json"}, COLS)


def test_sasl_jaas_config_reaches_the_client_as_username_and_password(kafka_bootstrap: str) -> None:
    reader = source(
        kafka_bootstrap,
        {
            "topic": "x",
            "format": "json",
            "scan.startup.mode": "earliest-offset",
            "properties.security.protocol": "SASL_PLAINTEXT",
            "properties.sasl.mechanism": "SCRAM-SHA-256",
            "properties.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule "
            'required username="u1" password="p;w";',
        },
        COLS,
    )
    kwargs = reader.kwargs  # type: ignore[attr-defined]
    assert kwargs["sasl_plain_username"] == "u1"
    assert kwargs["sasl_plain_password"] == "p;w"
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert kwargs["isolation_level"] == "read_committed"


# ---- bad records --------------------------------------------------------------------------

BAD = [b'{"id": 1, "name": "a"}', b'{"id": 2, "na', b'{"id": 3, "name": "c"}']


def test_bad_json_record_fails_with_its_topic_partition_and_offset(kafka_bootstrap: str) -> None:
    topic = unique("src-bad-fail")

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, BAD)
        reader = source(
            kafka_bootstrap,
            {
                "topic": topic,
                "format": "json",
                "scan.startup.mode": "earliest-offset",
                "scan.bounded.mode": "latest-offset",
            },
            COLS,
        )
        try:
            with pytest.raises(FormatError, match=f"topic '{topic}', partition 0, offset 1"):
                await drain(reader)
            # The position never passed the bad record.
            assert reader.position()["offsets"][f"{topic}:0"] == 0
        finally:
            await reader.close()

    asyncio.run(scenario())


def read_dead_lettered(
    bootstrap: str, fmt: str, values: list[bytes], headers: list[tuple[str, bytes]] | None = None
) -> tuple[str, pa.Table, int, list[Any]]:
    """Three records (keys k1-k3) read from a new topic with ``fmt``'s ignore-parse-errors
    and a dead-letter topic: the topic, the rows, the bad records counted, and the
    dead-letter records.
    The source's position is past all three, the skipped one included."""
    topic, dlq = unique("src-bad-skip"), unique("dlq")

    async def scenario() -> tuple[pa.Table, int, list[Any]]:
        await create_topic(bootstrap, topic)
        await create_topic(bootstrap, dlq)
        await produce(bootstrap, topic, values, keys=[b"k1", b"k2", b"k3"], headers=headers)
        reader = source(
            bootstrap,
            {
                "topic": topic,
                "format": fmt,
                f"{fmt}.ignore-parse-errors": "true",
                "sqlstream.dead-letter.topic": dlq,
                "scan.startup.mode": "earliest-offset",
                "scan.bounded.mode": "latest-offset",
            },
            COLS,
        )
        t = await drain(reader)
        skipped = reader.metrics.bad_records_skipped
        assert reader.position()["offsets"][f"{topic}:0"] == 3
        await reader.close()
        return t, skipped, await read_records(bootstrap, dlq)

    return (topic, *asyncio.run(scenario()))


def test_bad_json_record_is_skipped_counted_and_dead_lettered(kafka_bootstrap: str) -> None:
    topic, table, skipped, dead = read_dead_lettered(kafka_bootstrap, "json", BAD)
    ids = table.column("id").to_pylist()
    assert ids == [1, 3]
    assert skipped == 1
    assert len(dead) == 1
    assert dead[0].value == BAD[1] and dead[0].key == b"k2"
    headers = dict(dead[0].headers)
    assert headers["sqlstream.source"] == f"{topic}:0:1".encode()
    assert f"topic '{topic}', partition 0, offset 1" in headers["sqlstream.error"].decode()


def test_a_json_record_with_a_bad_field_keeps_its_row_with_the_field_null(kafka_bootstrap: str) -> None:
    # Flink's json format with ignore-parse-errors nulls the field, not the row: no record is
    # skipped, none goes to the dead-letter topic, the position passes all three
    values = [b'{"id": 1, "name": "a"}', b'{"id": "two", "name": "b"}', b'{"id": 3, "name": "c"}']
    _, table, skipped, dead = read_dead_lettered(kafka_bootstrap, "json", values)
    assert table.column("id").to_pylist() == [1, None, 3]
    assert table.column("name").to_pylist() == ["a", "b", "c"]
    assert skipped == 0 and dead == []


# ---- upsert-kafka ---------------------------------------------------------------------------


def test_upsert_kafka_source_reads_tombstones_as_deletes(kafka_bootstrap: str) -> None:
    from planner.physical import ROW_KIND_COLUMN

    topic = unique("src-upsert")

    async def scenario() -> pa.Table:
        await create_topic(kafka_bootstrap, topic)
        await produce(
            kafka_bootstrap,
            topic,
            [b'{"id": 1, "name": "a"}', b'{"id": 2, "name": "b"}', None],
            keys=[b'{"id": 1}', b'{"id": 2}', b'{"id": 1}'],
        )
        reader = source(
            kafka_bootstrap,
            {
                "topic": topic,
                "key.format": "json",
                "value.format": "json",
                "scan.bounded.mode": "latest-offset",
            },
            COLS,
            connector="upsert-kafka",
            primary_key=("id",),
        )
        t = await drain(reader)
        await reader.close()
        return t

    t = asyncio.run(scenario())
    assert t.column("id").to_pylist() == [1, 2, 1]
    assert t.column("name").to_pylist() == ["a", "b", None]
    assert t.column(ROW_KIND_COLUMN).to_pylist() == [2, 2, 3]  # +U, +U, -D
