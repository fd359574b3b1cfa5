"""DECIMAL +, -, * without the overflow check, and divisions by a constant without the
zero check: chosen only when the operand types prove the check can never fire, and then
giving exactly the checked form's values (DuckDB computes both here)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

import duckdb
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from sqlglot import parse_one

import planner.codegen
from catalog.types import DataType
from planner.codegen import always_fits, to_duckdb
from planner.dialect import Flink
from planner.numeric import decimal_divide_sql
from planner.typecheck import as_decimal, decimal_arithmetic
from runtime import wide_decimal
from tests.conftest import examples

INTEGRAL = ["TINYINT", "SMALLINT", "INT", "BIGINT"]


def _sql(text: str, types: dict[str, DataType]) -> str:
    return to_duckdb(parse_one(text, read=Flink), lambda name: types[name])


def _checked(text: str, types: dict[str, DataType]) -> str:
    """The SQL planned before the types were trusted: always the overflow check."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(planner.codegen, "always_fits", lambda *_: False)
        return _sql(text, types)


@pytest.mark.parametrize(
    ("text", "a", "b", "checked"),
    [
        ("a * b", DataType("BIGINT"), DataType("DECIMAL", 4, 3), False),  # price * 0.908
        ("a * b", DataType("DECIMAL", 10, 2), DataType("DECIMAL", 10, 2), False),
        ("a + b", DataType("DECIMAL", 37, 2), DataType("INT"), False),
        ("a - b", DataType("DECIMAL", 38, 0), DataType("DECIMAL", 1, 0), True),  # 38 digits + 1
        ("a * b", DataType("DECIMAL", 38, 2), DataType("DECIMAL", 4, 3), True),  # scale cut at 38 digits
        ("a * b", DataType("DECIMAL", 20, 10), DataType("DECIMAL", 20, 10), True),  # 40 digits
        ("a + b", DataType("DECIMAL", 38, 10), DataType("DECIMAL", 38, 30), True),
    ],
)
def test_the_overflow_check_goes_only_where_the_types_prove_it_cannot_fire(
    text: str, a: DataType, b: DataType, checked: bool
) -> None:
    sql = _sql(text, {"a": a, "b": b})
    assert ("CASE WHEN" in sql) == checked
    assert ("TRY_CAST" in sql) == checked


def test_an_integer_literal_beyond_bigint_keeps_the_check() -> None:
    # Typed BIGINT (19 digits) but 20 digits long: the types prove nothing about it, and a
    # plain CAST to the result type would fail the job on the first row.
    sql = _sql("a + 99999999999999999999", {"a": DataType("DECIMAL", 10, 2)})
    assert sql.startswith("TRY_CAST")
    assert len(duckdb.sql(f"SELECT {sql} FROM (SELECT 12.5::DECIMAL(10, 2) AS a)").fetchall()) == 1


_EXACT = Context(prec=100)  # Python's default 28 digits would round the values


def _type() -> st.SearchStrategy[DataType]:
    decimals = st.integers(1, 38).flatmap(
        lambda p: st.integers(0, p).map(lambda s: DataType("DECIMAL", p, s))
    )
    return st.one_of(st.sampled_from([DataType(n) for n in INTEGRAL]), decimals)


@settings(max_examples=examples(300))
@given(a=_type(), b=_type(), op=st.sampled_from(["+", "-", "*"]))
def test_unchecked_only_where_the_extreme_values_fit_flinks_result(a: DataType, b: DataType, op: str) -> None:
    """The largest magnitudes of both types, combined, still fit Flink's result type
    wherever the check is left out."""
    node = parse_one(f"a {op} b", read=Flink)
    result = decimal_arithmetic(node, a, b) if "DECIMAL" in (a.name, b.name) else None
    if result is None or not always_fits(op, a, b, result):
        return
    (p1, s1), (p2, s2), (p, s) = as_decimal(a), as_decimal(b), as_decimal(result)  # type: ignore[misc]
    with localcontext(_EXACT):
        x = Decimal(10**p1 - 1).scaleb(-s1)
        y = Decimal(10**p2 - 1).scaleb(-s2)
        exact = {"+": x + y, "-": x - -y, "*": x * y}[op]
    digits, exponent = len(exact.as_tuple().digits), -int(exact.as_tuple().exponent)
    assert exponent <= s and digits - exponent <= p - s


