"""Read only the columns a query uses: each Scan is narrowed to them, as Flink's
PushProjectIntoTableSourceScanRule does for a source with SupportsProjectionPushDown, so
the format decodes fewer fields (pyarrow's JSON reader parses a 7-field Nexmark bid 1.5x
faster for two of them) and every exchange and operator carries fewer columns.

What a node uses of its input, from the top: a Calc its projections' and condition's
columns (only those projections its parent uses), a watermark assigner the rowtime and
what its expression reads, a window TVF the time column, an aggregate its keys, its
aggregates' arguments and filters and the window's time column. Every other node
(joins, ranks, unions, sorts, sinks, ...) uses all of its input's columns, so the scans
below it read everything they did. Scans of one table that a statement set's INSERTs
(or one query) share read the union of what each needs, so they stay one source.

Narrowed are the Scan and the nodes between it and its consumer that pass its columns
on (the Calc of computed columns, the watermark assigner, a window TVF): they drop
exactly the columns no longer read. Only a connector whose spec says it can
(``ConnectorSpec.projection_pushdown``) is narrowed; a scan keeps at least one column,
so that its batches still count rows.

>>> from catalog import Column, Schema, TableDef
>>> from catalog.types import BIGINT, STRING
>>> from planner.logical import Aggregate, BoundField, LogicalAgg, declared_fields
>>> t = TableDef("bids", Schema((Column("auction", BIGINT), Column("channel", STRING),
...     Column("url", STRING))), {"connector": "filesystem", "path": "b.json", "format": "json"})
>>> scan = Scan(declared_fields(t), t)
>>> agg = Aggregate((BoundField("channel", STRING), BoundField("n", BIGINT)), scan, ("channel",),
...     (LogicalAgg("n", "count_star", None, BIGINT),))
>>> [f.name for f in push_projection_into_scan([agg])[0].input.fields]
['channel']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from sqlglot import exp

from catalog.connectors import connector_spec
from planner.errors import PlanError
from planner.logical import (
    Aggregate,
    Calc,
    Join,
    LogicalNode,
    Scan,
    Union,
    WatermarkAssigner,
    WindowAssign,
)
from planner.window import WINDOW_COLUMNS

# What a scan must read, by the scan's structure (equal scans are one source); None: all.
Wanted = dict[str, set[str] | None]


def push_projection_into_scan(roots: Sequence[LogicalNode]) -> list[LogicalNode]:
    wanted: Wanted = {}
    for root in roots:
        _collect(root, None, wanted)
    memo: dict[int, LogicalNode] = {}
    return [_rebuild(root, wanted, memo) for root in roots]


def _columns(exprs: Iterable[exp.Expr | None]) -> set[str]:
    return {c.name for e in exprs if e is not None for c in e.find_all(exp.Column)}


def _collect(node: LogicalNode, needed: set[str] | None, wanted: Wanted) -> None:
    """Record what each scan under ``node`` must read, when ``node``'s parent uses
    ``needed`` of its fields (None: all of them)."""
    if isinstance(node, Scan):
        key = repr(node)
        before = wanted.get(key, set())
        wanted[key] = None if before is None or needed is None else before | needed
        return
    for child, uses in _uses(node, needed):
        _collect(child, uses, wanted)


def _uses(node: LogicalNode, needed: set[str] | None) -> list[tuple[LogicalNode, set[str] | None]]:
    """Each input of ``node`` with the names of its fields that ``node`` uses (None: all)."""
    if isinstance(node, Calc):
        kept = [e for name, e in node.projections if needed is None or name in needed]
        if not kept and node.projections:  # a row count needs some column to count
            kept = [node.projections[0][1]]
        return [(node.input, _columns([*kept, node.condition]))]
    if isinstance(node, WatermarkAssigner):
        if needed is None:
            return [(node.input, None)]
        return [(node.input, needed | {node.rowtime} | _columns([node.expr]))]
    if isinstance(node, WindowAssign):
        if needed is None:
            return [(node.input, None)]
        return [(node.input, (needed - set(WINDOW_COLUMNS)) | {node.window.time_column})]
    if isinstance(node, Aggregate):
        used = set(node.keys) | _columns(e for a in node.aggs for e in (a.arg, a.filter, *a.args))
        if node.window is not None:
            used.add(node.window.time_column)
        return [(node.input, used)]
    return [(child, None) for child in node.inputs]


def _rebuild(node: LogicalNode, wanted: Wanted, memo: dict[int, LogicalNode]) -> LogicalNode:
    """``node`` over its rebuilt inputs: a scan narrowed to what it must read, and the
    nodes that pass a scan's columns on without the ones it no longer reads."""
    done = memo.get(id(node))
    if done is not None:
        return done
    new: LogicalNode
    if isinstance(node, Scan):
        new = _narrow(node, wanted.get(repr(node)))
    else:
        inputs = tuple(_rebuild(child, wanted, memo) for child in node.inputs)
        same = all(a is b for a, b in zip(inputs, node.inputs))
        new = node if same else _over(node, inputs)
    memo[id(node)] = new
    return new


def _over(node: LogicalNode, inputs: tuple[LogicalNode, ...]) -> LogicalNode:
    """``node`` over narrowed ``inputs``: without what it made of the columns they dropped."""
    dropped = {f.name for old in node.inputs for f in old.fields} - {f.name for i in inputs for f in i.fields}
    if isinstance(node, Calc):
        (child,) = inputs
        projections = tuple((n, e) for n, e in node.projections if not _columns([e]) & dropped)
        if _columns([node.condition]) & dropped or not projections:
            raise PlanError("push_projection_into_scan dropped a column a Calc filters on (a planner bug)")
        names = {n for n, _ in projections}
        fields = tuple(f for f in node.fields if f.name in names)
        return dataclasses.replace(node, input=child, fields=fields, projections=projections)
    if isinstance(node, WatermarkAssigner | WindowAssign):
        (child,) = inputs
        fields = tuple(f for f in node.fields if f.name not in dropped)
        return dataclasses.replace(node, input=child, fields=fields)
    if dropped and not isinstance(node, Aggregate):  # the others use every input column
        raise PlanError(
            f"push_projection_into_scan narrowed the input of a {type(node).__name__} (a planner bug)"
        )
    if isinstance(node, Union):
        return dataclasses.replace(node, children=inputs)
    if isinstance(node, Join):
        return dataclasses.replace(node, left=inputs[0], right=inputs[1])
    (child,) = inputs
    return dataclasses.replace(node, input=child)  # type: ignore[call-arg]


def _narrow(scan: Scan, needed: set[str] | None) -> Scan:
    options = scan.table.options
    if needed is None or not connector_spec(options.get("connector", "")).projection_pushdown(options):
        return scan
    fields = [f for f in scan.fields if f.name in needed]
    # A row count needs a column the records hold (COUNT(*) alone, or only metadata and
    # partition columns): the first one of the table.
    outside = {*scan.metadata, *scan.table.partition_keys}
    if all(f.name in outside for f in fields):
        first = next((f for f in scan.fields if f.name not in outside), scan.fields[0])
        fields = [f for f in scan.fields if f in fields or f is first]
    if len(fields) == len(scan.fields):
        return scan
    return dataclasses.replace(scan, fields=tuple(fields), projected=True)
