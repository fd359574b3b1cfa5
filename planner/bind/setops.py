"""UNION, INTERSECT and EXCEPT (distinct) as Flink plans them: aggregations over UNION ALL.

- ``UNION``: a GROUP BY over every column of the UNION ALL (no aggregate), so a row is
  emitted once, when first seen; over an updating input it is retracted (-D) when its
  last copy is.
- ``INTERSECT`` / ``EXCEPT``: Calcite's rewrite. Each side's rows are tagged with their
  side, the UNION ALL is grouped by every column with a count per side, and a filter
  keeps the rows both sides have (INTERSECT) or only the left one has (EXCEPT).

The results are updating (a GroupAggregate's changelog), as in Flink. ``INTERSECT ALL``
and ``EXCEPT ALL`` (Flink replicates rows with a table function) are refused.
"""

from __future__ import annotations

from sqlglot import exp

from catalog.types import BIGINT, INT
from planner.bind.scope import _err, _ref
from planner.errors import UnsupportedError
from planner.logical import Aggregate, BoundField, Calc, LogicalAgg, LogicalNode, Union

SIDE = "$side"


def distinct_rows(union: LogicalNode, query: exp.Expr) -> LogicalNode:
    """``UNION``: every column a grouping key, no aggregate."""
    keys = _keys(union, query)
    return Aggregate(_plain(union.fields), union, keys, ())


def intersect_or_except(
    fields: tuple[BoundField, ...], left: LogicalNode, right: LogicalNode, query: exp.Expr
) -> LogicalNode:
    """``INTERSECT`` / ``EXCEPT`` (distinct) of two inputs already of the types ``fields``."""
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
    right_has = exp.GT if isinstance(query, exp.Intersect) else exp.EQ
    condition = exp.and_(
        exp.GT(this=_ref("$left"), expression=exp.Literal.number(0)),
        right_has(this=_ref("$right"), expression=exp.Literal.number(0)),
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
