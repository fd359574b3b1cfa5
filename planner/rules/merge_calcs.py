"""Merge a Calc into the Calc below it, so a chain of projections and filters costs one
DuckDB query per batch instead of several.

>>> from sqlglot import exp
>>> from catalog.types import INT
>>> from planner.logical import BoundField, Scan, Calc
>>> from catalog import TableDef, Schema, Column
>>> t = TableDef("t", Schema((Column("a", INT),)), {"connector": "datagen"})
>>> scan = Scan((BoundField("a", INT),), t)
>>> inner = Calc((BoundField("b", INT),), scan, (("b", exp.column("a") + 1),))
>>> outer = Calc((BoundField("c", INT),), inner, (("c", exp.column("b") * 2),))
>>> merged = merge_calcs(outer)
>>> merged.projections[0][1].sql(), merged.input is scan
('(a + 1) * 2', True)
"""

from __future__ import annotations

from sqlglot import exp

from planner.logical import Calc, LogicalNode
from planner.rules.rewrite import transform_up


def _inline(e: exp.Expr, defs: dict[str, exp.Expr]) -> exp.Expr:
    def visit(n: exp.Expr) -> exp.Expr:
        if isinstance(n, exp.Column) and n.name in defs:
            d = defs[n.name].copy()
            return d if isinstance(d, exp.Column | exp.Literal) else exp.Paren(this=d)
        return n

    return e.copy().transform(visit)


def merge_calcs(root: LogicalNode) -> LogicalNode:
    def rule(node: LogicalNode) -> LogicalNode:
        if not (isinstance(node, Calc) and isinstance(node.input, Calc)):
            return node
        inner = node.input
        defs = dict(inner.projections)
        projections = tuple((name, _inline(e, defs)) for name, e in node.projections)
        condition = inner.condition
        if node.condition is not None:
            outer = _inline(node.condition, defs)
            condition = outer if condition is None else exp.and_(condition, outer)
        return Calc(node.fields, inner.input, projections, condition)

    return transform_up(root, rule)
