"""Flink's (Java's) numeric semantics as DuckDB SQL: integer arithmetic that wraps around,
casts that truncate or saturate, and exact DECIMAL division.

DuckDB raises on integer overflow and rounds when it casts to an integer; Flink's
generated Java code wraps around (``Integer.MAX_VALUE + 1`` is ``Integer.MIN_VALUE``) and
truncates (``CAST(1.50 AS INT)`` is 1). One row's value must never fail a job that Flink
would run, so every integral result is computed one size up and wrapped back.

Templates are DuckDB SQL with ``{x}`` placeholders, usable both as text (aggregates build
SQL text) and as sqlglot trees (:func:`template`), so the two never drift apart.

>>> wrap_sql("CAST(a AS BIGINT) + b", DataType("INT"))
'CAST(((CAST(CAST(a AS BIGINT) + b AS BIGINT) + 2147483648) & 4294967295) - 2147483648 AS INTEGER)'
"""

from __future__ import annotations

from sqlglot import exp, parse_one

from catalog.types import DataType

BITS = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


def wide(t: DataType) -> str:
    """The DuckDB type one size up from integral ``t``, where its arithmetic cannot overflow:
    BIGINT for the int types (4x cheaper than HUGEINT, measured), HUGEINT for BIGINT."""
    return "HUGEINT" if BITS[t.name] == 64 else "BIGINT"


def wrap_sql(x: str, t: DataType, via: str | None = None) -> str:
    """``x`` (an integer of type ``via``, by default :func:`wide`) reduced to ``t``'s width
    with two's-complement wrap-around."""
    bits = BITS[t.name]
    half = 2 ** (bits - 1)
    return f"CAST(((CAST({x} AS {via or wide(t)}) + {half}) & {2**bits - 1}) - {half} AS {t.duckdb()})"


def float_to_integral_sql(x: str, t: DataType) -> str:
    """Java's ``(int) d``: NaN is 0, out of range saturates at the int (or long) bounds,
    the rest truncates toward zero; TINYINT and SMALLINT then wrap from an int."""
    lo, hi = _LONG_RANGE if t.name == "BIGINT" else _INT_RANGE
    saturated = (
        f"CASE WHEN isnan({x}) THEN 0 WHEN {x} >= {hi} THEN {hi} WHEN {x} <= {lo} THEN {lo} "
        f"ELSE CAST(trunc({x}) AS BIGINT) END"
    )
    if t.name in ("TINYINT", "SMALLINT"):
        return wrap_sql(saturated, t)
    return f"CAST({saturated} AS {t.duckdb()})"


def decimal_to_integral_sql(x: str, t: DataType) -> str:
    """Flink's DecimalDataUtils.castToIntegral: round down (toward zero), then Java's
    narrowing of a long (wrap-around)."""
    return wrap_sql(f"CAST(trunc({x}) AS HUGEINT)", t, via="HUGEINT")


def decimal_text_sql(x: str, t: DataType) -> str:
    """BigDecimal's plain text of the DECIMAL ``x`` of type ``t``, the scale's digits kept.
    DuckDB writes a DECIMAL(p, p) without the zero before the point (``.50``, ``-.05``);
    Java writes ``0.50``. Other types are DuckDB's own text, as fast as a cast.

    >>> decimal_text_sql("x", DataType("DECIMAL", 10, 2))
    'CAST(x AS VARCHAR)'
    """
    text = f"CAST({x} AS VARCHAR)"
    if t.precision is not None and t.precision == t.scale:
        return f"regexp_replace({text}, '^(-?)\\.', '\\10.')"
    return text


def _unscaled(x: str, t: DataType) -> tuple[str, int, int]:
    """The integer ``x * 10^scale`` (exact, as HUGEINT), its scale and its digits. DuckDB
    types ``x * 10^scale`` as DECIMAL(38, scale), which overflows when the precision and the
    scale together pass 38 digits (a DECIMAL(38, 30) of 1.5): then the digits are read from
    the decimal's text, which DuckDB prints with every one of its scale's digits."""
    if t.name == "DECIMAL":
        scale, precision = t.scale or 0, t.precision or 10
        if not scale:
            return f"CAST({x} AS HUGEINT)", 0, precision
        if precision + scale > 38:
            text = f"CAST(CAST({x} AS DECIMAL({precision}, {scale})) AS VARCHAR)"  # every digit
            return f"CAST(replace({text}, '.', '') AS HUGEINT)", scale, precision
        return f"CAST({x} * {10**scale} AS HUGEINT)", scale, precision
    return f"CAST({x} AS HUGEINT)", 0, {"TINYINT": 3, "SMALLINT": 5, "INT": 10, "BIGINT": 19}[t.name]


def decimal_divide_sql(a: str, a_type: DataType, b: str, b_type: DataType, result: DataType) -> str:
    """``a / b`` rounded HALF_UP to ``result``'s scale, as Flink's DecimalDataUtils.divide
    (BigDecimal arithmetic; NULL when the quotient does not fit ``result``). Computed on
    128-bit integers, or by :mod:`runtime.wide_decimal`'s ``flink_decimal`` (exact, on
    Python's integers) for a value whose scaled digits overflow them: never through a
    DOUBLE, whose 17 digits would show in a DECIMAL(38, 30) quotient.
    A zero divisor fails, as BigDecimal's division does."""
    scale = result.scale or 0
    ua, sa, pa = _unscaled(a, a_type)
    ub, sb, _ = _unscaled(b, b_type)
    shift = scale + 1 + sb - sa  # one extra digit to round on
    target = result.duckdb()
    in_python = (
        f"TRY_CAST(flink_decimal('/', CAST({a} AS VARCHAR), CAST({b} AS VARCHAR), {scale}) AS {target})"
    )
    if shift < 0:
        return in_python
    q = f"(({ua}) * {10**shift}) // ({ub})"
    rounded = f"(({q}) + sign({q}) * 5) // 10"
    unscaled = f"CAST({rounded} AS DECIMAL(38, 0))"
    unit = f"CAST('0.{'0' * (scale - 1)}1' AS DECIMAL({scale + 1}, {scale}))"
    value = f"{unscaled} * {unit}" if scale else unscaled
    exact = f"TRY_CAST({value} AS {target})"
    if pa + shift > 38:  # exact unless this value's digits overflow 128 bits
        return f"coalesce(try({exact}), {in_python})"
    return exact


DIVISION_BY_ZERO = "division by zero in "
"""How the error that a division (or ``%``) by zero raises starts (Java's ArithmeticException
fails Flink's job): codegen writes it, the runtime and the udf-errors policy recognise it."""


NO_BIG_DECIMAL = "BigDecimal cannot hold "
"""How the error starts when a DOUBLE that BigDecimal cannot hold (NaN, an infinity; for
TRUNCATE anything beyond DECIMAL(38, 18)) reaches a CAST or function that Flink computes on
a BigDecimal: Flink's job fails there (NumberFormatException, NullPointerException)."""


def template(sql: str, **parts: exp.Expr) -> exp.Expr:
    """A DuckDB SQL template whose ``{name}`` placeholders are replaced by expression trees."""
    marked = sql.format(**{k: f"__{k}__" for k in parts})
    tree = parse_one(marked, read="duckdb")

    def fill(n: exp.Expr) -> exp.Expr:
        if isinstance(n, exp.Column) and not n.table and n.name.startswith("__") and n.name.endswith("__"):
            key = n.name[2:-2]
            if key in parts:
                return exp.paren(parts[key].copy(), copy=False)
        return n

    return tree.transform(fill)
