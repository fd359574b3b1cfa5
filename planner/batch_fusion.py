"""Batch mode's fast path for backfills: a sink's whole query, when every operator under it
has a DuckDB equivalent and every source is a bounded file, datagen or VALUES, becomes one
``BatchQuery`` node that gathers the sources' rows and runs the operators as one DuckDB
query when the inputs end, instead of a pipeline of streaming operators passing changelogs.

The sources stay (their formats decode as they always do: the same types, the same
handling of bad records); what they feed is replaced. A query with any operator outside
``_FUSABLE`` (windows, whose late rows the streaming operators drop; joins; Top-N, whose
ties go by arrival; Python functions) keeps the streaming path whole. The results are the
streaming operators' final rows (``tests/unit/runtime/test_batch_query_oracle.py``).
``sqlstream.batch.one-query`` = false turns the fast path off.
"""

from __future__ import annotations

from dataclasses import replace

from catalog.connectors import ChangelogMode
from planner.physical import (
    BatchOverSpec,
    BatchQuerySpec,
    CalcSpec,
    CollectSpec,
    Edge,
    ExpandSpec,
    GroupAggregateSpec,
    Node,
    Partitioning,
    PhysicalPlan,
    SinkSpec,
    SortSpec,
    SourceSpec,
    UnionSpec,
    WatermarkSpec,
)

_SOURCES = ("filesystem", "datagen", "values")
_AGGREGATES = ("count", "count_star", "sum", "min", "max", "avg", "stddev_pop", "stddev_samp", "var_pop",
               "var_samp")  # fmt: skip


def _fusable(node: Node) -> bool:
    spec = node.spec
    if isinstance(spec, SourceSpec):
        return spec.bounded and spec.connector in _SOURCES and node.changelog == ChangelogMode.INSERT_ONLY
    if isinstance(spec, GroupAggregateSpec):
        return all(a.func in _AGGREGATES for a in spec.aggs)
    if isinstance(spec, SortSpec):
        return spec.mode == "batch"
    if any(e.output != 0 for e in node.inputs):  # a side output (late rows)
        return False
    return isinstance(spec, CalcSpec | WatermarkSpec | ExpandSpec | UnionSpec | BatchOverSpec)


def _tree(plan: PhysicalPlan, root: Node) -> tuple[list[Node], list[Node]] | None:
    """The operators under ``root`` (inputs first) and the sources they read, or None if
    one of them cannot be fused."""
    inner: list[Node] = []
    sources: list[Node] = []

    def visit(node: Node) -> bool:
        if not _fusable(node):
            return False
        if isinstance(node.spec, SourceSpec):
            if node not in sources:
                sources.append(node)
            return True
        if not all(visit(plan.node(e.source)) for e in node.inputs):
            return False
        if node not in inner:
            inner.append(node)
        return True

    return (inner, sources) if visit(root) else None


def fuse(plan: PhysicalPlan) -> PhysicalPlan:
    """``plan`` with each sink's query run as one DuckDB query where it can be."""
    nodes = list(plan.nodes)
    next_id = max(n.id for n in nodes) + 1
    for sink in [n for n in plan.nodes if isinstance(n.spec, SinkSpec | CollectSpec)]:
        (edge,) = sink.inputs
        root = plan.node(edge.source)
        found = _tree(plan, root)
        if found is None:
            continue
        inner, sources = found
        if not any(n.stateful for n in inner):
            continue  # a projection or filter streams as fast as it can be
        sub = PhysicalPlan((*sources, *inner), name=plan.name, config=plan.config)
        spec = BatchQuerySpec(sub.to_json(indent=None), tuple(s.id for s in sources))
        edges = tuple(
            Edge(s.id, Partitioning.SINGLE if s.parallelism > 1 else Partitioning.FORWARD) for s in sources
        )
        name = f"BatchQuery(operators=[{', '.join(n.name.split('(')[0] for n in inner)}])"
        fused = Node(next_id, name, spec, edges, root.schema, 1)
        next_id += 1
        at = nodes.index(sink)
        nodes[at : at + 1] = [fused, replace(sink, inputs=(Edge(fused.id, _into(sink)),))]
    return replace(plan, nodes=tuple(_reachable(nodes)))


def _into(sink: Node) -> Partitioning:
    return Partitioning.FORWARD if sink.parallelism == 1 else Partitioning.REBALANCE


def _reachable(nodes: list[Node]) -> list[Node]:
    """The nodes a sink still reads from, in their order (the fused operators go)."""
    by_id = {n.id: n for n in nodes}
    keep: set[int] = set()
    todo = [n.id for n in nodes if isinstance(n.spec, SinkSpec | CollectSpec)]
    while todo:
        i = todo.pop()
        if i not in keep:
            keep.add(i)
            todo.extend(e.source for e in by_id[i].inputs)
    return [n for n in nodes if n.id in keep]
