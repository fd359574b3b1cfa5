"""ARRAY_AGG's null treatment: ``RESPECT NULLS`` (the default: NULLs are listed) and
``IGNORE NULLS``, which is a FILTER on a non-NULL value, so the aggregate runs as one
plain call (NULL, not an empty array, for a group with no non-NULL value, as in Flink).

sqlglot puts the clause around the call or around its argument, depending on what
follows it; both shapes come out the same.
"""

from __future__ import annotations

from sqlglot import exp

from planner.errors import PlanError, UnsupportedError

_TREATMENTS = (exp.IgnoreNulls, exp.RespectNulls)


def rewrite(node: exp.Expr) -> exp.Expr:
    """``node`` (an ARRAY_AGG call with a null treatment) without the clause; any other
    node as it is. A FILTER after the call is refused, as Flink refuses it."""
    where: exp.Expr | None = None
    call = node
    if isinstance(node, exp.Filter):
        call, where = node.this, node.expression.this
    ignore: bool | None = None
    if isinstance(call, _TREATMENTS) and isinstance(call.this, exp.ArrayAgg):
        ignore, call = isinstance(call, exp.IgnoreNulls), call.this
    if isinstance(call, exp.ArrayAgg) and isinstance(call.this, _TREATMENTS):
        ignore = isinstance(call.this, exp.IgnoreNulls)
        call = call.copy()
        call.set("this", call.this.this)
    if ignore is None:
        return node
    if where is not None:  # Flink's validator: "FILTER must be applied to aggregate function"
        raise PlanError(
            "FILTER after ARRAY_AGG(... RESPECT NULLS | IGNORE NULLS)",
            hint="filter in WHERE, or aggregate CASE WHEN ... THEN value END",
        )
    if ignore:
        value = call.this.expressions[0] if isinstance(call.this, exp.Distinct) else call.this
        present = exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null()))
        return exp.Filter(this=call, expression=exp.Where(this=present))
    return call


def over_call(call: exp.Expr) -> exp.Expr:
    """An OVER window's function without ARRAY_AGG's, LAG's or LEAD's RESPECT NULLS (their
    default); their IGNORE NULLS (for ARRAY_AGG a FILTER elsewhere, which OVER aggregates
    do not take) is refused."""
    if isinstance(call, _TREATMENTS) and isinstance(call.this, exp.ArrayAgg | exp.Lag | exp.Lead):
        if isinstance(call, exp.IgnoreNulls):
            name = type(call.this).__name__.upper().replace("ARRAYAGG", "ARRAY_AGG")
            raise UnsupportedError(f"{name}(... IGNORE NULLS) OVER a window")
        return call.this  # RESPECT NULLS: LAG's and LEAD's default too
    return call
