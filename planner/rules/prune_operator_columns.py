"""What joins, ranks, sorts and unions use of their inputs, and each of them rebuilt over
inputs narrowed to that, for ``push_projection_into_scan``: a column the query above an
operator does not read is dropped below it, so the operator's state (a join's rows of both
sides, a Top-N's or a deduplication's kept rows, a sort's buffer) and its output never
carry it, as Flink's ProjectJoinTransposeRule and its rank and union counterparts do.

An operator keeps what it needs itself besides: a join its keys, the columns of its
condition and its interval's two time columns; a rank its partition and order columns; a
sort its order columns. A semi or anti join's right side keeps only what its condition
reads. A union narrows every input to the same positions. When an input cannot narrow
itself (a source that reads every column, ``datagen``, Kafka), a Calc selecting the used
columns goes between it and the operator. Window joins and temporal joins are left as
they are: their inputs have a shape their operators check (window TVFs or aggregates, a
versioned table).

>>> from catalog.types import BIGINT, STRING
>>> from planner.logical import BoundField, Values
>>> a = Values((BoundField("k", BIGINT), BoundField("note", STRING)), ())
>>> b = Values((BoundField("k", BIGINT), BoundField("url", STRING)), ())
>>> j = Join((*a.fields, BoundField("k0", BIGINT), BoundField("url", STRING)), a, b, "inner", (("k", "k"),))
>>> [sorted(u) for _, u in operator_uses(j, {"note"})]
[['k', 'note'], ['k']]
>>> [f.name for f in operator_over(j, (a, narrowed(b, {"k"})), {"note"}).fields]
['k', 'note', 'k0']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlglot import exp

from planner.logical import BoundField, Calc, Join, LogicalNode, Rank, Sort, Union

# Each input of a node with the names of its fields the node uses (None: all of them).
Uses = list[tuple[LogicalNode, set[str] | None]]


def columns(exprs: Iterable[exp.Expr | None]) -> set[str]:
    """The names of the columns ``exprs`` read."""
    return {c.name for e in exprs if e is not None for c in e.find_all(exp.Column)}


def narrowed(child: LogicalNode, used: set[str] | None) -> LogicalNode:
    """``child`` with only the fields in ``used`` (in its own order), through a Calc when it
    has more; at least one field, so that its rows still count."""
    names = [f.name for f in child.fields if used is None or f.name in used] or [child.fields[0].name]
    if len(names) == len(child.fields):
        return child
    projections = tuple((n, exp.column(exp.to_identifier(n, quoted=True))) for n in names)
    return Calc(tuple(child.field(n) for n in names), child, projections)


def _prunes(node: LogicalNode) -> bool:
    if isinstance(node, Join):
        return node.window is None and node.as_of is None
    return isinstance(node, Rank | Sort | Union)


def operator_uses(node: LogicalNode, needed: set[str] | None) -> Uses | None:
    """What ``node`` uses of each input when its parent uses ``needed`` of its fields (None:
    all); None when ``node`` is not an operator of this module."""
    if not _prunes(node):
        return None
    if isinstance(node, Join):
        return _join_uses(node, needed)
    if needed is None:
        return [(child, None) for child in node.inputs]
    if isinstance(node, Rank):
        return [
            (
                node.input,
                (needed - {node.rank_field}) | set(node.partition_keys) | {o.name for o in node.order},
            )
        ]
    if isinstance(node, Sort):
        return [(node.input, needed | {k.column for k in node.order})]
    assert isinstance(node, Union)
    positions = _positions(node, needed)
    return [(child, {child.fields[i].name for i in positions}) for child in node.children]


def _join_uses(node: Join, needed: set[str] | None) -> Uses:
    if needed is None:  # a semi or anti join's right fields are not its output
        needed = {f.name for f in node.fields[: node.output_width]}
    used = needed | columns([node.residual])
    if node.interval is not None:
        used |= {node.interval.left_time, node.interval.right_time}
    n_left = len(node.left.fields)
    sides = ((node.left, node.fields[:n_left], 0), (node.right, node.fields[n_left:], 1))
    return [
        (side, {f.name for out, f in zip(outs, side.fields) if out.name in used} | {k[i] for k in node.keys})
        for side, outs, i in sides
    ]


def _positions(node: Union, needed: set[str]) -> list[int]:
    return [i for i, f in enumerate(node.fields) if f.name in needed] or [0]


def operator_over(node: LogicalNode, inputs: tuple[LogicalNode, ...], needed: set[str] | None) -> LogicalNode:
    """``node`` over ``inputs`` (its inputs rebuilt with at least what ``operator_uses``
    said), each narrowed to what it uses, and without the fields it no longer gets."""
    uses = operator_uses(node, needed)
    assert uses is not None
    inputs = tuple(narrowed(child, used) for child, (_, used) in zip(inputs, uses))
    if isinstance(node, Join):
        left, right = inputs
        n_left = len(node.left.fields)
        fields = (
            *_kept(node.fields[:n_left], node.left, left),
            *_kept(node.fields[n_left:], node.right, right),
        )
        return dataclasses.replace(node, left=left, right=right, fields=fields)
    if isinstance(node, Union):  # each input now has the fields at ``positions``, in order
        positions = range(len(node.fields)) if needed is None else _positions(node, needed)
        return dataclasses.replace(node, children=inputs, fields=tuple(node.fields[i] for i in positions))
    (child,) = inputs
    old = node.inputs[0]
    fields = (*_kept(node.fields[: len(old.fields)], old, child), *node.fields[len(old.fields) :])
    return dataclasses.replace(node, input=child, fields=fields)  # type: ignore[call-arg]


def _kept(outs: tuple[BoundField, ...], old: LogicalNode, new: LogicalNode) -> tuple[BoundField, ...]:
    """The output fields ``outs`` (one per field of ``old``) of those fields ``new`` kept."""
    names = {f.name for f in new.fields}
    return tuple(out for out, f in zip(outs, old.fields) if f.name in names)
