"""Push the conjuncts of a filter above a join that read only one side's columns into
that side, below the join (Flink's FlinkFilterJoinRule): the join then keeps and probes
only the rows that can appear in the result. Only into a side whose rows are not
NULL-padded by the join (both sides of an inner join, the left of a LEFT JOIN, the right
of a RIGHT JOIN), and only deterministic conjuncts, so the result is the same.

>>> from sqlglot import exp
>>> from catalog.types import INT
>>> from planner.logical import BoundField, Scan, Calc, Join
>>> from catalog import TableDef, Schema, Column
>>> t = TableDef("t", Schema((Column("k", INT),)), {"connector": "datagen"})
>>> a, b = (Scan((BoundField("k", INT),), t) for _ in range(2))
>>> j = Join((BoundField("k", INT), BoundField("k0", INT)), a, b, "inner", (("k", "k"),))
>>> top = Calc(j.fields, j, (("k", exp.column("k")), ("k0", exp.column("k0"))), exp.column("k0") > 1)
>>> pushed = push_filters_into_joins(top)
>>> pushed.condition is None, pushed.input.right.condition.sql()
(True, '"k" > 1')
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from planner.logical import Calc, Join, LogicalNode
from planner.rules.rewrite import transform_up
from planner.typecheck import function_name
from planner.udf import user_function

# functions whose value differs between two evaluations of the same row
_VOLATILE = frozenset(
    {"RAND", "RAND_INTEGER", "UUID", "NOW", "PROCTIME", "CURRENT_TIMESTAMP", "CURRENT_ROW_TIMESTAMP",
     "LOCALTIMESTAMP", "LOCALTIME", "CURRENT_TIME", "CURRENT_DATE", "UNIX_TIMESTAMP"}
)  # fmt: skip


def _deterministic(e: exp.Expr) -> bool:
    return not any(
        isinstance(n, exp.Func) and (function_name(n) in _VOLATILE or _volatile_udf(n)) for n in e.walk()
    )


def _volatile_udf(n: exp.Expr) -> bool:
    """A user function declared ``deterministic=False`` stays where the user called it."""
    called = user_function(n)
    return called is not None and not called.deterministic


def _filtered(side: LogicalNode, conjuncts: list[exp.Expr]) -> LogicalNode:
    projections = tuple((f.name, exp.column(exp.to_identifier(f.name, quoted=True))) for f in side.fields)
    return Calc(side.fields, side, projections, exp.and_(*conjuncts))


def push_filters_into_joins(root: LogicalNode) -> LogicalNode:
    def rule(node: LogicalNode) -> LogicalNode:
        if isinstance(node, Join) and node.residual is not None:
            # ON conjuncts of one side filter that side's rows before they join, where
            # that side is not the one the join pads (inner: both; LEFT: the right; ...)
            # (a semi join keeps the left rows with a match: a left-only conjunct filters them
            # either way; an anti join keeps those without one, which such a filter changes)
            sides = {"inner": ("left", "right"), "left": ("right",), "right": ("left",),
                     "semi": ("left", "right"), "anti": ("right",)}  # fmt: skip
            pushed = _push(node, node.residual, sides.get(node.join_type, ()))
            if pushed is None:
                return node
            join, rest = pushed
            return dataclasses.replace(join, residual=rest)
        if not (isinstance(node, Calc) and node.condition is not None and isinstance(node.input, Join)):
            return node
        # WHERE conjuncts of one side, where that side's rows are never NULL-padded
        sides = {"inner": ("left", "right"), "left": ("left",), "right": ("right",), "semi": ("left",),
                 "anti": ("left",)}  # fmt: skip
        pushed = _push(node.input, node.condition, sides.get(node.input.join_type, ()))
        if pushed is None:
            return node
        join, rest = pushed
        return Calc(node.fields, join, node.projections, rest)

    # a filter pushed into a join's input may sit on another join: push again until it rests
    for _ in range(32):
        new_root = transform_up(root, rule)
        if new_root == root:
            break
        root = new_root
    return root


def _push(join: Join, condition: exp.Expr, into: tuple[str, ...]) -> tuple[Join, exp.Expr | None] | None:
    """The join with the conjuncts of ``condition`` that read only one side in ``into``
    moved below it, and the rest; None when nothing moves. Never into the versioned side
    of a temporal join: there a version that fails the condition is no version (the key's
    older one is not valid then), but filtered out of an upsert stream, which has no -U of
    the older version, it would leave the older one valid."""
    if join.as_of is not None:
        into = tuple(side for side in into if side != "right")
    n_left = len(join.left.fields)
    left_names = {f.name for f in join.fields[:n_left]}
    # the right side's fields under the join's (possibly renamed) output names
    right_names = {out.name: f.name for out, f in zip(join.fields[n_left:], join.right.fields)}
    to_left: list[exp.Expr] = []
    to_right: list[exp.Expr] = []
    keep: list[exp.Expr] = []
    for conj in condition.flatten() if isinstance(condition, exp.And) else [condition]:
        cols = {c.name for c in conj.find_all(exp.Column)}
        if cols and _deterministic(conj):
            if cols <= left_names and "left" in into:
                to_left.append(conj)
                continue
            if cols <= right_names.keys() and "right" in into:
                renamed = conj.copy().transform(
                    lambda n: (
                        exp.column(exp.to_identifier(right_names[n.name], quoted=True))
                        if isinstance(n, exp.Column)
                        else n
                    )
                )
                to_right.append(renamed)
                continue
        keep.append(conj)
    if not to_left and not to_right:
        return None
    left = _filtered(join.left, to_left) if to_left else join.left
    right = _filtered(join.right, to_right) if to_right else join.right
    return dataclasses.replace(join, left=left, right=right), exp.and_(*keep) if keep else None