def _value(t: DataType) -> st.SearchStrategy[str]:
    p, s = as_decimal(t)  # type: ignore[misc]
    if t.name in INTEGRAL:
        bits = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}[t.name]
        ints = st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    else:
        ints = st.integers(-(10**p) + 1, 10**p - 1)
    extremes = st.sampled_from([0, 1, -1, 10**p - 1, -(10**p) + 1]) if t.name == "DECIMAL" else st.nothing()
    return st.one_of(ints, extremes).map(lambda u: format(Decimal(u).scaleb(-s, _EXACT), "f"))


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, DataType, DataType, list[tuple[str, str]]]:
    op = draw(st.sampled_from(["+", "-", "*"]))
    a, b = draw(_type()), draw(_type())
    if "DECIMAL" not in (a.name, b.name):
        b = DataType("DECIMAL", 10, 2)
    rows = draw(st.lists(st.tuples(_value(a), _value(b)), min_size=1, max_size=10))
    return op, a, b, rows


@settings(max_examples=examples(200))
@given(case=_case())
def test_unchecked_and_checked_forms_give_the_same_values(
    case: tuple[str, DataType, DataType, list[tuple[str, str]]],
) -> None:
    op, a, b, rows = case
    types = {"a": a, "b": b}
    text = f"a {op} b"
    fast, slow = _sql(text, types), _checked(text, types)
    assume(fast != slow)
    values = ", ".join(f"(CAST('{x}' AS {a.duckdb()}), CAST('{y}' AS {b.duckdb()}))" for x, y in rows)
    con = duckdb.connect()
    wide_decimal.install(con)
    got = con.sql(f'SELECT {fast} AS f, {slow} AS s FROM (VALUES {values}) AS input("a", "b")').fetchall()
    assert [f for f, _ in got] == [s for _, s in got]


@settings(max_examples=examples(200))
@given(case=_case())
# a subtrahend of more than 28 digits was negated in Python's default context (28 digits):
# 0 - 10000000000000000000000000001 came out -10000000000000000000000000000
@example(
    case=(
        "-",
        DataType("DECIMAL", 10, 10),
        DataType("DECIMAL", 29, 0),
        [("0", "10000000000000000000000000001")],
    )
)
# no scale cut, no overflow: 38 digits, of which DuckDB's own DECIMAL(38, 0) has no room
# for the sum's carry, so flink_decimal computes every row
@example(
    case=(
        "-",
        DataType("DECIMAL", 1, 0),
        DataType("DECIMAL", 38, 0),
        [("1", "95756029939151420731749814832312334740"), ("-9", "-99999999999999999999999999999999999999")],
    )
)
def test_every_form_gives_flinks_exact_value_rounded_to_its_type(
    case: tuple[str, DataType, DataType, list[tuple[str, str]]],
) -> None:
    """Flink's DecimalDataUtils: BigDecimal's exact +, -, *, rounded HALF_UP to the result's
    scale, NULL when that has more integer digits than the result type holds (DuckDB's
    DECIMAL(38, s1 + s2) product would overflow for two DECIMAL(38, 18) values of 10)."""
    op, a, b, rows = case
    result = decimal_arithmetic(parse_one(f"a {op} b", read=Flink), a, b)
    assert result is not None
    p, s = as_decimal(result)  # type: ignore[misc]
    values = ", ".join(f"(CAST('{x}' AS {a.duckdb()}), CAST('{y}' AS {b.duckdb()}))" for x, y in rows)
    con = duckdb.connect()
    wide_decimal.install(con)
    sql = _sql(f"a {op} b", {"a": a, "b": b})
    got = [v for (v,) in con.sql(f'SELECT {sql} FROM (VALUES {values}) AS input("a", "b")').fetchall()]
    with localcontext(_EXACT):
        expected = []
        for x, y in rows:
            a_value, b_value = Decimal(x), Decimal(y)
            exact = {"+": a_value + b_value, "-": a_value - b_value, "*": a_value * b_value}[op]
            rounded = exact.quantize(Decimal(1).scaleb(-s), rounding="ROUND_HALF_UP")
            expected.append(rounded if abs(rounded) < Decimal(10) ** (p - s) else None)
    assert got == expected


