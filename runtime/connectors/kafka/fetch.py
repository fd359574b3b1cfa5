"""The consumer's fetched records, column by column, without a ``ConsumerRecord`` per record.

``AIOKafkaConsumer.getmany`` turns every record into a ``ConsumerRecord`` (a Python function
call and a dataclass per record, ~1 us each), and the source then took each field back out
of them. Here the fetched record batches are read directly: aiokafka's C record batches
give each record's offset, timestamp, key and value, appended to one list per field; the
values of a partition's fetch are then decoded at once.

This leans on aiokafka's internals (the fetcher's buffer of ``FetchResult`` per partition
and the ``PartitionRecords`` in it; aiokafka is pinned to 0.14.x in ``pyproject.toml``).
``take`` keeps what ``getmany`` does for the records it returns: a result whose partition
was paused or moved since the fetch is dropped, a fetch error is raised, the consumer's
position moves past what was taken, and the background fetcher is woken for the next
fetch; under ``read_committed`` the batches of aborted transactions are skipped by the
same rule (the fetch response's aborted transactions, ended by the abort marker), control
batches always, and records before the fetch offset (a fetch from the middle of a batch)
too. ``tests/integration/test_kafka_fetch.py`` pins this against ``getmany`` on the
broker: committed and aborted transactions, control records, a fetch from mid-batch.
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from aiokafka.consumer.fetcher import READ_COMMITTED, FetchResult


@dataclass
class Fetched:
    """One partition's records from one fetch, a list per field, in offset order.

    ``next_offset`` is where the partition's next fetch starts: past the last record, and
    past control and aborted batches after it, so a position set there is exact."""

    offsets: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    values: list[bytes | None] = field(default_factory=list)
    #: Only when asked for (``take(..., full=True)``): empty otherwise
    timestamp_types: list[int] = field(default_factory=list)
    headers: list[tuple[tuple[str, bytes], ...]] = field(default_factory=list)
    next_offset: int = 0

    def __len__(self) -> int:
        return len(self.offsets)

    def head(self, stop: int) -> Fetched:
        """The records before offset ``stop`` (a bounded scan's end), next offset at most ``stop``."""
        n = bisect.bisect_left(self.offsets, stop)
        if n == len(self.offsets) and self.next_offset <= stop:
            return self
        return self._slice(0, n, min(self.next_offset, stop))

    def metadata(self, key: str, tp: tuple[str, int], rows: np.ndarray | None, t: pa.DataType) -> pa.Array:
        """The metadata column ``key`` (Flink's name) of the records ``rows`` (None: all)."""
        n = len(self) if rows is None else len(rows)
        col: pa.Array
        if key == "topic":
            return pa.repeat(pa.scalar(tp[0], pa.string()), n)
        if key == "partition":
            return pa.repeat(pa.scalar(tp[1], pa.int32()), n).cast(t)
        if key == "offset":
            col = pa.array(self.offsets, pa.int64())
        elif key == "timestamp":
            col = pa.array(self.timestamps, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
        elif key == "timestamp-type":
            names = {0: "CreateTime", 1: "LogAppendTime"}
            col = pa.array([names.get(k, "NoTimestampType") for k in self.timestamp_types], pa.string())
        elif key == "headers":
            col = pa.array([list(h) for h in self.headers], type=t)
        else:
            return pa.nulls(n, t)  # leader-epoch: aiokafka does not report it
        col = col if rows is None else col.take(pa.array(rows, pa.int64()))
        return col.cast(t)

    def _slice(self, lo: int, hi: int, next_offset: int) -> Fetched:
        return Fetched(
            self.offsets[lo:hi],
            self.timestamps[lo:hi],
            self.keys[lo:hi],
            self.values[lo:hi],
            self.timestamp_types[lo:hi],
            self.headers[lo:hi],
            next_offset,
        )


async def take(
    consumer: Any, timeout_s: float, max_records: int, full: bool
) -> dict[tuple[str, int], Fetched]:
    """The fetched records of the consumer's partitions, waiting up to ``timeout_s`` for
    some; whole fetches, partition by partition, until ``max_records`` or more are taken.
    ``full``: also each record's timestamp type and headers."""
    from aiokafka.errors import ConsumerStoppedError

    if consumer._closed:  # a poll after close fails loudly, as getmany's does
        raise ConsumerStoppedError()
    consumer._coordinator.check_errors()  # e.g. the group's, as getmany raises them
    fetcher = consumer._fetcher
    with consumer._subscription.fetch_context():
        got = _drain(fetcher, max_records, full)
        if got or not timeout_s:
            return got
        waiter = fetcher._create_fetch_waiter()
        done, _pending = await asyncio.wait([waiter], timeout=timeout_s)
        if not done:
            waiter.cancel()
            return {}
        waiter.result()  # e.g. an authorization error of the fetch
        return _drain(fetcher, max_records, full)


def _drain(fetcher: Any, max_records: int, full: bool) -> dict[tuple[str, int], Fetched]:
    out: dict[tuple[str, int], Fetched] = {}
    buffered = fetcher._records
    taken = 0
    for tp in list(buffered):
        result = buffered[tp]
        if type(result) is not FetchResult:
            if out:  # what we have first; the error on the next call, as getmany does
                break
            del buffered[tp]
            fetcher._notify(fetcher._wait_consume_future)
            result.check_raise()
        del buffered[tp]
        fetcher._notify(fetcher._wait_consume_future)  # room for the next fetch
        if not result.check_assignment(tp):  # paused or moved since: the fetch is stale
            continue
        records = result._partition_records
        got = _unpack(records, full)
        records.next_fetch_offset = got.next_offset
        result._update_position()
        out[(tp.topic, tp.partition)] = got
        taken += len(got)
        if taken >= max_records:
            break
    return out


def _unpack(records: Any, full: bool) -> Fetched:
    """A partition's fetch as columns, by the rules of aiokafka's ``PartitionRecords._unpack_records``."""
    first = records.next_fetch_offset
    out = Fetched(next_offset=first)
    add_offset, add_ts = out.offsets.append, out.timestamps.append
    add_key, add_value = out.keys.append, out.values.append
    add_type, add_headers = out.timestamp_types.append, out.headers.append
    data = records._records
    committed_only = records._isolation_level == READ_COMMITTED
    while data.has_next():
        batch = data.next_batch()
        if records._check_crcs and not batch.validate_crc():
            from aiokafka.errors import CorruptRecordException

            raise CorruptRecordException(f"Invalid CRC - {records._tp}")
        if committed_only and batch.producer_id is not None:
            records._consume_aborted_up_to(batch.base_offset)
            if batch.is_control_batch and records._contains_abort_marker(batch):
                records._aborted_producers.discard(batch.producer_id)
            if batch.is_transactional and batch.producer_id in records._aborted_producers:
                out.next_offset = batch.next_offset
                continue
        if batch.is_control_batch:
            out.next_offset = batch.next_offset
            continue
        if full:
            for r in batch:
                add_offset(r.offset)
                add_ts(r.timestamp)
                add_key(r.key)
                add_value(r.value)
                add_type(r.timestamp_type)
                add_headers(tuple(r.headers))
        else:
            for r in batch:
                add_offset(r.offset)
                add_ts(r.timestamp)
                add_key(r.key)
                add_value(r.value)
        out.next_offset = batch.next_offset
    if out.offsets and out.offsets[0] < first:
        # A fetch from the middle of a batch (or a legacy compressed message set) starts
        # with records before the fetch offset: already read, not read again.
        return out._slice(bisect.bisect_left(out.offsets, first), len(out), out.next_offset)
    return out
