"""Physical plan -> subtasks and channels.

Every node becomes ``parallelism`` subtasks (a collect node: one). Every edge becomes
channels from producer subtasks to consumer subtasks according to its partitioning:

- FORWARD: subtask i -> subtask i (when the parallelisms differ, it acts as REBALANCE);
- HASH(keys): each row to subtask ``hash(keys) % p`` (``runtime/partition.py``: numpy
  over the key columns of a whole batch), then the batch is ordered by target with one
  ``take`` and sliced;
- BROADCAST: every batch to every consumer subtask;
- SINGLE: everything to consumer subtask 0;
- REBALANCE: whole batches round-robin.
Signals (watermarks, idleness, barriers, end of input) go to every connected consumer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from catalog.config import CHANNEL_CAPACITY
from catalog.errors import SqlStreamError
from planner.physical import ROW_KIND_COLUMN, Edge, Node, Partitioning, PhysicalPlan
from runtime.batches import numpy_array
from runtime.channels import Channel, InputGate
from runtime.connectors.base import SubtaskContext
from runtime.databases import open_ahead, opens_database
from runtime.messages import Message
from runtime.metrics import JobMetrics, NodeInfo, OperatorMetrics
from runtime.operator import Operator, OperatorContext, Worker
from runtime.partition import partition
from runtime.task import Router, Task

#: Each operator kind of a physical plan and the class that runs it ("module.Class"),
#: imported when a job first uses the kind: a job imports only its own operators, so a
#: source into a sink never loads DuckDB.
OPERATORS: dict[str, str] = {
    "source": "runtime.operators.source.SourceOp",
    "calc": "runtime.operators.calc.CalcOp",
    "expand": "runtime.operators.expand.ExpandOp",
    "watermark": "runtime.operators.watermark.WatermarkOp",
    "window_assign": "runtime.operators.window_assign.WindowAssignOp",
    "window_aggregate": "runtime.operators.window_aggregate.WindowAggregateOp",
    "group_aggregate": "runtime.operators.group_aggregate.GroupAggregateOp",
    "changelog_normalize": "runtime.operators.changelog_normalize.ChangelogNormalizeOp",
    "sink_materializer": "runtime.operators.sink_materializer.SinkMaterializerOp",
    "union": "runtime.operators.union.UnionOp",
    "lookup_join": "runtime.operators.lookup_join.LookupJoinOp",
    "replicate": "runtime.operators.replicate.ReplicateOp",
    "join": "runtime.operators.join.JoinOp",
    "correlate": "runtime.operators.correlate.CorrelateOp",
    "rank": "runtime.operators.rank.RankOp",
    "over_aggregate": "runtime.operators.over_aggregate.OverAggregateOp",
    "match": "runtime.operators.match.MatchOp",
    "batch_over": "runtime.operators.batch_over.BatchOverOp",
    "batch_query": "runtime.operators.batch_query.BatchQueryOp",
    "window_rank": "runtime.operators.window_rank.WindowRankOp",
    "interval_join": "runtime.operators.interval_join.IntervalJoinOp",
    "window_join": "runtime.operators.window_join.WindowJoinOp",
    "temporal_join": "runtime.operators.temporal_join.TemporalJoinOp",
    "sort": "runtime.operators.sort.SortOp",
    "sink": "runtime.operators.sink.SinkOp",
    "collect": "runtime.operators.collect.CollectOp",
}


def operator_class(kind: str) -> type[Operator]:
    path = OPERATORS.get(kind)
    if path is None:
        raise SqlStreamError(f"the runtime cannot run operator kind '{kind}'")
    module, _, name = path.rpartition(".")
    cls: type[Operator] = vars(importlib.import_module(module))[name]
    return cls


def parallelism(node: Node) -> int:
    return 1 if node.kind == "collect" else max(node.parallelism, 1)


class Outlet(Protocol):
    """Where a router puts a message: a local ``Channel``, or a channel to another process."""

    async def send(self, message: Message) -> None: ...


class _Single(Router):
    def __init__(self, channel: Outlet) -> None:
        self.channel = channel

    async def send(self, message: Message) -> None:
        await self.channel.send(message)


class _Broadcast(Router):
    def __init__(self, channels: list[Outlet]) -> None:
        self.channels = channels

    async def send(self, message: Message) -> None:
        for ch in self.channels:
            await ch.send(message)


class _RoundRobin(_Broadcast):
    def __init__(self, channels: list[Outlet], start: int = 0) -> None:
        super().__init__(channels)
        self.next = start % len(channels)

    async def send(self, message: Message) -> None:
        if isinstance(message, pa.RecordBatch):
            ch = self.channels[self.next]
            self.next = (self.next + 1) % len(self.channels)
            await ch.send(message)
        else:
            await super().send(message)


class _Hash(_Broadcast):
    """Each row to the subtask of its key (``runtime/partition.py``, the function that also
    splits keyed state on restore): the batch is ordered by target with one ``take`` and
    sliced, on the producer subtask's worker (numpy and Arrow release the GIL)."""

    def __init__(
        self,
        channels: list[Outlet],
        keys: tuple[str, ...],
        run: Callable[..., Any],
        columns: tuple[str, ...] = (),
    ) -> None:
        super().__init__(channels)
        self.keys = keys
        self.run = run
        self.columns = frozenset((*columns, ROW_KIND_COLUMN)) if columns else None

    def split(self, batch: pa.RecordBatch) -> list[pa.RecordBatch | None]:
        n = len(self.channels)
        if self.columns is not None:  # only what the consumer reads crosses (Edge.columns)
            batch = batch.select([c for c in batch.schema.names if c in self.columns])
        target = partition([batch.column(k) for k in self.keys], n)
        counts = np.bincount(target, minlength=n)
        parts: list[pa.RecordBatch | None] = [None] * n
        nonzero = np.flatnonzero(counts)
        if len(nonzero) == 1:
            parts[int(nonzero[0])] = batch
            return parts
        order = np.argsort(target.astype(np.int16) if n < 2**15 else target, kind="stable")  # radix
        ordered = batch.take(numpy_array(pa.int64(), order, len(order)))  # argsort: contiguous int64
        start = 0
        for j in range(n):
            c = int(counts[j])
            if c:
                parts[j] = ordered.slice(start, c)
            start += c
        return parts

    async def send(self, message: Message) -> None:
        if not isinstance(message, pa.RecordBatch):
            await super().send(message)
            return
        parts = await self.run(self.split, message)
        for ch, part in zip(self.channels, parts):
            if part is not None:
                await ch.send(part)


