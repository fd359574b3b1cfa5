"""Result types of expressions, by Flink's rules, so plans carry the types Flink would.

Works on bound sqlglot expressions (column names already resolved to input fields) and
only needs a lookup from column name to type. Unknown functions get STRING only where
we know nothing better; the binder refuses functions it cannot translate before this.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable

from sqlglot import exp

from catalog.types import BIGINT, BOOLEAN, DOUBLE, INT, STRING, TIMESTAMP3, DataType, parse_type
from planner.dateformat import parse_pattern
from planner.dialect import Flink
from planner.errors import PlanError, UnsupportedError, position
from planner.expressions import Collect, DateFormat, JsonArray, JsonQuery, JsonValue, Percentile
from planner.functions import (
    ARG,
    COMMON,
    ELEMENT,
    MAP_ENTRIES,
    MAP_FROM_ARRAYS,
    MAP_KEYS,
    MAP_VALUES,
    SCALARS,
    SQLGLOT_NAMES,
)
from planner.interval_literals import compound_interval
from planner.lenient_time import date_pattern
from planner.strings import printf_parts
from planner.udf import user_function

Lookup = Callable[[str], DataType]

_NUMERIC_RANK = {"TINYINT": 1, "SMALLINT": 2, "INT": 3, "BIGINT": 4, "DECIMAL": 5, "FLOAT": 6,
                 "DOUBLE": 7}  # fmt: skip


def _a(t: DataType) -> str:
    """A type's name in a message, with its article: 'an INT', 'a STRING'."""
    name = t.with_nullable(True).sql()
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def cast_target(node: exp.Cast) -> DataType:
    """The Flink type a CAST converts to (planner-made casts carry it in their meta)."""
    flink = node.meta.get("flink_type")
    if isinstance(flink, DataType):
        return flink
    return parse_type(node.to.sql(dialect=Flink))


def make_cast(e: exp.Expr, to: DataType) -> exp.Cast:
    """A CAST to a Flink type, as the planner inserts it (INSERT targets, UNION widening)."""
    cast = exp.Cast(this=e, to=exp.DataType.build("TEXT"))
    cast.meta["flink_type"] = to
    return cast


