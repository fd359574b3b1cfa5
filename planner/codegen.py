"""Bound Flink expressions to DuckDB SQL, the language every operator computes in.

sqlglot does most of the translation (``expr.sql(dialect="duckdb")``); this module fixes
what differs in *meaning*, so that DuckDB computes what Flink would: integer division,
exact CASTs with Flink's type names, ``FLOOR(ts TO unit)``, Flink-only functions, and
quoting of column names (the runtime names the input relation ``input``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlglot import exp
from sqlglot.time import format_time

from catalog.errors import SqlStreamError, did_you_mean
from catalog.types import INT, DataType
from planner import plain_duckdb
from planner.arrays import float_max_min
from planner.dialect import Flink
from planner.errors import PlanError, UnsupportedError, position
from planner.expressions import DateFormat, JsonObjectText
from planner.functions import AGGREGATES, FUNCTIONS, STRUCTURAL, UNSUPPORTED
from planner.interval_literals import compound_interval
from planner.java_random import check_seed
from planner.lenient_time import parse_timestamp
from planner.numeric import (
    BITS,
    DIVISION_BY_ZERO,
    NO_BIG_DECIMAL,
    decimal_divide_sql,
    decimal_text_sql,
    decimal_to_integral_sql,
    float_to_integral_sql,
    template,
    wide,
    wrap_sql,
)
from planner.scalars import (
    REWRITES,
    base64_call,
    date_format_call,
    hash_code_call,
    to_timestamp_ltz,
    utf8_text,
)
from planner.strings import printf_call
from planner.temporal_casts import local_to_instant, text_to_temporal
from planner.typecheck import (
    Lookup,
    array_index,
    as_decimal,
    branch_values,
    cast_target,
    function_name,
    infer,
)
from planner.udf import user_function

_UNITS = {"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "DECADE",
          "CENTURY", "MILLENNIUM"}  # fmt: skip
# The first year of a decade, century, millennium as Calcite counts them (2001 starts the
# 21st century; DuckDB's date_trunc says 2000).
_FIRST_YEAR = {
    "decade": "year({x}) // 10 * 10",
    "century": "(year({x}) - 1) // 100 * 100 + 1",
    "millennium": "(year({x}) - 1) // 1000 * 1000 + 1",
}


def to_duckdb(node: exp.Expr, lookup: Lookup) -> str:
    """DuckDB SQL for a bound expression whose columns are fields of the input (a plain
    one written without loading sqlglot's DuckDB generator: ``plain_duckdb``)."""
    translated = _translate(node.copy(), lookup)
    plain = plain_duckdb.sql(translated)
    return plain if plain is not None else translated.sql(dialect="duckdb")


def _translate(node: exp.Expr, lookup: Lookup) -> exp.Expr:
    """Children first, then the node: a rewrite may build a new node around its children
    (``CAST(x AS INT) / 2`` becomes an integer division), and those children must be
    DuckDB's too. Types are decided on the Flink expression, before its children change.
    A refusal found here points at the call it is about, taken before the children (and
    the positions they carry) are rewritten."""
    where = position(node) if isinstance(node, exp.Func) else (None, None)
    try:
        typing = _typing(node, lookup)
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
        text_side = _temporal_text_side(node, lookup)
        text_and_boolean = _text_and_boolean(node, lookup)
        array_element = isinstance(node, exp.Bracket) and infer(node.this, lookup).name == "ARRAY"
        float_extreme = (
            isinstance(node, exp.ArrayMax | exp.ArrayMin)
            and infer(node.this, lookup).name == "ARRAY"
            and infer(node.this, lookup).children[0].name in ("DOUBLE", "FLOAT")
        )
        float_beside_decimal = _float_beside_decimal(node, lookup)
        approximate_sides = _approximate_comparison(node, lookup)
    except SqlStreamError as e:
        raise e.with_position(*where) from None
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expr):
            node.set(key, _translate(value, lookup))
        elif isinstance(value, list):
            node.set(key, [_translate(v, lookup) if isinstance(v, exp.Expr) else v for v in value])
    try:
        if text_and_boolean:  # Flink compares the two with equals(): never the same object
            assert isinstance(node, exp.Binary)
            unequal = "TRUE" if isinstance(node, exp.NEQ) else "FALSE"
            return template(
                f"CASE WHEN {{a}} IS NOT NULL AND {{b}} IS NOT NULL THEN {unequal} END",
                a=node.left,
                b=node.right,
            )
        if float_beside_decimal:
            _branches_as(node, float_beside_decimal)
        for key, index, source, to in approximate_sides:  # (float) d is Java's, never fails
            value = node.args[key] if index is None else node.args[key][index]
            value.replace(_cast(exp.cast(value.copy(), to), DataType(source), DataType(to)))
        if text_side is not None:  # Flink reads the text as the other side's type, NULL if it cannot
            key, target = text_side
            node.set(key, text_to_temporal(node.args[key], target, strict=False))
        if instant_days and _calendar_interval(node.expression):
            # Flink adds months and years to a TIMESTAMP_LTZ's UTC date-time, as TIMESTAMPADD
            node.set("this", template("timezone('UTC', {x})", x=node.this))
            return template("timezone('UTC', {x})", x=node)
        if instant_days:
            node.set("expression", _days_as_seconds(node.expression))
        if instant_floor and isinstance(node, exp.Floor | exp.Ceil):
            return _floor_instant(node)
        if array_element:
            return _array_element(node)
        if float_extreme:
            return float_max_min(node)
        if typing is not None:
            return _typed_rewrite(node, typing)
        return _rewrite(node)
    except SqlStreamError as e:
        raise e.with_position(*where) from None


def _array_element(node: exp.Expr) -> exp.Expr:
    """``a[i]``: NULL for an index below 1, where DuckDB's counts from the end (``a[-1]``
    is the last element, ``a[0]`` NULL); Flink's generateArrayElementAt is NULL for it. A
    constant index below 1 was refused when the expression was bound."""
    index = array_index(node)  # type: ignore[arg-type]
    element = exp.func("list_extract", node.this, index)
    if index.is_int:
        return element
    return template("CASE WHEN {i} >= 1 THEN {e} END", i=index.copy(), e=element)


_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_TEMPORAL = ("DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ")


def _temporal_text_side(node: exp.Expr, lookup: Lookup) -> tuple[str, DataType] | None:
    """The side of a comparison that is text compared with a DATE, TIME or TIMESTAMP, and
    that type: Flink casts the text implicitly (a NULL where it cannot read it), where
    DuckDB's cast would fail the job on the first text that is no date."""
    if not isinstance(node, _COMPARISONS):
        return None
    left, right = infer(node.left, lookup), infer(node.right, lookup)
    if left.is_string and right.name in _TEMPORAL and not node.left.is_string:
        return "this", right
    if right.is_string and left.name in _TEMPORAL and not node.right.is_string:
        return "expression", left
    return None


def _text_and_boolean(node: exp.Expr, lookup: Lookup) -> bool:
    """A STRING compared (= or <>) with a BOOLEAN: Flink 2.3's generated code compares them
    with equals(), so 'TRUE' = TRUE is FALSE (the oracle's ``s = TRUE``); DuckDB would cast
    each text and fail the job on the first that is no boolean."""
    if not isinstance(node, exp.EQ | exp.NEQ):
        return False
    names = {infer(node.left, lookup).name, infer(node.right, lookup).name}
    return "BOOLEAN" in names and bool(names & {"STRING", "VARCHAR", "CHAR"})


_BRANCHED = (exp.Case, exp.If, exp.Coalesce)