class _LocalPhase(Router):
    """A two-phase aggregation's local phase (``planner.agg_phase``), chained to the
    producer: each batch becomes the consumer's partial rows on the producer's worker, and
    those go on through the edge's own router. Signals pass as they are: the local phase
    keeps nothing between batches, so nothing is held back behind a barrier or watermark."""

    def __init__(self, inner: Router, local: Any, run: Callable[..., Any]) -> None:
        self.inner = inner
        self.local = local
        self.run = run

    async def send(self, message: Message) -> None:
        if isinstance(message, pa.RecordBatch):
            partial = await self.run(self.local.apply, message)
            if partial is not None:
                await self.inner.send(partial)
            return
        await self.inner.send(message)

    def close(self) -> None:
        self.local.close()
        self.inner.close()


def with_local_phase(
    router: Router,
    consumer: Node,
    edge: Edge,
    plan: PhysicalPlan,
    config: dict[str, str],
    run: Callable[..., Any],
) -> Router:
    """``router``, preceded by ``consumer``'s local phase when ``edge`` asks for one."""
    if not edge.local_aggregate:
        return router
    from runtime.operators.local_window_aggregate import LocalWindowAggregate

    return _LocalPhase(router, LocalWindowAggregate(consumer, plan, config), run)


@dataclass
class JobGraph:
    tasks: list[Task] = field(default_factory=list)
    operators: dict[int, list[Operator]] = field(default_factory=dict)


