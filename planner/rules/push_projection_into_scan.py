"""Read only the columns a query uses: each Scan is narrowed to them, as Flink's
PushProjectIntoTableSourceScanRule does for a source with SupportsProjectionPushDown, so
the format decodes fewer fields (pyarrow's JSON reader parses a 7-field Nexmark bid 1.5x
faster for two of them) and every exchange and operator carries fewer columns.

What a node uses of its input, from the top: a Calc its projections' and condition's
columns (only those projections its parent uses), a watermark assigner the rowtime and
what its expression reads, a window TVF the time column, an aggregate its keys, its
aggregates' arguments and filters and the window's time column; joins, ranks, sorts and
unions what the query above them reads plus what they need themselves
(``prune_operator_columns``). Every other node (OVER, lookup joins, table functions,
window and temporal joins, sinks, ...) uses all of its input's columns. A subtree that
appears twice (the scans of one table that a statement set's INSERTs or a self-join
share) outputs the union of what each reader needs, so it stays one source.

Narrowed are the Scan, the Calcs (without the projections nobody reads), the nodes that
pass their input's columns on (the watermark assigner, a window TVF), and joins, ranks,
sorts and unions, whose state then keeps fewer columns. Only a connector whose spec says
it can (``ConnectorSpec.projection_pushdown``) is narrowed; a scan keeps at least one
column, so that its batches still count rows, and an upsert scan keeps its primary key
(ChangelogNormalize keeps rows by it, and a delete carries only it).

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
from collections.abc import Sequence

from sqlglot import exp

from catalog.connectors import ChangelogMode, connector_spec, scan_changelog
from planner.errors import PlanError
from planner.logical import (
    Aggregate,
    Calc,
    LogicalNode,
    Scan,
    WatermarkAssigner,
    WindowAssign,
)
from planner.rules.prune_operator_columns import Uses, columns, operator_over, operator_uses
from planner.rules.rewrite import with_inputs
from planner.window import WINDOW_COLUMNS

# What each node must output, by the node's structure (equal subtrees are one; None: all).
Wanted = dict[str, set[str] | None]


def push_projection_into_scan(roots: Sequence[LogicalNode]) -> list[LogicalNode]:
    keys = NodeKeys()
    wanted: Wanted = {}
    for root in roots:
        _collect(root, None, wanted, keys)
    memo: dict[str, LogicalNode] = {}
    return [_rebuild(root, wanted, memo, keys) for root in roots]


class NodeKeys:
    """A node's structure as a text (its repr), computed once per node object: equal
    subtrees (a table a statement set's INSERTs or a self-join read twice) get one
    entry, so that they stay equal, and one source, after narrowing."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[LogicalNode, str]] = {}

    def __call__(self, node: LogicalNode) -> str:
        hit = self._texts.get(id(node))
        if hit is None:
            hit = self._texts[id(node)] = (node, repr(node))
        return hit[1]


def _collect(node: LogicalNode, needed: set[str] | None, wanted: Wanted, keys: NodeKeys) -> None:
    """Record what each node under ``node`` (itself included) must output, when
    ``node``'s parent uses ``needed`` of its fields (None: all of them): the union over
    every parent that reads it."""
    key = keys(node)
    if key in wanted:
        before = wanted[key]
        merged = None if before is None or needed is None else before | needed
        if merged == before:
            return
    else:
        merged = None if needed is None else set(needed)
    wanted[key] = merged
    for child, uses in _uses(node, merged):
        _collect(child, uses, wanted, keys)


def _uses(node: LogicalNode, needed: set[str] | None) -> Uses:
    """Each input of ``node`` with the names of its fields that ``node`` uses (None: all)."""
    if isinstance(node, Calc):
        return [(node.input, columns([e for _, e in _kept(node, needed)] + [node.condition]))]
    if isinstance(node, WatermarkAssigner):
        if needed is None:
            return [(node.input, None)]
        return [(node.input, needed | {node.rowtime} | columns([node.expr]))]
    if isinstance(node, WindowAssign):
        if needed is None:
            return [(node.input, None)]
        return [(node.input, (needed - set(WINDOW_COLUMNS)) | {node.window.time_column})]
    if isinstance(node, Aggregate):
        used = set(node.keys) | columns(e for a in node.aggs for e in (a.arg, a.filter, *a.args))
        if node.window is not None:
            used.add(node.window.time_column)
        return [(node.input, used)]
    operator = operator_uses(node, needed)
    if operator is not None:
        return operator
    return [(child, None) for child in node.inputs]


def _kept(node: Calc, needed: set[str] | None) -> list[tuple[str, exp.Expr]]:
    """The projections of ``node`` its parent uses; the first one when none (a row count
    needs some column to count)."""
    kept = [(n, e) for n, e in node.projections if needed is None or n in needed]
    return kept or list(node.projections[:1])


def _rebuild(node: LogicalNode, wanted: Wanted, memo: dict[str, LogicalNode], keys: NodeKeys) -> LogicalNode:
    """``node`` over its rebuilt inputs, with only the fields its parents use where it can
    drop them: a scan narrowed to what it must read, Calcs without the projections nobody
    reads, joins, ranks and unions over narrowed inputs, and the nodes in between that
    pass their input's columns on without those no longer there."""
    key = keys(node)
    done = memo.get(key)
    if done is not None:
        return done
    needed = wanted.get(key)
    new: LogicalNode
    if isinstance(node, Scan):
        new = _narrow(node, needed)
    else:
        inputs = tuple(_rebuild(child, wanted, memo, keys) for child in node.inputs)
        for (child, uses), got in zip(_uses(node, needed), inputs, strict=True):
            names = {f.name for f in got.fields}
            if not (uses if uses is not None else {f.name for f in child.fields}) <= names:
                raise PlanError(
                    f"push_projection_into_scan dropped a column a {type(node).__name__} reads "
                    "(a planner bug)"
                )
        new = _over(node, inputs, needed)
    memo[key] = new
    return new


def _over(node: LogicalNode, inputs: tuple[LogicalNode, ...], needed: set[str] | None) -> LogicalNode:
    """``node`` over narrowed ``inputs``: without the fields its parents do not use, where
    it can drop them, and without what it passed on of the columns its inputs dropped."""
    if isinstance(node, Calc):
        (child,) = inputs
        projections = tuple(_kept(node, needed))
        if len(projections) == len(node.projections) and child is node.input:
            return node
        names = {n for n, _ in projections}
        fields = tuple(f for f in node.fields if f.name in names)
        return dataclasses.replace(node, input=child, fields=fields, projections=projections)
    if isinstance(node, WatermarkAssigner | WindowAssign):
        (child,) = inputs
        kept = {f.name for f in child.fields}
        passed = kept | set(WINDOW_COLUMNS) if isinstance(node, WindowAssign) else kept
        fields = tuple(f for f in node.fields if f.name in passed)
        return dataclasses.replace(node, input=child, fields=fields)
    if operator_uses(node, needed) is not None:
        return operator_over(node, inputs, needed)
    if all(new is old for new, old in zip(inputs, node.inputs)):
        return node
    if not isinstance(node, Aggregate) and any(
        new.fields != old.fields for new, old in zip(inputs, node.inputs)
    ):
        raise PlanError(
            f"push_projection_into_scan narrowed the input of a {type(node).__name__} (a planner bug)"
        )
    return with_inputs(node, inputs)  # e.g. a window or temporal join: inputs kept their fields


def _narrow(scan: Scan, needed: set[str] | None) -> Scan:
    options = scan.table.options
    spec = connector_spec(options.get("connector", ""))
    if needed is None or not spec.projection_pushdown(options):
        return scan
    if scan_changelog(spec, options) == ChangelogMode.UPSERT:
        # An upsert stream (upsert-kafka) is a change per key: its deletes carry only the
        # key columns, and what reads it identifies rows by them (Flink's rule keeps them).
        needed = needed | set(scan.table.schema.primary_key)
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