def _float_beside_decimal(node: exp.Expr, lookup: Lookup) -> list[str] | None:
    """The types of a CASE's, IF's or COALESCE's values when Flink's type of it is not
    DuckDB's, each value then cast to it: a FLOAT and a DECIMAL are a DOUBLE in Flink (a
    FLOAT before the DECIMAL in COALESCE: :func:`planner.typecheck.common_type`), where
    DuckDB's FLOAT cuts the DECIMAL's digits (99999999.99 becomes 1.0E8); a FLOAT before a
    DOUBLE in CASE or IF is a FLOAT, where DuckDB's would be DOUBLE."""
    if not isinstance(node, _BRANCHED):
        return None
    result = infer(node, lookup).name
    names = [infer(v, lookup).name for v in branch_values(node)]
    if result == "DOUBLE" and {"FLOAT", "DECIMAL"} <= set(names):
        return names
    if result == "FLOAT" and "DOUBLE" in names:
        return names
    return None


def _approximate_comparison(node: exp.Expr, lookup: Lookup) -> list[tuple[str, int | None, str, str]]:
    """The operands of a comparison, NULLIF or IN that Flink compares as another approximate type
    than DuckDB would: (argument, index in a list argument, its type, the type compared).
    A FLOAT beside a DECIMAL is compared as DOUBLE (DuckDB: as FLOAT, so ``r = 0.1`` held for 0.1f), and a
    FLOAT before a DOUBLE as FLOAT, Calcite's least restrictive type keeping the first of
    two approximate types (DuckDB: as DOUBLE, so ``r = 0.1e0`` did not hold for 0.1f)."""
    if isinstance(node, _COMPARISONS):
        left, right = infer(node.left, lookup).name, infer(node.right, lookup).name
        if {left, right} == {"FLOAT", "DECIMAL"}:
            return [("this", None, left, "DOUBLE"), ("expression", None, right, "DOUBLE")]
        if (left, right) == ("FLOAT", "DOUBLE"):
            return [("expression", None, right, "FLOAT")]
    if isinstance(node, exp.Nullif):  # NULLIF(r, 0.1e0): compared as the first's FLOAT
        left, right = infer(node.this, lookup).name, infer(node.expression, lookup).name
        if (left, right) == ("FLOAT", "DOUBLE"):
            return [("expression", None, right, "FLOAT")]
    if isinstance(node, exp.In) and node.expressions and infer(node.this, lookup).name == "FLOAT":
        return [
            ("expressions", k, "DOUBLE", "FLOAT")
            for k, value in enumerate(node.expressions)
            if infer(value, lookup).name == "DOUBLE"
        ]
    return []


def _branches_as(node: exp.Expr, names: list[str]) -> None:
    """Each value cast to the type Flink gives the CASE/IF/COALESCE (Java's (float) d)."""
    to = "FLOAT" if "DOUBLE" in names and "DECIMAL" not in names else "DOUBLE"
    for value, name in zip(branch_values(node), names):
        if name not in (to, "NULL"):
            value.replace(_cast(exp.cast(value.copy(), to), DataType(name), DataType(to)))


@dataclass(frozen=True)
class _Typing:
    """Flink types of an operator's operands and result, and its Flink text (for errors)."""

    operands: tuple[DataType, ...]
    result: DataType
    text: str
    nonzero_divisor: bool = False  # the right operand is a number literal other than 0
    literal_beyond_type: bool = False  # an operand is an integer literal beyond BIGINT
    places: int | None = None  # ROUND's and TRUNCATE's places, when a constant


def _typing(node: exp.Expr, lookup: Lookup) -> _Typing | None:
    if isinstance(node, exp.Cast):
        return _Typing((infer(node.this, lookup),), cast_target(node), "")
    if isinstance(node, _ARITHMETIC):
        operands = (infer(node.left, lookup), infer(node.right, lookup))
        return _Typing(
            operands,
            infer(node, lookup),
            node.sql(dialect=Flink),
            nonzero_divisor=bool(_number(node.right)),
            literal_beyond_type=any(
                abs(_number(side) or Decimal(0)) >= 2**63 for side in (node.left, node.right)
            ),
        )
    if isinstance(node, _UNARY) and not node.args.get("to"):
        places = _literal_int(node.args.get("decimals")) if isinstance(node, exp.Round | exp.Trunc) else None
        return _Typing((infer(node.this, lookup),), infer(node, lookup), "", places=places)
    if isinstance(node, exp.TimestampAdd | DateFormat | exp.ToBase64 | exp.FromBase64):
        return _Typing((infer(node.this, lookup),), infer(node, lookup), "")
    if isinstance(node, exp.Greatest | exp.Least) and infer(node, lookup).name in ("DOUBLE", "FLOAT"):
        return _Typing((), infer(node, lookup), "")
    if isinstance(node, exp.Anonymous) and function_name(node) in ("PRINTF", "HASH_CODE"):  # by type
        return _Typing(tuple(infer(a, lookup) for a in node.expressions), infer(node, lookup), "")
    if (
        isinstance(node, exp.Anonymous)
        and function_name(node) == "TO_TIMESTAMP_LTZ"
        and len(node.expressions) == 1
    ):
        arg = infer(node.expressions[0], lookup)
        return _Typing((arg,), infer(node, lookup), "") if arg.is_string else None
    if (
        isinstance(node, exp.Anonymous)
        and function_name(node) == "TO_TIMESTAMP_LTZ"
        and len(node.expressions) == 2
        and infer(node.expressions[0], lookup).name in ("DOUBLE", "FLOAT")
    ):  # DateTimeUtils.toTimestampData(double, precision) keeps a fraction of a second
        return _Typing((infer(node.expressions[0], lookup), INT), infer(node, lookup), "")
    return None


def _number(node: exp.Expr) -> Decimal | None:
    """The value of a number literal (maybe negated or in parentheses), else None."""
    negated = False
    while isinstance(node, exp.Paren | exp.Neg):
        negated ^= isinstance(node, exp.Neg)
        node = node.this
    if not isinstance(node, exp.Literal) or node.is_string:
        return None
    try:
        value = Decimal(node.this)
    except InvalidOperation:
        return None
    return -value if negated else value


_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod)
_UNARY = (exp.Neg, exp.Abs, exp.Round, exp.Trunc, exp.Floor, exp.Ceil, exp.Sign)
_SYMBOL = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*"}


