"""Hand-built physical plans for runtime tests (the SQL planner is tested elsewhere)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pyarrow as pa

from catalog.connectors import ChangelogMode
from planner.physical import (
    ROW_KIND_COLUMN,
    CalcSpec,
    CollectSpec,
    Edge,
    Field,
    Node,
    OperatorSpec,
    Partitioning,
    PhysicalPlan,
    SourceSpec,
)
from runtime.connectors.base import SubtaskContext
from runtime.connectors.values.connector import register_data
from runtime.job import Job
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext

_ids = itertools.count()
Op = TypeVar("Op")


def behind_source(
    kind: Callable[[OperatorContext], Op],
    spec: OperatorSpec,
    name: str,
    schema: tuple[Field, ...],
    reads: ChangelogMode,
    sends: ChangelogMode,
) -> Op:
    """The operator ``kind`` of ``spec`` (node 2, ``name``; its rows ``schema``, its
    changelog ``sends``) as subtask 0 of 1, behind a node 1 of the same rows whose changelog
    is ``reads``: to feed batches to by hand."""
    src = Node(1, "src", CalcSpec(()), (), schema, 1, reads)
    node = Node(2, name, spec, (Edge(1),), schema, 1, sends)
    plan = PhysicalPlan((src, node))
    where = SubtaskContext("t", 2, name, 0, 1)
    return kind(OperatorContext(where, node, plan, OperatorMetrics(2, 0), None, (src,)))


class PlanBuilder:
    def __init__(self, config: dict[str, str] | None = None) -> None:
        self.nodes: list[Node] = []
        # no lingering: each poll of the values source is one batch, as the test cut it
        self.config = {"sqlstream.runtime.linger": "0 ms", **(config or {})}

    def add(
        self,
        name: str,
        spec: OperatorSpec,
        inputs: Sequence[Edge | Node],
        schema: Sequence[Field],
        parallelism: int = 1,
        changelog: ChangelogMode = ChangelogMode.INSERT_ONLY,
    ) -> Node:
        edges = tuple(e if isinstance(e, Edge) else Edge(e.id) for e in inputs)
        node = Node(len(self.nodes) + 1, name, spec, edges, tuple(schema), parallelism, changelog)
        self.nodes.append(node)
        return node

    def values(
        self,
        table: pa.Table,
        fields: Sequence[Field],
        parallelism: int = 1,
        batch_size: int = 1024,
        changelog: ChangelogMode = ChangelogMode.INSERT_ONLY,
    ) -> Node:
        """A bounded in-memory source; an updating one takes the row kinds from the
        table's ``ROW_KIND_COLUMN``."""
        data_id = f"data-{next(_ids)}"
        register_data(data_id, table)
        options = {"data-id": data_id, "batch-size": str(batch_size)}
        if changelog != ChangelogMode.INSERT_ONLY:
            options["changelog-mode"] = "all"
        spec = SourceSpec(
            table=data_id,
            connector="values",
            options=options,
            columns=tuple(fields),
            bounded=True,
        )
        return self.add(f"Source({data_id})", spec, (), fields, parallelism, changelog)

    def collect(self, node: Node) -> Node:
        edge = Edge(node.id, Partitioning.SINGLE if node.parallelism > 1 else Partitioning.FORWARD)
        return self.add("Collect", CollectSpec(), (edge,), node.schema, 1, node.changelog)

    def plan(self) -> PhysicalPlan:
        return PhysicalPlan(tuple(self.nodes), name="test", config=self.config)


async def collect_async(plan: PhysicalPlan, job: Job | None = None) -> pa.Table | None:
    job = job or Job(plan)
    batches = [b async for b in job.results()]
    await job.wait()
    if not batches:
        return None
    return pa.Table.from_batches(batches)


def run(plan: PhysicalPlan) -> pa.Table | None:
    return asyncio.run(collect_async(plan))


def rows(table: pa.Table | None, columns: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
    if table is None:
        return []
    names = list(columns) if columns else [n for n in table.column_names if n != ROW_KIND_COLUMN]
    data = table.select(names).to_pylist()
    return [tuple(r[c] for c in names) for r in data]


def apply_changelog(table: pa.Table | None, keys: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Final table of a changelog: key (first ``keys`` columns) -> row."""
    final: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    if table is None:
        return final
    names = [n for n in table.column_names if n != ROW_KIND_COLUMN]
    kinds = table.column(ROW_KIND_COLUMN).to_pylist()
    for kind, row in zip(kinds, rows(table, names)):
        key = row[:keys]
        if kind in (0, 2):
            assert kind == 2 or key not in final, f"+I for a key already present: {row}"
            final[key] = row
        else:
            assert final.get(key) == row, f"retraction {row} does not match {final.get(key)}"
            del final[key]
    return final
