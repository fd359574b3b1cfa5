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

Records are decoded per partition and poll in bulk by ``runtime.formats``: ``value.format``
(or ``format``), ``key.format`` with ``key.fields`` (``key.fields-prefix``), and
``value.fields-include`` = ALL | EXCEPT_KEY. Metadata columns: topic, partition, offset,
timestamp, timestamp-type, headers, leader-epoch (always NULL: aiokafka does not say). A
bad record fails the job with its topic, partition and offset, or, when the format ignores
parse errors, is skipped, counted in ``SourceMetrics.bad_records_skipped`` and, with
``sqlstream.dead-letter.topic``, written there as it was (key, value, headers) with the
error in the header ``sqlstream.error`` before the position moves past it.

Sink: one ``topic``; ``sink.partitioner`` = default (by the key's hash when there are
key fields, else Kafka's choice) | round-robin | fixed (subtask ``i`` writes partition
``i`` modulo the partition count). ``sink.delivery-guarantee``:

- ``none``: records are sent as they come; flushed at close only.
- ``at-least-once`` (default): an idempotent producer, flushed (every ack awaited) at each
  checkpoint barrier.
- ``exactly-once``: two-phase commit (``../shared/DESIGN.md``) with Kafka transactions,
  see ``kafka_txn``. Needs ``sink.transactional-id-prefix``; refuses to start unless
  ``properties.transaction.timeout.ms`` (default 900000) is above checkpoint interval plus
  checkpoint timeout and at most the broker's ``transaction.max.timeout.ms``. Each
  transaction has its own producer and the lowest free id ``<prefix>-<subtask>-<slot>``;
  ``pre_commit(n)`` flushes, waits for every ack, returns the handle
  ``{transactional_id, producer_id, epoch, ...}`` and opens the next transaction on another
  id; ``commit(n, handle)`` commits it with EndTxn (also from a new process; idempotent).
  On start, ``writer.recover(handles)`` (after ``open``, before any row) commits the
  restored checkpoint's handles it is given, keeps their ids unused until this run
  completes a checkpoint, and fences this subtask's other ids and those of vanished
  subtasks that fall to it; ``KafkaSink.recover_all(spec, handles, config, parallelism)``
  does the same for a whole sink at once. The first transaction begins with the first
  row, so opening the writer aborts nothing a recovery must commit. Readers of the topic
  should read ``read_committed``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.connectors import CONNECTORS, FORMATS, Guarantee
from catalog.errors import OptionError
from catalog.options import OptionBag, parse_int
from planner.physical import ROW_KIND_COLUMN, Field, SinkSpec, SourceSpec
from planner.physical_planner import checkpointing_mode
from runtime.batches import ROW_KIND_TYPE, output_schema
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext
from runtime.connectors.kafka_options import (
    DEFAULT_SLOTS,
    DEFAULT_TRANSACTION_TIMEOUT_MS,
    TxnSlots,
    check_transaction_timeout,
    client_kwargs,
    owned_partitions,
    parse_specific_offsets,
    parse_topics,
    parse_tp_key,
    tp_key,
    transactional_id,
)
from runtime.connectors.kafka_txn import (
    RETRY_FOR_S,
    KafkaConnectorError,
    ProducerFencedError,
    RecoveryReport,
    TxnClient,
    broker_max_transaction_timeout,
    commit_transaction,
    fenced_by,
    recover,
    subtask_bound,
    transactions,
)
from runtime.connectors.registry import register_sink, register_source
from runtime.formats import create_decoder, create_encoder
from runtime.formats.base import Decoded, RecordDecoder, RecordEncoder

log = logging.getLogger(__name__)

META_KEYS = ("topic", "partition", "offset", "timestamp", "timestamp-type", "headers", "leader-epoch")
POLL_TIMEOUT_MS = 10
DEAD_LETTER_ERROR_HEADER = "sqlstream.error"
DEAD_LETTER_SOURCE_HEADER = "sqlstream.source"
KIND_UPDATE_AFTER, KIND_DELETE = 2, 3


# ---- options shared by source and sink -------------------------------------------------


def _finish(bag: OptionBag, connector: str) -> None:
    """Consume what the other side (source/sink) or the planner reads; fail on the rest."""
    known = [*CONNECTORS[connector].keys, "connector"]
    for fkey in CONNECTORS[connector].format_keys:
        fmt = bag.get(fkey)
        spec = FORMATS.get((fmt or "").lower())
        if spec is not None:
            prefix = fkey[: -len("format")]
            known += [prefix + o.key for o in spec.options]
    for key in known:
        bag.get(key)
    bag.finish(known)


@dataclass
class Codec:
    """How rows map to a record's key and value: the fields of each and their formats."""

    key_fields: tuple[str, ...]  # table column names
    key_prefix: str
    value_fields: tuple[str, ...]
    key_format: str | None
    value_format: str
    value_prefix: str  # "" for 'format', "value." for 'value.format'

    def key_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        """The key's fields as the key record names them (without ``key.fields-prefix``)."""
        by_name = {f.name: f for f in columns}
        return [Field(n[len(self.key_prefix) :], by_name[n].type) for n in self.key_fields]

    def value_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        by_name = {f.name: f for f in columns}
        return [by_name[n] for n in self.value_fields]