def _typed_rewrite(n: exp.Expr, typing: _Typing) -> exp.Expr:
    if isinstance(n, exp.Cast):
        return _cast(n, typing.operands[0], typing.result)
    if isinstance(n, DateFormat):
        return date_format_call(n, typing.operands[0])
    if isinstance(n, exp.ToBase64 | exp.FromBase64):
        return base64_call(n, typing.operands[0])
    if isinstance(n, exp.Anonymous) and function_name(n) == "TO_TIMESTAMP_LTZ" and len(n.expressions) == 2:
        epoch, precision = n.expressions
        if not precision.is_int or int(precision.name) not in (0, 3):
            raise UnsupportedError("TO_TIMESTAMP_LTZ with a precision other than 0 or 3")
        return to_timestamp_ltz(epoch, int(precision.name), floating=True)
    if isinstance(n, exp.Greatest | exp.Least):
        return _signed_zero_extreme(n)
    if isinstance(n, exp.Anonymous) and function_name(n) == "TO_TIMESTAMP_LTZ":
        # TO_TIMESTAMP_LTZ(s): TO_TIMESTAMP(s)'s reading, an instant of UTC wall time
        # text it cannot read fails the job, as Flink's DateTimeParseException does
        text = n.expressions[0]
        local = REWRITES["TO_TIMESTAMP"](exp.Anonymous(this="TO_TIMESTAMP", expressions=[text]))
        message = template("'TO_TIMESTAMP_LTZ cannot parse: ' || {s}", s=text)
        return template(
            "CASE WHEN {s} IS NOT NULL AND {t} IS NULL THEN error({m}) ELSE timezone('UTC', {t}) END",
            s=text,
            t=local,
            m=message,
        )
    if isinstance(n, exp.Anonymous) and function_name(n) == "HASH_CODE":
        return hash_code_call(n, typing.operands[0])
    if isinstance(n, exp.Anonymous):
        return printf_call(n, list(typing.operands[1:]), lambda x: template(_JAVA_FLOAT_TEXT, x=x))
    result = typing.result
    integral = result.is_integral and all(t.is_integral or t.name == "NULL" for t in typing.operands)
    if isinstance(n, _UNARY):
        return _unary(n, typing.operands[0], result, typing.places)
    if isinstance(n, exp.TimestampAdd) and typing.operands[0].name == "TIMESTAMP_LTZ":
        # Flink adds to a TIMESTAMP_LTZ's UTC date-time (a DAY is 24 hours whatever the zone)
        n.set("this", template("timezone('UTC', {x})", x=n.this))
        return template("timezone('UTC', {x})", x=_rewrite(n))
    if isinstance(n, exp.TimestampAdd):  # DuckDB's DATE + INTERVAL is a TIMESTAMP
        added = _rewrite(n)
        return template("CAST({x} AS DATE)", x=added) if result.name == "DATE" else added
    assert isinstance(n, exp.Binary)
    left, right = n.left, n.right
    if isinstance(n, exp.Div | exp.IntDiv | exp.Mod) and (integral or result.name == "DECIMAL"):
        # Java's / and % by zero throw, and Flink's job fails: so does ours, naming the
        # expression (DuckDB's own message would show its rewritten SQL).
        message = exp.Literal.string(f"{DIVISION_BY_ZERO}{typing.text}")
        a_type, b_type = typing.operands
        if isinstance(n, exp.Mod):
            value = (
                template(wrap_sql(f"CAST({{a}} AS {wide(result)}) % {{b}}", result), a=left, b=right)
                if integral
                else template(f"TRY_CAST({{a}} % {{b}} AS {result.duckdb()})", a=left, b=right)
            )
        elif integral:
            value = template(wrap_sql(f"CAST({{a}} AS {wide(result)}) // {{b}}", result), a=left, b=right)
        else:
            value = template(decimal_divide_sql("{a}", a_type, "{b}", b_type, result), a=left, b=right)
        if typing.nonzero_divisor:
            return value
        # NULL / 0 is NULL in Flink: the null check comes before the division.
        return template(
            "CASE WHEN {a} IS NOT NULL AND {b} = 0 THEN error({m}) ELSE {v} END",
            a=left,
            b=right,
            m=message,
            v=value,
        )
    if result.name == "DOUBLE" and {t.name for t in typing.operands} == {"FLOAT", "DECIMAL"}:
        # Java: (double) f op d.doubleValue(); DuckDB would compute in FLOAT
        left, right = exp.cast(left, "DOUBLE"), exp.cast(right, "DOUBLE")
        n = n.__class__(this=left, expression=right)
    if result.name == "FLOAT" and "DOUBLE" in (t.name for t in typing.operands):  # Java: (float) d
        if typing.operands[0].name == "DOUBLE":
            left = _cast(exp.cast(left, "FLOAT"), typing.operands[0], result)
        else:
            right = _cast(exp.cast(right, "FLOAT"), typing.operands[1], result)
        n = n.__class__(this=left, expression=right)
    if isinstance(n, exp.Div):
        return exp.Div(this=left, expression=right, typed=True, safe=False)
    if isinstance(n, exp.Add | exp.Sub | exp.Mul):
        op = _SYMBOL[type(n)]
        if integral:
            return template(wrap_sql(f"CAST({{a}} AS {wide(result)}) {op} {{b}}", result), a=left, b=right)
        if result.name == "DECIMAL":  # Flink's widened type; NULL when even that overflows
            return _decimal_arithmetic(op, left, right, typing)
    return n


def _signed_zero_extreme(n: exp.Greatest | exp.Least) -> exp.Expr:
    """GREATEST/LEAST of DOUBLEs as Flink's compare them, with Double.compareTo, where -0.0
    is below 0.0 (DuckDB holds them equal and keeps the first): GREATEST(-0.0, 0.0) is 0.0,
    LEAST(0.0, -0.0) is -0.0. NaN is above everything in both."""
    args = [n.this, *n.expressions]
    greatest = isinstance(n, exp.Greatest)
    wanted = "NOT signbit(CAST({a} AS DOUBLE))" if greatest else "signbit(CAST({a} AS DOUBLE))"
    parts = {f"a{i}": a.copy() for i, a in enumerate(args)}
    any_zero = " OR ".join(f"({{a{i}}} = 0 AND {wanted.format(a=f'{{a{i}}}')})" for i in range(len(args)))
    zero = "abs({r})" if greatest else "-abs({r})"
    return template(
        f"CASE WHEN {{r}} = 0 AND ({any_zero}) THEN {zero} ELSE {{r}} END",
        r=REWRITES[type(n)](n),
        **parts,
    )


def _decimal_arithmetic(op: str, left: exp.Expr, right: exp.Expr, typing: _Typing) -> exp.Expr:
    """Exact DECIMAL +, -, * in Flink's result type, NULL when the value does not fit it.
    DuckDB multiplies in the operands' own widths (DECIMAL(10, 0) * DECIMAL(10, 2) in 64
    bits, which overflows); Flink's are wider, so the left side is widened to 38 digits,
    and a product beyond 38 digits (NULL in Flink) is caught before DuckDB would fail.
    When the operand types prove that no value can overflow (:func:`always_fits`), DuckDB's
    own exact operation is enough, in 128 bits for a product of more than 18 digits: it
    takes a quarter less CPU (``price * 0.908`` over 2M rows). Otherwise DuckDB's exact
    value is taken where it has room for every digit (in DECIMAL(38, s1 + s2) for a product:
    a DECIMAL(38, 18) product of 100 has none), and the other rows go to
    :mod:`runtime.wide_decimal`, which computes Flink's exact value rounded to its scale."""
    result = typing.result.duckdb()
    (a_type, b_type) = typing.operands
    if not typing.literal_beyond_type and always_fits(op, a_type, b_type, typing.result):
        (p1, s1), (p2, _) = as_decimal(a_type) or (38, 0), as_decimal(b_type) or (38, 0)
        if op == "*" and p1 + p2 > 18:  # DuckDB multiplies two 18-digit types in 64 bits
            widened = f"CAST({{a}} AS DECIMAL({max(19, p1)}, {s1}))"
            return template(f"CAST({widened} * {{b}} AS {result})", a=left, b=right)
        return template(f"CAST({{a}} {op} {{b}} AS {result})", a=left, b=right)
    (p1, s1), (p2, s2) = as_decimal(a_type) or (38, 0), as_decimal(b_type) or (38, 0)
    wide = (
        f"TRY_CAST(flink_decimal('{op}', CAST({{a}} AS VARCHAR), CAST({{b}} AS VARCHAR), "
        f"{typing.result.scale or 0}) AS {result})"
    )
    if op != "*":
        own = f"TRY_CAST({{a}} {op} {{b}} AS {result})"
        if max(p1 - s1, p2 - s2) + 1 + max(s1, s2) <= 38:  # DuckDB's sum has every digit
            return template(own, a=left, b=right)
        size = f"abs(CAST({{a}} AS DOUBLE)) + abs(CAST({{b}} AS DOUBLE)) < 9e{37 - max(s1, s2)}"
    elif s1 + s2 > 38:  # DuckDB refuses a product of more than 38 fraction digits
        return template(wide, a=left, b=right)
    else:
        own = f"TRY_CAST(CAST({{a}} AS DECIMAL(38, {s1})) * {{b}} AS {result})"
        size = f"abs(CAST({{a}} AS DOUBLE) * CAST({{b}} AS DOUBLE)) < 9e{37 - s1 - s2}"
    return template(f"CASE WHEN {size} THEN {own} ELSE {wide} END", a=left, b=right)


