"""Flink's ``kafka`` connector on aiokafka: a checkpointed source and a two-phase-commit sink.

Source: ``topic`` (one, or a ``;``-separated list) or ``topic-pattern`` (a regex the whole
topic name must match, listed once at start). Subtask ``i`` of ``p`` reads the partitions
whose number modulo ``p`` is ``i``. Its position is the next offset to read per partition
(``{"offsets": {"topic:partition": offset}}``): every record before it was emitted or
counted as bad, none after; ``restore`` resumes exactly there (a partition the position
does not name starts at its earliest offset). Startup: ``scan.startup.mode`` =
earliest-offset | latest-offset | group-offsets (``properties.auto.offset.reset`` when the
group has no offset) | timestamp (``scan.startup.timestamp-millis``) | specific-offsets
(``scan.startup.specific-offsets``); every mode is resolved to concrete offsets at start, so
a checkpoint taken before the first record still pins them. ``scan.bounded.mode`` makes a
bounded scan that stops at offsets taken at start (latest-offset, group-offsets, timestamp,
specific-offsets). Reads ``read_committed`` unless ``properties.isolation.level`` says
otherwise. A completed checkpoint commits its offsets to ``properties.group.id`` (for
monitoring only: a restore uses the checkpoint).

Partition discovery (an unbounded scan, every ``scan.topic-partition-discovery.interval``,
5 min by default, 0 never): partitions added to the topics (and topics that now match the
pattern) are read from their earliest offset, as Flink's KafkaSource reads them, by the
subtask that the partition number picks; they are in the position from then on, so a
restore resumes them exactly (and one the checkpoint does not name yet starts at its
earliest offset again). Each partition the reader starts on is announced to the watermark
assigner (``runtime.batches.announcement``): until it has a row, it holds the watermark
back, as an empty partition does in Flink, unless ``scan.watermark.idle-timeout`` passes.

Records come field by field from the consumer's fetches (``fetch.py``: no Python object per
record), and a partition's fetch is decoded at once by ``runtime.formats``: ``value.format``
(or ``format``), ``key.format`` with ``key.fields`` (``key.fields-prefix``), and
``value.fields-include`` = ALL | EXCEPT_KEY. A scan the planner narrowed (``spec.projection``,
Flink's SupportsProjectionPushDown) gives only the columns a query reads: JSON and CSV keys
and values convert only those fields (``Codec.value_decoded``), so a bad value in another
field is no error; Avro and raw ones are decoded whole. Metadata columns: topic, partition, offset,
timestamp, timestamp-type, headers, leader-epoch (always NULL: aiokafka does not say). A
bad record fails the job with its topic, partition and offset, or, when the format ignores
parse errors, is skipped, counted in ``SourceMetrics.bad_records_skipped`` and, with
``sqlstream.dead-letter.topic``, written there as it was (key, value, headers) with the
error in the header ``sqlstream.error`` before the position moves past it. With that option
a record whose JSON or CSV is well formed but one of whose fields holds a value that does
not fit its type is not bad: its row is kept with that field NULL, as in Flink, and counted
in ``SourceMetrics.bad_fields_nulled``.

The sink is ``sink.py``; the record codec ``codec.py``; client options ``options.py``; the
fetches ``fetch.py``; the dead-letter topic ``dead_letter.py``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.connectors.kafka import KafkaConfig
from catalog.errors import OptionError
from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, SourceSpec
from runtime.batches import ROW_KIND_TYPE, announcement, output_schema, with_split
from runtime.connectors.base import SourceReader, SubtaskContext, count_nulled, source_config
from runtime.connectors.kafka.codec import KIND_DELETE, KIND_UPDATE_AFTER, Codec
from runtime.connectors.kafka.dead_letter import DeadLetters
from runtime.connectors.kafka.fetch import Fetched, take
from runtime.connectors.kafka.options import (
    client_kwargs,
    owned_partitions,
    parse_tp_key,
    tp_key,
)
from runtime.connectors.kafka.txn import (
    KafkaConnectorError,
)
from runtime.formats import create_changelog_decoder, create_decoder, is_changelog
from runtime.formats.base import Decoded, RecordDecoder
from runtime.formats.changelog import ChangelogDecoder

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 10


# Decoded rows and the record (its index in the fetch) of each row; None: row i is record i
_Rows = tuple[pa.RecordBatch, np.ndarray | None]


@dataclass
class _Pending:
    """Decoded rows of one partition's fetch, not handed out yet."""

    key: tuple[str, int]
    batch: pa.RecordBatch | None
    offsets: list[int]  # of the fetch's records
    records: np.ndarray | None  # the record (index into ``offsets``) of each row; None: row i is record i
    end: int  # the partition's position once every row is out


