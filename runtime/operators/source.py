"""Drives a connector's ``SourceReader``: polls, sizes batches, lingers, finishes.

Batches are grown up to ``sqlstream.runtime.batch-size`` rows (default 65536) but never
held longer than ``sqlstream.runtime.linger`` (default 20 ms) after their first row, so
the per-query cost of DuckDB is amortised under load while a thin stream stays prompt.
Left at its default, the size is for the operator calls downstream: a source whose rows a
hash exchange splits among p subtasks gathers p times as many (at most ``MAX_FAN_OUT``),
so that each subtask's part is still a full batch (``hash_fan_out``). Each call of a
stateful operator has a fixed cost (its statements): at parallelism 2 half-size parts
made the aggregates run twice as many calls over the same rows. A bounded source (a file,
a datagen of so many rows: its rows are there to be read) whose rows reach a GROUP BY,
windowed or not, or a Top-N (``per_call_behind``) gathers ``MAX_FAN_OUT`` times the default
whatever the exchange, and the default linger does not cut its batch while its reader is
reading (one 64k read of JSON bids outlasts it): those operators then run their statements a
quarter as often (Nexmark q15-q17's aggregate, replayed: 45-60% less CPU; q7's TUMBLE
and the join behind it: 20% less CPU for the whole query), for at most the
memory in flight of a source at parallelism 4. Their changelog holds a key's net change
per batch, as ever, so fewer intermediate updates. So does a bounded source whose rows go
through stateless operators alone (Calcs, a watermark assigner, a union) to the sinks
(``only_stateless_behind``): each batch's fixed cost along the way (a pyarrow read, a
DuckDB query per Calc, the tasks' hand-offs) a quarter as often, Nexmark q0-q2, q21 and
q22 3-15% less CPU, for twice the memory (q0: 442 MB resident at its peak against 197).
It had cost more than it saved while numpy mapped the read buffers in huge pages
(``sqlstream/entry.py``). Behind other operators alone (a join with no aggregate after it,
OVER) the size is left as it is: a 262,144-row batch made the two regular joins of Nexmark
q23 25-35% dearer. A stream (unbounded) keeps the default and its latency.

A reader's empty batch tagged with a split announces that split to the watermark assigner
(``runtime/operators/watermark.py``); it goes on only when the table has a watermark
(the assigner is downstream through forward edges), and is dropped otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from catalog.config import BATCH_SIZE, LINGER
from planner.physical import (
    CalcSpec,
    CollectSpec,
    Edge,
    GroupAggregateSpec,
    Node,
    Partitioning,
    PhysicalPlan,
    RankSpec,
    SinkSpec,
    SourceSpec,
    UnionSpec,
    WatermarkSpec,
    WindowAggregateSpec,
)
from runtime.batches import is_announcement, split_of, with_split
from runtime.connectors.base import SourceReader
from runtime.connectors.registry import create_source
from runtime.messages import Message
from runtime.operator import OperatorContext, Snapshot, SourceOperator

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored

IDLE_POLL_S = 0.005
# The most a source's default batch grows for a hash exchange behind it (memory in flight).
MAX_FAN_OUT = 4


class SourceOp(SourceOperator):
    reader: SourceReader

    def __init__(self, ctx: OperatorContext) -> None:
        super().__init__(ctx)
        self.restored: Restored | None = None
        self._opened = False

    async def restore(self, restored: Restored) -> None:
        self.restored = restored  # the reader restores before it opens

    async def open(self) -> None:
        assert isinstance(self.node.spec, SourceSpec)
        cfg = self.ctx.config
        self.batch_rows = BATCH_SIZE.get(cfg)
        # the default value (a job's config carries the defaults, so set or not): grown for
        # the exchange; another size is taken exactly
        self.reading_whole = False  # a bounded source's bigger batch: see the module
        if self.batch_rows == BATCH_SIZE.get({}):
            plan, me = self.ctx.plan, self.node.id
            self.reading_whole = self.node.spec.bounded and (
                per_call_behind(plan, me) or only_stateless_behind(plan, me)
            )
            grown = MAX_FAN_OUT if self.reading_whole else hash_fan_out(plan, me)
            self.batch_rows *= min(grown, MAX_FAN_OUT)
        self.linger_s = (LINGER.get(cfg) or 0) / 1000
        # a linger the user set (0 ms: each poll its own batch) is kept as it is
        self.reading_whole = self.reading_whole and LINGER.get(cfg) == LINGER.get({})
        self.reader = create_source(self.node.spec, self.ctx.subtask)
        self.announce = feeds_watermark(self.ctx.plan, self.node.id)
        restored = self.restored
        if restored is not None and restored.positions:
            if restored.rescaled or len(restored.positions) != 1:
                self.reader.restore_rescaled(restored.positions)
            else:
                self.reader.restore(restored.positions[0])
        await self.reader.open()
        self.metrics.partitions = self.reader.metrics.partitions  # consumer lag, shared
        self._opened = True

    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        """The reader's position: every row before the barrier was emitted, none after."""
        return Snapshot(self.reader.checkpoint_position(checkpoint_id))

    async def on_checkpoint_complete(self, checkpoint_id: int) -> None:
        with contextlib.suppress(Exception):  # e.g. Kafka offsets to the group: monitoring only
            await self.reader.notify_checkpoint_complete(checkpoint_id)

    async def poll(self) -> tuple[list[Message], bool]:
        pending: list[pa.RecordBatch] = []
        rows = 0
        deadline = 0.0
        while True:
            if self.reader.finished:
                return self._flush(pending), True
            started = time.perf_counter()
            batch = await self.reader.poll(self.batch_rows - rows)
            if batch is not None and is_announcement(batch):
                if self.announce:  # on to the watermark assigner, ahead of any row of its split
                    return [*self._flush(pending), batch], False
            elif batch is not None and batch.num_rows:
                # busy: reading rows; a poll that found none was waiting, not working
                self.metrics.busy_ms += (time.perf_counter() - started) * 1000
                if not pending:
                    deadline = time.monotonic() + self.linger_s
                pending.append(batch)
                rows += batch.num_rows
            lingered = pending and time.monotonic() >= deadline and (batch is None or not self.reading_whole)
            if rows >= self.batch_rows or lingered:
                return self._flush(pending), False
            if batch is None:
                if not pending:
                    # nothing to send: hand control back so the task can run timers
                    await asyncio.sleep(IDLE_POLL_S)
                    return [], False
                await asyncio.sleep(min(IDLE_POLL_S, max(deadline - time.monotonic(), 0)))

    @staticmethod
    def _flush(pending: list[pa.RecordBatch]) -> list[Message]:
        """One batch per run of consecutive batches from the same split."""
        out: list[Message] = []
        run: list[pa.RecordBatch] = []
        for batch in [*pending, None]:
            if run and (batch is None or split_of(batch) != split_of(run[0])):
                if len(run) == 1:
                    out.append(run[0])
                else:
                    table = pa.Table.from_batches(run).combine_chunks()
                    out.extend(with_split(b, split_of(run[0])) for b in table.to_batches())
                run = []
            if batch is not None:
                run.append(batch)
        return out

    async def close(self) -> None:
        if self._opened:
            await self.reader.close()