def always_fits(op: str, a: DataType, b: DataType, result: DataType) -> bool:
    """Whether the exact ``a op b`` (``+``, ``-`` or ``*``) of any two values of types ``a``
    and ``b`` fits ``result`` without rounding. A product of numbers of p1 and p2 digits has
    at most p1 + p2 digits and scale s1 + s2; a sum or difference one integer digit more
    than its wider side and the larger scale. Flink widens the result to exactly that (plus a
    digit for a product) until 38 digits, where it cuts digits and the value can overflow.

    >>> always_fits("*", DataType("BIGINT"), DataType("DECIMAL", 4, 3), DataType("DECIMAL", 24, 3))
    True
    >>> always_fits("*", DataType("DECIMAL", 38, 2), DataType("DECIMAL", 4, 3), DataType("DECIMAL", 38, 5))
    False
    """
    da, db, dr = as_decimal(a), as_decimal(b), as_decimal(result)
    if da is None or db is None or dr is None:
        return False
    (p1, s1), (p2, s2), (p, s) = da, db, dr
    if op == "*":
        return s == s1 + s2 and p >= p1 + p2
    return s == max(s1, s2) and p - s >= max(p1 - s1, p2 - s2) + 1


def _unary(n: exp.Expr, arg: DataType, result: DataType, r: int | None) -> exp.Expr:
    """-x, ABS and ROUND of an integer wrap around (Java's -Integer.MIN_VALUE is itself);
    ROUND of a DOUBLE, and a negated zero literal, have no negative zero (BigDecimal); SIGN
    is Java's Math.signum (and a DECIMAL's sign keeps the argument's type)."""
    x = n.this
    if isinstance(n, exp.Sign):  # Java's Math.signum keeps -0.0 and NaN (DuckDB's: 0, and NaN > 0)
        if arg.name in ("DOUBLE", "FLOAT"):
            return template(
                f"CAST(CASE WHEN {{x}} > 0 AND NOT isnan({{x}}) THEN 1 WHEN {{x}} < 0 THEN -1 ELSE {{x}} END "
                f"AS {result.duckdb()})",
                x=x,
            )
        return template(f"CAST(sign({{x}}) AS {result.duckdb()})", x=x)
    if isinstance(n, exp.Trunc):
        if arg.name in ("DOUBLE", "FLOAT"):
            return _truncate_approximate(x, n.args.get("decimals"), r, result)
        return n
    if isinstance(n, exp.Floor | exp.Ceil):  # DuckDB's go through DOUBLE for integers
        return x if result.is_integral else n
    if isinstance(n, exp.Neg | exp.Abs):
        if isinstance(n, exp.Neg) and isinstance(x, exp.Literal) and _number(x) == 0:
            return x  # Calcite negates a literal as a BigDecimal, which has no -0: -0.0e0 is 0.0
        if not result.is_integral:
            return n
        negated = "-CAST({x} AS %s)" if isinstance(n, exp.Neg) else "abs(CAST({x} AS %s))"
        return template(wrap_sql(negated % wide(result), result), x=x)
    places = n.args.get("decimals") or exp.Literal.number(0)
    if result.is_integral:
        return template(wrap_sql(f"round(CAST({{x}} AS {wide(result)}), {{r}})", result), x=x, r=places)
    if result.name == "DECIMAL":
        return template(f"TRY_CAST(round({{x}}, {{r}}) AS {result.duckdb()})", x=x, r=places)
    if arg.name in ("DOUBLE", "FLOAT"):
        return _round_approximate(x, places, r, result)
    return n


def _literal_int(e: exp.Expr | None) -> int | None:
    """The value of an integer literal, maybe negated; None for anything else."""
    if e is None:
        return 0
    if isinstance(e, exp.Neg):
        inner = _literal_int(e.this) if isinstance(e.this, exp.Literal) else None
        return -inner if inner is not None else None
    return int(e.name) if isinstance(e, exp.Literal) and e.is_int else None


def _truncate_approximate(x: exp.Expr, places: exp.Expr | None, r: int | None, result: DataType) -> exp.Expr:
    """TRUNCATE of a DOUBLE (or FLOAT) as Flink's SqlFunctionUtils.struncate: the value as
    DecimalDataUtils.castFrom(x, 38, 18) makes it (its shortest decimal text, HALF_UP to 18
    places), cut toward zero, back to a double, so -1.5 to -1 places is 0.0, not -0.0. A
    value of 1e20 or more does not fit DECIMAL(38, 18), and Flink's job fails on it (a
    NullPointerException), as it does on NaN and infinities (BigDecimal has none). To places
    that are no constant (DuckDB's DECIMAL trunc takes only one), the double is cut itself."""
    text = exp.cast(exp.cast(x.copy(), "DOUBLE"), "VARCHAR")
    message = exp.Literal.string(f"{NO_BIG_DECIMAL}TRUNCATE's argument in DECIMAL(38, 18): ")
    if r is None:
        cut = template(
            f"CAST(trunc({{x}}, {{r}}) + 0.0 AS {result.duckdb()})", x=x, r=places or exp.Literal.number(0)
        )
    else:
        cut = template(f"CAST(trunc(CAST({{t}} AS DECIMAL(38, 18)), {r}) AS {result.duckdb()})", t=text)
    return template(
        "CASE WHEN isnan({x}) OR isinf({x}) OR abs({x}) >= 1e20 THEN error({m} || CAST({x} AS VARCHAR)) "
        "ELSE {c} END",
        x=x,
        m=message,
        c=cut,
    )


def _round_approximate(x: exp.Expr, places: exp.Expr, r: int | None, result: DataType) -> exp.Expr:
    """ROUND of a DOUBLE (or FLOAT) as Flink's SqlFunctionUtils.sround: HALF_UP on
    BigDecimal.valueOf(x), the shortest decimal text of the double (a FLOAT widened first),
    so ROUND(1.005e0, 2) is 1.01 though the double is 1.00499..; NaN and infinities fail the
    job there (BigDecimal has none). DuckDB's shortest text read as DECIMAL(38, 18) holds
    every value below 1e20 to that many places; other values and places take the text's
    digits scaled (:func:`_round_shortest`). To places that are no constant, the double
    itself is rounded."""
    if r is None:
        exact = template("round({x}, {r}) + 0.0", x=x, r=places)
    elif r <= -309:  # half of 10^309 is beyond every double
        exact = _round_beyond_scale(x, r, template("CAST(0.0 AS DOUBLE)"))
    elif r >= 341:  # below the least double's last digit (4.9e-324): nothing to round
        exact = _round_beyond_scale(x, r, template("{x} + 0.0", x=x))
    elif -20 < r < 18:
        text = exp.cast(exp.cast(x.copy(), "DOUBLE"), "VARCHAR")
        exact = template(
            f"CASE WHEN abs({{x}}) < 1e20 THEN CAST(round(CAST({{t}} AS DECIMAL(38, 18)), {r}) "
            f"AS {result.duckdb()}) ELSE {{g}} END",
            x=x,
            t=text,
            g=_round_shortest(x, r, result),
        )
    else:
        exact = _round_shortest(x, r, result)
    return _finite_or_fail(x, f"{NO_BIG_DECIMAL}ROUND's argument: ", exact)


def _round_shortest(x: exp.Expr, r: int, result: DataType) -> exp.Expr:
    """HALF_UP of a double's decimal text (Java's, :data:`_JAVA_MANTISSA`: 4.9E-324 for the
    least double) to ``r`` places (-309 < r < 341), where DECIMAL(38, 18) cannot hold the
    value or the places: the text's digits moved ``r`` places left (its exponent plus r),
    which is below 1e17 wherever a digit is cut, rounded there as a DECIMAL and read back
    with the exponent -r (2E+30 for ROUND(1.5e30, -30); a double's own arithmetic,
    x / 1e30, is not exact). A value of 1e(17 - r) or more has no digit at those places
    and stays itself (no -0.0: BigDecimal has none)."""
    d = "{d}"  # a FLOAT's text is that of the double it widens to, as BigDecimal.valueOf's
    mantissa = f"CASE WHEN {d} < 0 THEN '-' ELSE '' END || {_JAVA_MANTISSA.replace('{x}', d)}"
    moved = f"{mantissa} || 'e' || CAST(({_JAVA_EXPONENT.replace('{x}', d)}) + {r} AS VARCHAR)"
    rounded = f"round(CAST({moved} AS DECIMAL(38, 18)))"
    value = f"CAST(CAST(CAST({rounded} AS DECIMAL(38, 0)) AS VARCHAR) || 'e{-r}' AS DOUBLE)"
    if 17 - r <= 308:
        value = f"CASE WHEN abs({{x}}) >= 1e{17 - r} THEN {{x}} + 0.0 ELSE {value} END"
    return template(f"CAST({value} AS {result.duckdb()})", x=x, d=exp.cast(x.copy(), "DOUBLE"))


