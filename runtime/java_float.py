"""Java's hexadecimal floating-point text (``0x1.8p1``: a hexadecimal significand times a
power of two), which Double.parseDouble and Float.parseFloat read and so Flink's CAST of a
STRING to DOUBLE or FLOAT, installed on every operator's DuckDB connection as
``flink_parse_hex_float(text, is_float)``; DuckDB reads no such text. The planner calls
it only for text that matches Java's grammar (``planner.codegen``).

The value is rounded once, to the nearest double or float (ties to even), as Java's
FloatingDecimal.parseHexString does: a FLOAT is not the double's rounding again.

>>> parse_hex("0x1p3", False), parse_hex("-0X1.8P1d", False), parse_hex("0x1p-1075", False)
(8.0, -3.0, 0.0)
>>> parse_hex("0x1.000001p0", True), parse_hex("0x1p1024", False), parse_hex("-0x0p0", False)
(1.0, inf, -0.0)
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import duckdb
import pyarrow as pa

from runtime import arrow_functions
from runtime.arrow_functions import ArrowFunction

FUNCTION = "flink_parse_hex_float"

# FloatingDecimal's hexadecimal grammar, the text already trimmed
_HEX = re.compile(r"([+-])?0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?[0-9]+)[fFdD]?")
# (significand bits, least exponent of its last bit, the power of two where it overflows)
_DOUBLE = (53, -1074, 1024)
_FLOAT = (24, -149, 128)


def parse_hex(text: str | None, is_float: bool | None) -> float | None:
    """The double (or float, as a double) nearest to hexadecimal floating-point text."""
    if text is None or is_float is None:
        return None
    match = _HEX.fullmatch(text)
    if match is None:
        raise ValueError(f"not hexadecimal floating-point text: {text!r}")
    sign, whole, fraction, exponent = match.groups()
    digits = whole + fraction
    significand = int(digits, 16) if digits else 0
    bits, least, overflow = _FLOAT if is_float else _DOUBLE
    # beyond these bounds every significand of this many digits is infinite or zero
    limit = overflow + 4 * len(digits) + bits + 2
    power = max(-limit, min(limit, int(exponent))) - 4 * len(fraction)
    value = _nearest(Fraction(significand) * Fraction(2) ** power, bits, least, overflow)
    return -value if sign == "-" else value


def _nearest(value: Fraction, bits: int, least: int, overflow: int) -> float:
    """``value`` (not negative) rounded to ``bits`` significant bits, ties to even, no finer
    than 2^least (subnormals), infinite from 2^overflow on."""
    if value == 0:
        return 0.0
    top = value.numerator.bit_length() - value.denominator.bit_length()  # 2^top <= value < 2^(top+2)
    if Fraction(2) ** top > value:
        top -= 1
    quantum = max(top - bits + 1, least)
    steps = round(value / Fraction(2) ** quantum)  # Fraction rounds half to even
    rounded = Fraction(steps) * Fraction(2) ** quantum
    if rounded >= Fraction(2) ** overflow:
        return math.inf
    return float(rounded)


def _parse_all(texts: pa.Array, is_float: pa.Array) -> pa.Array:
    return pa.array([parse_hex(t, f) for t, f in zip(texts.to_pylist(), is_float.to_pylist())], pa.float64())


FUNCTIONS = (ArrowFunction(FUNCTION, _parse_all, ("VARCHAR", "BOOLEAN"), "DOUBLE"),)


def install(con: duckdb.DuckDBPyConnection) -> None:
    arrow_functions.install(con, FUNCTIONS)