def make_codec(bag: OptionBag, physical: Sequence[Field], primary_key: Sequence[str], upsert: bool) -> Codec:
    where = bag.where
    names = [f.name for f in physical]
    value_format = bag.get("value.format")
    value_prefix = "value."
    if value_format is None:
        value_format = bag.get("format")
        value_prefix = ""
    elif bag.has("format"):
        raise OptionError(f"{where}: set either 'format' or 'value.format', not both")
    if value_format is None:
        raise OptionError(
            f"{where}: the Kafka connector needs a value format",
            hint="add 'value.format' = 'json' (or 'format' = 'json'; csv and raw work too)",
        )
    key_format = bag.get("key.format")
    key_prefix = bag.get("key.fields-prefix") or ""
    key_fields_text = bag.get("key.fields")
    if upsert:
        if key_fields_text:
            raise OptionError(
                f"{where}: upsert-kafka takes its key from the PRIMARY KEY; 'key.fields' is not allowed"
            )
        if not primary_key:
            raise OptionError(
                f"{where}: connector 'upsert-kafka' requires a PRIMARY KEY",
                hint="declare PRIMARY KEY (...) NOT ENFORCED",
            )
        if key_format is None:
            raise OptionError(
                f"{where}: connector 'upsert-kafka' needs 'key.format'", hint="add 'key.format' = 'json'"
            )
        key_fields = tuple(primary_key)
    else:
        key_fields = tuple(k.strip() for k in (key_fields_text or "").split(";") if k.strip())
        if key_fields and key_format is None:
            raise OptionError(f"{where}: 'key.fields' needs 'key.format'", hint="add 'key.format' = 'json'")
        if key_format is not None and not key_fields:
            raise OptionError(
                f"{where}: 'key.format' needs 'key.fields' (the columns that make the key)",
                hint="add 'key.fields' = 'col1;col2'",
            )
    for k in key_fields:
        if k not in names:
            raise OptionError(f"{where}: key field '{k}' is not a physical column of the table")
        if not k.startswith(key_prefix):
            raise OptionError(
                f"{where}: key field '{k}' does not start with 'key.fields-prefix' '{key_prefix}'"
            )
    include = (bag.get("value.fields-include") or "ALL").upper()
    if include not in ("ALL", "EXCEPT_KEY"):
        raise OptionError(f"{where}: 'value.fields-include' = '{include}' is not ALL or EXCEPT_KEY")
    if key_prefix and include != "EXCEPT_KEY":
        raise OptionError(
            f"{where}: 'key.fields-prefix' needs 'value.fields-include' = 'EXCEPT_KEY'",
            hint="Flink's rule: a prefixed key column cannot be part of the value",
        )
    value_fields = tuple(n for n in names if include == "ALL" or n not in key_fields)
    return Codec(key_fields, key_prefix, value_fields, key_format, value_format.lower(), value_prefix)


def _topic_kwargs(bag: OptionBag, client: str) -> dict[str, Any]:
    props = bag.prefixed("properties.")
    if not props.get("bootstrap.servers"):
        raise OptionError(f"{bag.where}: the required option 'properties.bootstrap.servers' is missing")
    return client_kwargs(props, client, bag.where)


# ---- source -------------------------------------------------------------------------------