def _round_beyond_scale(x: exp.Expr, r: int, value: exp.Expr) -> exp.Expr:
    """``value``, or for places so many that sround's BigDecimal fails, a failed job as
    Flink's: movePointRight(r) beyond an int's scale (Underflow), or setScale(0) with more
    digits than a BigInteger holds. Zero never fails (BigDecimal skips its digits)."""
    if r < 0 and r > -(2**31) + 400:
        return value
    if r > 0 and r < _BIG_INTEGER_DIGITS - 400:
        return value
    scale = _JAVA_SCALE.replace("{x}", "{d}")
    fails = f"({scale}) - {r} > {2**31 - 1}" if r < 0 else f"{r} - ({scale}) > {_BIG_INTEGER_DIGITS}"
    message = exp.Literal.string(f"{NO_BIG_DECIMAL}ROUND's argument moved {r} places: ")
    return template(
        f"CASE WHEN {{x}} <> 0 AND {fails} THEN error({{m}} || CAST({{x}} AS VARCHAR)) ELSE {{v}} END",
        x=x,
        d=exp.cast(x.copy(), "DOUBLE"),
        m=message,
        v=value,
    )


def _finite_or_fail(x: exp.Expr, message: str, value: exp.Expr) -> exp.Expr:
    """``value``, or for a double BigDecimal cannot hold (NaN, an infinity) a failed job,
    as Flink's is."""
    return template(
        "CASE WHEN isnan({x}) OR isinf({x}) THEN error({m} || CAST({x} AS VARCHAR)) ELSE {v} END",
        x=x,
        m=exp.Literal.string(message),
        v=value,
    )


def _cast(n: exp.Cast, source: DataType, target: DataType) -> exp.Expr:
    """Casts as Flink's cast rules do them, where DuckDB's differ."""
    converted = _convert(n, source, target)
    if target.name in ("VARCHAR", "CHAR") and target.precision:  # Flink cuts to the length
        length = target.precision
        if target.name == "VARCHAR":
            return template(f"left({{x}}, {length})", x=converted)
        return template(f"rpad(left({{x}}, {length}), {length}, ' ')", x=converted)
    if target.name in ("VARBINARY", "BINARY") and target.precision:  # bytes cut, BINARY's padded
        length = target.precision
        short = "{x}"
        if target.name == "BINARY":
            short = f"{{x}} || repeat(unhex('00'), {length} - octet_length({{x}}))"
        return template(
            f"CASE WHEN octet_length({{x}}) > {length} THEN unhex(left(hex({{x}}), {2 * length})) "
            f"WHEN octet_length({{x}}) < {length} THEN {short} ELSE {{x}} END",
            x=converted,
        )
    return converted


# Java's Double.toString / Float.toString: plain between 1e-3 and 1e7, else 'd.dddE-n'
# (DuckDB writes '1e+20'); the shortest digits are DuckDB's, the layout Java's.
_JAVA_TEXT = "ltrim(CAST({x} AS VARCHAR), '-')"
_JAVA_DIGITS = f"trim(replace(split_part({_JAVA_TEXT}, 'e', 1), '.', ''), '0')"
_JAVA_FRACTION = f"split_part({_JAVA_TEXT}, '.', 2)"
_JAVA_EXPONENT = (
    f"CASE WHEN contains({_JAVA_TEXT}, 'e') THEN CAST(split_part({_JAVA_TEXT}, 'e', 2) AS INTEGER) "
    f"WHEN split_part({_JAVA_TEXT}, '.', 1) <> '0' THEN length(split_part({_JAVA_TEXT}, '.', 1)) - 1 "
    f"ELSE length(ltrim({_JAVA_FRACTION}, '0')) - length({_JAVA_FRACTION}) - 1 END"
)
# Java writes at least two digits, d.d: where the shortest has one, the two-digit decimal
# nearest the exact value, which differs from d.0 only for the tiniest subnormals
# (Double.MIN_VALUE is 4.9E-324, the shortest 5e-324; FLOAT's smallest 1.4E-45).
_JAVA_TWO_DIGITS = (
    f"CAST(round(abs(CAST({{x}} AS DOUBLE)) * 1e300 * pow(10, 1 - ({_JAVA_EXPONENT}) - 300)) AS INTEGER)"
)
_JAVA_MANTISSA = (
    f"CASE WHEN abs({{x}}) < 1.2e-38 AND length({_JAVA_DIGITS}) = 1 "
    f"THEN left(CAST({_JAVA_TWO_DIGITS} AS VARCHAR), 1) || '.' "
    f"|| substr(CAST({_JAVA_TWO_DIGITS} AS VARCHAR), 2, 1) "
    f"ELSE left({_JAVA_DIGITS}, 1) || '.' || coalesce(nullif(substr({_JAVA_DIGITS}, 2), ''), '0') END"
)
# BigDecimal's scale of Java's text of a double (its fraction digits, less its exponent in
# the E form Double.toString writes outside 1e-3 .. 1e7; 100.0 has scale 1)
_JAVA_SCALE = (
    f"CASE WHEN abs({{x}}) >= 0.001 AND abs({{x}}) < 1e7 "
    f"THEN greatest(length({_JAVA_DIGITS}) - 1 - ({_JAVA_EXPONENT}), 1) "
    f"ELSE length({_JAVA_MANTISSA}) - 2 - ({_JAVA_EXPONENT}) END"
)
# BigInteger's limit: 10^k has more than 2^31 bits from k = 646456993 on
_BIG_INTEGER_DIGITS = 646_456_990
# Double.toString / Float.toString
_JAVA_FLOAT_TEXT = (
    "CASE WHEN isnan({x}) THEN 'NaN' WHEN isinf({x}) AND {x} > 0 THEN 'Infinity' "
    "WHEN isinf({x}) THEN '-Infinity' "
    "WHEN {x} = 0 OR (abs({x}) >= 0.001 AND abs({x}) < 10000000) THEN CAST({x} AS VARCHAR) "
    f"ELSE (CASE WHEN {{x}} < 0 THEN '-' ELSE '' END) || {_JAVA_MANTISSA} "
    f"|| 'E' || CAST({_JAVA_EXPONENT} AS VARCHAR) END"
)
_INTEGER_TEXT = r"[+-]?[0-9]*(\.[0-9]*)?"
_TRUNCATE_TO = {0: "second", 3: "millisecond"}


