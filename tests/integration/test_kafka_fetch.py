"""``runtime.connectors.kafka.fetch`` reads aiokafka's fetched record batches itself (no
``ConsumerRecord`` per record): it must see exactly what ``getmany`` sees.

These tests pin that use of aiokafka's internals against the real broker: plain,
compressed and transactional batches, a committed and an aborted transaction interleaved
on one partition, control records (commit and abort markers), reads from the middle of a
batch, small fetches, under both isolation levels. The records (offset, timestamp and its
type, key, value, headers) must be the ones ``getmany`` returns, and the position after
the last fetch the same (past the trailing transaction marker).

The source hands a fetch out in parts of at most ``max_rows`` rows; a position taken after
any part must restore to exactly the rows not handed out yet (past a skipped bad record,
never between the two rows of one update).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from runtime.connectors.kafka.fetch import take
from tests.integration.test_kafka_source import create_topic, unique

pytestmark = pytest.mark.kafka

Row = tuple[int, int, int, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


async def _write(bootstrap: str, topic: str) -> None:
    """One partition: a plain batch, a gzip batch, a committed and an aborted transaction
    interleaved, an aborted one alone, then plain records again."""
    from aiokafka import AIOKafkaProducer

    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    zipped = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, compression_type="gzip")
    good = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=unique("good"))
    bad = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=unique("bad"))
    for p in (plain, zipped, good, bad):
        await p.start()
    try:
        # several records per batch (linger): a read from offset 2 starts mid-batch
        sent = [
            await plain.send(topic, b'{"p": %d}' % i, key=b"k%d" % i, partition=0, headers=[("h", b"%d" % i)])
            for i in range(5)
        ]
        await asyncio.gather(*sent)
        await asyncio.gather(*[await zipped.send(topic, b'{"z": %d}' % i, partition=0) for i in range(4)])
        await good.begin_transaction()
        await bad.begin_transaction()
        for i in range(3):
            await (await good.send(topic, b'{"good": %d}' % i, partition=0, timestamp_ms=1_000 + i))
            await (await bad.send(topic, b'{"bad": %d}' % i, key=b"x", partition=0))
        await good.commit_transaction()
        await bad.abort_transaction()
        await bad.begin_transaction()
        await (await bad.send(topic, b'{"bad": "alone"}', partition=0))
        await bad.abort_transaction()
        await (await plain.send(topic, None, key=b"tombstone", partition=0))
        await (await plain.send(topic, b'{"p": "last"}', partition=0))
        await good.begin_transaction()
        await (await good.send(topic, b'{"good": "last"}', partition=0))
        await good.commit_transaction()  # the partition ends with a commit marker
    finally:
        for p in (plain, zipped, good, bad):
            await p.stop()
    await _markers_written(bootstrap, topic)


async def _markers_written(bootstrap: str, topic: str) -> None:
    """``commit_transaction`` returns once the coordinator has decided, before the broker
    has written the marker to the partition: until then a read_uncommitted consumer's end
    (the high watermark) stops short of it. Both ends agree once every marker is written."""
    from aiokafka.structs import TopicPartition

    tp = TopicPartition(topic, 0)
    deadline = time.monotonic() + 20
    while True:
        ends = []
        for isolation in ("read_committed", "read_uncommitted"):
            consumer = await _consumer(bootstrap, isolation, 1 << 20)
            try:
                ends.append((await consumer.end_offsets([tp]))[tp])
            finally:
                await consumer.stop()
        if ends[0] == ends[1]:
            return
        assert time.monotonic() < deadline, f"transaction markers not written: ends {ends}"
        await asyncio.sleep(0.1)


async def _consumer(bootstrap: str, isolation: str, fetch_bytes: int) -> Any:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        enable_auto_commit=False,
        max_partition_fetch_bytes=fetch_bytes,
    )
    await consumer.start()
    return consumer


async def _read(
    bootstrap: str, topic: str, isolation: str, start: int, fetch_bytes: int, ours: bool
) -> tuple[list[Row], int]:
    """The partition's records from ``start`` to its end, and the consumer's position then."""
    from aiokafka.structs import TopicPartition

    consumer = await _consumer(bootstrap, isolation, fetch_bytes)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, start)
        end = (await consumer.end_offsets([tp]))[tp]
        rows: list[Row] = []
        deadline = time.monotonic() + 20
        while await consumer.position(tp) < end:
            assert time.monotonic() < deadline, "reading the partition took too long"
            if ours:
                got = await take(consumer, 0.2, 1_000_000, full=True)
                for f in got.values():
                    rows += zip(f.offsets, f.timestamps, f.timestamp_types, f.keys, f.values, f.headers)
                    assert f.next_offset == await consumer.position(tp)
            else:
                for records in (await consumer.getmany(tp, timeout_ms=200)).values():
                    rows += [
                        (r.offset, r.timestamp, r.timestamp_type, r.key, r.value, tuple(r.headers))
                        for r in records
                    ]
        return rows, await consumer.position(tp)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("isolation", ["read_committed", "read_uncommitted"])
def test_fetched_columns_are_what_getmany_returns(kafka_bootstrap: str, isolation: str) -> None:
    topic = unique("src-fetch")

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic)
        await _write(kafka_bootstrap, topic)
        for start in (0, 2, 7, 12):  # 2: inside the first batch; 7: inside the gzip batch
            for fetch_bytes in (1 << 20, 64):  # 64 bytes: a batch per fetch
                ours = await _read(kafka_bootstrap, topic, isolation, start, fetch_bytes, ours=True)
                theirs = await _read(kafka_bootstrap, topic, isolation, start, fetch_bytes, ours=False)
                assert ours == theirs, (start, fetch_bytes)
        rows, end = await _read(kafka_bootstrap, topic, isolation, 0, 1 << 20, ours=True)
        values = [r[4] for r in rows]
        committed = [
            *(b'{"p": %d}' % i for i in range(5)),
            *(b'{"z": %d}' % i for i in range(4)),
            *(b'{"good": %d}' % i for i in range(3)),
        ]
        aborted = [b'{"bad": %d}' % i for i in range(3)]
        if isolation == "read_committed":
            assert values == [*committed, None, b'{"p": "last"}', b'{"good": "last"}']
        else:
            assert [v for v in values if v not in aborted] == [
                *committed,
                b'{"bad": "alone"}',
                None,
                b'{"p": "last"}',
                b'{"good": "last"}',
            ]
            assert sorted(v for v in values if v in aborted) == sorted(aborted)
        assert rows[0][5] == (("h", b"0"),) and rows[0][3] == b"k0"
        # offsets rise with gaps where markers (and, read_committed, aborted records) are
        assert end == rows[-1][0] + 2  # past the last record and the commit marker after it

    asyncio.run(scenario())


# ---- the source's positions when a fetch is handed out in parts ------------------------------


def _debezium(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bytes:
    return json.dumps({"before": before, "after": after, "op": op}).encode()


CASES = {
    # a bad record skipped in the middle of the fetch
    "json": (
        {"format": "json", "json.ignore-parse-errors": "true"},
        [*(b'{"id": %d}' % i for i in range(6)), b'{"id": ', *(b'{"id": %d}' % i for i in range(6, 12))],
    ),
    # an update is two rows (-U, +U) of one record: a part never ends between them
    "debezium-json": (
        {"format": "debezium-json"},
        [
            rec
            for i in range(6)
            for rec in (
                _debezium("c", None, {"id": i, "name": "a"}),
                _debezium("u", {"id": i, "name": "a"}, {"id": i, "name": "b"}),
            )
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_position_after_any_part_of_a_fetch_restores_exactly_the_rest(
    kafka_bootstrap: str, case: str
) -> None:
    from tests.integration.test_kafka_source import COLS, drain, produce, source

    topic = unique("src-parts")
    options, values = CASES[case]
    opts = {"topic": topic, "scan.startup.mode": "earliest-offset", **options}
    opts["scan.bounded.mode"] = "latest-offset"

    async def scenario() -> tuple[list[Any], list[tuple[int, list[Any], list[Any]]]]:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, values)
        first = source(kafka_bootstrap, opts, COLS)
        whole = await drain(first, max_rows=1000)
        await first.close()
        reader = source(kafka_bootstrap, opts, COLS)
        await reader.open()
        seen: list[Any] = []
        positions: list[tuple[dict[str, Any], list[Any]]] = []
        while not reader.finished:
            batch = await reader.poll(2)  # a fetch of 12-13 records is handed out in parts
            if batch is not None and batch.num_rows:
                assert batch.num_rows <= 3  # 2, or 3 when the second row is an update's -U
                seen += batch.to_pylist()
                positions.append((json.loads(json.dumps(reader.position())), list(seen)))
        await reader.close()
        restored = []
        for position, before in positions:
            again = source(kafka_bootstrap, opts, COLS)
            again.restore(position)
            rest = await drain(again)
            await again.close()
            offset = position["offsets"][f"{topic}:0"]
            restored.append((offset, before, rest.to_pylist() if rest.num_rows else []))
        return whole.to_pylist(), restored

    whole, restored = asyncio.run(scenario())
    assert len(whole) == {"json": 12, "debezium-json": 18}[case] and len(restored) >= 4
    for offset, before, rest in restored:
        assert before + rest == whole, offset
    # every part moved the position, and the last one to the end of the partition
    offsets = [r[0] for r in restored]
    assert offsets == sorted(set(offsets)) and offsets[-1] == len(values)