class KafkaSource(SourceReader):
    upsert = False

    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        bag = OptionBag(spec.options, f"table '{spec.table}'")
        self.where = bag.where
        props = dict(bag.prefixed("properties."))
        self._props = props
        if not props.get("bootstrap.servers"):
            raise OptionError(f"{self.where}: the required option 'properties.bootstrap.servers' is missing")
        self.kwargs = client_kwargs(props, "consumer", self.where)
        self.kwargs.setdefault("isolation_level", "read_committed")
        self.kwargs["enable_auto_commit"] = False
        self.kwargs.setdefault("auto_offset_reset", "earliest")
        self.group_id: str | None = self.kwargs.get("group_id")
        self.reset = props.get("auto.offset.reset", "none").lower()
        topic, pattern = bag.get("topic"), bag.get("topic-pattern")
        if bool(topic) == bool(pattern):
            raise OptionError(
                f"{self.where}: set exactly one of 'topic' and 'topic-pattern'",
                hint="'topic' = 'a;b' names topics, 'topic-pattern' = 'logs-.*' matches them",
            )
        self.topics = parse_topics(topic) if topic else []
        try:
            self.pattern = re.compile(pattern) if pattern else None
        except re.error as e:
            raise OptionError(f"{self.where}: 'topic-pattern' is not a regex: {e}") from None
        self.startup = (bag.get("scan.startup.mode") or "group-offsets").lower()
        self.startup_ts = bag.get_int("scan.startup.timestamp-millis")
        specific = bag.get("scan.startup.specific-offsets")
        self.startup_offsets = parse_specific_offsets(specific, self.where) if specific else None
        if self.startup == "timestamp" and self.startup_ts is None:
            raise OptionError(
                f"{self.where}: scan.startup.mode 'timestamp' needs 'scan.startup.timestamp-millis'"
            )
        if self.startup == "specific-offsets" and self.startup_offsets is None:
            raise OptionError(
                f"{self.where}: scan.startup.mode 'specific-offsets' needs 'scan.startup.specific-offsets'"
            )
        if self.startup == "group-offsets" and not self.group_id:
            raise OptionError(
                f"{self.where}: scan.startup.mode 'group-offsets' (the default) needs 'properties.group.id'",
                hint="set 'properties.group.id', or 'scan.startup.mode' = 'earliest-offset' or "
                "'latest-offset'",
            )
        self.bounded_mode = (bag.get("scan.bounded.mode") or "unbounded").lower()
        self.bounded_ts = bag.get_int("scan.bounded.timestamp-millis")
        bounded_specific = bag.get("scan.bounded.specific-offsets")
        self.bounded_offsets = (
            parse_specific_offsets(bounded_specific, self.where, "scan.bounded.specific-offsets")
            if bounded_specific
            else None
        )
        if self.bounded_mode == "timestamp" and self.bounded_ts is None:
            raise OptionError(
                f"{self.where}: scan.bounded.mode 'timestamp' needs 'scan.bounded.timestamp-millis'"
            )
        if self.bounded_mode == "specific-offsets" and self.bounded_offsets is None:
            raise OptionError(
                f"{self.where}: scan.bounded.mode 'specific-offsets' needs 'scan.bounded.specific-offsets'"
            )
        if self.bounded_mode == "group-offsets" and not self.group_id:
            raise OptionError(f"{self.where}: scan.bounded.mode 'group-offsets' needs 'properties.group.id'")
        self.dead_letter = bag.get("sqlstream.dead-letter.topic")
        for key in ("scan.topic-partition-discovery.interval", "scan.watermark.idle-timeout"):
            if bag.get(key) is not None:
                log.warning("%s: '%s' is not supported yet and has no effect", self.where, key)
        for column, key in spec.metadata.items():
            if key not in META_KEYS:
                raise OptionError(
                    f"{self.where}: column '{column}' asks for metadata '{key}', which the Kafka "
                    f"connector does not have (it has {', '.join(META_KEYS)})"
                )
        self.physical = tuple(f for f in spec.columns if f.name not in spec.metadata)
        self.codec = make_codec(bag, self.physical, spec.primary_key, self.upsert)
        c = self.codec
        self.value_decoder: RecordDecoder = create_decoder(
            c.value_format, c.value_record_fields(self.physical), bag, c.value_prefix
        )
        self.key_decoder: RecordDecoder | None = None
        if c.key_format:
            self.key_decoder = create_decoder(c.key_format, c.key_record_fields(self.physical), bag, "key.")
            # One policy for the record: the value format's decides.
            self.key_decoder.ignore_errors = self.value_decoder.ignore_errors
        _finish(bag, spec.connector.lower())
        self.schema = output_schema(spec.columns, self.upsert)
        self._consumer: Any = None
        self._dlq: Any = None
        self._assigned: list[tuple[str, int]] = []
        self._pos: dict[tuple[str, int], int] = {}
        self._stop: dict[tuple[str, int], int] = {}
        self._done: set[tuple[str, int]] = set()
        self._restored: dict[tuple[str, int], int] | None = None
        self._snapshots: dict[int | None, dict[tuple[str, int], int]] = {}
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

    async def _list_partitions(self) -> list[tuple[str, int]]:
        client = self._consumer._client
        cluster = await client.fetch_all_metadata()
        topics = list(self.topics)
        if self.pattern is not None:
            topics = sorted(t for t in cluster.topics() if self.pattern.fullmatch(t))
        found: list[tuple[str, int]] = []
        for topic in topics:
            parts = cluster.partitions_for_topic(topic)
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

    def _finish_partition(self, key: tuple[str, int]) -> None:
        from aiokafka.structs import TopicPartition

        self._done.add(key)
        self._consumer.pause(TopicPartition(*key))

    @property
    def finished(self) -> bool:
        return (
            self._opened and self.bounded_mode != "unbounded" and all(k in self._done for k in self._assigned)
        )

    # ---- reading -----------------------------------------------------------------------
    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        if not self._assigned or self.finished:
            return None
        consumer = self._consumer
        got = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=max(1, max_rows))
        batches: list[pa.RecordBatch] = []
        for tp, records in sorted(got.items(), key=lambda kv: (kv[0].topic, kv[0].partition)):
            key = (tp.topic, tp.partition)
            if key in self._done:
                continue
            stop = self._stop.get(key)
            if stop is not None and records and records[-1].offset >= stop:
                records = [r for r in records if r.offset < stop]
            if records:
                batch = await self._decode(tp, records)
                if batch is not None and batch.num_rows:
                    batches.append(batch)
                self._pos[key] = records[-1].offset + 1
            if stop is not None and self._pos[key] >= stop:
                self._finish_partition(key)
        if stop_check := [k for k in self._assigned if k in self._stop and k not in self._done]:
            await self._check_ends(stop_check, got)
        self._publish_lag()
        if not batches:
            return None
        batch = (
            batches[0]
            if len(batches) == 1
            else pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
        )
        self.metrics.records_in += batch.num_rows
        return batch

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

    async def _check_ends(self, keys: list[tuple[str, int]], got: dict[Any, Any]) -> None:
        """A bounded partition whose consumer position passed the stop offset without a
        record there (transaction markers, aborted records) is done too."""
        from aiokafka.structs import TopicPartition

        for key in keys:
            tp = TopicPartition(*key)
            if got.get(tp):
                continue
            if await self._consumer.position(tp) >= self._stop[key]:
                self._pos[key] = max(self._pos[key], self._stop[key])
                self._finish_partition(key)

    def _where(self, tp: Any, offsets: Sequence[int]) -> Any:
        return lambda i: f"topic '{tp.topic}', partition {tp.partition}, offset {offsets[i]}"

    async def _decode(self, tp: Any, records: list[Any]) -> pa.RecordBatch | None:
        """The rows of one partition's records, in offset order; bad ones per the policy."""
        n = len(records)
        offsets = [r.offset for r in records]
        where = self._where(tp, offsets)
        keys = [r.key for r in records]
        values = [r.value for r in records]
        bad: dict[int, str] = {}
        # Keys: only records that have one; a missing key gives NULL key columns.
        key_rows = np.full(n, -1, dtype=np.int64)
        key_batch = None
        if self.key_decoder is not None:
            with_key = [i for i, k in enumerate(keys) if k is not None]
            if with_key:
                dk = await asyncio.to_thread(
                    self.key_decoder.decode, [keys[i] for i in with_key], lambda j: where(with_key[j])
                )
                key_batch = dk.batch
                kept = np.arange(len(with_key)) if dk.kept is None else dk.kept
                key_rows[np.asarray(with_key, dtype=np.int64)[kept]] = np.arange(len(kept))
                if dk.skipped:
                    lost = set(with_key) - {with_key[j] for j in kept.tolist()}
                    for i in lost:
                        bad[i] = "the key: " + self._error_of(self.key_decoder, keys[i], where(i))
        # Values: tombstones are deletes (upsert) or not rows (formats that drop them).
        value_rows = np.full(n, -1, dtype=np.int64)
        tombstone = np.array([v is None for v in values], dtype=bool)
        todo = [i for i in range(n) if not (self.upsert and tombstone[i])]
        dv = await asyncio.to_thread(
            self.value_decoder.decode, [values[i] for i in todo], lambda j: where(todo[j])
        )
        kept_v = np.arange(dv.batch.num_rows) if dv.kept is None else dv.kept
        value_rows[np.asarray(todo, dtype=np.int64)[kept_v]] = np.arange(len(kept_v))
        if dv.skipped:
            got_value = set(np.asarray(todo, dtype=np.int64)[kept_v].tolist())
            for i in todo:
                if i not in got_value and values[i] is not None and i not in bad:
                    bad[i] = self._error_of(self.value_decoder, values[i], where(i))
        if self.key_decoder is not None:
            # A record whose key has bytes but did not decode is bad as a whole.
            key_bad = np.array([keys[i] is not None and key_rows[i] < 0 for i in range(n)], dtype=bool)
        else:
            key_bad = np.zeros(n, dtype=bool)
        if self.upsert:
            rows = np.flatnonzero(((value_rows >= 0) | tombstone) & ~key_bad)
        else:
            rows = np.flatnonzero((value_rows >= 0) & ~key_bad)
        if bad:
            self.metrics.bad_records_skipped += len(bad)
            first = next(iter(bad.values()))
            log.warning("%s: skipped %d bad record(s), e.g. %s", self.where, len(bad), first)
            if self.dead_letter:
                await self._dead_letter(tp, [records[i] for i in sorted(bad)], [bad[i] for i in sorted(bad)])
        if not len(rows):
            return None
        return self._assemble(records, rows, key_rows, key_batch, value_rows, dv, tombstone)

    def _error_of(self, decoder: RecordDecoder, record: bytes, where: str) -> str:
        """The message of one bad record (decoded alone again: bad records are rare)."""
        one = decoder.decode([record], lambda _i: where)
        return one.messages[0] if one.messages else f"{where}: cannot decode"

    def _assemble(
        self,
        records: list[Any],
        rows: np.ndarray,
        key_rows: np.ndarray,
        key_batch: pa.RecordBatch | None,
        value_rows: np.ndarray,
        dv: Decoded,
        tombstone: np.ndarray,
    ) -> pa.RecordBatch:
        c = self.codec
        vidx = value_rows[rows]
        vtake = pa.array(vidx, mask=vidx < 0, type=pa.int64())
        kidx = key_rows[rows]
        ktake = pa.array(kidx, mask=kidx < 0, type=pa.int64())
        arrays: list[pa.Array] = []
        meta = self.spec.metadata
        picked: list[Any] | None = None
        for f, af in zip(self.spec.columns, self.schema):
            if f.name in meta:
                if picked is None:
                    picked = [records[i] for i in rows.tolist()]
                arrays.append(self._metadata(meta[f.name], picked, af.type))
                continue
            col: pa.Array | None = None
            if f.name in c.value_fields:
                col = dv.batch.column(f.name).take(vtake)
            if f.name in c.key_fields and key_batch is not None:
                kcol = key_batch.column(f.name[len(c.key_prefix) :]).take(ktake)
                col = kcol if col is None else pc.if_else(pc.is_valid(vtake), col, kcol)
            if col is None:
                col = pa.nulls(len(rows), af.type)
            arrays.append(col if col.type == af.type else col.cast(af.type))
        if self.upsert:
            kinds = np.where(tombstone[rows], KIND_DELETE, KIND_UPDATE_AFTER).astype(np.int8)
            arrays.append(pa.array(kinds, type=ROW_KIND_TYPE))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    @staticmethod
    def _metadata(key: str, records: list[Any], t: pa.DataType) -> pa.Array:
        if key == "topic":
            return pa.array([r.topic for r in records], pa.string())
        if key == "partition":
            return pa.array([r.partition for r in records], pa.int32()).cast(t)
        if key == "offset":
            return pa.array([r.offset for r in records], pa.int64()).cast(t)
        if key == "timestamp":
            ms = pa.array([r.timestamp for r in records], pa.int64())
            return ms.cast(pa.timestamp("ms", tz="UTC")).cast(t)
        if key == "timestamp-type":
            names = {0: "CreateTime", 1: "LogAppendTime"}
            return pa.array([names.get(r.timestamp_type, "NoTimestampType") for r in records], pa.string())
        if key == "headers":
            return pa.array([list(r.headers or ()) for r in records], type=t)
        return pa.nulls(len(records), t)  # leader-epoch: aiokafka does not report it

    async def _dead_letter(self, tp: Any, records: list[Any], errors: list[str]) -> None:
        """Write skipped records (as they were) to the dead-letter topic and wait for the acks,
        so the position never passes a record that is neither processed nor kept there."""
        from aiokafka import AIOKafkaProducer

        if self._dlq is None:
            kwargs = client_kwargs(self._props, "producer", self.where)
            kwargs.update(acks="all", enable_idempotence=True)
            self._dlq = AIOKafkaProducer(**kwargs)
            await self._dlq.start()
        futures = []
        for r, error in zip(records, errors):
            headers = [
                *list(r.headers or ()),
                (DEAD_LETTER_ERROR_HEADER, error.encode()),
                (DEAD_LETTER_SOURCE_HEADER, f"{tp.topic}:{tp.partition}:{r.offset}".encode()),
            ]
            assert self.dead_letter is not None
            futures.append(
                await self._dlq.send(
                    self.dead_letter, r.value, key=r.key, headers=headers, timestamp_ms=r.timestamp
                )
            )
        await asyncio.gather(*futures)

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
            await self._dlq.stop()
            self._dlq = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