def _convert(n: exp.Cast, source: DataType, target: DataType) -> exp.Expr:
    x = n.this
    if source.name == "BOOLEAN" and target.is_string:
        return template("CASE WHEN {x} THEN 'TRUE' WHEN NOT {x} THEN 'FALSE' END", x=x)
    if source.is_timestamp and target.is_string:
        # Flink prints exactly the type's fraction digits: TIMESTAMP(3) '... 00:00:00.000',
        # and a TIMESTAMP_LTZ as local time in the session's zone, without an offset
        precision = source.precision if source.precision is not None else 6
        fraction = f" || '.' || left(strftime({{x}}, '%f') || '000', {precision})" if precision else ""
        local = template("CAST({x} AS TIMESTAMP)", x=x) if source.name == "TIMESTAMP_LTZ" else x
        return template("strftime({x}, '%Y-%m-%d %H:%M:%S')" + fraction, x=local)
    if source.name == "TIME" and target.is_string and source.precision:
        # Flink prints a TIME(p > 0)'s milliseconds without trailing zeros, but one digit at
        # least: 10:00:00.0, 10:00:00.5, 10:00:00.25 (DateTimeUtils.unixTimeToString)
        return template(
            "CASE WHEN microsecond({x}) % 1000000 = 0 THEN CAST({x} AS VARCHAR) || '.0' "
            "ELSE CAST({x} AS VARCHAR) END",
            x=x,
        )
    if source.name == "ROW" and target.is_string and source.field_names:
        return _row_text(x, source)
    if source.name in ("ARRAY", "MAP") and target.is_string:
        return _collection_text(x, source)
    if source.name in ("BYTES", "BINARY", "VARBINARY") and target.is_string:
        return utf8_text(x)  # DuckDB's CAST escapes each byte beyond ASCII
    if source.is_string and target.name in ("BYTES", "BINARY", "VARBINARY"):
        return template("encode({x})", x=x)  # DuckDB's CAST reads '\\xAA' and refuses non-ASCII
    if source.is_string and target.is_integral:
        return _string_to_integral(n, target)
    if source.is_string and target.name in ("DOUBLE", "FLOAT"):
        return _string_to_approximate(n, target)
    if source.is_string and target.name == "DECIMAL":  # BigDecimal's text: no '1_000'
        strict = not isinstance(n, exp.TryCast) or _is_flink_strict_cast(n)
        failed = "error('cannot CAST ''' || {x} || ''' AS " + target.sql() + "')" if strict else "NULL"
        return template(
            f"CASE WHEN {{x}} IS NULL OR regexp_full_match(trim({{x}}), '{_DECIMAL_TEXT}') THEN {{c}} "
            f"ELSE {failed} END",
            x=x,
            c=_rewrite(n),
        )
    strict = not isinstance(n, exp.TryCast) or _is_flink_strict_cast(n)
    literal = isinstance(x, exp.Literal) and x.is_string  # a CAST of one: DuckDB's own reading
    # TRY_CAST('0' AS DATE) is year 0; a TIME keeps only its type's fraction digits
    # CAST(.. AS TIME(0)) keeps its digits; TIME '..' (a literal, read as a CAST) keeps all
    cut_time = target.name == "TIME" and bool(n.to.expressions)
    if source.is_string and not (literal and strict and not cut_time):
        read = text_to_temporal(x, target, strict)
        if read is not None:
            return read
    if source.name in ("DOUBLE", "FLOAT") and target.is_string:
        return template(_JAVA_FLOAT_TEXT, x=x)
    if source.name == "DECIMAL" and target.is_string:
        return template(decimal_text_sql("{x}", source), x=x)
    if target.name == "FLOAT" and source.name == "DOUBLE":
        # Java's (float) rounds to the nearest float: infinite from FLOAT's largest value
        # plus half its last step on (3.4028235e38 is still the largest value)
        return template(
            "CAST(CASE WHEN abs({x}) >= 3.4028235677973366e38 AND NOT isinf({x}) "
            "THEN sign({x}) * CAST('inf' AS DOUBLE) ELSE {x} END AS FLOAT)",
            x=x,
        )
    if target.name == "TIME" and not target.precision and source.is_timestamp:
        return template("CAST(date_trunc('second', {x}) AS TIME)", x=x)
    if source.name == "TIMESTAMP" and target.name == "TIMESTAMP_LTZ":
        instant = local_to_instant(x)
        return _truncated(instant, target.precision) or instant
    if target.is_timestamp and source.is_timestamp:
        cut = _truncated(_rewrite(n), target.precision)
        if cut is not None:  # even from a finer type: a reader may have kept more digits
            return cut
    if (
        source.name == target.name == "ROW"
        and source.field_names != target.field_names
        and len(source.field_names) == len(target.field_names)
    ):
        return _row_by_position(n, source, target)
    return _convert_numeric(n, source, target)


def _row_by_position(n: exp.Cast, source: DataType, target: DataType) -> exp.Expr:
    """Flink casts a ROW to a ROW field by field in order, whatever the names (a ``ROW(..)``
    constructor's are ``EXPR$0``...); DuckDB matches a STRUCT's fields by name, and failed
    the job on a ``ROW(12.3)`` written into a ``ROW<x ..>`` column (or, where some names
    matched, left the others NULL). The fields are renamed in order, then cast."""
    fields = []
    for name, to in zip(source.field_names, target.field_names):
        key = name.replace("'", "''").replace("{", "{{").replace("}", "}}")
        label = to.replace('"', '""').replace("{", "{{").replace("}", "}}")
        fields.append(f"\"{label}\" := struct_extract({{x}}, '{key}')")
    renamed = ", ".join(fields)
    duck = target.duckdb().replace("{", "{{").replace("}", "}}")
    return template(
        f"CASE WHEN {{x}} IS NULL THEN NULL ELSE CAST(struct_pack({renamed}) AS {duck}) END",
        x=n.this,
    )


def _truncated(x: exp.Expr, precision: int | None) -> exp.Expr | None:
    """``x`` with the fraction digits beyond ``precision`` cut off, as Flink's cast to a
    coarser TIMESTAMP does (towards the past, before 1970 too); None when the precision
    holds all a DuckDB timestamp has (microseconds)."""
    if precision is None or precision >= 6:
        return None
    if precision in _TRUNCATE_TO:
        return template(f"date_trunc('{_TRUNCATE_TO[precision]}', {{x}})", x=x)
    step = 10 ** (6 - precision)
    return template(f"{{x}} - to_microseconds(((epoch_us({{x}}) % {step}) + {step}) % {step})", x=x)


def _row_text(row: exp.Expr, source: DataType) -> exp.Expr:
    """A ROW as Flink prints it: its fields' text in parentheses, ``(1, a)``, NULL as NULL
    (DuckDB prints a struct as ``{'x': 1, 'y': a}``)."""
    parts = {}
    for i, (name, ftype) in enumerate(zip(source.field_names, source.children)):
        field = exp.func("struct_extract", row.copy(), exp.Literal.string(name))
        cast = exp.Cast(this=field, to=exp.DataType.build("VARCHAR"))
        parts[f"f{i}"] = template("coalesce({t}, 'NULL')", t=_convert(cast, ftype, DataType("STRING")))
    joined = " || ', ' || ".join(f"{{f{i}}}" for i in range(len(parts)))
    return template(f"CASE WHEN {{r}} IS NOT NULL THEN '(' || {joined} || ')' END", r=row, **parts)


def _text_or_null(x: exp.Expr, source: DataType) -> exp.Expr:
    """An element's text inside a collection's: Flink's CAST of it to STRING, NULL as NULL."""
    cast = exp.Cast(this=x, to=exp.DataType.build("VARCHAR"))
    return template("coalesce({t}, 'NULL')", t=_convert(cast, source, DataType("STRING")))


def _collection_text(x: exp.Expr, source: DataType) -> exp.Expr:
    """An ARRAY as Flink prints it, ``[1, NULL]``, a MAP as ``{k=v, ...}``: each element
    as its own CAST to STRING prints it (``TRUE``, ``1.0E20``, a string without quotes),
    where DuckDB prints its own literals (``true``, ``1e+20``, ``''``)."""
    depth = str(source).count("ARRAY") + str(source).count("MAP")  # a name per nesting level
    if source.name == "ARRAY":
        e = exp.column(f"__e{depth}")
        text = template(
            f"'[' || array_to_string(list_transform({{x}}, __e{depth} -> {{t}}), ', ') || ']'",
            x=x,
            t=_text_or_null(e, source.children[0]),
        )
    else:
        kv = exp.column(f"__kv{depth}")
        key = _text_or_null(exp.func("struct_extract", kv, exp.Literal.string("key")), source.children[0])
        value = _text_or_null(
            exp.func("struct_extract", kv.copy(), exp.Literal.string("value")), source.children[1]
        )
        text = template(
            f"'{{{{' || array_to_string(list_transform(map_entries({{x}}), "
            f"__kv{depth} -> {{k}} || '=' || {{v}}), ', ') || '}}}}'",
            x=x,
            k=key,
            v=value,
        )
    return template("CASE WHEN {x} IS NOT NULL THEN {t} END", x=x.copy(), t=text)


