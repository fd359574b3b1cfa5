"""UNION, INTERSECT and EXCEPT as Flink plans them: aggregations over UNION ALL.

- ``UNION``: a GROUP BY over every column of the UNION ALL (no aggregate), so a row is
  emitted once, when first seen; over an updating input it is retracted (-D) when its
  last copy is.
- ``INTERSECT`` / ``EXCEPT``: Calcite's rewrite. Each side's rows are tagged with their
  side, the UNION ALL is grouped by every column with a count per side, and a filter
  keeps the rows both sides have (INTERSECT) or only the left one has (EXCEPT).

- ``INTERSECT ALL`` / ``EXCEPT ALL``: the same counts, then each row replicated
  ``LEAST(left, right)`` times (INTERSECT ALL) or ``left - right`` times (EXCEPT ALL), as
  Flink's RewriteIntersectAllRule and RewriteMinusAllRule do with REPLICATE_ROWS.

The results are updating (a GroupAggregate's changelog), as in Flink: when a row's count
changes, all its old copies are retracted (-U) and all its new ones inserted (+U).
"""

from __future__ import annotations

from sqlglot import exp

from catalog.types import BIGINT, INT
from planner.bind.scope import _err, _ref
from planner.errors import UnsupportedError
from planner.logical import Aggregate, BoundField, Calc, LogicalAgg, LogicalNode, Replicate, Union

SIDE = "$side"
TIMES = "$times"


def distinct_rows(union: LogicalNode, query: exp.Expr) -> LogicalNode:
    """``UNION``: every column a grouping key, no aggregate."""
    keys = _keys(union, query)
    return Aggregate(_plain(union.fields), union, keys, ())


def intersect_or_except(
    fields: tuple[BoundField, ...], left: LogicalNode, right: LogicalNode, query: exp.Expr, all_: bool = False
) -> LogicalNode:
    """``INTERSECT [ALL]`` / ``EXCEPT [ALL]`` of two inputs already of the types ``fields``."""
    side = BoundField(SIDE, INT.with_nullable(False))
    same = tuple((f.name, _ref(f.name)) for f in fields)
    tagged = tuple(
        Calc((*fields, side), child, (*same, (SIDE, exp.Literal.number(i))))
        for i, child in enumerate((left, right))
    )
    union = Union((*fields, side), tagged)
    keys = _keys(Calc(fields, union, ()), query)
    count = BIGINT.with_nullable(False)
    aggs = tuple(
        LogicalAgg(name, "count_star", None, count, filter=_equals(SIDE, i))
        for i, name in enumerate(("$left", "$right"))
    )
    agg_fields = (*_plain(fields), BoundField("$left", count), BoundField("$right", count))
    agg = Aggregate(agg_fields, union, keys, aggs)
    zero = exp.Literal.number(0)
    intersect = isinstance(query, exp.Intersect)
    if all_:
        times = (
            exp.Least(this=_ref("$left"), expressions=[_ref("$right")])
            if intersect
            else exp.Sub(this=_ref("$left"), expression=_ref("$right"))
        )
        condition: exp.Expr = (
            exp.and_(*(exp.GT(this=_ref(side), expression=zero) for side in ("$left", "$right")))
            if intersect
            else exp.GT(this=_ref("$left"), expression=_ref("$right"))
        )
        counted = Calc((*_plain(fields), BoundField(TIMES, count)), agg, (*same, (TIMES, times)), condition)
        return Replicate(_plain(fields), counted, TIMES)
    right_has = exp.GT if intersect else exp.EQ
    condition = exp.and_(
        exp.GT(this=_ref("$left"), expression=zero),
        right_has(this=_ref("$right"), expression=zero),
    )
    return Calc(_plain(fields), agg, same, condition)


def _equals(name: str, value: int) -> exp.Expr:
    return exp.EQ(this=_ref(name), expression=exp.Literal.number(value))


def _keys(node: LogicalNode, query: exp.Expr) -> tuple[str, ...]:
    names = [f.name for f in node.fields]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        kind = type(query).__name__.upper()
        raise _err(
            UnsupportedError(
                f"{kind} of rows with two columns named '{twice[0]}' is not supported",
                hint="give the columns of the first query distinct names (AS)",
            ),
            query,
        )
    return tuple(names)


def _plain(fields: tuple[BoundField, ...]) -> tuple[BoundField, ...]:
    """A grouping key is no longer a time attribute (Flink materializes it)."""
    return tuple(BoundField(f.name, f.type) for f in fields)
