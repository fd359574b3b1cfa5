"""Bound Flink expressions to DuckDB SQL, the language every operator computes in.

sqlglot does most of the translation (``expr.sql(dialect="duckdb")``); this module fixes
what differs in *meaning*, so that DuckDB computes what Flink would: integer division,
exact CASTs with Flink's type names, ``FLOOR(ts TO unit)``, Flink-only functions, and
quoting of column names (the runtime names the input relation ``input``).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from catalog.errors import did_you_mean
from planner.errors import PlanError, UnsupportedError
from planner.functions import FUNCTIONS
from planner.typecheck import Lookup, cast_target, function_name, infer

_UNITS = {"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}


def quote(name: str) -> str:
    """A column name as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def to_duckdb(node: exp.Expr, lookup: Lookup) -> str:
    """DuckDB SQL for a bound expression whose columns are fields of the input."""
    return _translate(node.copy(), lookup).sql(dialect="duckdb")


def _translate(node: exp.Expr, lookup: Lookup) -> exp.Expr:
    """Children first, then the node: a rewrite may build a new node around its children
    (``CAST(x AS INT) / 2`` becomes ``IntDiv``), and those children must be DuckDB's too.
    Types are decided on the Flink expression, before its children change."""
    integral_division = (
        isinstance(node, exp.Div)
        and infer(node.left, lookup).is_integral
        and infer(node.right, lookup).is_integral
    )
    instant_floor = (
        isinstance(node, exp.Floor | exp.Ceil)
        and node.args.get("to") is not None
        and infer(node.this, lookup).name == "TIMESTAMP_LTZ"
    )
    instant_days = (
        isinstance(node, exp.Add | exp.Sub)
        and isinstance(node.expression, exp.Interval)
        and infer(node.this, lookup).name == "TIMESTAMP_LTZ"
    )
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expr):
            node.set(key, _translate(value, lookup))
        elif isinstance(value, list):
            node.set(key, [_translate(v, lookup) if isinstance(v, exp.Expr) else v for v in value])
    if instant_days:
        node.set("expression", _days_as_seconds(node.expression))
    if instant_floor and isinstance(node, exp.Floor | exp.Ceil) and _unit(node.args["to"]) in _CLOCK_UNITS:
        return _floor_instant(node)
    return _rewrite(node, integral_division)


_CLOCK_UNITS = {
    "DAY": 86_400_000_000,
    "HOUR": 3_600_000_000,
    "MINUTE": 60_000_000,
    "SECOND": 1_000_000,
    "MILLISECOND": 1_000,
}


def _floor_instant(node: exp.Floor | exp.Ceil) -> exp.Expr:
    """FLOOR/CEIL of a TIMESTAMP_LTZ to a day or less, as Flink computes it: the local time
    on the instant's own UTC offset, floored, minus that same offset. So 01:30 PDT in the
    hour a DST change repeats floors to 01:00 PDT (DuckDB's date_trunc: 01:00 PST), and
    03:30 PDT on the day DST starts floors to 00:00 at -07:00 (Flink's answer, though that
    midnight was PST)."""
    step = _CLOCK_UNITS[_unit(node.args["to"])]
    x = "__instant"
    local = f"epoch_us({x}) + CAST(date_part('timezone', {x}) AS BIGINT) * 1000000"
    floor = f"{x} - to_microseconds(((({local}) % {step}) + {step}) % {step})"
    ceil = f"CASE WHEN {floor} = {x} THEN {x} ELSE {floor} + to_microseconds({step}) END"
    template = sqlglot.parse_one(floor if isinstance(node, exp.Floor) else ceil, read="duckdb")
    value = node.this
    return template.transform(lambda n: value.copy() if isinstance(n, exp.Column) and n.name == x else n)


def _days_as_seconds(interval: exp.Expr) -> exp.Expr:
    """``INTERVAL 'n' DAY`` as ``n * 86400`` seconds: Flink adds a day to a TIMESTAMP_LTZ as
    24 hours of time, where DuckDB would add a calendar day in the session's time zone
    (23 or 25 hours across a DST change)."""
    unit = interval.args.get("unit")
    value = interval.this
    if not (isinstance(unit, exp.Var) and unit.name.upper() == "DAY" and isinstance(value, exp.Literal)):
        return interval
    try:
        days = int(value.name)
    except ValueError:
        return interval
    return exp.Interval(this=exp.Literal.string(str(days * 86400)), unit=exp.var("SECOND"))