class KafkaSource(SourceReader):
    upsert = False

    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        config = source_config(spec)
        assert isinstance(config, KafkaConfig)
        self.config = config
        bag = OptionBag(spec.options, f"table '{spec.table}'")  # the formats read theirs
        self.where = bag.where
        props = dict(bag.prefixed("properties."))
        self.kwargs = client_kwargs(props, "consumer", self.where)
        self.kwargs.setdefault("isolation_level", "read_committed")
        self.kwargs["enable_auto_commit"] = False
        self.kwargs.setdefault("auto_offset_reset", "earliest")
        self.group_id: str | None = self.kwargs.get("group_id")
        self.reset = props.get("auto.offset.reset", "none").lower()
        self.topics = list(config.topics)
        self.pattern = re.compile(config.topic_pattern) if config.topic_pattern else None
        self.startup = config.startup_mode
        self.startup_ts = config.startup_timestamp
        self.startup_offsets = dict(config.startup_offsets) if config.startup_offsets else None
        self.bounded_mode = config.bounded_mode
        self.bounded_ts = config.bounded_timestamp
        self.bounded_offsets = dict(config.bounded_offsets) if config.bounded_offsets else None
        self.dead_letter = config.dead_letter_topic
        # partition discovery: unbounded scans only (a bounded one stops at offsets from its start)
        self.discovery_ms = config.discovery_interval_ms if self.bounded_mode == "unbounded" else 0
        self._next_discovery = 0.0
        self._announce: list[tuple[str, int]] = []
        # The record layout is the table's (``columns``); the rows hold what the query reads
        # (``produced``: all of them, or a projection the planner pushed into the scan).
        self.physical = tuple(f for f in spec.columns if f.name not in spec.metadata)
        self.codec = Codec.of(config.layout)
        c = self.codec
        read = None if spec.projection is None else {f.name for f in spec.produced}
        # A change-record format (debezium-json, ...) gives rows with their row kind.
        self.changes: ChangelogDecoder | None = None
        value_fields = c.value_record_fields(self.physical)
        if is_changelog(c.value_format):
            self.changes = create_changelog_decoder(c.value_format, value_fields, bag, c.value_prefix)
            self.value_decoder: RecordDecoder = create_decoder("json", value_fields, bag, "")
        else:
            self.value_decoder = create_decoder(
                c.value_format, value_fields, bag, c.value_prefix, c.value_decoded(read)
            )
        self.key_decoder: RecordDecoder | None = None
        if c.key_format:
            self.key_decoder = create_decoder(
                c.key_format, c.key_record_fields(self.physical), bag, "key.", c.key_decoded(read)
            )
            # One policy for the record: the value format's decides.
            self.key_decoder.ignore_errors = self.value_decoder.ignore_errors
        self.columns = spec.produced
        self.schema = output_schema(self.columns, self.upsert or self.changes is not None)
        self._consumer: Any = None
        self._dlq = DeadLetters(self.dead_letter, props, self.where) if self.dead_letter else None
        self._assigned: list[tuple[str, int]] = []
        self._pos: dict[tuple[str, int], int] = {}
        self._stop: dict[tuple[str, int], int] = {}
        self._done: set[tuple[str, int]] = set()
        self._restored: dict[tuple[str, int], int] | None = None
        self._snapshots: dict[int | None, dict[tuple[str, int], int]] = {}
        # Decoded rows of one fetch, per partition, not handed out yet
        self._ready: list[_Pending] = []
        # Fetch each record's timestamp type and headers too (only when something reads them)
        wanted = {spec.metadata[f.name] for f in self.columns if f.name in spec.metadata}
        self._full = bool(self.dead_letter) or bool(wanted & {"timestamp-type", "headers"})
        self._opened = False

    # ---- start ---------------------------------------------------------------------------
    async def open(self) -> None:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(**self.kwargs)
        await self._consumer.start()
        try:
            await self._assign()
        except BaseException:
            await self._consumer.stop()
            raise
        self._opened = True

    async def _list_partitions(self, strict: bool = True) -> list[tuple[str, int]]:
        """Every partition of the table's topics; ``strict``: a listed topic that does not
        exist is an error (at start; a discovery skips it)."""
        client = self._consumer._client
        cluster = await client.fetch_all_metadata()
        topics = list(self.topics)
        if self.pattern is not None:
            topics = sorted(t for t in cluster.topics() if self.pattern.fullmatch(t))
        found: list[tuple[str, int]] = []
        for topic in topics:
            parts = cluster.partitions_for_topic(topic)
            if not strict:
                found += [(topic, p) for p in parts or ()]
                continue
            for _ in range(30):  # metadata of a topic created a moment ago may lag
                if parts:
                    break
                await asyncio.sleep(0.1)
                cluster = await client.fetch_all_metadata()
                parts = cluster.partitions_for_topic(topic)
            if not parts:
                raise KafkaConnectorError(
                    f"{self.where}: topic '{topic}' does not exist (or has no partitions)",
                    hint="create the topic, or check 'topic' and 'properties.bootstrap.servers'",
                )
            found += [(topic, p) for p in parts]
        return found

    async def _assign(self) -> None:
        from aiokafka.structs import TopicPartition

        consumer = self._consumer
        mine = owned_partitions(await self._list_partitions(), self.ctx.subtask, self.ctx.parallelism)
        self._assigned = mine
        self._next_discovery = time.monotonic() + self.discovery_ms / 1000
        tps = [TopicPartition(t, p) for t, p in mine]
        consumer.assign(tps)
        if not tps:
            return
        start = await self._offsets(tps, self.startup, self.startup_ts, self.startup_offsets, "startup")
        if self._restored is not None:
            earliest = await consumer.beginning_offsets(tps)
            start = {
                (tp.topic, tp.partition): self._restored.get((tp.topic, tp.partition), earliest[tp])
                for tp in tps
            }
        for tp in tps:
            key = (tp.topic, tp.partition)
            self._pos[key] = start[key]
            consumer.seek(tp, start[key])
        if self.bounded_mode != "unbounded":
            self._stop = await self._offsets(
                tps, self.bounded_mode, self.bounded_ts, self.bounded_offsets, "bounded"
            )
            for tp in tps:
                key = (tp.topic, tp.partition)
                if self._pos[key] >= self._stop[key]:
                    self._finish_partition(key)
        # a partition with nothing left to read (a bounded scan's) holds no watermark back
        self._announce = [k for k in mine if k not in self._done]

    async def _offsets(
        self, tps: list[Any], mode: str, ts: int | None, specific: dict[int, int] | None, what: str
    ) -> dict[tuple[str, int], int]:
        consumer = self._consumer
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        out: dict[tuple[str, int], int] = {}
        if mode == "earliest-offset":
            return {(tp.topic, tp.partition): begin[tp] for tp in tps}
        if mode == "latest-offset":
            return {(tp.topic, tp.partition): end[tp] for tp in tps}
        if mode == "timestamp":
            found = await consumer.offsets_for_times({tp: ts for tp in tps})
            return {(tp.topic, tp.partition): (found[tp].offset if found.get(tp) else end[tp]) for tp in tps}
        if mode == "specific-offsets":
            assert specific is not None
            for tp in tps:
                fallback = begin[tp] if what == "startup" else end[tp]
                out[(tp.topic, tp.partition)] = specific.get(tp.partition, fallback)
            return out
        if mode == "group-offsets":
            for tp in tps:
                committed = await consumer.committed(tp)
                if committed is not None and committed >= 0:
                    out[(tp.topic, tp.partition)] = committed
                elif what == "bounded" or self.reset in ("latest", "largest"):
                    out[(tp.topic, tp.partition)] = end[tp]
                elif self.reset in ("earliest", "smallest"):
                    out[(tp.topic, tp.partition)] = begin[tp]
                else:
                    raise KafkaConnectorError(
                        f"{self.where}: group '{self.group_id}' has no committed offset for topic "
                        f"'{tp.topic}' partition {tp.partition}",
                        hint="set 'properties.auto.offset.reset' = 'earliest' or 'latest', or choose "
                        "another 'scan.startup.mode'",
                    )
            return out
        raise OptionError(f"{self.where}: unknown {what} mode '{mode}'")

    async def _discover(self) -> None:
        """Start on the partitions this subtask owns that appeared since the last look, at
        their earliest offsets. Called with no fetched rows waiting (``_ready`` is empty),
        so every partition can be put back exactly where its handed-out rows end."""
        from aiokafka.structs import TopicPartition

        self._next_discovery = time.monotonic() + self.discovery_ms / 1000
        listed = await self._list_partitions(strict=False)
        known = set(self._assigned)
        mine = owned_partitions(listed, self.ctx.subtask, self.ctx.parallelism)
        new = [tp for tp in mine if tp not in known]
        if not new:
            return
        consumer = self._consumer
        self._assigned = sorted([*self._assigned, *new])
        consumer.assign([TopicPartition(t, p) for t, p in self._assigned])
        new_tps = [TopicPartition(t, p) for t, p in new]
        earliest = await consumer.beginning_offsets(new_tps)
        for tp in new_tps:
            self._pos[(tp.topic, tp.partition)] = earliest[tp]
        for key in self._assigned:  # a new assignment forgets the old positions: set them all
            consumer.seek(TopicPartition(*key), self._pos[key])
        self._announce += new
        log.info("%s: discovered %s", self.where, ", ".join(tp_key(t, p) for t, p in new))

    def _finish_partition(self, key: tuple[str, int]) -> None:
        from aiokafka.structs import TopicPartition

        self._done.add(key)
        self._consumer.pause(TopicPartition(*key))

    @property
    def finished(self) -> bool:
        return (
            self._opened
            and self.bounded_mode != "unbounded"
            and not self._ready
            and all(k in self._done for k in self._assigned)
        )

    # ---- reading -----------------------------------------------------------------------
    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        if self._ready:
            return self._hand_out(max_rows)
        if self._announce:
            return announcement(self.schema, tp_key(*self._announce.pop(0)).encode())
        if self.discovery_ms > 0 and time.monotonic() >= self._next_discovery:
            await self._discover()
            if self._announce:
                return announcement(self.schema, tp_key(*self._announce.pop(0)).encode())
        if not self._assigned or self.finished:
            return None
        got = await take(self._consumer, POLL_TIMEOUT_MS / 1000, max(1, max_rows), self._full)
        for key in sorted(got):
            if key in self._done:
                continue
            fetched = got[key]
            stop = self._stop.get(key)
            if stop is not None:
                fetched = fetched.head(stop)
            if len(fetched):
                decode = self._decode if self.changes is None else self._decode_changes
                batch, records = await decode(key, fetched) or (None, None)
                self._ready.append(_Pending(key, batch, fetched.offsets, records, fetched.next_offset))
            elif fetched.next_offset > self._pos[key]:  # only transaction markers or aborted records
                self._ready.append(_Pending(key, None, [], None, fetched.next_offset))
            elif stop is not None and self._pos[key] >= stop:
                self._finish_partition(key)
        if stop_check := [k for k in self._assigned if k in self._stop and k not in self._done]:
            await self._check_ends(stop_check, got)
        self._publish_lag()
        return self._hand_out(max_rows)

    def _hand_out(self, max_rows: int) -> pa.RecordBatch | None:
        """The next partition's rows (at most ``max_rows``, but never part of a record's
        rows), tagged with the partition (the watermark is the minimum over partitions); its
        position moves past them only now, so a checkpoint never records rows that are
        still waiting here: after part of a fetch, it is the offset of the first record
        whose rows are still here (the records before it were emitted or skipped)."""
        while self._ready:
            p = self._ready[0]
            batch = p.batch
            if batch is not None and batch.num_rows > max_rows:
                records = np.arange(batch.num_rows) if p.records is None else p.records
                k = max(1, max_rows)
                while k < len(records) and records[k] == records[k - 1]:  # e.g. an update's -U and +U
                    k += 1
                if k < len(records):
                    p.batch, p.records = batch.slice(k), records[k:]
                    return self._emit(p.key, batch.slice(0, k), p.offsets[int(records[k])])
            self._ready.pop(0)
            out = self._emit(p.key, batch, p.end)
            if out is not None:
                return out
        return None

    def _emit(self, key: tuple[str, int], batch: pa.RecordBatch | None, pos: int) -> pa.RecordBatch | None:
        self._pos[key] = pos
        stop = self._stop.get(key)
        if stop is not None and pos >= stop:
            self._finish_partition(key)
        if batch is None or not batch.num_rows:
            return None
        self.metrics.records_in += batch.num_rows
        return with_split(batch, tp_key(*key).encode())

    def _publish_lag(self) -> None:
        """Consumer lag per partition for the metrics: the log end the last fetch saw (the
        last stable offset under read_committed) minus the next offset to read."""
        from aiokafka.structs import TopicPartition

        for key in self._assigned:
            tp = TopicPartition(*key)
            end = self._consumer.last_stable_offset(tp)
            if end is None or end < 0:
                end = self._consumer.highwater(tp)
            if end is not None and end >= 0:
                pos = self._pos.get(key, 0)
                self.metrics.partitions[tp_key(*key)] = (pos, max(end - pos, 0))

    async def _check_ends(self, keys: list[tuple[str, int]], got: dict[tuple[str, int], Fetched]) -> None:
        """A bounded partition whose consumer position passed the stop offset without a
        record there (transaction markers, aborted records) is done too."""
        from aiokafka.structs import TopicPartition

        for key in keys:
            if key in got:
                continue
            if await self._consumer.position(TopicPartition(*key)) >= self._stop[key]:
                self._pos[key] = max(self._pos[key], self._stop[key])
                self._finish_partition(key)

    @staticmethod
    def _where(key: tuple[str, int], offsets: Sequence[int]) -> Any:
        return lambda i: f"topic '{key[0]}', partition {key[1]}, offset {offsets[i]}"

    async def _decode(self, tp: tuple[str, int], fetched: Fetched) -> _Rows | None:
        """The rows of one partition's records, in offset order; bad ones per the policy."""
        n = len(fetched)
        where = self._where(tp, fetched.offsets)
        keys, values = fetched.keys, fetched.values
        # Values: tombstones are deletes (upsert) or not rows (formats that drop them).
        tombstone: np.ndarray | None = None
        todo: np.ndarray | None = None  # the records whose values are decoded, when not all
        if self.upsert:
            tombstone = np.array([v is None for v in values], dtype=bool)
            todo = np.flatnonzero(~tombstone)
            picked = todo.tolist()
            dv = await asyncio.to_thread(
                self.value_decoder.decode, [values[i] for i in picked], lambda j: where(picked[j])
            )
            count_nulled(self.metrics, dv, self.where)
        else:
            dv = await asyncio.to_thread(self.value_decoder.decode_values, values, where)
            count_nulled(self.metrics, dv, self.where)
            if dv.kept is None and self.key_decoder is None:  # the common case: a row per record
                return self._assemble(tp, fetched, None, dv, None, None, None), None
        bad: dict[int, str] = {}
        # Keys: only records that have one; a missing key gives NULL key columns.
        key_rows = np.full(n, -1, dtype=np.int64)
        has_key = np.zeros(n, dtype=bool)
        key_batch = None
        if self.key_decoder is not None:
            with_key = [i for i, k in enumerate(keys) if k is not None]
            has_key[with_key] = True
            if with_key:
                dk = await asyncio.to_thread(
                    self.key_decoder.decode, [keys[i] for i in with_key], lambda j: where(with_key[j])
                )
                key_batch = dk.batch
                count_nulled(self.metrics, dk, self.where)
                kept = np.arange(len(with_key)) if dk.kept is None else dk.kept
                key_rows[np.asarray(with_key, dtype=np.int64)[kept]] = np.arange(len(kept))
                if dk.skipped:
                    lost = set(with_key) - {with_key[j] for j in kept.tolist()}
                    for i in lost:
                        bad[i] = "the key: " + self._error_of(self.key_decoder, keys[i], where(i))
        value_rows = np.full(n, -1, dtype=np.int64)
        kept_v = np.arange(dv.batch.num_rows) if dv.kept is None else dv.kept
        decoded = kept_v if todo is None else todo[kept_v]
        value_rows[decoded] = np.arange(len(kept_v))
        if dv.skipped:
            got_value = set(decoded.tolist())
            for i in range(n) if todo is None else todo.tolist():
                value = values[i]
                if i not in got_value and value is not None and i not in bad:
                    bad[i] = self._error_of(self.value_decoder, value, where(i))
        ok = value_rows >= 0
        if tombstone is not None:
            ok |= tombstone
        if self.key_decoder is not None:
            # A record whose key has bytes but did not decode is bad as a whole.
            ok &= ~(has_key & (key_rows < 0))
        rows = np.flatnonzero(ok)
        if bad:
            self.metrics.bad_records_skipped += len(bad)
            first = next(iter(bad.values()))
            log.warning("%s: skipped %d bad record(s), e.g. %s", self.where, len(bad), first)
            if self._dlq is not None:
                await self._dlq.write(tp, fetched, sorted(bad), [bad[i] for i in sorted(bad)])
        if not len(rows):
            return None
        return self._assemble(tp, fetched, rows, dv, value_rows, (key_batch, key_rows), tombstone), rows

    async def _decode_changes(self, tp: tuple[str, int], fetched: Fetched) -> _Rows | None:
        """The rows (with their row kinds) of one partition's change records."""
        assert self.changes is not None
        where = self._where(tp, fetched.offsets)
        d = await asyncio.to_thread(self.changes.decode, fetched.values, where)
        if d.skipped:
            self.metrics.bad_records_skipped += d.skipped
            log.warning("%s: skipped %d bad record(s), e.g. %s", self.where, d.skipped, d.messages[0])
            if self._dlq is not None:
                await self._dlq.write(tp, fetched, d.bad, [where(i) for i in d.bad])
        if not d.batch.num_rows:
            return None
        assert d.kept is not None
        arrays: list[pa.Array] = []
        for f, af in zip(self.columns, self.schema):
            key = self.spec.metadata.get(f.name)
            col = fetched.metadata(key, tp, d.kept, af.type) if key else d.batch.column(f.name)
            arrays.append(col if col.type == af.type else col.cast(af.type))
        arrays.append(d.batch.column(ROW_KIND_COLUMN))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema), d.kept

    def _error_of(self, decoder: RecordDecoder, record: bytes | None, where: str) -> str:
        """The message of one bad record (decoded alone again: bad records are rare)."""
        one = decoder.decode([record], lambda _i: where)
        return one.messages[0] if one.messages else f"{where}: cannot decode"

    def _assemble(
        self,
        tp: tuple[str, int],
        fetched: Fetched,
        rows: np.ndarray | None,
        dv: Decoded,
        value_rows: np.ndarray | None,
        keys: tuple[pa.RecordBatch | None, np.ndarray] | None,
        tombstone: np.ndarray | None,
    ) -> pa.RecordBatch:
        """The output batch of the records ``rows`` (None: all, each with its value's row
        in order); ``value_rows`` / ``keys`` map a record to its row of the decoded values /
        keys (-1: none)."""
        c = self.codec
        vtake: pa.Array | None = None
        if rows is not None:
            assert value_rows is not None
            vidx = value_rows[rows]
            vtake = pa.array(vidx, mask=vidx < 0, type=pa.int64())
        arrays: list[pa.Array] = []
        meta = self.spec.metadata
        for f, af in zip(self.columns, self.schema):
            if f.name in meta:
                arrays.append(fetched.metadata(meta[f.name], tp, rows, af.type))
                continue
            col: pa.Array | None = None
            if f.name in c.value_fields:
                col = dv.batch.column(f.name)
                col = col if vtake is None else col.take(vtake)
            if f.name in c.key_fields and keys is not None and keys[0] is not None and rows is not None:
                kidx = keys[1][rows]
                kcol = keys[0].column(f.name[len(c.key_prefix) :]).take(pa.array(kidx, mask=kidx < 0))
                col = kcol if col is None else pc.if_else(pc.is_valid(vtake), col, kcol)
            if col is None:
                col = pa.nulls(len(fetched) if rows is None else len(rows), af.type)
            arrays.append(col if col.type == af.type else col.cast(af.type))
        if self.upsert:
            assert tombstone is not None and rows is not None
            kinds = np.where(tombstone[rows], KIND_DELETE, KIND_UPDATE_AFTER).astype(np.int8)
            arrays.append(pa.array(kinds, type=ROW_KIND_TYPE))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    # ---- position ----------------------------------------------------------------------
    def position(self, checkpoint_id: int | None = None) -> dict[str, Any]:
        """Next offset to read per partition. With ``checkpoint_id`` the position is also kept
        until ``notify_checkpoint_complete`` commits it to the group."""
        snapshot = dict(self._pos)
        self._snapshots[checkpoint_id] = snapshot
        return {"offsets": {tp_key(t, p): o for (t, p), o in sorted(snapshot.items())}}

    def restore(self, position: dict[str, Any]) -> None:
        offsets = position.get("offsets", {})
        self._restored = {parse_tp_key(k): int(v) for k, v in offsets.items()}

    def restore_rescaled(self, positions: list[dict[str, Any]]) -> None:
        """The checkpoint was taken at another parallelism: every old subtask's offsets are
        merged, and ``open`` keeps those of the partitions this subtask reads now."""
        merged: dict[str, Any] = {}
        for position in positions:
            merged.update((position or {}).get("offsets", {}))
        self.restore({"offsets": merged})

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Commit the checkpoint's offsets to the group (monitoring only)."""
        from aiokafka.structs import OffsetAndMetadata, TopicPartition

        snapshot = self._snapshots.pop(checkpoint_id, None)
        if snapshot is None:
            snapshot = self._snapshots.pop(None, None)  # position() was called without an id
        for k in [k for k in self._snapshots if k is not None and k < checkpoint_id]:
            del self._snapshots[k]
        if snapshot is None or not self.group_id or self._consumer is None or not snapshot:
            return
        offsets = {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in snapshot.items()}
        try:
            await self._consumer.commit(offsets)
        except Exception as e:  # monitoring only: never fail the job for it
            log.warning("%s: could not commit offsets to group '%s': %s", self.where, self.group_id, e)

    async def close(self) -> None:
        if self._dlq is not None:
            await self._dlq.close()
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
