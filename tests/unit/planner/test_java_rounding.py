"""ROUND of a DOUBLE to any constant places, and text read AS DOUBLE or FLOAT, as Java does
them (planner/codegen.py, runtime/java_float.py): against a model of Java's arithmetic in
Python's exact Decimal and Fraction, on random doubles and places far beyond DECIMAL(38, 18),
where rounding the double itself (x / 1e30) is not exact."""

from __future__ import annotations

import decimal
import math
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import parse_one

from catalog.types import DOUBLE, STRING
from planner.codegen import to_duckdb
from planner.dialect import Flink
from runtime import java_float
from tests.conftest import examples

SETTINGS = settings(max_examples=examples(60), deadline=None)


def _run(call: str, values: list[Any], column_type: str) -> list[Any]:
    """The Flink call over the column x, planned and run by DuckDB."""
    sql = to_duckdb(parse_one(call, read=Flink), lambda name: DOUBLE if column_type == "DOUBLE" else STRING)
    con = duckdb.connect()
    java_float.install(con)
    result = con.execute(f"SELECT {sql} FROM unnest(?::{column_type}[]) AS t(x)", [values])
    return [r[0] for r in result.fetchall()]


def _java_round(x: float, places: int) -> float:
    """SqlFunctionUtils.sround(double, int): HALF_UP of BigDecimal.valueOf(x) (Double.toString,
    the shortest text for every normal double), back to the nearest double."""
    exact = decimal.Decimal(repr(x)).scaleb(places)
    with decimal.localcontext() as ctx:
        ctx.prec = 1000
        rounded = exact.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP).scaleb(-places)
    return float(rounded) + 0.0


# normal doubles, many with few digits, so that some sit on a half at the places rounded
doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300).filter(
        lambda v: v == 0 or abs(v) > 1e-300
    ),
    st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-999, 999), st.integers(-300, 300)),
)


@SETTINGS
@given(st.lists(doubles, min_size=1, max_size=12), st.integers(-330, 345))
def test_round_of_a_double_is_javas_half_up_of_its_text(values: list[float], places: int) -> None:
    ours = _run(f"ROUND(x, {places})", values, "DOUBLE")
    assert ours == [_java_round(v, places) for v in values]


@pytest.mark.parametrize(
    ("x", "places", "expected"),
    [
        (1.5e30, -30, 2e30),  # x / 1e30 rounds below 1.5: the double's arithmetic gives 1e30
        (1.5e20, -20, 2e20),
        (1.0000000000000005e21, -6, 1.000000000000001e21),
        (1.25e-19, 20, 1.3e-19),
        (123.456, -400, 0.0),
        (-1.5e30, -30, -2e30),
        (4.9e-324, 323, 0.0),  # Java writes the least double 4.9E-324 (two digits)
    ],
)
def test_round_far_beyond_decimal_places(x: float, places: int, expected: float) -> None:
    assert _run(f"ROUND(x, {places})", [x], "DOUBLE") == [expected]


def test_round_to_places_beyond_bigdecimal_fails_as_flinks_job() -> None:
    assert _run("ROUND(x, 2147483647)", [0.0], "DOUBLE") == [0.0]  # zero has no digits to move
    with pytest.raises(duckdb.Error, match="BigDecimal cannot hold"):
        _run("ROUND(x, 2147483647)", [0.1], "DOUBLE")
    with pytest.raises(duckdb.Error, match="BigDecimal cannot hold"):
        _run("ROUND(x, -2147483647)", [0.1], "DOUBLE")


hex_texts = st.builds(
    lambda sign, whole, frac, exp: f"{sign}0x{whole}.{frac}p{exp}",
    st.sampled_from(["", "-", "+"]),
    st.text("0123456789abcdefABCDEF", min_size=1, max_size=16),
    st.text("0123456789abcdef", max_size=16),
    st.integers(-1100, 1100),
)


@SETTINGS
@given(st.lists(hex_texts, min_size=1, max_size=10))
def test_hexadecimal_text_reads_as_the_nearest_double(texts: list[str]) -> None:
    expected = []
    for t in texts:
        try:
            expected.append(float.fromhex(t))  # correctly rounded, as Double.parseDouble
        except OverflowError:
            expected.append(math.copysign(math.inf, -1.0 if t.startswith("-") else 1.0))
    assert _run("TRY_CAST(x AS DOUBLE)", texts, "VARCHAR") == expected


@SETTINGS
@given(st.integers(2**23, 2**24 - 1), st.integers(-100, 100), st.booleans())
def test_hexadecimal_text_reads_as_the_nearest_float_once(
    significand: int, exponent: int, above: bool
) -> None:
    """A FLOAT is rounded once, from the text (Float.parseFloat): a 24-bit significand plus
    a half and a little (``above``) rounds up, where the double of the text is a tie that a
    second rounding, to the float, takes to even."""
    text = f"0x{significand:x}{'.80000000000001' if above else ''}p{exponent}"
    assert _run("TRY_CAST(x AS FLOAT)", [text], "VARCHAR") == [math.ldexp(significand + above, exponent)]