def function_name(node: exp.Expr) -> str:
    """Flink's name of a function call, whichever node sqlglot parsed it into."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper()
    if isinstance(node, exp.Func):
        name = node.sql_name().upper()
        return SQLGLOT_NAMES.get(name, name)
    return type(node).__name__.upper()


def wider(a: DataType, b: DataType) -> DataType:
    """The common type of two operands (Flink's implicit widening for numbers); ``a`` when
    they have none (callers that must refuse that use ``common_type``)."""
    return common_type(a, b) or a


_BINARY = ("BYTES", "BINARY", "VARBINARY")


def common_type(a: DataType, b: DataType) -> DataType | None:
    """The type both ``a`` and ``b`` widen to where values meet (VALUES rows, UNION inputs,
    CASE branches, COALESCE), as Flink's LogicalTypeMerging finds it: numbers to the wider
    number, strings to STRING, bytes to BYTES, timestamps and times to the finer precision,
    arrays, maps and rows element by element; None when Flink finds none (a string beside
    a number, a DATE beside a TIMESTAMP)."""
    if a.name == "NULL":
        return b
    if b.name == "NULL":
        return a
    nullable = a.nullable or b.nullable
    if a.is_numeric and b.is_numeric:
        da, db = as_decimal(a), as_decimal(b)
        if "DECIMAL" in (a.name, b.name) and da is not None and db is not None:
            digits = min(38, max(da[0] - da[1], db[0] - db[1]))  # whole digits win over scale
            scale = min(max(da[1], db[1]), 38 - digits)
            return DataType("DECIMAL", digits + scale, scale, nullable)
        if a.name == "FLOAT" and b.name == "DECIMAL":  # in this order only (DECIMAL, FLOAT) is FLOAT
            return DOUBLE.with_nullable(nullable)
        top = a if _NUMERIC_RANK[a.name] >= _NUMERIC_RANK[b.name] else b
        return top.with_nullable(nullable)
    if a.is_string and b.is_string:
        return STRING.with_nullable(nullable)
    if a.name in _BINARY and b.name in _BINARY:
        return (
            a.with_nullable(nullable)
            if a == b.with_nullable(a.nullable)
            else DataType("BYTES", nullable=nullable)
        )
    if (a.is_timestamp and b.is_timestamp) or a.name == b.name == "TIME":
        # the finer precision: a TIMESTAMP(3) beside a TIMESTAMP(0) (VALUES rows, CASE
        # branches, join keys) must not lose its milliseconds
        kind = a.name if a.name == "TIMESTAMP_LTZ" else b.name
        return DataType(kind, max(a.precision or 0, b.precision or 0), nullable=nullable)
    if a.name != b.name or len(a.children) != len(b.children):
        return None
    if not a.children:  # DATE, BOOLEAN, an INTERVAL of one kind
        return a.with_nullable(nullable)
    children = [common_type(x, y) for x, y in zip(a.children, b.children)]
    if any(c is None for c in children):
        return None
    return DataType(a.name, a.precision, a.scale, nullable, tuple(c for c in children if c), a.field_names)


_INTEGRAL_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INT": 10, "BIGINT": 19}
_MAX_PRECISION = 38
_MIN_ADJUSTED_SCALE = 6


def as_decimal(t: DataType) -> tuple[int, int] | None:
    """(precision, scale) of a DECIMAL, or of the DECIMAL an integral type widens to."""
    if t.name == "DECIMAL":
        return t.precision or 10, t.scale or 0
    if t.name in _INTEGRAL_DIGITS:
        return _INTEGRAL_DIGITS[t.name], 0
    return None


def _adjust_decimal(precision: int, scale: int) -> DataType:
    """Flink's LogicalTypeMerging.adjustPrecisionScale: past 38 digits, integer digits win
    over fraction digits, but at least 6 fraction digits (or all, if fewer) are kept."""
    if precision <= _MAX_PRECISION:
        return DataType("DECIMAL", max(1, precision), scale)
    digits = precision - scale
    return DataType("DECIMAL", _MAX_PRECISION, max(_MAX_PRECISION - digits, min(scale, _MIN_ADJUSTED_SCALE)))


def _approximate(left: DataType, right: DataType) -> DataType | None:
    """A FLOAT and a DECIMAL in + - * / are a DOUBLE. A FLOAT with a DOUBLE on its right
    is a FLOAT in Flink 2.3, the DOUBLE cast
    to it (the oracle's ``r + f``); with the DOUBLE on the left it is a DOUBLE (Calcite's
    least restrictive of two approximate types keeps the first: ``edges: CAST(0.1 AS
    DOUBLE) + CAST(1.5 AS FLOAT)``)."""
    if left.name == "FLOAT" and right.name == "DOUBLE":
        return DataType("FLOAT", nullable=left.nullable or right.nullable)
    if {left.name, right.name} == {"FLOAT", "DECIMAL"}:  # Calcite: DOUBLE, whatever the order
        return DOUBLE.with_nullable(left.nullable or right.nullable)
    return None


def decimal_arithmetic(node: exp.Expr, left: DataType, right: DataType) -> DataType | None:
    """The DECIMAL type Flink gives ``left <op> right`` (LogicalTypeMerging.find*DecimalType),
    or None when the operation is not exact decimal arithmetic (a DOUBLE side, no DECIMAL)."""
    if "DECIMAL" not in (left.name, right.name):
        return None
    a, b = as_decimal(left), as_decimal(right)
    if a is None or b is None:
        return None
    (p1, s1), (p2, s2) = a, b
    if isinstance(node, exp.Add | exp.Sub):
        scale = max(s1, s2)
        result = _adjust_decimal(max(p1 - s1, p2 - s2) + scale + 1, scale)
    elif isinstance(node, exp.Mul):
        result = _adjust_decimal(p1 + p2 + 1, s1 + s2)
    elif isinstance(node, exp.Div | exp.IntDiv):
        scale = max(_MIN_ADJUSTED_SCALE, s1 + p2 + 1)
        result = _adjust_decimal(p1 - s1 + s2 + scale, scale)
    elif isinstance(node, exp.Mod):
        scale = max(s1, s2)
        result = _adjust_decimal(min(p1 - s1, p2 - s2) + scale, scale)
    else:
        return None
    return result.with_nullable(left.nullable or right.nullable)


def infer(node: exp.Expr, lookup: Lookup) -> DataType:
    """The Flink type of a bound expression."""
    return _infer(node, lookup)


def _infer(node: exp.Expr, lookup: Lookup) -> DataType:
    if isinstance(node, exp.Alias | exp.Paren):
        return _infer(node.this, lookup)
    if isinstance(node, exp.Column):
        return lookup(node.name)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return STRING.with_nullable(False)
        text = node.this
        if any(c in text for c in ".eE"):
            if "e" in text.lower():
                return DOUBLE.with_nullable(False)
            digits = text.replace("-", "").split(".")
            return DataType("DECIMAL", len(digits[0]) + len(digits[1]), len(digits[1]), False)
        value = int(text)
        return (INT if -(2**31) <= value < 2**31 else BIGINT).with_nullable(False)
    if isinstance(node, exp.HexString):  # X'01ff': Flink's BINARY(2), bytes
        return DataType("BYTES", nullable=False)
    if isinstance(node, exp.Boolean):
        return BOOLEAN.with_nullable(False)
    if isinstance(node, exp.Null):
        return DataType("NULL")
    if isinstance(node, exp.Cast):
        return cast_target(node).with_nullable(True)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.JSON):
        return BOOLEAN.with_nullable(False)  # FALSE for NULL
    if isinstance(node, exp.Predicate | exp.Not | exp.Connector | exp.Xor):
        return BOOLEAN
    if isinstance(node, exp.Neg):
        folded = _negated_integer(node)
        if folded is not None and -(2**31) <= folded < 2**31:
            # Calcite folds a minus into the literal it stands before, through parentheses:
            # -2147483648 is an INT, -(-2147483648) the BIGINT 2147483648
            return INT.with_nullable(False)
        if folded is not None and -(2**63) <= folded < 2**63:
            return BIGINT.with_nullable(False)
        return _infer(node.this, lookup)
    if isinstance(node, exp.Add | exp.Sub):
        left, right = _infer(node.left, lookup), _infer(node.right, lookup)
        if left.is_timestamp or left.name == "DATE":
            return left
        if right.is_timestamp:
            return right
        return decimal_arithmetic(node, left, right) or _approximate(left, right) or wider(left, right)
    if isinstance(node, exp.Mul | exp.Mod | exp.IntDiv | exp.Div):
        left, right = _infer(node.left, lookup), _infer(node.right, lookup)
        if isinstance(node, exp.Mod) and left.is_integral and right.is_integral:
            return right.with_nullable(left.nullable or right.nullable)  # Calcite: ARG1
        return decimal_arithmetic(node, left, right) or _approximate(left, right) or wider(left, right)
    if isinstance(node, exp.DPipe | exp.Concat | exp.ConcatWs):
        return STRING
    if isinstance(node, exp.Interval):
        return DataType("BIGINT")
    if isinstance(node, exp.Case):
        branches = [_infer(i.args["true"], lookup) for i in node.args.get("ifs", [])]
        if node.args.get("default") is not None:
            branches.append(_infer(node.args["default"], lookup))
        return _least_restrictive(branches)
    if isinstance(node, exp.If):
        parts = [_infer(node.args["true"], lookup)]
        if node.args.get("false") is not None:
            parts.append(_infer(node.args["false"], lookup))
        return _least_restrictive(parts)  # as CASE's: IF is one
    if isinstance(node, exp.Coalesce):
        return _common([_infer(e, lookup) for e in [node.this, *node.expressions]])
    if isinstance(node, exp.Dot):
        base = _infer(node.this, lookup)
        return base.field(node.expression.name) or STRING
    if isinstance(node, exp.Bracket):
        base = _infer(node.this, lookup)
        if base.name == "ARRAY":
            return base.children[0]
        if base.name == "MAP":
            return base.children[1]
        return STRING
    if isinstance(node, exp.Array) and node.expressions:  # ARRAY[a, b]: the common type
        element = _common([_infer(a, lookup) for a in node.expressions])
        return DataType("ARRAY", children=(element.with_nullable(True),), nullable=False)
    if isinstance(node, exp.Anonymous) and function_name(node) == "ROW":  # ROW(a, b): EXPR$0, ...
        fields = tuple(_infer(a, lookup).with_nullable(True) for a in node.expressions)
        names = tuple(f"EXPR${i}" for i in range(len(fields)))
        return DataType("ROW", children=fields, field_names=names, nullable=False)
    if isinstance(node, exp.VarMap):  # MAP[k1, v1, ...]: common key and value types
        keys = _common([_infer(k, lookup) for k in node.args["keys"].expressions])
        values = _common([_infer(v, lookup) for v in node.args["values"].expressions])
        return DataType("MAP", children=(keys, values.with_nullable(True)), nullable=False)
    # ---- aggregates ------------------------------------------------------------------
    if isinstance(node, exp.Filter):
        return _infer(node.this, lookup)
    if isinstance(node, exp.Count | exp.Grouping | exp.GroupingId):
        return BIGINT.with_nullable(False)
    if isinstance(node, exp.Sum):
        arg = _infer(_agg_arg(node), lookup)
        if arg.name == "DECIMAL":
            return DataType("DECIMAL", 38, arg.scale)
        return arg.with_nullable(True)
    if isinstance(node, exp.Avg | _VARIANCES):
        # Flink reduces the variances to SUM/COUNT arithmetic typed as AVG is typed
        arg = _infer(_agg_arg(node), lookup)
        if arg.name == "DECIMAL":  # Flink's findAvgAggType: a division by DECIMAL(20, 0)
            return _adjust_decimal(38 + 21, (arg.scale or 0) + 21)
        return arg.with_nullable(True)
    if isinstance(node, exp.Min | exp.Max | exp.FirstValue | exp.LastValue):
        return _infer(_agg_arg(node), lookup).with_nullable(True)
    if isinstance(node, exp.GroupConcat):
        return STRING
    if isinstance(node, Percentile):  # a DOUBLE, or one per percentage of an ARRAY
        if isinstance(node.args["percentage"], exp.Array):
            return DataType("ARRAY", children=(DOUBLE,), nullable=True)
        return DOUBLE.with_nullable(True)
    if isinstance(node, exp.ArrayAgg):  # NULL for a group without a value
        return DataType("ARRAY", children=(_infer(_agg_arg(node), lookup),), nullable=True)
    if isinstance(node, Collect):  # never NULL: an empty multiset for a group of NULLs
        element = _infer(_agg_arg(node), lookup).with_nullable(True)
        return DataType("MULTISET", children=(element,), nullable=False)
    if isinstance(node, exp.Greatest | exp.Least):
        return _common([_infer(a, lookup) for a in [node.this, *node.expressions]])
    # ---- scalar functions ------------------------------------------------------------
    if isinstance(node, exp.Floor | exp.Ceil | exp.Round | exp.Trunc):
        arg = _infer(node.this, lookup)
        if arg.name == "DECIMAL" and node.args.get("to") is None:
            return _rounded_decimal(node, arg)
        return arg
    called = user_function(node)
    if called is not None:
        return called.result_type.with_nullable(True)
    if isinstance(node, exp.TimestampAdd):
        return _timestampadd(node, _infer(node.this, lookup))
    if isinstance(node, JsonQuery) and node.args.get("returning") is not None:
        return _json_query_type(node)
    if isinstance(node, JsonValue) and node.args.get("returning") is not None:
        returning = exp.Cast(this=node.this.copy(), to=node.args["returning"].copy())
        return cast_target(returning).with_nullable(True)
    rule = SCALARS.get(function_name(node))
    if isinstance(rule, DataType):
        return rule
    args = [a for a in [node.this, *node.expressions] if isinstance(a, exp.Expr)]
    if isinstance(node, exp.Map):  # MAP_FROM_ARRAYS(keys, values)
        args = [node.args["keys"], node.args["values"]]
    if rule == ARG and args:
        return _infer(args[0], lookup)
    if rule == COMMON and args:
        return _common([_infer(a, lookup) for a in args])
    if rule == ELEMENT and args:
        base = _infer(args[0], lookup)
        return base.children[0].with_nullable(True) if base.children else STRING
    if rule in _MAP_RULES and args:
        return _collection(str(rule), [_infer(a, lookup) for a in args])
    return STRING


_MAP_RULES = (MAP_KEYS, MAP_VALUES, MAP_ENTRIES, MAP_FROM_ARRAYS)


def _negated_integer(node: exp.Expr) -> int | None:
    """The value of minus signs and parentheses around an integer literal (``-(-5)`` is 5),
    which Calcite's parser folds into one literal; None for anything else."""
    sign = 1
    while isinstance(node, exp.Neg | exp.Paren):
        if isinstance(node, exp.Neg):
            sign = -sign
        node = node.this
    if isinstance(node, exp.Literal) and node.is_int:
        return sign * int(node.name)
    return None


def _collection(rule: str, args: list[DataType]) -> DataType:
    """The types of MAP_KEYS, MAP_VALUES, MAP_ENTRIES (of a map) and MAP_FROM_ARRAYS."""
    first = args[0]
    if len(first.children) < (1 if rule == MAP_FROM_ARRAYS else 2):
        return STRING  # not a map (or array): the binder's checks refuse it
    if rule == MAP_FROM_ARRAYS:
        values = args[1].children[0] if len(args) > 1 and args[1].children else STRING
        return DataType("MAP", children=(first.children[0], values), nullable=first.nullable)
    key, value = first.children
    if rule == MAP_ENTRIES:
        element = DataType("ROW", children=(key, value), field_names=("key", "value"))
    else:
        element = key if rule == MAP_KEYS else value
    return DataType("ARRAY", children=(element,), nullable=first.nullable)


_DATE_UNITS = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")


def _timestampadd(node: exp.TimestampAdd, arg: DataType) -> DataType:
    """Calcite's TIMESTAMPADD: the type of its timestamp argument; a DATE stays a DATE for
    whole days and longer, and becomes a TIMESTAMP(6) for a clock unit."""
    if arg.name != "DATE":
        return arg if arg.is_timestamp else TIMESTAMP3
    unit = node.args.get("unit")
    if unit is not None and unit.name.upper().rstrip("S") in _DATE_UNITS:
        return arg
    return DataType("TIMESTAMP", 6, nullable=arg.nullable)


def check_comparisons(node: exp.Expr, lookup: Lookup) -> None:
    """Refuse the comparisons Flink's validator refuses, which DuckDB would instead try to
    run by casting each row's text (and fail on the first row that is no number or date):
    a string with a number, and a DATE with a TIMESTAMP."""
    for sub in node.walk():
        if not isinstance(sub, exp.EQ | exp.NEQ | exp.LT | exp.LTE | exp.GT | exp.GTE):
            continue
        left, right = _infer(sub.left, lookup), _infer(sub.right, lookup)
        names = {left.name, right.name}
        string_number = (left.is_string and right.is_numeric) or (left.is_numeric and right.is_string)
        ordered = not isinstance(sub, exp.EQ | exp.NEQ)  # = and <> of text with a BOOLEAN: codegen
        string_boolean = ordered and "BOOLEAN" in names and (left.is_string or right.is_string)
        # a number beside a BOOLEAN (1 = TRUE) or a date-time (DATE '2024-02-29' = 20240229)
        number_other = (left.is_numeric or right.is_numeric) and bool(names & _NOT_NUMBERS)
        if string_number or string_boolean or number_other or names == {"DATE", "TIMESTAMP"}:
            a, b = left.with_nullable(True).sql(), right.with_nullable(True).sql()
            raise PlanError(
                f"cannot compare {a} with {b}: implicit type conversion between them is not supported",
                hint=f"CAST one side to the other's type, e.g. CAST(... AS {b})",
            )


_NOT_NUMBERS = frozenset({"BOOLEAN", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ"})


def _check_arithmetic(node: exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod, lookup: Lookup) -> None:
    """Flink's validator takes ``+ - * / %`` of numbers, of intervals, and of a date-time
    with an interval: a string (``1 + '1'``, which DuckDB fails on at run time) or a bare
    number beside a date-time (``DATE '2024-02-29' + 1``, a day later in DuckDB) is refused."""
    if node.find(exp.Interval) is not None:
        return  # intervals are typed BIGINT here: TIMESTAMPADD's arithmetic, not a number
    left, right = _infer(node.left, lookup), _infer(node.right, lookup)
    numbers = left.is_numeric or right.is_numeric
    if (numbers and (left.is_string or right.is_string)) or (
        numbers and {left.name, right.name} & _NOT_NUMBERS
    ):
        symbol = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
        a, b = left.with_nullable(True).sql(), right.with_nullable(True).sql()
        raise PlanError(
            f"cannot apply '{symbol}' to {a} and {b}: it takes two numbers, or a date-time and an interval",
            hint="CAST the operand to a number, or write an INTERVAL",
        )


#: Flink's string functions whose arguments (these of each) its validator takes only as
#: CHARACTER ("Supported form(s): 'UPPER(<CHARACTER>)'"); DuckDB fails the job on another
#: type when its first batch comes, so they are refused when planned.
_TEXT_ARGUMENTS: dict[type[exp.Expr], tuple[str, ...]] = {
    exp.Upper: ("this",),
    exp.Lower: ("this",),
    exp.Initcap: ("this",),
    exp.Length: ("this",),
    exp.Reverse: ("this",),
    exp.Repeat: ("this",),
    exp.Trim: ("this", "expression"),
    exp.Pad: ("this", "fill_pattern"),
    exp.Replace: ("this", "expression", "replacement"),
    exp.Substring: ("this",),
}


def _check_text_arguments(node: exp.Expr, lookup: Lookup) -> None:
    for arg in _TEXT_ARGUMENTS[type(node)]:
        value = node.args.get(arg)
        if not isinstance(value, exp.Expr):
            continue
        t = _infer(value, lookup)
        binary = isinstance(node, exp.Substring) and t.name in ("BYTES", "BINARY", "VARBINARY")
        if not (t.is_string or t.name == "NULL" or binary):
            raise PlanError(
                f"{_text_function_name(node)} takes a STRING, not {_a(t)}",
                hint="CAST the value AS STRING first",
            )


def _text_function_name(node: exp.Expr) -> str:
    """The name the statement called ``node`` by (sqlglot reads RPAD as a Pad, LTRIM as a Trim)."""
    if isinstance(node, exp.Pad):
        return "LPAD" if node.args.get("is_left") else "RPAD"
    if isinstance(node, exp.Trim) and node.args.get("expression") is None:
        return {"LEADING": "LTRIM", "TRAILING": "RTRIM"}.get(
            str(node.args.get("position") or "").upper(), "TRIM"
        )
    return function_name(node)


def _check_string_arguments(node: exp.Concat | exp.Greatest | exp.Least, lookup: Lookup) -> None:
    """CONCAT takes strings (or bytes) only, and GREATEST/LEAST values Flink can order
    against each other: Flink's validator refuses CONCAT('a', 1) and GREATEST(1, '5'), which
    DuckDB would run by casting."""
    types = [_infer(a, lookup) for a in [node.this, *node.expressions] if isinstance(a, exp.Expr)]
    if isinstance(node, exp.Concat):
        for t in types:
            if not (t.is_string or t.name in ("NULL", *_BINARY)):
                raise PlanError(
                    f"CONCAT takes strings, not {_a(t)}",
                    hint="CAST the argument AS STRING",
                )
        return
    if any(t.is_string for t in types) and any(t.is_numeric for t in types):
        name = function_name(node)
        raise PlanError(
            f"{name} cannot compare a number with a string: "
            + ", ".join(t.with_nullable(True).sql() for t in types),
            hint="CAST the values to one type",
        )


def check_operands(node: exp.Expr, lookup: Lookup) -> None:
    """Refuse the operand types Flink's validator refuses where DuckDB would run anyway:
    ``||`` of a non-string, DATE_FORMAT of a DATE, UNIX_TIMESTAMP of a non-string, a
    TIMESTAMP cast to a number, and CASE
    or COALESCE branches with no common type (a DATE branch would cut a TIMESTAMP's time)."""
    for sub in node.walk():
        if isinstance(sub, exp.Case | exp.If | exp.Coalesce):
            _check_branches(sub, lookup)
        if isinstance(sub, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
            _check_arithmetic(sub, lookup)
        if isinstance(sub, exp.Concat | exp.Greatest | exp.Least):
            _check_string_arguments(sub, lookup)
        if type(sub) in _TEXT_ARGUMENTS:
            _check_text_arguments(sub, lookup)
        if isinstance(sub, exp.Neg) and isinstance(sub.this.unnest(), exp.Neg):
            folded = _negated_integer(sub)  # a BIGINT literal negated out of its range
            if folded is not None and not -(2**63) <= folded < 2**63:
                raise PlanError(
                    f"numeric literal {folded} is out of range: minus signs fold into the "
                    "BIGINT literal they stand before",
                    hint="write the value as a DECIMAL, e.g. CAST(... AS DECIMAL(19, 0))",
                )
        if isinstance(sub, exp.DPipe):
            for side in (sub.left, sub.right):
                t = _infer(side, lookup)
                if not (t.is_string or t.name in ("NULL", "BYTES", "BINARY", "VARBINARY")):
                    raise PlanError(
                        f"cannot apply '||' to {t.with_nullable(True).sql()}: it concatenates strings",
                        hint="CAST the operand AS STRING",
                    )
        elif isinstance(sub, DateFormat):
            if _infer(sub.this, lookup).name == "DATE":
                raise PlanError(
                    "DATE_FORMAT takes a TIMESTAMP or a STRING, not a DATE",
                    hint="CAST the date AS TIMESTAMP(3)",
                )
            pattern = sub.args.get("format")
            if pattern is not None and pattern.is_string:
                parse_pattern(pattern.name)  # refuses a letter we cannot format as Flink does
        elif (
            isinstance(sub, exp.StrToUnix)
            and sub.this is not None
            and not isinstance(sub.this, exp.CurrentTimestamp)
        ):
            t = _infer(sub.this, lookup)
            if not (t.is_string or t.name == "NULL"):
                raise PlanError(
                    f"UNIX_TIMESTAMP reads a STRING, not {_a(t)}",
                    hint="CAST the value AS STRING first",
                )
        elif isinstance(sub, exp.Cast) and cast_target(sub).name == "DECIMAL":
            _check_constant_fits(sub)
        elif (
            isinstance(sub, exp.Array)
            and sub.expressions
            and all(isinstance(x, exp.Null) for x in sub.expressions)
        ):
            raise PlanError(
                "ARRAY[...] cannot take only untyped NULLs: its elements must have a type",
                hint="write CAST(NULL AS <type>)",
            )
        elif isinstance(sub, exp.Cast) and cast_target(sub).name == "FLOAT":
            _check_finite_float(sub)
        elif isinstance(sub, exp.Mod):
            for side in (sub.left, sub.right):
                t = _infer(side, lookup)
                if t.name in ("DOUBLE", "FLOAT"):
                    raise PlanError(
                        f"cannot apply MOD to {t.with_nullable(True).sql()}: it takes exact "
                        "numbers (integers and DECIMALs)",
                        hint="CAST the operand AS DECIMAL(p, s)",
                    )
        elif isinstance(sub, exp.VarMap) and any(
            isinstance(x, exp.Null) for x in [*sub.args["keys"].expressions, *sub.args["values"].expressions]
        ):
            raise PlanError(
                "MAP[...] cannot take an untyped NULL: its keys and values must have one type each",
                hint="write CAST(NULL AS <type>)",
            )
        elif isinstance(sub, exp.Greatest | exp.Least | exp.If) and _untyped_null(sub):
            # Flink's validator refuses IF's (Illegal use of 'NULL'), its code generator
            # GREATEST's and LEAST's (Unsupported casting from NULL)
            name = "IF" if isinstance(sub, exp.If) else function_name(sub)
            raise PlanError(
                f"{name} cannot take an untyped NULL: its values must have one type",
                hint="write CAST(NULL AS <type>)",
            )
        elif isinstance(sub, exp.ArrayContains | exp.ArrayPosition | exp.ArrayRemove | _ADDS):
            _check_needle(sub, lookup)
        elif isinstance(sub, exp.Hex):
            t = _infer(sub.this, lookup)
            if not (t.is_integral or t.is_string or t.name == "NULL"):
                raise PlanError(
                    f"HEX takes an integer or a string, not {_a(t)}",
                    hint="CAST the value AS BIGINT or AS STRING",
                )
        elif isinstance(sub, exp.Elt):
            _check_elt_index(sub, lookup)
        elif isinstance(sub, JsonArray | exp.JSONObject) or (
            isinstance(sub, exp.Anonymous) and function_name(sub) == "JSON_STRING"
        ):
            _check_json_values(sub, lookup)
        elif isinstance(sub, exp.ArrayMax | exp.ArrayMin):
            array = _infer(sub.this, lookup)
            if array.name == "ARRAY" and array.children[0].name == "BOOLEAN":
                raise PlanError(
                    f"{function_name(sub)} cannot order an {array.with_nullable(True).sql()}: "
                    "Flink orders no BOOLEAN values",
                    hint="ARRAY_CONTAINS(a, TRUE) tells whether one is TRUE",
                )
        elif isinstance(sub, exp.Bracket) and _infer(sub.this, lookup).name == "ARRAY":
            index = array_index(sub)
            if index.is_int and index.to_py() < 1:
                raise PlanError(
                    f"an array's elements are numbered from 1: [{index.to_py()}] is none of them",
                    hint="a[1] is the first element, a[CARDINALITY(a)] the last",
                )
        elif isinstance(sub, exp.Anonymous) and function_name(sub) == "PRINTF" and sub.expressions:
            fmt, *args = sub.expressions
            if not fmt.is_string:
                raise UnsupportedError("PRINTF with a format that is not a constant")
            printf_parts(fmt.name, [_infer(a, lookup) for a in args])  # what Formatter fails on
        elif isinstance(sub, exp.TsOrDsToDate) and sub.args.get("format") is not None:
            fmt = sub.args["format"]
            if not fmt.is_string:
                raise UnsupportedError("TO_DATE with a format that is not a constant")
            date_pattern(fmt.name)
        elif isinstance(sub, exp.Interval) and isinstance(sub.args.get("unit"), exp.IntervalSpan):
            span = sub.args["unit"]
            compound_interval(sub.this.name, span.this.name, span.expression.name)
        if (
            isinstance(sub, exp.Cast)
            and cast_target(sub).is_numeric
            and _infer(sub.this, lookup).name == "TIMESTAMP"
        ):
            raise PlanError(
                "a TIMESTAMP cannot be CAST to a number",
                hint="use UNIX_TIMESTAMP(CAST(ts AS STRING)) for its epoch seconds",
            )


def _json_query_type(node: JsonQuery) -> DataType:
    """JSON_QUERY's RETURNING type: STRING (the default) or ARRAY<STRING>, as Flink's."""
    returning = cast_target(exp.Cast(this=node.this.copy(), to=node.args["returning"].copy()))
    if returning.is_string:
        return STRING
    if returning.name != "ARRAY" or not returning.children[0].is_string:
        raise PlanError(
            f"JSON_QUERY returns a STRING or an ARRAY<STRING>, not {returning.with_nullable(True).sql()}",
            hint="RETURNING ARRAY<STRING>, then CAST the elements",
        )
    if "EMPTY OBJECT" in (node.text("empty"), node.text("error")):
        raise PlanError(
            "JSON_QUERY ... RETURNING ARRAY<STRING> cannot answer EMPTY OBJECT",
            hint="write EMPTY ARRAY ON EMPTY (or ON ERROR)",
        )
    return DataType("ARRAY", children=(STRING,))


def _check_elt_index(node: exp.Elt, lookup: Lookup) -> None:
    """ELT's index: Flink's validator refuses a negative constant, and its job fails on a
    BIGINT, SMALLINT or TINYINT one (EltFunction casts the index to an Integer)."""
    index = node.this
    if isinstance(index, exp.Neg) and isinstance(index.this, exp.Literal) and not index.this.is_string:
        raise PlanError(f"ELT's index must be 1 or more, not -{index.this.name}")
    t = _infer(index, lookup)
    if t.is_integral and t.name != "INT":
        raise PlanError(
            f"ELT's index must be an INT, not {_a(t)} (Flink's job fails on its first row)",
            hint="CAST the index AS INT",
        )


def array_index(bracket: exp.Bracket) -> exp.Expr:
    """The index of ``a[i]`` as written, counting from 1: sqlglot keeps a constant index
    counting from 0 (and -1 for ``a[0]``), any other as it is."""
    index = bracket.expressions[0]
    constant = index.this if isinstance(index, exp.Neg) else index
    if bracket.args.get("offset") or not constant.is_int:
        return index
    return exp.Literal.number((-1 if constant is not index else 1) * int(constant.name) + 1)


def _check_json_values(node: exp.Expr, lookup: Lookup) -> None:
    """Flink writes no DATE or TIME as JSON: JSON_OBJECT and JSON_ARRAY refuse one anywhere
    in a value (JsonGenerateUtils.createNodeTerm), JSON_STRING refuses one as its argument."""
    if isinstance(node, exp.JSONObject):
        values = [pair.expression for pair in node.expressions]
    else:
        values = list(node.expressions)

    def dated(t: DataType) -> bool:
        return t.name in ("DATE", "TIME") or any(dated(c) for c in t.children)

    for value in values:
        t = _infer(value, lookup)
        if t.name in ("DATE", "TIME") or (not isinstance(node, exp.Anonymous) and dated(t)):
            name = "JSON_OBJECT" if isinstance(node, exp.JSONObject) else function_name(node)
            refusal = PlanError(
                f"{name} cannot write a {t.with_nullable(True).sql()} as JSON",
                hint="CAST it AS STRING first",
            )
            raise refusal.with_position(*position(value))


_ADDS = exp.ArrayAppend | exp.ArrayPrepend


def _untyped_null(node: exp.Expr) -> bool:
    """A bare NULL among IF's values (not a CASE's branch, which sqlglot also keeps as an
    If node) or GREATEST's and LEAST's arguments."""
    if isinstance(node, exp.If):
        if isinstance(node.parent, exp.Case):
            return False
        values = [node.args.get("true"), node.args.get("false")]
    else:
        values = [node.this, *node.expressions]
    return any(isinstance(v, exp.Null) for v in values)


def _check_needle(node: exp.Expr, lookup: Lookup) -> None:
    """The element looked for (or added) must convert implicitly to the array's element
    type (Flink's ArrayElementArgumentTypeStrategy): an INT array is not searched for a
    BIGINT, nor is one appended to it."""
    array, needle = _infer(node.this, lookup), _infer(node.expression, lookup)
    if array.name != "ARRAY" or needle.name == "NULL":
        return
    element = array.children[0]
    if element.is_numeric and needle.is_numeric:
        fits = _NUMERIC_RANK[needle.name] <= _NUMERIC_RANK[element.name] and needle.name != "DECIMAL"
        fits = fits or (needle.name == element.name == "DECIMAL")
    else:
        fits = (element.is_string and needle.is_string) or element.name == needle.name
    if not fits:
        name = function_name(node)
        verb = "add" if isinstance(node, _ADDS) else "look for"
        where = "to" if isinstance(node, _ADDS) else "in"
        raise PlanError(
            f"{name} cannot {verb} a {needle.with_nullable(True).sql()} {where} an "
            f"{array.with_nullable(True).sql()}",
            hint=f"CAST the element AS {element.with_nullable(True).sql()}",
        )


_VARIANCES = exp.Stddev | exp.StddevPop | exp.StddevSamp | exp.Variance | exp.VariancePop


def _check_constant_fits(cast: exp.Cast) -> None:
    """A constant CAST to a DECIMAL too narrow for it: Flink's job fails on its first row
    (the cast's NULL reaches a NOT NULL column), so it is refused here, before it runs. An
    integer literal first CAST to an integer type that holds it is the same constant."""
    value = cast.this
    while isinstance(value, exp.Cast) and cast_target(value).is_integral and _fits_integral(value):
        value = value.this
    negative = isinstance(value, exp.Neg)
    literal = value.this if negative else value
    if isinstance(cast, exp.TryCast) and not cast.meta.get("strict"):
        return  # TRY_CAST's NULL is the answer the user asked for
    if not isinstance(literal, exp.Literal) or literal.is_string:
        return
    target = cast_target(cast)
    p, s = target.precision or 10, target.scale or 0
    try:
        number = decimal.Decimal(literal.name)
    except decimal.InvalidOperation:
        return
    with decimal.localcontext() as context:  # 1e38 has more digits than the default 28; a
        context.prec = 400  # DOUBLE's at most 309, and a DECIMAL's scale 38 more
        rounded = number.quantize(decimal.Decimal(1).scaleb(-s), rounding=decimal.ROUND_HALF_UP)
    if abs(rounded) >= decimal.Decimal(10) ** (p - s):
        shown = f"-{literal.name}" if negative else literal.name
        wide = number.adjusted() + 1 + s  # the precision that holds it
        raise PlanError(
            f"{shown} does not fit {target.with_nullable(True).sql()}: it has more than "
            f"{p - s} digits before the decimal point",
            hint=f"widen the type, e.g. DECIMAL({wide}, {s})" if wide <= 38 else "CAST it AS DOUBLE",
        )


def _check_finite_float(cast: exp.Cast) -> None:
    """CAST of a text constant to a FLOAT that is NaN or infinite ('NaN', '1e39'): Flink
    reduces the constant when planning and keeps a FLOAT as a BigDecimal there, which holds
    neither, so it refuses the query (NumberFormatException: Infinite or NaN)."""
    if isinstance(cast, exp.TryCast) and not cast.meta.get("strict"):
        return
    text = cast.this
    if not (isinstance(text, exp.Literal) and text.is_string):
        return
    try:
        value = float(text.name.strip())
    except ValueError:
        return  # not a number: the cast fails the job, as Flink's does
    if math.isnan(value) or abs(value) >= 3.4028235677973366e38:
        raise PlanError(
            f"'{text.name}' is not a finite FLOAT, which a FLOAT constant must be",
            hint="CAST it AS DOUBLE",
        )


def _fits_integral(cast: exp.Cast) -> bool:
    """Whether ``cast`` is of an integer literal (maybe negated) its integer type holds."""
    value = cast.this
    literal = value.this if isinstance(value, exp.Neg) else value
    if not (isinstance(literal, exp.Literal) and literal.is_int):
        return False
    number = -int(literal.name) if isinstance(value, exp.Neg) else int(literal.name)
    bits = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}[cast_target(cast).name]
    return -(2 ** (bits - 1)) <= number < 2 ** (bits - 1)


def _rounded_decimal(node: exp.Expr, arg: DataType) -> DataType:
    """FLOOR/CEIL keep the precision with scale 0 (Calcite's ARG0_OR_EXACT_NO_SCALE);
    ROUND and TRUNCATE to ``r`` places follow LogicalTypeMerging.findRoundDecimalType."""
    p, s = arg.precision or 10, arg.scale or 0
    if isinstance(node, exp.Floor | exp.Ceil):
        return DataType("DECIMAL", p, 0, arg.nullable)
    places = node.args.get("decimals") or node.args.get("expression")
    r = int(places.name) if isinstance(places, exp.Literal) and places.is_int else 0
    if isinstance(places, exp.Neg) and isinstance(places.this, exp.Literal):
        r = -int(places.this.name)
    if r >= s:
        return arg
    if r < 0:
        return DataType("DECIMAL", min(38, 1 + p - s), 0, arg.nullable)
    return DataType("DECIMAL", 1 + p - s + r, r, arg.nullable)


def branch_values(node: exp.Expr) -> list[exp.Expr]:
    """The values a CASE, IF or COALESCE may answer with."""
    if isinstance(node, exp.Coalesce):
        values = [node.this, *node.expressions]
    elif isinstance(node, exp.If):
        values = [node.args["true"], node.args.get("false")]
    else:
        values = [i.args["true"] for i in node.args.get("ifs", [])] + [node.args.get("default")]
    return [v for v in values if v is not None]


def _check_branches(node: exp.Case | exp.If | exp.Coalesce, lookup: Lookup) -> None:
    result = DataType("NULL")
    for value in branch_values(node):
        t = _infer(value, lookup)
        common = common_type(result, t)
        if common is None:
            kind = "COALESCE" if isinstance(node, exp.Coalesce) else "CASE"
            raise PlanError(
                f"the values of a {kind} are {result.with_nullable(True).sql()} and "
                f"{t.with_nullable(True).sql()}, which have no common type",
                hint="CAST them to one type",
            )
        result = common


def _least_restrictive(types: list[DataType]) -> DataType:
    """CASE's and IF's type, Calcite's least restrictive type rather than COALESCE's
    LogicalTypeMerging: a FLOAT and a DECIMAL are a DOUBLE in either order, and of a FLOAT
    and a DOUBLE the first wins (the oracle's ``CASE WHEN i > 0 THEN r ELSE f END`` is a
    FLOAT, with ``f`` and ``r`` the other way round a DOUBLE)."""
    result = _common(types)
    names = [t.name for t in types]
    if result.name not in ("FLOAT", "DOUBLE"):
        return result
    if "DECIMAL" in names:
        return DOUBLE.with_nullable(result.nullable) if "FLOAT" in names else result
    first = next(n for n in names if n in ("FLOAT", "DOUBLE"))
    return DataType(first, nullable=result.nullable)


def _agg_arg(node: exp.Expr) -> exp.Expr:
    arg = node.this
    if isinstance(arg, exp.Distinct):
        arg = arg.expressions[0]
    return arg


def _common(types: list[DataType]) -> DataType:
    result = DataType("NULL")
    for t in types:
        result = wider(result, t)
    return result if result.name != "NULL" else INT
