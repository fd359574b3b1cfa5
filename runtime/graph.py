"""Physical plan -> subtasks and channels.

Every node becomes ``parallelism`` subtasks (a collect node: one). Every edge becomes
channels from producer subtasks to consumer subtasks according to its partitioning:

- FORWARD: subtask i -> subtask i (when the parallelisms differ, it acts as REBALANCE);
- HASH(keys): each row to subtask ``hash(keys) % p``; the hash is DuckDB's ``hash()``
  over the key columns, computed for a whole batch in one query, then the batch is
  ordered by target with one ``take`` and sliced;
- BROADCAST: every batch to every consumer subtask;
- SINGLE: everything to consumer subtask 0;
- REBALANCE: whole batches round-robin.
Signals (watermarks, idleness, barriers, end of input) go to every connected consumer.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from catalog.config import CHANNEL_CAPACITY
from catalog.errors import SqlStreamError
from planner.physical import Node, Partitioning, PhysicalPlan
from runtime.batches import q
from runtime.channels import Channel, InputGate
from runtime.connectors.base import SubtaskContext
from runtime.messages import Message
from runtime.metrics import JobMetrics, NodeInfo
from runtime.operator import Operator, OperatorContext, Worker
from runtime.task import Router, Task


def operator_class(kind: str) -> type[Operator]:
    from runtime.operators.calc import CalcOp
    from runtime.operators.collect import CollectOp
    from runtime.operators.expand import ExpandOp
    from runtime.operators.group_aggregate import GroupAggregateOp
    from runtime.operators.join import JoinOp
    from runtime.operators.lookup_join import LookupJoinOp
    from runtime.operators.replicate import ReplicateOp
    from runtime.operators.sink import SinkOp
    from runtime.operators.sort import SortOp
    from runtime.operators.source import SourceOp
    from runtime.operators.union import UnionOp
    from runtime.operators.watermark import WatermarkOp
    from runtime.operators.window_aggregate import WindowAggregateOp
    from runtime.operators.window_assign import WindowAssignOp

    classes: dict[str, type[Operator]] = {
        "source": SourceOp,
        "calc": CalcOp,
        "expand": ExpandOp,
        "watermark": WatermarkOp,
        "window_assign": WindowAssignOp,
        "window_aggregate": WindowAggregateOp,
        "group_aggregate": GroupAggregateOp,
        "union": UnionOp,
        "lookup_join": LookupJoinOp,
        "replicate": ReplicateOp,
        "join": JoinOp,
        "sort": SortOp,
        "sink": SinkOp,
        "collect": CollectOp,
    }
    if kind not in classes:
        raise SqlStreamError(f"the runtime cannot run operator kind '{kind}'")
    return classes[kind]


def parallelism(node: Node) -> int:
    return 1 if node.kind == "collect" else max(node.parallelism, 1)


class _Single(Router):
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, message: Message) -> None:
        await self.channel.send(message)


class _Broadcast(Router):
    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels

    async def send(self, message: Message) -> None:
        for ch in self.channels:
            await ch.send(message)


class _RoundRobin(_Broadcast):
    def __init__(self, channels: list[Channel], start: int = 0) -> None:
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
    def __init__(
        self,
        channels: list[Channel],
        keys: tuple[str, ...],
        run: Callable[..., Any],
    ) -> None:
        super().__init__(channels)
        self.keys = keys
        self.run = run
        self.con: duckdb.DuckDBPyConnection | None = None
        n = len(channels)
        cols = ", ".join(q(k) for k in keys)
        self.sql = f"SELECT (hash({cols}) % {n})::INTEGER AS p FROM __batch"

    def split(self, batch: pa.RecordBatch) -> list[pa.RecordBatch | None]:
        if self.con is None:
            self.con = duckdb.connect(":memory:", config={"threads": 1})
        self.con.register("__batch", batch)
        try:
            target = self.con.sql(self.sql).to_arrow_table().column(0).to_numpy()
        finally:
            self.con.unregister("__batch")
        n = len(self.channels)
        counts = np.bincount(target, minlength=n)
        parts: list[pa.RecordBatch | None] = [None] * n
        nonzero = np.flatnonzero(counts)
        if len(nonzero) == 1:
            parts[int(nonzero[0])] = batch
            return parts
        order = np.argsort(target, kind="stable")
        ordered = batch.take(pa.array(order))
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

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


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
    capacity = CHANNEL_CAPACITY.get(config)
    by_id = {n.id: n for n in plan.nodes}
    graph = JobGraph()
    # incoming channels per (consumer node, subtask), with the edge index of each
    gates: dict[tuple[int, int], list[tuple[Channel, int]]] = {}
    # outgoing routers per (producer node, subtask)
    routers: dict[tuple[int, int], list[Router]] = {}
    workers = {
        (n.id, j): Worker(executor) for n in plan.nodes for j in range(parallelism(n))
    }

    for node in plan.nodes:
        pc = parallelism(node)
        for j in range(pc):
            gates[(node.id, j)] = []
        for ei, edge in enumerate(node.inputs):
            src = by_id[edge.source]
            ps = parallelism(src)
            mode = edge.partitioning
            if mode == Partitioning.FORWARD and ps != pc:
                mode = Partitioning.REBALANCE
            if mode == Partitioning.HASH and not edge.keys:
                raise SqlStreamError(f"{node.name}: a HASH edge needs keys")
            for i in range(ps):
                if mode == Partitioning.FORWARD:
                    targets = [i]
                elif mode == Partitioning.SINGLE:
                    targets = [0]
                else:
                    targets = list(range(pc))
                chans = []
                for j in targets:
                    ch = Channel(capacity, f"{src.id}.{i}->{node.id}.{j}")
                    gates[(node.id, j)].append((ch, ei))
                    chans.append(ch)
                router: Router
                if len(chans) == 1:
                    router = _Single(chans[0])
                elif mode == Partitioning.BROADCAST:
                    router = _Broadcast(chans)
                elif mode == Partitioning.HASH:
                    router = _Hash(chans, edge.keys, workers[(src.id, i)].run)
                else:
                    router = _RoundRobin(chans, start=i)
                router.output = edge.output
                routers.setdefault((src.id, i), []).append(router)

    for node in plan.nodes:
        pc = parallelism(node)
        subs = metrics.add_node(NodeInfo(node.id, node.name, node.kind, pc))
        cls = operator_class(node.kind)
        inputs = tuple(by_id[e.source] for e in node.inputs)
        ops = []
        for j in range(pc):
            sub = SubtaskContext(
                job_name=plan.name,
                node_id=node.id,
                node_name=node.name,
                subtask=j,
                parallelism=pc,
                config=dict(config),
            )
            ctx = OperatorContext(
                sub, node, plan, subs[j], executor, inputs, extras, workers[(node.id, j)]
            )
            op = cls(ctx)
            ops.append(op)
            incoming = gates[(node.id, j)]
            gate = InputGate([c for c, _ in incoming]) if incoming else None
            task = Task(
                op,
                subs[j],
                gate,
                [e for _, e in incoming],
                routers.get((node.id, j), []),
                sub.where,
            )
            graph.tasks.append(task)
        graph.operators[node.id] = ops
    return graph
