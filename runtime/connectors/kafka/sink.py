"""Flink's ``kafka`` sink on aiokafka, at-least-once or exactly-once (two-phase commit).

Sink: one ``topic``; ``sink.partitioner`` = default (by the key's hash when there are
key fields, else Kafka's choice) | round-robin | fixed (subtask ``i`` writes partition
``i`` modulo the partition count). ``sink.delivery-guarantee``:

- ``none``: records are sent as they come; flushed at close only.
- ``at-least-once`` (default): an idempotent producer, flushed (every ack awaited) at each
  checkpoint barrier.
- ``exactly-once``: two-phase commit (``../shared/DESIGN.md``) with Kafka transactions,
  see ``txn.py``. Needs ``sink.transactional-id-prefix``; refuses to start unless
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from catalog.connectors import Guarantee
from catalog.connectors.kafka import KafkaConfig, check_transaction_timeout
from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, SinkSpec
from runtime.connectors.base import SinkWriter, SubtaskContext, sink_config
from runtime.connectors.kafka.codec import (
    KIND_DELETE,
    KIND_INSERT,
    KIND_UPDATE_AFTER,
    KIND_UPDATE_BEFORE,
    Codec,
)
from runtime.connectors.kafka.options import (
    DEFAULT_SLOTS,
    TxnSlots,
    client_kwargs,
    transactional_id,
)
from runtime.connectors.kafka.txn import (
    KafkaConnectorError,
    ProducerFencedError,
    RecoveryReport,
    TxnClient,
    broker_max_transaction_timeout,
    commit_transaction,
    fenced_by,
    recover,
    ride_through_outages,
    subtask_bound,
    transactions,
)
from runtime.formats import create_encoder, is_changelog
from runtime.formats.base import RecordEncoder

log = logging.getLogger(__name__)

DEFAULT_BATCH_BYTES = 256 * 1024  # a producer batch unless 'properties.batch.size' says


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
        config = sink_config(spec, ctx.config)
        assert isinstance(config, KafkaConfig)
        self.config = config
        bag = OptionBag(spec.options, f"table '{spec.table}'")  # the formats read theirs
        self.where = bag.where
        props = dict(bag.prefixed("properties."))
        self.kwargs = client_kwargs(props, "producer", self.where)
        # Producer batches of 256 KiB unless 'properties.batch.size' says: a produce request
        # carries one batch per partition, so the client's 16 KiB meant a request (and its
        # round trip) every few hundred small records.
        limit = self.kwargs.get("max_request_size", DEFAULT_BATCH_BYTES)
        self.kwargs.setdefault("max_batch_size", min(DEFAULT_BATCH_BYTES, limit))
        self.topic = config.topics[0]
        requested = Guarantee((spec.options.get("sink.delivery-guarantee") or spec.guarantee.value).lower())
        self.guarantee = requested
        if requested == Guarantee.EXACTLY_ONCE and not KafkaConfig.exactly_once(requested, ctx.config):
            self.guarantee = Guarantee.AT_LEAST_ONCE  # as the planner says: no alignment, no exactly-once
        self.prefix = config.transactional_id_prefix
        self.partitioner = config.partitioner
        self.timeout_ms = config.transaction_timeout_ms
        self.kwargs.pop("transaction_timeout_ms", None)
        self.codec = Codec.of(config.layout)
        c = self.codec
        self.value_encoder: RecordEncoder = create_encoder(
            c.value_format, c.value_record_fields(spec.columns), bag, c.value_prefix
        )
        self.key_encoder: RecordEncoder | None = None
        if c.key_format:
            self.key_encoder = create_encoder(c.key_format, c.key_record_fields(spec.columns), bag, "key.")
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
        left open. Raises :class:`~runtime.connectors.kafka.txn.TransactionLostError` when a
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
        ride_through_outages(producer)
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
        if ROW_KIND_COLUMN in batch.schema.names and is_changelog(c.value_format):
            # a change-record format (debezium-json, ...) encodes every row kind itself
            changes = self.value_encoder.encode_records(batch.select([*c.value_fields, ROW_KIND_COLUMN]))
            return [None] * batch.num_rows, changes
        if ROW_KIND_COLUMN in batch.schema.names:
            if not self.upsert:
                raise KafkaConnectorError(
                    f"{self.where}: the kafka sink only appends, but its input is an updating stream",
                    hint="write updates to an 'upsert-kafka' table with a PRIMARY KEY",
                )
            kinds = batch.column(ROW_KIND_COLUMN).to_numpy(zero_copy_only=False)
        n = batch.num_rows
        keys: list[bytes | None] = [None] * n
        if self.key_encoder is not None:
            key_batch = batch.select(list(c.key_fields))
            if c.key_prefix:
                key_batch = key_batch.rename_columns([k[len(c.key_prefix) :] for k in c.key_fields])
            keys = self.key_encoder.encode_records(key_batch)
        if kinds is not None:
            keep = overwritten_before_images(kinds, keys)
            if not keep.all():
                batch = batch.filter(pa.array(keep))
                kinds = kinds[keep]
                keys = [k for k, kept in zip(keys, keep.tolist()) if kept]
                n = batch.num_rows
        values: list[bytes | None]
        value_batch = batch.select(list(c.value_fields))
        values = self.value_encoder.encode_records(value_batch) if c.value_fields else [b"{}"] * n
        if kinds is not None:  # a -D, and a -U nothing overwrites: the key's tombstone
            for i in np.flatnonzero((kinds == KIND_DELETE) | (kinds == KIND_UPDATE_BEFORE)).tolist():
                values[i] = None
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
        chosen = np.unique(targets).tolist() if len(parts) > 1 else [0]
        for p in chosen:
            ks, vs = keys, values  # one partition takes them all (no key: a partition a batch)
            if len(chosen) > 1:
                rows = np.flatnonzero(targets == p).tolist()
                ks, vs = [keys[i] for i in rows], [values[i] for i in rows]
            send = self._send_partition(producer, futures, parts[p], ks, vs)
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


def overwritten_before_images(kinds: np.ndarray, keys: Sequence[bytes | None]) -> np.ndarray:
    """Which rows an upsert sink writes: all but the ``-U`` rows whose key gets a ``+I`` or
    ``+U`` later in the batch (that row overwrites the key). A ``-U`` that nothing
    overwrites (``HAVING`` filtered the new row out, or the row moved to another key) is the
    key's tombstone, as Flink's upsert-kafka writes an UPDATE_BEFORE; dropped, the key kept
    its old value.

    >>> overwritten_before_images(np.array([1, 2, 1, 0], dtype=np.int8), [b"a", b"a", b"b", b"c"]).tolist()
    [False, True, True, True]
    """
    keep = kinds != KIND_UPDATE_BEFORE
    before = np.flatnonzero(~keep)
    if not len(before):
        return keep
    puts = np.flatnonzero((kinds == KIND_INSERT) | (kinds == KIND_UPDATE_AFTER))
    last_put = {keys[i]: i for i in puts.tolist()}
    for i in before.tolist():
        if last_put.get(keys[i], -1) < i:
            keep[i] = True
    return keep
