"""DuckDB SQL for the plainest expressions, written as sqlglot's DuckDB generator writes
them, without loading that generator.

Loading it (the class body of ``sqlglot.generators.duckdb``) takes ~21 ms, more than
planning a simple job does, and ``sqlstream run`` of a short job pays it before its first
read. The expressions most jobs compute are plain: columns, literals, comparisons, AND,
OR, NOT, ``+ - *`` and a watermark's ``ts - INTERVAL '4' SECOND`` (Nexmark q0, q3, q8;
a GROUP BY or a window aggregate of columns). ``sql`` writes those, and says None for any
other node, which then goes to the generator as before. ``tests/unit/planner/
test_plain_duckdb.py`` compares the two on random trees of these nodes.
"""

from __future__ import annotations

from sqlglot import exp

_BINARY: dict[type[exp.Expr], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.And: "AND",
    exp.Or: "OR",
}
# Interval units the generator writes as they are (it rewrites WEEK and QUARTER).
_UNITS = frozenset({"SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "YEAR"})


def quote(name: str) -> str:
    """A column name as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql(node: exp.Expr) -> str | None:
    """``node.sql(dialect="duckdb")`` when ``node`` is made of plain nodes only, else None."""
    kind = type(node)
    op = _BINARY.get(kind)
    if op is not None:
        if _extra(node, "this", "expression"):
            return None
        left, right = sql(node.this), sql(node.expression)
        return None if left is None or right is None else f"{left} {op} {right}"
    if kind is exp.Column:
        name = node.this
        if _extra(node, "this") or type(name) is not exp.Identifier or not name.quoted:
            return None
        return quote(name.this)
    if kind is exp.Literal:
        if _extra(node, "this", "is_string") or not isinstance(node.this, str):
            return None
        if node.is_string:
            return "'" + node.this.replace("'", "''") + "'" if _printable(node.this) else None
        return node.this if node.this.isdigit() else None
    if kind is exp.Paren or kind is exp.Not:
        if _extra(node, "this"):
            return None
        inner = sql(node.this)
        return None if inner is None else f"({inner})" if kind is exp.Paren else f"NOT {inner}"
    if kind is exp.Interval:
        value, unit = node.this, node.args.get("unit")
        if _extra(node, "this", "unit") or type(value) is not exp.Literal or not value.is_string:
            return None
        if type(unit) is not exp.Var or unit.name not in _UNITS or not value.this.isdigit():
            return None
        return f"INTERVAL '{value.this}' {unit.name}"
    if kind is exp.Null:
        return None if _extra(node) else "NULL"
    if kind is exp.Boolean:
        return None if _extra(node, "this") else "TRUE" if node.this else "FALSE"
    return None


def _extra(node: exp.Expr, *known: str) -> bool:
    """Whether ``node`` has an argument besides ``known`` (a comment, a table name, a
    format): those are the generator's to write."""
    extra = (v for k, v in node.args.items() if k not in known)
    return bool(node.comments) or any(v is not None and v != [] for v in extra)


def _printable(text: str) -> bool:
    """A string the generator writes with only its quotes doubled: no backslash, no line
    break or other control character (it may escape those)."""
    return text.isprintable() and "\\" not in text