def feeds_watermark(plan: PhysicalPlan, node_id: int) -> bool:
    """Whether a watermark assigner reads this source through forward edges only (the
    computed columns' Calc between them keeps a split's tag)."""
    forward = (Partitioning.FORWARD,)
    behind = _behind(plan, node_id, forward)
    return any(e.partitioning in forward and isinstance(n.spec, WatermarkSpec) for e, n in behind)


def per_call_behind(plan: PhysicalPlan, node_id: int) -> bool:
    """Whether this source's rows reach a GROUP BY (windowed or not) or a Top-N (through
    forward and hash edges): operators whose every call runs several statements over their
    state, so that a call's fixed cost, not its rows, is most of it."""
    return any(
        e.partitioning in _PER_CALL_EDGES and isinstance(n.spec, _PER_CALL)
        for e, n in _behind(plan, node_id, _PER_CALL_EDGES)
    )


_PER_CALL = (GroupAggregateSpec, WindowAggregateSpec, RankSpec)
_PER_CALL_EDGES = (Partitioning.FORWARD, Partitioning.HASH)


def only_stateless_behind(plan: PhysicalPlan, node_id: int) -> bool:
    """Whether every operator this source's rows reach, over any edge, keeps no state: a
    Calc, a watermark assigner or a union, then the sinks (or the session's results)."""
    return all(isinstance(n.spec, _STATELESS) for _, n in _behind(plan, node_id, tuple(Partitioning)))


_STATELESS = (CalcSpec, WatermarkSpec, UnionSpec, SinkSpec, CollectSpec)


def hash_fan_out(plan: PhysicalPlan, node_id: int) -> int:
    """Among how many subtasks the first hash exchange behind this source (through forward
    edges) splits each of its batches; the most over the paths, 1 when there is none."""
    behind = _behind(plan, node_id, (Partitioning.FORWARD,))
    return max((n.parallelism for e, n in behind if e.partitioning == Partitioning.HASH), default=1)


def _behind(
    plan: PhysicalPlan, node_id: int, through: tuple[Partitioning, ...]
) -> Iterator[tuple[Edge, Node]]:
    """Each edge that leaves this node, or a node it reaches through edges of the
    partitionings ``through``, with the node it enters."""
    todo, seen = [node_id], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in plan.nodes:
            for edge in node.inputs:
                if edge.source == current:
                    yield edge, node
                    if edge.partitioning in through:
                        todo.append(node.id)