def _cast_type(cast: exp.Cast) -> exp.DataType:
    return exp.DataType.build(cast_target(cast).duckdb(), dialect="duckdb")


def _unit(node: exp.Expr | None) -> str:
    text = (node.name if node is not None else "").upper().rstrip("S")
    if text not in _UNITS:
        raise UnsupportedError(f"unknown time unit '{text}'")
    return text


def _rewrite(n: exp.Expr, integral_division: bool) -> exp.Expr:
    if isinstance(n, exp.Column):
        return exp.column(exp.to_identifier(n.name, quoted=True))
    if isinstance(n, exp.Cast):
        cls = exp.TryCast if isinstance(n, exp.TryCast) and n.args.get("safe", True) else exp.Cast
        target = _cast_type(n)
        source = n.this
        if isinstance(n, exp.TryCast) and _is_flink_strict_cast(n):
            cls = exp.Cast
        return cls(this=source, to=target)
    if isinstance(n, exp.Div):
        if integral_division:
            return exp.IntDiv(this=n.left, expression=n.right)
        return exp.Div(this=n.left, expression=n.right, typed=True, safe=False)
    if isinstance(n, exp.Floor | exp.Ceil) and n.args.get("to") is not None:
        unit = _unit(n.args["to"]).lower()
        trunc = exp.func("date_trunc", exp.Literal.string(unit), n.this)
        if isinstance(n, exp.Floor):
            return trunc
        return exp.Case(
            ifs=[exp.If(this=exp.EQ(this=trunc.copy(), expression=n.this.copy()), true=n.this.copy())],
            default=exp.Add(
                this=trunc.copy(),
                expression=exp.Interval(this=exp.Literal.number(1), unit=exp.var(unit.upper())),
            ),
        )
    if isinstance(n, exp.Anonymous):
        return _anonymous(n)
    if isinstance(n, exp.Dot) and isinstance(n.this, exp.Column | exp.Dot):
        return exp.func("struct_extract", n.this, exp.Literal.string(n.expression.name))
    return n


def _is_flink_strict_cast(n: exp.TryCast) -> bool:
    """Our dialect marks a plain CAST it read as strict (Flink's CAST fails on bad input)."""
    return bool(n.meta.get("strict"))


def _anonymous(n: exp.Anonymous) -> exp.Expr:
    name = function_name(n)
    args = n.expressions
    if name == "SPLIT_INDEX" and len(args) == 3:
        return exp.func(
            "list_extract",
            exp.func("string_split", args[0], args[1]),
            exp.Add(this=exp.paren(args[2], copy=False), expression=exp.Literal.number(1)),
        )
    if name in ("PROCTIME", "CURRENT_ROW_TIMESTAMP"):
        return exp.func("get_current_timestamp")
    if name == "HASH_CODE":
        return exp.func("hash", *args)
    if name == "CHAR_LENGTH" or name == "CHARACTER_LENGTH":
        return exp.func("length", *args)
    if name == "TO_TIMESTAMP_LTZ" and len(args) in (1, 2) and not args[0].is_string:
        # TO_TIMESTAMP_LTZ(epoch, precision): precision 3 counts milliseconds, 0 seconds.
        precision = int(args[1].name) if len(args) == 2 and args[1].is_int else 3
        if precision not in (0, 3):
            raise UnsupportedError("TO_TIMESTAMP_LTZ with a precision other than 0 or 3")
        epoch = exp.paren(args[0], copy=False)
        seconds = exp.Div(this=epoch, expression=exp.Literal.number(1000)) if precision == 3 else epoch
        return exp.func("to_timestamp", seconds)
    return n


def check_supported(node: exp.Expr) -> None:
    """Raise for a function we cannot run, at planning time rather than when a job fails."""
    for sub in node.walk():
        if not isinstance(sub, exp.Anonymous):
            continue
        name = function_name(sub)
        if name in _UNSUPPORTED:
            raise UnsupportedError(f"function {name} is not supported yet")
        if name not in FUNCTIONS:
            raise PlanError(
                f"no function named {name}",
                hint=did_you_mean(name, FUNCTIONS) or "SHOW FUNCTIONS lists the functions",
            )


_UNSUPPORTED = {"JSON_QUERY", "JSON_OBJECT", "JSON_ARRAY", "TO_TIMESTAMP_TZ"}
