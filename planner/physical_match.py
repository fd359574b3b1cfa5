"""Physical planning of ``MATCH_RECOGNIZE`` (``planner.logical.Match``): one keyed
operator, hashed by the partition keys (one subtask without them, as Flink), named as
Flink's EXPLAIN names it: ``Match(partitionBy=[..], orderBy=[..], measures=[..], ...)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from catalog.connectors import ChangelogMode
from planner.dialect import Flink
from planner.errors import UnsupportedError
from planner.logical import Match
from planner.match_pattern import skip_text
from planner.physical import MatchExpr, MatchSpec, Node, PatternElement, SortKey

if TYPE_CHECKING:
    from planner.physical_planner import PhysicalPlanner


def plan_match(planner: PhysicalPlanner, node: Match) -> Node:
    child = planner._translate(node.input)
    if child.changelog != ChangelogMode.INSERT_ONLY:
        raise UnsupportedError(
            "Match Recognize doesn't support consuming update and delete changes which is produced "
            f"by {planner._updating_producer(child)}",
            hint="MATCH_RECOGNIZE reads an append-only input",
        )
    spec = MatchSpec(
        node.partition_keys,
        node.time_field,
        tuple(SortKey(name, not desc, nulls_first) for name, desc, nulls_first in node.order),
        tuple((name, match_expr(e)) for name, e in node.measures),
        tuple(PatternElement(e.var, e.low, e.high, e.greedy) for e in node.pattern),
        tuple((var, match_expr(e)) for var, e in node.defines),
        node.skip,
        node.skip_var,
        node.within_ms,
    )
    p = planner.default_parallelism if spec.partition_keys else 1
    edge = planner._edge(child, p, spec.partition_keys)
    return planner._add(match_name(spec, node), spec, (edge,), node.fields, p, ChangelogMode.INSERT_ONLY)


_ARITH = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_COMPARE = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_AGGREGATES = {exp.Sum: "sum", exp.Avg: "avg", exp.Count: "count", exp.Min: "min", exp.Max: "max"}


def match_expr(e: exp.Expr) -> MatchExpr:
    """A DEFINE or MEASURES expression (checked by ``planner.bind.match``) as plan data.

    >>> from planner.parse import parse_expression
    >>> m = match_expr(parse_expression("LAST(A.price, 1) > 10", navigation=True))
    >>> m.op, m.name, m.args[0].op, m.args[0].var, m.args[0].offset, m.args[1].value
    ('compare', '>', 'last', 'A', 1, '10')
    """
    if isinstance(e, exp.Paren):
        return match_expr(e.this)
    if isinstance(e, exp.Column):
        return MatchExpr("column", name=e.name, var=e.table or None)
    if isinstance(e, exp.Null):
        return MatchExpr("literal", name="null")
    if isinstance(e, exp.Boolean):
        return MatchExpr("literal", name="bool", value="true" if e.this else "false")
    if isinstance(e, exp.Literal):
        kind = "string" if e.is_string else "int" if e.is_int else "decimal"
        return MatchExpr("literal", name=kind, value=e.this)
    if isinstance(e, exp.Anonymous):
        name = e.name.upper()
        if name == "MATCH_ROWTIME":
            return MatchExpr("rowtime")
        offset = int(e.expressions[1].name) if len(e.expressions) > 1 else 0
        inner = e.expressions[0]
        return MatchExpr(name.lower(), (match_expr(inner),), var=_variable(inner), offset=offset)
    for agg, name in _AGGREGATES.items():
        if isinstance(e, agg):
            if isinstance(e.this, exp.Star):
                return MatchExpr("agg", name=name)
            return MatchExpr("agg", (match_expr(e.this),), name=name, var=_variable(e.this))
    if isinstance(e, exp.Neg | exp.Not):
        return MatchExpr(e.key, (match_expr(e.this),))
    if isinstance(e, exp.Is):
        return MatchExpr("is_null", (match_expr(e.this),))
    if isinstance(e, exp.And | exp.Or):
        return MatchExpr(e.key, (match_expr(e.this), match_expr(e.expression)))
    if isinstance(e, exp.Between):
        return MatchExpr("between", tuple(match_expr(x) for x in (e.this, e.args["low"], e.args["high"])))
    for table, op in ((_ARITH, "arith"), (_COMPARE, "compare")):
        for binary, name in table.items():
            if isinstance(e, binary):
                return MatchExpr(op, (match_expr(e.this), match_expr(e.expression)), name=name)
    raise UnsupportedError(f"{e.sql(dialect=Flink)} in MATCH_RECOGNIZE")  # the binder refuses it first


def _variable(e: exp.Expr) -> str | None:
    """The one variable whose rows ``e`` reads (None: every row of the match)."""
    tables = {c.table for c in e.find_all(exp.Column) if c.table}
    return next(iter(tables)) if tables else None


def match_name(spec: MatchSpec, node: Match) -> str:
    """Flink's node text for the operator (its variables and functions as written)."""
    order = [
        f"{spec.time_column} ASC",
        *(f"{k.column} {'ASC' if k.ascending else 'DESC'}" for k in spec.order),
    ]
    parts = [
        f"partitionBy=[{', '.join(spec.partition_keys)}]",
        f"orderBy=[{', '.join(order)}]",
        f"measures=[{', '.join(f'FINAL({e.sql(dialect=Flink)}) AS {name}' for name, e in node.measures)}]",
        "rowsPerMatch=[ONE ROW PER MATCH]",
        f"after=[{skip_text(spec.skip, spec.skip_var)}]",
        f"pattern=[{' '.join(e.text() for e in node.pattern)}]",
    ]
    if spec.within_ms is not None:
        parts.append(f"within=[{spec.within_ms}ms]")
    parts.append(f"define=[{', '.join(f'{var}=[{e.sql(dialect=Flink)}]' for var, e in node.defines)}]")
    return f"Match({', '.join(parts)})"
