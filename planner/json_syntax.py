"""Flink's SQL/JSON function syntax: parsing and printing ``JSON_VALUE``, ``JSON_QUERY``,
``JSON_EXISTS`` and ``JSON_ARRAY`` with their clauses (RETURNING, ON EMPTY, ON ERROR, array
wrappers, NULL ON NULL), which sqlglot's stock parsers read only in part. The functions
take the dialect's parser or generator as their first argument, as its methods would.

>>> from planner.parse import parse
>>> q = parse("SELECT JSON_VALUE(j, '$.a' RETURNING INT DEFAULT -1 ON ERROR) FROM t")[0].query
>>> call = q.expressions[0]
>>> call.text("error"), call.args["error_default"].sql(), call.args["returning"].sql()
('DEFAULT', '-1', 'INT')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.tokens import TokenType

from planner.expressions import JsonArray, JsonExists, JsonQuery, JsonValue


def _on(p: Any, values: tuple[str, ...], default: bool) -> tuple[str, str, exp.Expr | None] | None:
    """One ``<value> ON EMPTY|ERROR`` clause: (value, EMPTY or ERROR, DEFAULT's expression)."""
    for value in values:
        for on in ("EMPTY", "ERROR"):
            if p._match_text_seq(*value.split(), "ON", on):
                return value, on, None
    index = p._index
    if default and p._match(TokenType.DEFAULT):
        expr = p._parse_bitwise()
        for on in ("EMPTY", "ERROR"):
            if p._match_text_seq("ON", on):
                return "DEFAULT", on, expr
        p._retreat(index)
    return None


def _behaviours(p: Any, values: tuple[str, ...], default: bool) -> dict[str, Any]:
    args: dict[str, Any] = {}
    while (clause := _on(p, values, default)) is not None:
        value, on, expr = clause
        key = on.lower()
        args[key] = exp.Var(this=value)
        if expr is not None:
            args[f"{key}_default"] = expr
    return args


def parse_json_value(p: Any) -> exp.Expr:
    this = p._parse_bitwise()
    p._match(TokenType.COMMA)
    path = p._parse_bitwise()
    returning = p._parse_types() if p._match(TokenType.RETURNING) else None
    args = _behaviours(p, ("NULL", "ERROR"), default=True)
    return p.expression(JsonValue(this=this, path=path, returning=returning, **args))


def parse_json_query(p: Any) -> exp.Expr:
    this = p._parse_bitwise()
    p._match(TokenType.COMMA)
    path = p._parse_bitwise()
    returning = p._parse_types() if p._match(TokenType.RETURNING) else None
    wrapper = None
    if p._match_text_seq("WITHOUT"):
        p._match_text_seq("ARRAY")
        p._match_text_seq("WRAPPER")
        wrapper = "WITHOUT"
    elif p._match(TokenType.WITH):
        wrapper = "UNCONDITIONAL"
        if p._match_text_seq("CONDITIONAL"):
            wrapper = "CONDITIONAL"
        else:
            p._match_text_seq("UNCONDITIONAL")
        p._match_text_seq("ARRAY")
        p._match_text_seq("WRAPPER")
    args = _behaviours(p, ("EMPTY ARRAY", "EMPTY OBJECT", "NULL", "ERROR"), default=False)
    if wrapper is not None:
        args["wrapper"] = exp.Var(this=wrapper)
    return p.expression(JsonQuery(this=this, path=path, returning=returning, **args))


def parse_json_exists(p: Any) -> exp.Expr:
    this = p._parse_bitwise()
    p._match(TokenType.COMMA)
    path = p._parse_bitwise()
    args = _behaviours(p, ("TRUE", "FALSE", "UNKNOWN", "ERROR"), default=False)
    args.pop("empty", None)
    return p.expression(JsonExists(this=this, path=path, **args))


def parse_json_array(p: Any) -> exp.Expr:
    values = [] if p._curr and p._curr.token_type == TokenType.R_PAREN else p._parse_csv(p._parse_bitwise)
    null = None
    for handling in ("NULL", "ABSENT"):
        if p._match_text_seq(handling, "ON", "NULL"):
            null = exp.Var(this=handling)
    return p.expression(JsonArray(expressions=values, null=null))


def parse_json_arrayagg(p: Any) -> exp.Expr:
    """``JSON_ARRAYAGG(value [NULL | ABSENT ON NULL])`` (sqlglot's node prints it back)."""
    this = p._parse_bitwise()
    null = next((f"{h} ON NULL" for h in ("NULL", "ABSENT") if p._match_text_seq(h, "ON", "NULL")), None)
    return p.expression(exp.JSONArrayAgg(this=this, null_handling=null))


def _clauses(g: Any, e: exp.Expr) -> str:
    parts = []
    for key in ("empty", "error"):
        value = e.text(key)
        if value == "DEFAULT":
            parts.append(f" DEFAULT {g.sql(e, f'{key}_default')} ON {key.upper()}")
        elif value:
            parts.append(f" {value} ON {key.upper()}")
    return "".join(parts)


def json_value_sql(g: Any, e: exp.Expr) -> str:
    returning = f" RETURNING {g.sql(e, 'returning')}" if e.args.get("returning") else ""
    return f"JSON_VALUE({g.sql(e, 'this')}, {g.sql(e, 'path')}{returning}{_clauses(g, e)})"


def json_query_sql(g: Any, e: exp.Expr) -> str:
    wrapper = e.text("wrapper")
    text = {"WITHOUT": " WITHOUT ARRAY WRAPPER", "CONDITIONAL": " WITH CONDITIONAL ARRAY WRAPPER",
            "UNCONDITIONAL": " WITH UNCONDITIONAL ARRAY WRAPPER"}.get(wrapper, "")  # fmt: skip
    returning = f" RETURNING {g.sql(e, 'returning')}" if e.args.get("returning") else ""
    return f"JSON_QUERY({g.sql(e, 'this')}, {g.sql(e, 'path')}{returning}{text}{_clauses(g, e)})"


def json_exists_sql(g: Any, e: exp.Expr) -> str:
    return f"JSON_EXISTS({g.sql(e, 'this')}, {g.sql(e, 'path')}{_clauses(g, e)})"


def json_array_sql(g: Any, e: exp.Expr) -> str:
    null = f" {e.text('null')} ON NULL" if e.args.get("null") else ""
    return f"JSON_ARRAY({g.expressions(e, flat=True)}{null})"


PARSERS = {
    "JSON_VALUE": parse_json_value,
    "JSON_QUERY": parse_json_query,
    "JSON_EXISTS": parse_json_exists,
    "JSON_ARRAY": parse_json_array,
    "JSON_ARRAYAGG": parse_json_arrayagg,
}
TRANSFORMS: dict[type[exp.Expr], Callable[..., str]] = {
    JsonValue: json_value_sql,
    JsonQuery: json_query_sql,
    JsonExists: json_exists_sql,
    JsonArray: json_array_sql,
}
