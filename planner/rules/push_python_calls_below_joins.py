"""Compute the Python scalar function calls of a join condition that read only one side's
columns in a Calc below that side (Flink's JoinPushExpressionsRule pushes such expressions
into a projection the same way), so the join compares a column. The function then runs
once per row instead of once per candidate pair, and in a Calc, whose rows it raises on
follow ``table.exec.udf-errors.sink`` / ``.ignore`` like any projection's. A Calc above
the join drops the computed columns again.

Only regular joins (not interval, window or temporal ones, whose inputs' shape the
planner recognises, nor semi and anti joins), and only deterministic functions: a
projection may run a call once where the condition would have run it per pair.

>>> from sqlglot import exp
>>> from catalog import Column, Schema, TableDef
>>> from catalog.functions import FunctionDef
>>> from catalog.types import INT
>>> from planner.logical import BoundField, Join, Scan
>>> t = TableDef("t", Schema((Column("k", INT), Column("v", INT))), {"connector": "datagen"})
>>> a, b = (Scan((BoundField("k", INT), BoundField("v", INT)), t) for _ in range(2))
>>> call = exp.Anonymous(this="f", expressions=[exp.column("v")])
>>> call.meta["udf"] = FunctionDef("f", (INT,), INT)
>>> fields = (*a.fields, BoundField("k0", INT), BoundField("v0", INT))
>>> j = Join(fields, a, b, "left", (("k", "k"),), exp.GT(this=call, expression=exp.column("v0")))
>>> top = push_python_calls_below_joins(j)
>>> top.input.residual.sql(), [(n, e.sql()) for n, e in top.input.left.projections][-1]
('"$j0" > v0', ('$j0', 'F(v)'))
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from planner.logical import BoundField, Calc, Join, LogicalNode
from planner.rules.rewrite import transform_up
from planner.typecheck import infer
from planner.udf import user_function


def _ref(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def _computed(side: LogicalNode, items: list[tuple[str, exp.Expr]]) -> LogicalNode:
    """``side`` with the columns ``items`` computes appended."""
    if not items:
        return side
    keep = tuple((f.name, _ref(f.name)) for f in side.fields)
    fields = (*side.fields, *(BoundField(n, infer(e, side.field_type)) for n, e in items))
    return Calc(fields, side, (*keep, *items))


def push_python_calls_below_joins(root: LogicalNode) -> LogicalNode:
    counter = [0]

    def rule(node: LogicalNode) -> LogicalNode:
        if not (
            isinstance(node, Join)
            and node.residual is not None
            and node.join_type in ("inner", "left", "right", "full")
            and node.interval is None
            and node.window is None
            and node.as_of is None
        ):
            return node
        n_left = len(node.left.fields)
        left_names = {f.name for f in node.fields[:n_left]}
        # the right side's fields under the join's (possibly renamed) output names
        right_names = {out.name: f.name for out, f in zip(node.fields[n_left:], node.right.fields)}
        taken = {f.name for f in node.fields} | {f.name for f in node.right.fields}
        added: dict[str, list[tuple[str, exp.Expr]]] = {"left": [], "right": []}

        def visit(n: exp.Expr) -> exp.Expr:
            called = user_function(n)
            if called is None or called.kind != "scalar" or not called.deterministic:
                return n
            cols = {c.name for c in n.find_all(exp.Column)}
            if cols and cols <= left_names:
                side, e = "left", n.copy()
            elif cols and cols <= right_names.keys():
                side = "right"
                e = n.copy().transform(
                    lambda c: _ref(right_names[c.name]) if isinstance(c, exp.Column) else c
                )
            else:
                return n
            name = f"$j{counter[0]}"
            while name in taken:
                counter[0] += 1
                name = f"$j{counter[0]}"
            counter[0] += 1
            taken.add(name)
            added[side].append((name, e))
            return _ref(name)

        residual = node.residual.transform(visit)
        if not added["left"] and not added["right"]:
            return node
        left, right = _computed(node.left, added["left"]), _computed(node.right, added["right"])
        fields = (
            *node.fields[:n_left],
            *left.fields[n_left:],
            *node.fields[n_left:],
            *right.fields[len(node.right.fields) :],
        )
        join = dataclasses.replace(node, left=left, right=right, residual=residual, fields=fields)
        return Calc(node.fields, join, tuple((f.name, _ref(f.name)) for f in node.fields))

    return transform_up(root, rule)