def _string_to_integral(n: exp.Cast, target: DataType) -> exp.Expr:
    """BinaryStringDataUtil.toLong: blanks trimmed, a fraction cut off ('1.5' is 1, and
    '.5' and '.' are 0: no digit before the point is none), no exponent; what it cannot
    read ('', a lone sign) fails a CAST and is NULL for TRY_CAST."""
    strict = not isinstance(n, exp.TryCast) or _is_flink_strict_cast(n)
    kind = "CAST" if strict else "TRY_CAST"
    failed = "error('cannot CAST ''' || {x} || ''' AS " + target.sql() + "')" if strict else "NULL"
    digits = "regexp_extract(trim({x}), '^[+-]?[0-9]*')"
    return template(
        "CASE WHEN {x} IS NULL THEN NULL "
        f"WHEN regexp_full_match(trim({{x}}), '{_INTEGER_TEXT}') "
        "AND NOT regexp_full_match(trim({x}), '[+-]?') "
        f"THEN {kind}(CASE WHEN regexp_full_match({digits}, '[+-]?') THEN '0' ELSE {digits} END "
        f"AS {target.duckdb()}) "
        f"ELSE {failed} END",
        x=n.this,
    )


# Java's Double.parseDouble (and Float.parseFloat) text: DuckDB also reads '1_000', '+-1'
# and 'inf', which Java does not, and neither the type suffix of '1d' nor hexadecimal text.
_JAVA_FLOATING_TEXT = r"[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?)"
_JAVA_HEX_FLOATING_TEXT = r"[+-]?0[xX]([0-9a-fA-F]+\.?|[0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?"
_DECIMAL_TEXT = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"


def _string_to_approximate(n: exp.Cast, target: DataType) -> exp.Expr:
    """Text read as a DOUBLE or FLOAT by Java's parser, as Flink's cast does: blanks trimmed,
    an optional f/d suffix, hexadecimal text (``0x1.8p1``) read by runtime.java_float; what
    it cannot read fails a CAST and is NULL for TRY_CAST."""
    strict = not isinstance(n, exp.TryCast) or _is_flink_strict_cast(n)
    failed = "error('cannot CAST ''' || {x} || ''' AS " + target.sql() + "')" if strict else "NULL"
    is_float = "TRUE" if target.name == "FLOAT" else "FALSE"
    return template(
        "CASE WHEN {x} IS NULL THEN NULL "
        f"WHEN regexp_full_match(trim({{x}}), '{_JAVA_FLOATING_TEXT}') "
        f"THEN CAST(regexp_replace(trim({{x}}), '[fFdD]$', '') AS {target.duckdb()}) "
        f"WHEN regexp_full_match(trim({{x}}), '{_JAVA_HEX_FLOATING_TEXT}') "
        f"THEN CAST(flink_parse_hex_float(trim({{x}}), {is_float}) AS {target.duckdb()}) "
        f"ELSE {failed} END",
        x=n.this,
    )


def _convert_numeric(n: exp.Cast, source: DataType, target: DataType) -> exp.Expr:
    x = n.this
    if target.is_integral and source.name in ("DOUBLE", "FLOAT"):
        return template(float_to_integral_sql("{x}", target), x=x)
    if target.is_integral and source.name == "DECIMAL":
        return template(decimal_to_integral_sql("{x}", target), x=x)
    if target.is_integral and source.is_integral and BITS[source.name] > BITS[target.name]:
        return template(wrap_sql("{x}", target, via="HUGEINT"), x=x)  # a BIGINT's + 2^31 overflows
    if target.name == "DECIMAL" and source.name in ("DOUBLE", "FLOAT"):
        return _approximate_to_decimal(n, target)
    if target.name == "DECIMAL" and source.is_numeric:  # overflow is NULL in Flink
        return exp.TryCast(this=x, to=exp.DataType.build(target.duckdb(), dialect="duckdb"))
    return _rewrite(n)


def _calendar_interval(interval: exp.Expr) -> bool:
    """An interval of years or months (a YEAR TO MONTH one is months by now)."""
    unit = interval.args.get("unit")
    return isinstance(unit, exp.Var) and unit.name.upper() in ("YEAR", "QUARTER", "MONTH")


def _approximate_to_decimal(n: exp.Cast, target: DataType) -> exp.Expr:
    """Flink's DecimalDataUtils.castFrom(double): BigDecimal.valueOf, the double's shortest
    decimal text, rounded HALF_UP to the scale (CAST(1.005e0 AS DECIMAL(3, 2)) is 1.01,
    though the double is 1.00499..), NULL when it does not fit; NaN and infinities, which
    BigDecimal cannot hold, fail a CAST's job (NULL for TRY_CAST)."""
    x = n.this
    text = exp.cast(exp.cast(x.copy(), "DOUBLE"), "VARCHAR")
    value = template(f"TRY_CAST({{t}} AS {target.duckdb()})", t=text)
    strict = not isinstance(n, exp.TryCast) or _is_flink_strict_cast(n)
    if not strict:
        return value
    return _finite_or_fail(x, f"{NO_BIG_DECIMAL}the value CAST AS {target.sql()}: ", value)


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


_CLOCK_UNITS = {
    "DAY": 86_400_000_000,
    "HOUR": 3_600_000_000,
    "MINUTE": 60_000_000,
    "SECOND": 1_000_000,
    "MILLISECOND": 1_000,
}


def _floor_instant(node: exp.Floor | exp.Ceil) -> exp.Expr:
    """FLOOR/CEIL of a TIMESTAMP_LTZ, as Flink computes it: the local time on the instant's
    own UTC offset, floored, minus that same offset. So 01:30 PDT in the hour a DST change
    repeats floors to 01:00 PDT (DuckDB's date_trunc: 01:00 PST), and 03:30 PDT on the day
    DST starts floors to 00:00 at -07:00 (Flink's answer, though that midnight was PST);
    a WEEK, MONTH, QUARTER or YEAR floors the local date-time likewise."""
    unit = _unit(node.args["to"])
    if unit not in _CLOCK_UNITS:
        wall = template("CAST({x} AS TIMESTAMP)", x=node.this)
        floor_wall = _calendar_floor(unit.lower(), wall)
        back = template(
            "{x} - to_microseconds(epoch_us({w}) - epoch_us({f}))", x=node.this, w=wall, f=floor_wall
        )
        if isinstance(node, exp.Floor):
            return back
        up = template(
            "{x} + to_microseconds(epoch_us({f} + " + f"INTERVAL 1 {unit}" + ") - epoch_us({w}))",
            x=node.this.copy(),
            w=wall.copy(),
            f=floor_wall.copy(),
        )
        return template(
            "CASE WHEN {f} = {w} THEN {x} ELSE {u} END",
            f=floor_wall.copy(),
            w=wall.copy(),
            x=node.this.copy(),
            u=up,
        )
    step = _CLOCK_UNITS[unit]
    local = "epoch_us({x}) + CAST(date_part('timezone', {x}) AS BIGINT) * 1000000"
    floor = f"{{x}} - to_microseconds(((({local}) % {step}) + {step}) % {step})"
    ceil = f"CASE WHEN {floor} = {{x}} THEN {{x}} ELSE {floor} + to_microseconds({step}) END"
    return template(floor if isinstance(node, exp.Floor) else ceil, x=node.this)


def _calendar_floor(unit: str, x: exp.Expr) -> exp.Expr:
    """``x`` truncated to the unit; Flink's weeks start on Sunday, DuckDB's on Monday, its
    centuries and millennia in a year 1."""
    if unit == "week":
        return template("date_trunc('week', {x} + INTERVAL 1 DAY) - INTERVAL 1 DAY", x=x)
    if unit in _FIRST_YEAR:
        return template(
            f"date_trunc('year', {{x}}) - to_years(CAST(year({{x}}) - ({_FIRST_YEAR[unit]}) AS INTEGER))", x=x
        )
    return exp.func("date_trunc", exp.Literal.string(unit), x)