# ---- sink ---------------------------------------------------------------------------------


@dataclass
class _Txn:
    slot: int
    transactional_id: str
    producer: Any
    records: int = 0
    futures: list[Any] = field(default_factory=list)


class KafkaSink(SinkWriter):
    upsert = False

    def __init__(self, spec: SinkSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        bag = OptionBag(spec.options, f"table '{spec.table}'")
        self.where = bag.where
        props = dict(bag.prefixed("properties."))
        if not props.get("bootstrap.servers"):
            raise OptionError(f"{self.where}: the required option 'properties.bootstrap.servers' is missing")
        self.kwargs = client_kwargs(props, "producer", self.where)
        topic = bag.get("topic")
        topics = parse_topics(topic or "")
        if len(topics) != 1:
            raise OptionError(
                f"{self.where}: a Kafka sink writes one topic; 'topic' = '{topic or ''}'",
                hint="set 'topic' to a single topic name",
            )
        self.topic = topics[0]
        if bag.has("topic-pattern"):
            raise OptionError(f"{self.where}: a Kafka sink cannot write to a 'topic-pattern'")
        guarantee = (bag.get("sink.delivery-guarantee") or spec.guarantee.value).lower()
        if guarantee == "exactly-once" and checkpointing_mode(ctx.config) == "AT_LEAST_ONCE":
            guarantee = "at-least-once"  # as the planner says: no alignment, no exactly-once
        self.guarantee = Guarantee(guarantee)
        self.prefix = bag.get("sink.transactional-id-prefix")
        if self.guarantee == Guarantee.EXACTLY_ONCE and not self.prefix:
            raise OptionError(
                f"{self.where}: 'sink.delivery-guarantee' = 'exactly-once' needs "
                "'sink.transactional-id-prefix'",
                hint="set 'sink.transactional-id-prefix' to a name unique to this job and sink "
                "(its transactional ids are '<prefix>-<subtask>-<n>')",
            )
        self.partitioner = (bag.get("sink.partitioner") or "default").lower()
        if self.partitioner not in ("default", "fixed", "round-robin"):
            raise OptionError(
                f"{self.where}: 'sink.partitioner' = '{self.partitioner}' is not default, fixed or "
                "round-robin",
                hint="a custom partitioner class cannot be loaded by sqlstream",
            )
        self.timeout_ms = parse_int(
            props.get("transaction.timeout.ms", str(DEFAULT_TRANSACTION_TIMEOUT_MS)),
            "properties.transaction.timeout.ms",
        )
        self.kwargs.pop("transaction_timeout_ms", None)
        self.codec = make_codec(bag, spec.columns, spec.primary_key, self.upsert)
        c = self.codec
        self.value_encoder: RecordEncoder = create_encoder(
            c.value_format, c.value_record_fields(spec.columns), bag, c.value_prefix
        )
        self.key_encoder: RecordEncoder | None = None
        if c.key_format:
            self.key_encoder = create_encoder(c.key_format, c.key_record_fields(spec.columns), bag, "key.")
        _finish(bag, spec.connector.lower())
        self.slots = TxnSlots(DEFAULT_SLOTS)
        self._producer: Any = None  # at-least-once / none
        self._futures: list[Any] = []
        self._txn: _Txn | None = None
        self._opening: asyncio.Future[_Txn] | None = None
        self._stopping: set[asyncio.Future[Any]] = set()  # producers of pre-committed transactions
        self._pending: dict[int, list[dict[str, Any]]] = {}  # checkpoint -> pre-committed txns
        self._client: TxnClient | None = None
        self._partitions: list[int] = []
        self._rr = ctx.subtask
        # transactional id -> (producer id, epoch) this writer last knew it at (from recovery,
        # then from each producer it starts); None until recovery ran: no zombie check
        self._epochs: dict[str, tuple[int, int]] | None = None

    # ---- recovery ----------------------------------------------------------------------
    @classmethod
    async def recover_all(
        cls,
        spec: SinkSpec,
        handles: Sequence[Any],
        config: dict[str, str] | None = None,
        parallelism: int = 1,
    ) -> RecoveryReport:
        """Before the writers of a (re)started job open: commit every transaction the
        restored checkpoint's handles name (from any subtask of the old run), then fence
        every other transactional id of this sink's prefix, which aborts what the old run
        left open. Raises :class:`~runtime.connectors.kafka_txn.TransactionLostError` when a
        recorded transaction was aborted meanwhile (its records are lost). Once per sink
        node; with no handles (a fresh start) it only fences."""
        ctx = SubtaskContext("recovery", 0, spec.table, 0, parallelism, dict(config or {}))
        writer = cls(spec, ctx)
        if writer.guarantee != Guarantee.EXACTLY_ONCE or writer.prefix is None:
            return RecoveryReport()
        return await recover(
            writer.kwargs,
            writer.prefix,
            handles,
            parallelism=parallelism,
            timeout_ms=writer.timeout_ms,
            where=writer.where,
        )

    async def recover(self, handles: Sequence[Any]) -> None:
        """The sink operator's call after ``open`` and before any data: commit the handles
        it is given (``(checkpoint id, handle)`` pairs of this subtask, or of every old
        subtask ``i`` with ``i % parallelism == subtask`` after a change of parallelism),
        keep their ids unused until this run completes a checkpoint, and fence this
        subtask's other ids and those of the vanished subtasks that fall to it."""
        await self.recover_share(handles)

    async def recover_share(self, handles: Sequence[Any]) -> RecoveryReport:
        """``recover``, returning what it committed and fenced."""
        self.restore(handles)
        if self.guarantee != Guarantee.EXACTLY_ONCE or self.prefix is None:
            return RecoveryReport()
        if self._txn is not None or self._opening is not None:
            raise KafkaConnectorError(f"{self.where}: internal: recover() after data was written")
        bound = subtask_bound(handles, self.ctx.parallelism)
        report = await recover(
            self.kwargs,
            self.prefix,
            handles,
            parallelism=self.ctx.parallelism,
            timeout_ms=self.timeout_ms,
            where=self.where,
            slots=self.slots.size,
            subtasks=fenced_by(self.ctx.subtask, self.ctx.parallelism, bound),
        )
        self._epochs = dict(report.epochs)
        return report

    def restore(self, handles: Sequence[Any]) -> None:
        """Called before ``open`` with the restored checkpoint's handles: this subtask keeps
        their ids unused until a checkpoint of this run completes, so that a second recovery
        from the same checkpoint still finds them committable (committed, same epoch)."""
        for t in transactions(list(handles)):
            if int(t.get("subtask", -1)) == self.ctx.subtask:
                self.slots.size = max(self.slots.size, int(t.get("slots", 0)))
                self.slots.reserve(int(t["slot"]))

    # ---- life cycle --------------------------------------------------------------------
    async def open(self) -> None:
        from aiokafka import AIOKafkaProducer

        if self.guarantee == Guarantee.EXACTLY_ONCE:
            try:
                broker_max = await broker_max_transaction_timeout(self.kwargs)
            except Exception as e:  # e.g. no DescribeConfigs permission: check what we can
                log.warning("%s: cannot read the broker's transaction.max.timeout.ms: %s", self.where, e)
                broker_max = None
            check_transaction_timeout(self.timeout_ms, self.ctx.config, broker_max, self.where)
            self._client = TxnClient(self.kwargs)
            await self._client.__aenter__()
            return  # the first transaction begins with the first row (after any recovery)
        kwargs = dict(self.kwargs)
        if self.guarantee == Guarantee.AT_LEAST_ONCE:
            kwargs.setdefault("acks", "all")
            kwargs.setdefault("enable_idempotence", True)
        self._producer = AIOKafkaProducer(**kwargs)
        await self._producer.start()

    def _start_next(self) -> None:
        """Take the next slot now and start its producer in the background (InitProducerId
        and the rest take a few round trips, off the barrier's path)."""
        assert self.prefix is not None
        try:
            slot = self.slots.take()
        except OverflowError:
            raise KafkaConnectorError(
                f"{self.where}: {self.slots.size} Kafka transactions of this subtask are pre-committed "
                "or still named by the newest checkpoint: checkpoints are not completing",
                hint="check why checkpoints fail ('execution.checkpointing.timeout'); the job restarts "
                "from the last complete checkpoint",
            ) from None
        self._opening = asyncio.ensure_future(self._open_txn(slot))

    async def _open_txn(self, slot: int) -> _Txn:
        from aiokafka import AIOKafkaProducer

        assert self.prefix is not None
        txn_id = transactional_id(self.prefix, self.ctx.subtask, slot)
        producer = AIOKafkaProducer(
            **self.kwargs, transactional_id=txn_id, transaction_timeout_ms=self.timeout_ms
        )
        _ride_through_outages(producer)
        try:
            await producer.start()  # InitProducerId: a new epoch, the id's leftovers aborted
            self._check_not_taken_over(txn_id, producer)
            await producer.begin_transaction()
        except BaseException:
            await producer.stop()
            self.slots.release(slot)
            raise
        return _Txn(slot, txn_id, producer)

    def _check_not_taken_over(self, txn_id: str, producer: Any) -> None:
        """This writer's transactions leave an id's epoch as they found it (EndTxn keeps it,
        an empty transaction never reaches the coordinator), so InitProducerId must give the
        epoch it last knew plus one. More means another producer initialised the id since:
        another instance of this job (same prefix) recovered and took over, and this one is
        a zombie that must stop before it writes (or the coordinator aborted a transaction of
        ours that outlived its timeout)."""
        tm = producer._txn_manager  # aiokafka 0.14 has no public accessor
        now = (int(tm.producer_id), int(tm.producer_epoch))
        if self._epochs is None:
            return
        last = self._epochs.get(txn_id)
        self._epochs[txn_id] = now
        if last is not None and last[0] == now[0] and now[1] != last[1] + 1:
            raise ProducerFencedError(
                f"{self.where}: the Kafka transactional id '{txn_id}' was used by another producer "
                f"since this sink last used it (producer id {now[0]}, epoch {last[1]} then, "
                f"{now[1]} now): another instance of this job with 'sink.transactional-id-prefix' "
                f"= '{self.prefix}' took over, so this instance stops without writing",
                hint="run one instance per 'sink.transactional-id-prefix'; if none other runs, a "
                "transaction of this sink outlived 'properties.transaction.timeout.ms' (raise it)",
            )

    def _fenced(self, txn: _Txn, error: BaseException) -> ProducerFencedError | None:
        """A clear error for a fenced producer (aiokafka's says 'ProducerFenced' only)."""
        from aiokafka import errors

        fenced = (errors.ProducerFenced, errors.InvalidProducerEpoch, errors.InvalidProducerIdMapping)
        if isinstance(error, errors.IllegalOperation):
            # a send after the sender met the fence: "Can't send messages while not in
            # transaction"; the transaction manager keeps the real cause
            waiter = getattr(txn.producer._txn_manager, "_transaction_waiter", None)
            if waiter is not None and waiter.done() and not waiter.cancelled():
                error = waiter.exception() or error
        if not isinstance(error, fenced):
            return None
        return ProducerFencedError(
            f"{self.where}: the Kafka transaction '{txn.transactional_id}' was fenced "
            f"({type(error).__name__}): another producer started with the same transactional id, "
            f"so another instance of this job with 'sink.transactional-id-prefix' = '{self.prefix}' "
            "took over (this one stops; none of its uncommitted records becomes visible), or the "
            "transaction outlived 'properties.transaction.timeout.ms'",
            hint="run one instance per 'sink.transactional-id-prefix'; otherwise raise "
            "'properties.transaction.timeout.ms' above the checkpoint interval plus timeout",
        )

    async def _guarded(self, txn: _Txn, work: Any) -> None:
        """Await ``work`` (sends, acks, a commit) of ``txn``; a fenced producer raises the
        connector's error instead of aiokafka's."""
        try:
            await work
        except Exception as e:
            clear = self._fenced(txn, e)
            if clear is None:
                raise
            raise clear from e

    async def _current(self) -> _Txn:
        """The open transaction, opening one if needed. Taking a new one also starts opening
        the one after it: by the next barrier it is ready, so the first rows after a barrier
        do not wait for a producer to start (InitProducerId and all: ~10% of the run here)."""
        if self._txn is None:
            if self._opening is None:
                self._start_next()
            assert self._opening is not None
            task, self._opening = self._opening, None
            self._txn = await task
            self._start_next()
        return self._txn

    async def _take_txn(self) -> _Txn | None:
        """The open transaction (or the one being opened), no longer the writer's."""
        if self._txn is None and self._opening is not None:
            task, self._opening = self._opening, None
            self._txn = await task
        txn, self._txn = self._txn, None
        return txn

    async def _partitions_of(self, producer: Any) -> list[int]:
        if not self._partitions:
            parts = await producer.partitions_for(self.topic)
            self._partitions = sorted(parts)
        return self._partitions

    # ---- writing -----------------------------------------------------------------------
    def _encode(self, batch: pa.RecordBatch) -> tuple[list[bytes | None], list[bytes | None]]:
        """(keys, values) of the rows; the upsert sink maps row kinds to values/tombstones."""
        c = self.codec
        kinds = None
        if ROW_KIND_COLUMN in batch.schema.names:
            if not self.upsert:
                raise KafkaConnectorError(
                    f"{self.where}: the kafka sink only appends, but its input is an updating stream",
                    hint="write updates to an 'upsert-kafka' table with a PRIMARY KEY",
                )
            kinds = batch.column(ROW_KIND_COLUMN).to_numpy(zero_copy_only=False)
            keep = kinds != 1  # -U is dropped: the +U that follows overwrites the key
            if not keep.all():
                batch = batch.filter(pa.array(keep))
                kinds = kinds[keep]
        n = batch.num_rows
        values: list[bytes | None]
        value_batch = batch.select(list(c.value_fields))
        values = self.value_encoder.encode_records(value_batch) if c.value_fields else [b"{}"] * n
        if kinds is not None:
            deletes = np.flatnonzero(kinds == KIND_DELETE)
            for i in deletes.tolist():
                values[i] = None
        keys: list[bytes | None] = [None] * n
        if self.key_encoder is not None:
            key_batch = batch.select(list(c.key_fields))
            if c.key_prefix:
                key_batch = key_batch.rename_columns([k[len(c.key_prefix) :] for k in c.key_fields])
            keys = self.key_encoder.encode_records(key_batch)
        return keys, values

    async def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        keys, values = await asyncio.to_thread(self._encode, batch)
        if self.guarantee == Guarantee.EXACTLY_ONCE:
            txn = await self._current()
            producer, futures = txn.producer, txn.futures
            txn.records += len(values)
        else:
            producer, futures = self._producer, self._futures
        parts = await self._partitions_of(producer)
        targets = self._targets(keys, len(parts))
        for p in np.unique(targets).tolist() if len(parts) > 1 else [0]:
            rows = np.flatnonzero(targets == p).tolist() if len(parts) > 1 else range(len(values))
            send = self._send_partition(
                producer, futures, parts[p], [keys[i] for i in rows], [values[i] for i in rows]
            )
            await (self._guarded(txn, send) if self.guarantee == Guarantee.EXACTLY_ONCE else send)
        self.rows_written += len(values)

    def _targets(self, keys: list[bytes | None], n_parts: int) -> np.ndarray:
        """Index (into the sorted partitions) of each record's partition: ``fixed`` the
        subtask's, ``round-robin`` in turn, ``default`` Kafka's murmur2 hash of the key (as
        the Java client does) or, without a key, one partition per batch in turn (sticky)."""
        n = len(keys)
        if self.partitioner == "fixed":
            return np.full(n, self.ctx.subtask % n_parts, dtype=np.int64)
        if self.partitioner == "round-robin":
            targets = (np.arange(n, dtype=np.int64) + self._rr) % n_parts
            self._rr += n
            return targets
        if self.key_encoder is not None:
            from aiokafka.partitioner import murmur2

            return np.array(
                [(murmur2(k) & 0x7FFFFFFF) % n_parts if k is not None else 0 for k in keys], dtype=np.int64
            )
        self._rr += 1
        return np.full(n, self._rr % n_parts, dtype=np.int64)

    async def _send_partition(
        self,
        producer: Any,
        futures: list[Any],
        partition: int,
        keys: list[bytes | None],
        values: list[bytes | None],
    ) -> None:
        """Records of one partition as whole producer batches (aiokafka's BatchBuilder):
        an order of magnitude faster than one ``send`` per record."""
        batch = producer.create_batch()
        topic_send = producer.send_batch
        for k, v in zip(keys, values):
            if batch.append(key=k, value=v, timestamp=None) is None:
                futures.append(await topic_send(batch, self.topic, partition=partition))
                batch = producer.create_batch()
                if batch.append(key=k, value=v, timestamp=None) is None:
                    raise KafkaConnectorError(
                        f"{self.where}: a record of {len(k or b'') + len(v or b'')} bytes is larger "
                        "than a producer batch",
                        hint="raise 'properties.batch.size' and 'properties.max.request.size'",
                    )
        if batch.record_count():
            futures.append(await topic_send(batch, self.topic, partition=partition))

    @staticmethod
    async def _acks(producer: Any, futures: list[Any]) -> None:
        await producer.flush()
        if futures:
            await asyncio.gather(*futures)
            futures.clear()

    async def flush(self) -> None:
        """At-least-once / none: every record sent is acknowledged. Exactly-once (end of
        input): the pre-committed and the open transactions are committed, in order."""
        if self.guarantee != Guarantee.EXACTLY_ONCE:
            if self._producer is not None:
                await self._acks(self._producer, self._futures)
            return
        for n in sorted(self._pending):
            await self._commit_pending(n)
        txn = await self._take_txn()
        if txn is None:
            return
        try:
            await self._guarded(txn, self._acks(txn.producer, txn.futures))
            if txn.records:
                await self._guarded(txn, txn.producer.commit_transaction())
        finally:
            await txn.producer.stop()
        self.slots.release(txn.slot)

    async def pre_commit(self, checkpoint_id: int) -> Any:
        if self.guarantee == Guarantee.NONE:
            return None
        if self.guarantee == Guarantee.AT_LEAST_ONCE:
            await self.flush()
            return None
        txn, self._txn = self._txn, None
        earlier = [t for n in sorted(self._pending) for t in self._pending[n]]
        handle: dict[str, Any] = {
            "transactional_id": None,
            "producer_id": None,
            "epoch": None,
            "checkpoint_id": checkpoint_id,
            "subtask": self.ctx.subtask,
            "parallelism": self.ctx.parallelism,
            "slots": self.slots.size,
            "slot": None,
            "records": 0,
        }
        if txn is not None:
            try:
                await self._guarded(txn, self._acks(txn.producer, txn.futures))
            except BaseException:
                self._txn = txn  # close() aborts and stops it
                raise
            tm = txn.producer._txn_manager  # aiokafka 0.14 has no public accessor
            handle.update(
                transactional_id=txn.transactional_id,
                producer_id=tm.producer_id,
                epoch=tm.producer_epoch,
                slot=txn.slot,
                records=txn.records,
            )
            self._stop_later(txn.producer)  # the transaction stays open at the coordinator
            if txn.records:
                self._pending.setdefault(checkpoint_id, []).append(dict(handle))
                self.slots.listed(txn.slot, checkpoint_id)
            else:
                self.slots.release(txn.slot)
        for t in earlier:
            self.slots.listed(int(t["slot"]), checkpoint_id)
        if earlier:
            handle["earlier"] = earlier
        if self._opening is None:  # else the one opened at the last barrier is still unused
            self._start_next()
        return handle

    def _stop_later(self, producer: Any) -> None:
        """Stop a producer off the barrier's path (``close`` waits for it)."""
        task = asyncio.ensure_future(producer.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _commit_pending(self, checkpoint_id: int) -> None:
        assert self._client is not None
        for t in self._pending.get(checkpoint_id, []):
            await commit_transaction(self._client, t, self.where)
        self._pending.pop(checkpoint_id, None)

    async def commit(self, checkpoint_id: int, handle: Any) -> None:
        """Commit every transaction pre-committed up to ``checkpoint_id`` (and those the
        handle names, when it comes from another writer); a repeated commit is harmless."""
        if self.guarantee != Guarantee.EXACTLY_ONCE:
            return
        if self._client is None:
            self._client = TxnClient(self.kwargs)
            await self._client.__aenter__()
        done: set[str] = set()
        for n in sorted(k for k in self._pending if k <= checkpoint_id):
            for t in self._pending[n]:
                done.add(f"{t['transactional_id']}/{t['epoch']}")
            await self._commit_pending(n)
        for t in transactions(handle):
            if f"{t['transactional_id']}/{t['epoch']}" not in done:
                await commit_transaction(self._client, t, self.where)
        self.slots.completed(checkpoint_id)

    async def close(self) -> None:
        """Exactly-once: the open transaction is aborted (its rows come again from the last
        checkpoint); pre-committed ones are left to ``commit`` or recovery."""
        if self.guarantee != Guarantee.EXACTLY_ONCE:
            if self._producer is not None:
                try:
                    await self._acks(self._producer, self._futures)
                finally:
                    await self._producer.stop()
                    self._producer = None
            return
        try:
            try:
                txn = await self._take_txn()
            except Exception as e:  # the next transaction could not open: nothing to abort
                log.debug("%s: the next transaction did not open: %s", self.where, e)
                txn = None
            if txn is not None:
                try:
                    await txn.producer.abort_transaction()
                except Exception as e:  # fenced, or the broker is gone: the coordinator aborts it
                    log.warning("%s: could not abort '%s': %s", self.where, txn.transactional_id, e)
                finally:
                    for f in txn.futures:  # retrieved, so asyncio does not report them again
                        if f.done() and not f.cancelled():
                            f.exception()
                    await txn.producer.stop()
            if self._opening is not None:  # the next transaction, opened ahead: unused
                task, self._opening = self._opening, None
                try:
                    spare = await task
                except Exception as e:
                    log.debug("%s: the next transaction did not open: %s", self.where, e)
                else:
                    await spare.producer.stop()  # begun on the client only: nothing to abort
                    self.slots.release(spare.slot)
        finally:
            if self._stopping:
                await asyncio.gather(*self._stopping, return_exceptions=True)
            if self._client is not None:
                await self._client.__aexit__(None, None, None)
                self._client = None


def _ride_through_outages(producer: Any) -> None:
    """aiokafka 0.14's transactional producer dies for good ("Unexpected error during batch
    delivery") when looking up its transaction coordinator meets a closed connection, as
    it does while the broker restarts: its open transaction, and so the job, would be lost
    to an outage of a few seconds. Retry that lookup, as aiokafka already does for a
    coordinator that is not available, for up to ``RETRY_FOR_S``."""
    from aiokafka import errors

    sender = producer._sender
    lookup = sender._find_coordinator

    async def find_coordinator(coordinator_type: Any, key: str) -> Any:
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            try:
                return await lookup(coordinator_type, key)
            except errors.KafkaError as e:
                cause = e.__cause__ if e.__cause__ is not None else e
                if not getattr(cause, "retriable", False) or time.monotonic() > deadline:
                    raise
                log.info("transaction coordinator of '%s' unreachable (%s); retrying", key, cause)
                await asyncio.sleep(0.2)

    sender._find_coordinator = find_coordinator


register_source("kafka", KafkaSource)
register_sink("kafka", KafkaSink)
