"""Result types of expressions, by Flink's rules, so plans carry the types Flink would.

Works on bound sqlglot expressions (column names already resolved to input fields) and
only needs a lookup from column name to type. Unknown functions get STRING only where
we know nothing better; the binder refuses functions it cannot translate before this.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from catalog.types import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INT,
    STRING,
    TIMESTAMP3,
    DataType,
    parse_type,
)
from planner.dialect import Flink

Lookup = Callable[[str], DataType]

_NUMERIC_RANK = {"TINYINT": 1, "SMALLINT": 2, "INT": 3, "BIGINT": 4, "DECIMAL": 5, "FLOAT": 6,
                 "DOUBLE": 7}  # fmt: skip

# Functions (upper-case name as sqlglot spells the node's sql name or Anonymous name).
STRING_FUNCS = {
    "UPPER", "LOWER", "TRIM", "LTRIM", "RTRIM", "CONCAT", "CONCAT_WS", "SUBSTRING", "SUBSTR",
    "REPLACE", "LPAD", "RPAD", "REGEXP_EXTRACT", "REGEXP_REPLACE", "SPLIT_INDEX", "DATE_FORMAT",
    "FROM_UNIXTIME", "INITCAP", "REVERSE", "REPEAT", "MD5", "SHA1", "SHA256", "LEFT", "RIGHT",
    "OVERLAY", "TIME_TO_STR", "TIME_STR_TO_TIME", "UNIX_TO_STR", "TIMETOSTR", "UNIXTOSTR",
    "JSON_VALUE", "UUID", "TO_BASE64", "FROM_BASE64", "CHR", "DPIPE", "STRTOK_TO_ARRAY",
    "DECODE", "ENCODE", "UPPER_CASE", "HEX",
}  # fmt: skip
_BIGINT_FUNCS = {"UNIX_TIMESTAMP", "STR_TO_UNIX", "STRTOUNIX", "HASH_CODE", "TIMESTAMPDIFF",
                 "TIMESTAMP_DIFF", "DATEDIFF", "DATE_DIFF", "EXTRACT"}  # fmt: skip
_INT_FUNCS = {"CHAR_LENGTH", "CHARACTER_LENGTH", "LENGTH", "POSITION", "STR_POSITION", "LOCATE",
              "ASCII", "INSTR", "YEAR", "MONTH", "DAYOFMONTH", "DAY", "HOUR", "MINUTE", "SECOND",
              "QUARTER", "WEEK", "DAYOFWEEK", "DAYOFYEAR", "SIGN"}  # fmt: skip
DOUBLE_FUNCS = {"SQRT", "LN", "LOG", "LOG10", "LOG2", "EXP", "POWER", "POW", "SIN", "COS",
                 "TAN", "ASIN", "ACOS", "ATAN", "ATAN2", "DEGREES", "RADIANS", "RAND", "PI", "E",
                 "COT", "SINH", "COSH", "TANH", "CBRT"}  # fmt: skip
BOOL_FUNCS = {"REGEXP", "REGEXP_LIKE", "IS_ALPHA", "IS_DIGIT", "IS_DECIMAL", "STARTS_WITH",
               "ENDS_WITH", "STARTSWITH"}  # fmt: skip
_TIMESTAMP_FUNCS = {"TO_TIMESTAMP", "STR_TO_TIME", "STRTOTIME", "LOCALTIMESTAMP",
                    "CURRENT_TIMESTAMP", "NOW", "TIMESTAMPADD", "TIMESTAMP_ADD", "DATE_TRUNC",
                    "TIMESTAMP_TRUNC"}  # fmt: skip
_TIMESTAMP_LTZ_FUNCS = {"PROCTIME", "TO_TIMESTAMP_LTZ", "CURRENT_ROW_TIMESTAMP"}
_DATE_FUNCS = {"TO_DATE", "CURRENT_DATE", "DATE", "STR_TO_DATE", "TS_OR_DS_TO_DATE"}
_SAME_AS_ARG = {"ABS", "FLOOR", "CEIL", "CEILING", "ROUND", "TRUNCATE", "TRUNC", "MOD", "NEGATE",
                "GREATEST", "LEAST", "NULLIF", "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE"}  # fmt: skip


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
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper()
    return node.sql_name().upper() if isinstance(node, exp.Func) else type(node).__name__.upper()


def wider(a: DataType, b: DataType) -> DataType:
    """The common type of two operands (Flink's implicit widening for numbers)."""
    if a.name == "NULL":
        return b
    if b.name == "NULL":
        return a
    if a.is_numeric and b.is_numeric:
        if a.name == "DECIMAL" and b.name == "DECIMAL":
            scale = max(a.scale or 0, b.scale or 0)
            digits = max((a.precision or 10) - (a.scale or 0), (b.precision or 10) - (b.scale or 0))
            return DataType("DECIMAL", min(38, digits + scale), scale)
        top = a if _NUMERIC_RANK[a.name] >= _NUMERIC_RANK[b.name] else b
        return top.with_nullable(a.nullable or b.nullable)
    if a.is_string and b.is_string:
        return STRING
    if a.is_timestamp and b.is_timestamp:
        return a if a.name == "TIMESTAMP_LTZ" else b
    return a


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
    if isinstance(node, exp.Boolean):
        return BOOLEAN.with_nullable(False)
    if isinstance(node, exp.Null):
        return DataType("NULL")
    if isinstance(node, exp.Cast):
        return cast_target(node).with_nullable(True)
    if isinstance(node, exp.Predicate | exp.Not | exp.Connector | exp.Xor):
        return BOOLEAN
    if isinstance(node, exp.Neg):
        return _infer(node.this, lookup)
    if isinstance(node, exp.Add | exp.Sub):
        left, right = _infer(node.left, lookup), _infer(node.right, lookup)
        if left.is_timestamp or left.name == "DATE":
            return left
        if right.is_timestamp:
            return right
        return wider(left, right)
    if isinstance(node, exp.Mul | exp.Mod | exp.IntDiv):
        return wider(_infer(node.left, lookup), _infer(node.right, lookup))
    if isinstance(node, exp.Div):
        left, right = _infer(node.left, lookup), _infer(node.right, lookup)
        if left.name == "DECIMAL" or right.name == "DECIMAL":
            return DataType("DECIMAL", 38, max(6, left.scale or 0))
        return wider(left, right)
    if isinstance(node, exp.DPipe | exp.Concat | exp.ConcatWs):
        return STRING
    if isinstance(node, exp.Interval):
        return DataType("BIGINT")
    if isinstance(node, exp.Case):
        branches = [_infer(i.args["true"], lookup) for i in node.args.get("ifs", [])]
        if node.args.get("default") is not None:
            branches.append(_infer(node.args["default"], lookup))
        return _common(branches)
    if isinstance(node, exp.If):
        parts = [_infer(node.args["true"], lookup)]
        if node.args.get("false") is not None:
            parts.append(_infer(node.args["false"], lookup))
        return _common(parts)
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
    # ---- aggregates ------------------------------------------------------------------
    if isinstance(node, exp.Filter):
        return _infer(node.this, lookup)
    if isinstance(node, exp.Count):
        return BIGINT.with_nullable(False)
    if isinstance(node, exp.Sum):
        arg = _infer(_agg_arg(node), lookup)
        if arg.name == "DECIMAL":
            return DataType("DECIMAL", 38, arg.scale)
        return arg.with_nullable(True)
    if isinstance(node, exp.Avg):
        return _infer(_agg_arg(node), lookup).with_nullable(True)
    if isinstance(node, exp.Min | exp.Max):
        return _infer(_agg_arg(node), lookup).with_nullable(True)
    # ---- scalar functions ------------------------------------------------------------
    if isinstance(node, exp.Floor | exp.Ceil):
        return _infer(node.this, lookup)
    name = function_name(node)
    if name in STRING_FUNCS or isinstance(node, exp.TimeToStr | exp.UnixToStr):
        return STRING
    if name in _BIGINT_FUNCS or isinstance(node, exp.Extract | exp.StrToUnix):
        return BIGINT
    if name in _INT_FUNCS or isinstance(node, exp.Length):
        return INT
    if name in DOUBLE_FUNCS:
        return DOUBLE
    if name in BOOL_FUNCS:
        return BOOLEAN
    if name in _TIMESTAMP_LTZ_FUNCS:
        return DataType("TIMESTAMP_LTZ", 3, nullable=False)
    if name in _TIMESTAMP_FUNCS or isinstance(node, exp.StrToTime | exp.TimestampAdd):
        return TIMESTAMP3
    if name in _DATE_FUNCS:
        return DATE
    if name in _SAME_AS_ARG and node.this is not None:
        return _infer(node.this, lookup)
    return STRING


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