def _cast_type(cast: exp.Cast) -> exp.DataType:
    return exp.DataType.build(cast_target(cast).duckdb(), dialect="duckdb")


def _unit(node: exp.Expr | None) -> str:
    text = (node.name if node is not None else "").upper().rstrip("S")
    if text not in _UNITS:
        raise UnsupportedError(f"unknown time unit '{text}'")
    return text


def _rewrite(n: exp.Expr) -> exp.Expr:
    if isinstance(n, exp.Column):
        return exp.column(exp.to_identifier(n.name, quoted=True))
    if isinstance(n, exp.Cast):
        cls = exp.TryCast if isinstance(n, exp.TryCast) and n.args.get("safe", True) else exp.Cast
        target = _cast_type(n)
        source = n.this
        if isinstance(n, exp.TryCast) and _is_flink_strict_cast(n):
            cls = exp.Cast
        return cls(this=source, to=target)
    if isinstance(n, exp.Floor | exp.Ceil) and n.args.get("to") is not None:
        unit = _unit(n.args["to"]).lower()
        trunc = _calendar_floor(unit, n.this)
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
    if isinstance(n, exp.Interval) and isinstance(n.args.get("unit"), exp.IntervalSpan):
        span = n.args["unit"]  # DuckDB has no compound interval literal: one unit instead
        unit, amount = compound_interval(n.this.name, span.this.name, span.expression.name)
        return exp.Interval(this=exp.Literal.string(str(amount)), unit=exp.var(unit))
    rewrite = REWRITES.get(type(n))
    if rewrite is not None:
        return rewrite(n)
    if isinstance(n, exp.Dot) and isinstance(n.this, exp.Column | exp.Dot):
        return exp.func("struct_extract", n.this, exp.Literal.string(n.expression.name))
    return n


def _is_flink_strict_cast(n: exp.TryCast) -> bool:
    """Our dialect marks a plain CAST it read as strict (Flink's CAST fails on bad input)."""
    return bool(n.meta.get("strict"))


def _anonymous(n: exp.Anonymous) -> exp.Expr:
    name = function_name(n)
    args = n.expressions
    rewrite = REWRITES.get(name)
    if rewrite is not None:
        return rewrite(n)
    if name in ("PROCTIME", "CURRENT_ROW_TIMESTAMP"):
        return exp.func("get_current_timestamp")
    if name == "CHAR_LENGTH" or name == "CHARACTER_LENGTH":
        return exp.func("length", *args)
    if name == "TO_TIMESTAMP_LTZ" and len(args) == 2 and args[1].is_string:
        # TO_TIMESTAMP_LTZ(s, format): TO_TIMESTAMP's reading, an instant of UTC wall time
        # (Flink's default zone for it), whatever the session's zone
        fmt = format_time(args[1].name, Flink.TIME_MAPPING, Flink.TIME_TRIE)
        return template("timezone('UTC', {t})", t=parse_timestamp(args[0], fmt or ""))
    if name == "TO_TIMESTAMP_LTZ" and len(args) in (1, 2) and not args[0].is_string:
        # TO_TIMESTAMP_LTZ(epoch, precision): precision 3 counts milliseconds, 0 seconds.
        precision = int(args[1].name) if len(args) == 2 and args[1].is_int else 3
        if precision not in (0, 3):
            raise UnsupportedError("TO_TIMESTAMP_LTZ with a precision other than 0 or 3")
        return to_timestamp_ltz(args[0], precision)
    return n


def check_supported(node: exp.Expr) -> None:
    """Raise for a function we cannot run, at planning time rather than when a job fails:
    every function call must be in :mod:`planner.functions`' table."""
    for sub in node.walk():
        if isinstance(sub, exp.Window):
            name = function_name(sub.this)
            raise UnsupportedError(
                f"window function {name}(...) OVER (...) is not supported yet",
                hint="Top-N and deduplication (ROW_NUMBER() OVER ...) and OVER aggregations "
                "are not planned yet",
            )
        if isinstance(sub, exp.RegexpLike):  # sqlglot reads Spark's infix RLIKE / REGEXP
            raise PlanError(
                "RLIKE, infix REGEXP and REGEXP_LIKE are not Flink SQL",
                hint="REGEXP(s, pattern) tells whether a part of s matches the pattern",
            )
        if _beyond_long(sub):
            text = sub.sql(dialect=Flink).replace(" ", "")
            raise PlanError(
                f"numeric literal '{text}' is out of range",
                hint="an exact literal's digits must fit a BIGINT; write a DOUBLE (1e19) "
                "or CAST('...' AS DECIMAL(p, s)) for more",
            )
        if isinstance(sub, exp.Div | exp.IntDiv | exp.Mod) and _constant_division_by_zero(sub):
            # Flink reduces a constant expression when planning, and its division throws there
            raise PlanError(f"{DIVISION_BY_ZERO}{sub.sql(dialect=Flink)}")
        if not isinstance(sub, exp.Func) or isinstance(sub, _OPERATOR_NODES):
            continue
        check_seed(sub)
        name = function_name(sub)
        ltz_text = [a.is_string for a in sub.expressions] if name == "TO_TIMESTAMP_LTZ" else []
        if any(ltz_text) and not (ltz_text == [True] or (len(ltz_text) == 2 and ltz_text[1])):
            raise UnsupportedError("TO_TIMESTAMP_LTZ of a string (with a format) is not supported yet")
        if name in FUNCTIONS or name in STRUCTURAL or user_function(sub) is not None:
            continue
        if name in UNSUPPORTED:
            kind = "aggregate function" if isinstance(sub, exp.AggFunc) else "function"
            raise UnsupportedError(f"{kind} {name} is not supported yet")
        if isinstance(sub, exp.AggFunc):
            raise UnsupportedError(
                f"aggregate function {name} is not supported yet",
                hint=f"the aggregates are {', '.join(AGGREGATES)}",
            )
        raise PlanError(
            f"no function named {name}",
            hint=did_you_mean(name, FUNCTIONS) or "SHOW FUNCTIONS lists the functions",
        )


def _exact_constant(e: exp.Expr) -> bool:
    """An integer or DECIMAL literal (a DOUBLE's division by zero is infinite, not an error)."""
    e = e.this if isinstance(e, exp.Neg | exp.Paren) else e
    return isinstance(e, exp.Literal) and not e.is_string and "e" not in e.name.lower()


def _beyond_long(e: exp.Expr) -> bool:
    """An exact literal whose digits (its unscaled value) do not fit a Java long, which
    Calcite's validator refuses: 9223372036854775808, 0.12345678901234567890. A minus sign
    is part of the literal to Calcite, so -9223372036854775808 is BIGINT's minimum."""
    if isinstance(e, exp.Neg):
        literal, sign = e.this, -1
    elif isinstance(e.parent, exp.Neg):
        return False  # judged with its sign
    else:
        literal, sign = e, 1
    if not (isinstance(literal, exp.Literal) and _exact_constant(literal)):
        return False
    unscaled = sign * int(literal.name.replace(".", ""))
    return not -(2**63) <= unscaled < 2**63


def _constant_division_by_zero(n: exp.Binary) -> bool:
    """Two number literals, the divisor zero: Calcite reduces them as BigDecimals, so even
    ``1e0 / 0`` (a DOUBLE, infinite in a column) fails when Flink plans it."""
    return _number(n.left) is not None and _number(n.right) == 0


_OPERATOR_NODES = (
    exp.Binary, exp.Unary, exp.Connector, exp.Predicate, exp.Cast, exp.Case, exp.If, exp.Coalesce,
    exp.Extract, exp.Array, exp.Struct, exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Nullif,
    exp.Greatest, exp.Least, exp.Floor, exp.Ceil, JsonObjectText,
)  # fmt: skip
"""Operators and constructs sqlglot models as functions: not looked up by name."""