def build(
    plan: PhysicalPlan,
    job_id: str,
    config: dict[str, str],
    executor: Executor,
    metrics: JobMetrics,
    extras: dict[str, Any],
) -> JobGraph:
    """Create operators, channels and tasks for ``plan`` (nothing runs yet)."""
    # first, so that the operators' databases open while their modules import
    open_ahead(sum(parallelism(n) for n in plan.nodes if opens_database(n, plan)))
    capacity = CHANNEL_CAPACITY.get(config)
    by_id = {n.id: n for n in plan.nodes}
    graph = JobGraph()
    # incoming channels per (consumer node, subtask), with the edge index of each
    gates: dict[tuple[int, int], list[tuple[Channel, int]]] = {}
    # outgoing routers per (producer node, subtask)
    routers: dict[tuple[int, int], list[Router]] = {}
    workers = {(n.id, j): Worker(executor) for n in plan.nodes for j in range(parallelism(n))}

    for node in plan.nodes:
        pc = parallelism(node)
        for j in range(pc):
            gates[(node.id, j)] = []
        for ei, edge in enumerate(node.inputs):
            src = by_id[edge.source]
            ps = parallelism(src)
            mode = edge_mode(node, edge, ps, pc)
            for i in range(ps):
                chans = []
                for j in edge_targets(mode, i, pc):
                    ch = Channel(capacity, f"{src.id}.{i}->{node.id}.{j}")
                    gates[(node.id, j)].append((ch, ei))
                    chans.append(ch)
                run = workers[(src.id, i)].run
                router = make_router(mode, chans, edge.keys, run, i, edge.columns)
                router = with_local_phase(router, node, edge, plan, config, run)
                router.output = edge.output
                routers.setdefault((src.id, i), []).append(router)

    for node in plan.nodes:
        pc = parallelism(node)
        subs = metrics.add_node(NodeInfo(node.id, node.name, node.kind, pc))
        ops = []
        for j in range(pc):
            incoming = gates[(node.id, j)]
            op, task = build_subtask(
                plan,
                node,
                j,
                config,
                subs[j],
                executor,
                extras,
                workers[(node.id, j)],
                incoming,
                routers.get((node.id, j), []),
            )
            ops.append(op)
            graph.tasks.append(task)
        graph.operators[node.id] = ops
    return graph


def edge_mode(node: Node, edge: Edge, ps: int, pc: int) -> Partitioning:
    """How an edge from ``ps`` producer subtasks to ``pc`` consumer subtasks partitions."""
    mode = edge.partitioning
    if mode == Partitioning.FORWARD and ps != pc:
        mode = Partitioning.REBALANCE
    if mode == Partitioning.HASH and not edge.keys:
        raise SqlStreamError(f"{node.name}: a HASH edge needs keys")
    return mode


def edge_targets(mode: Partitioning, producer: int, pc: int) -> list[int]:
    """The consumer subtasks that producer subtask ``producer`` has a channel to."""
    if mode == Partitioning.FORWARD:
        return [producer]
    if mode == Partitioning.SINGLE:
        return [0]
    return list(range(pc))


def make_router(
    mode: Partitioning,
    channels: Sequence[Outlet],
    keys: tuple[str, ...],
    run: Callable[..., Any],
    producer: int,
    columns: tuple[str, ...] = (),
) -> Router:
    """The router of one producer subtask on one edge, over its channels (local channels
    or, on Ray, ``runtime.ray.channel.RemoteChannel``)."""
    chans = list(channels)
    if len(chans) == 1:
        return _Single(chans[0])
    if mode == Partitioning.BROADCAST:
        return _Broadcast(chans)
    if mode == Partitioning.HASH:
        return _Hash(chans, keys, run, columns)
    return _RoundRobin(chans, start=producer)


def build_subtask(
    plan: PhysicalPlan,
    node: Node,
    j: int,
    config: dict[str, str],
    metrics: OperatorMetrics,
    executor: Executor | None,
    extras: dict[str, Any],
    worker: Worker,
    incoming: Sequence[tuple[Channel, int]],
    routers: Sequence[Router],
) -> tuple[Operator, Task]:
    """Subtask ``j`` of ``node``: its operator and the task that drives it, reading the
    ``incoming`` (channel, edge index) pairs and writing through ``routers``."""
    by_id = {n.id: n for n in plan.nodes}
    sub = SubtaskContext(
        job_name=plan.name,
        node_id=node.id,
        node_name=node.name,
        subtask=j,
        parallelism=parallelism(node),
        config=dict(config),
    )
    inputs = tuple(by_id[e.source] for e in node.inputs)
    ctx = OperatorContext(sub, node, plan, metrics, executor, inputs, extras, worker)
    op = operator_class(node.kind)(ctx)
    gate = InputGate([c for c, _ in incoming]) if incoming else None
    task = Task(op, metrics, gate, [e for _, e in incoming], routers, sub.where)
    return op, task