def test_a_product_of_two_wide_decimals_keeps_its_value() -> None:
    """DECIMAL(38, 18) * DECIMAL(38, 18) is DECIMAL(38, 6) in Flink: 150 * 2 is 300, which
    sqlstream answered NULL (DuckDB's DECIMAL(38, 36) product has two integer digits)."""
    wide = DataType("DECIMAL", 38, 18)
    sql = _sql("a * b", {"a": wide, "b": wide})
    con = duckdb.connect()
    wide_decimal.install(con)
    rows = con.sql(
        f"SELECT {sql} FROM (VALUES (150::DECIMAL(38, 18), 2::DECIMAL(38, 18)), "
        "(99999999.99::DECIMAL(38, 18), 14285714.2842857142857::DECIMAL(38, 18))) AS input(a, b)"
    ).fetchall()
    assert [str(v) for (v,) in rows] == ["300.000000", "1428571428285714.285727"]


@pytest.mark.parametrize("text", ["a / 4", "a / -0.5", "MOD(a, 3)", "a % (2)"])
def test_a_nonzero_constant_divisor_needs_no_zero_check(text: str) -> None:
    types = {"a": DataType("DECIMAL", 10, 2)}
    assert "error(" not in _sql(text, types).lower()
    types = {"a": DataType("INT")}
    assert "error(" not in _sql(text.replace("0.5", "2"), types).lower()


@pytest.mark.parametrize("text", ["a / 0", "a / 0.0", "a / -0", "MOD(a, 0)", "a / b"])
def test_a_zero_or_unknown_divisor_keeps_the_zero_check(text: str) -> None:
    sql = _sql(text, {"a": DataType("INT"), "b": DataType("INT")})
    assert "division by zero in" in sql
    if "b" not in text:
        with pytest.raises(duckdb.Error, match="division by zero in"):
            duckdb.sql(f"SELECT {sql} FROM (SELECT 7 AS a)").fetchall()


@settings(max_examples=60, deadline=None)
@given(unscaled=st.integers(-(10**37), 10**37), scale=st.integers(1, 18), n=st.integers(1, 10**6))
def test_a_wide_decimal_divided_by_a_count_is_exact(unscaled: int, scale: int, n: int) -> None:
    """AVG of a DECIMAL(38, s) (its sum divided by its count) rounds Flink's exact quotient
    HALF_UP, also for a sum whose digits times 10^s overflow a DECIMAL(38, s) (they went
    through DOUBLE: 1000000025400000000000000000.000000 / 2 came out ...699999961312904754.5)."""
    result = DataType("DECIMAL", 38, max(6, scale))
    # the quotient's digits and one to round on fit 128 bits, so it fits its DECIMAL(38, s)
    assume(abs(unscaled) * 10 ** ((result.scale or 0) + 1 - scale) < 2**127)
    value = Decimal(unscaled).scaleb(-scale)
    sql = decimal_divide_sql("x", DataType("DECIMAL", 38, scale), "n", DataType("BIGINT"), result)
    source = f"SELECT CAST('{value}' AS DECIMAL(38, {scale})) AS x, CAST({n} AS BIGINT) AS n"
    con = duckdb.connect()
    wide_decimal.install(con)  # a quotient beyond 128 bits is computed there
    got = con.sql(f"SELECT {sql} FROM ({source})").fetchall()
    with localcontext(Context(prec=80, rounding=ROUND_HALF_UP)):
        exact = (value / n).quantize(Decimal(1).scaleb(-(result.scale or 0)))
    assert got == [(exact,)]


def test_a_wide_decimal_quotient_keeps_every_digit() -> None:
    """DECIMAL(38, 30) / 3 is DECIMAL(38, 30) in Flink, every digit exact: sqlstream divided
    through DOUBLE where the scaled digits overflow 128 bits (0.500000000000000009942312419328
    for 1.5 / 3, 33333333.329999998254971757178493337600 for 99999999.99 / 3)."""
    sql = _sql("a / b", {"a": DataType("DECIMAL", 38, 30), "b": DataType("INT")})
    con = duckdb.connect()
    wide_decimal.install(con)
    rows = con.sql(
        f"SELECT {sql} FROM (VALUES (1.5::DECIMAL(38, 30), 3), (99999999.99::DECIMAL(38, 30), 3), "
        "(-0.01::DECIMAL(38, 30), 3), (2::DECIMAL(38, 30), -3)) AS input(a, b)"
    ).fetchall()
    assert [str(v) for (v,) in rows] == [
        "0.500000000000000000000000000000",
        "33333333.330000000000000000000000000000",
        "-0.003333333333333333333333333333",
        "-0.666666666666666666666666666667",
    ]
