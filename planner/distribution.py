"""Which columns a node's rows are already hash-partitioned by (Flink's distribution trait).

An exchange that would hash rows by keys they are already spread by, over the same number
of subtasks, moves every row to the subtask it is on: the planner plans a FORWARD edge
instead (as Flink's planner does when the input's distribution satisfies the required one),
e.g. between ``GROUP BY k`` and an upsert sink keyed on ``k``. EXPLAIN then shows no
Exchange there.

A node's output is hash-partitioned by ``cols`` when each row is on subtask
``hash(cols) % parallelism`` (``runtime/partition.py``): the output of a hash exchange on
keys, carried on by an aggregate that keeps those keys as its first columns, and by a Calc
or watermark assigner on a FORWARD edge that passes the key columns on unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from planner.physical import (
    MAIN_OUTPUT,
    CalcSpec,
    GroupAggregateSpec,
    Node,
    Partitioning,
    SinkMaterializerSpec,
    WatermarkSpec,
    WindowAggregateSpec,
)
from planner.plain_duckdb import quote


def hashed_by(nodes: Sequence[Node], node: Node) -> tuple[str, ...] | None:
    """The output columns by whose hash ``node``'s rows are spread over its subtasks, or
    None when they are not known to be (``nodes``: the plan so far, node ``i`` at ``i - 1``).

    >>> from planner.physical import Edge, Field
    >>> src = Node(1, "scan", WatermarkSpec("ts", "ts"), (), (Field("k", "INT"),), 2)
    >>> agg = Node(2, "agg", GroupAggregateSpec(("k",), ()), (Edge(1, Partitioning.HASH, ("k",)),),
    ...            (Field("k", "INT"),), 2)
    >>> calc = Node(3, "calc", CalcSpec((("key", '"k"'),)), (Edge(2),), (Field("key", "INT"),), 2)
    >>> hashed_by([src, agg, calc], src), hashed_by([src, agg, calc], calc)
    (None, ('key',))
    """
    if node.parallelism < 2 or len(node.inputs) != 1:
        return None
    edge = node.inputs[0]
    if edge.output != MAIN_OUTPUT:
        return None
    source = nodes[edge.source - 1]
    incoming: tuple[str, ...] | None = None
    if edge.partitioning == Partitioning.HASH:
        incoming = edge.keys
    elif edge.partitioning == Partitioning.FORWARD and source.parallelism == node.parallelism:
        incoming = hashed_by(nodes, source)
    if not incoming:
        return None
    spec = node.spec
    if isinstance(spec, GroupAggregateSpec | WindowAggregateSpec):
        # the keys are the output's first columns, under the aggregate's names for them
        if incoming != spec.keys:
            return None
        return tuple(f.name for f in node.schema[: len(spec.keys)])
    if isinstance(spec, WatermarkSpec | SinkMaterializerSpec):  # its input's columns, row for row
        return incoming
    if isinstance(spec, CalcSpec):
        names: dict[str, str] = {}
        for name, sql in spec.projections:
            names.setdefault(sql, name)  # a key column passed on as it is, under its first name
        out = tuple(names.get(quote(k)) for k in incoming)
        return None if any(n is None for n in out) else tuple(n for n in out if n is not None)
    return None


def satisfies(nodes: Sequence[Node], source: Node, keys: tuple[str, ...], strict: bool) -> bool:
    """Whether ``source``'s rows already sit where a hash exchange on ``keys`` at its own
    parallelism would put them. ``strict``: by exactly these keys, in this order (a stateful
    consumer splits its state by its keys' hash when restored at another parallelism, so its
    rows must be spread by that same hash); otherwise by any of them (rows with equal keys
    are then on one subtask: enough for a sink)."""
    hashed = hashed_by(nodes, source)
    if hashed is None:
        return False
    return hashed == keys if strict else set(hashed) <= set(keys)


def read_columns(fields: Sequence[str], keys: Sequence[str], exprs: Sequence[exp.Expr]) -> tuple[str, ...]:
    """The ``fields`` (an input's, in order) that a consumer grouping by ``keys`` and
    computing ``exprs`` reads; empty when that is all of them, so an exchange into it ships
    no column it does not read (the projection Flink's planner pushes below the Exchange).

    >>> from sqlglot import parse_one
    >>> read_columns(["a", "b", "c"], ["c"], [parse_one("SUM(a)")])
    ('a', 'c')
    >>> read_columns(["a", "b"], ["a"], [parse_one("SUM(b)")])
    ()
    """
    if any(e.find(exp.Star) is not None for e in exprs):
        return ()
    used = {k.lower() for k in keys} | {c.name.lower() for e in exprs for c in e.find_all(exp.Column)}
    kept = tuple(f for f in fields if f.lower() in used)
    return () if len(kept) == len(fields) else kept
