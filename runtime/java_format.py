"""PRINTF's ``%f`` as Java's Formatter writes it (Locale.US), installed on every operator's
DuckDB connection as ``flink_printf_float(x, spec)``.

Java does not round the double's exact binary value, as C's printf (and DuckDB's) does: it
takes the shortest decimal that reads back as the double (Double.toString's digits) and
rounds that half up, so ``%.2f`` of 0.125 is ``0.13`` and of 1.005 is ``1.01`` (C: ``0.12``,
``1.00``), and ``%.20f`` of 0.1 is ``0.1`` and zeros. A FLOAT is widened to a double first,
as Formatter does. The planner (:func:`planner.strings.printf_parts`) has checked the spec's
flags as Java would, so ``spec`` here is always valid.

>>> float_text(0.125, '%.2f'), float_text(-1234567.5, '%,(12.0f'), float_text(None, '%.2f')
('0.13', ' (1,234,568)', 'nu')
"""

from __future__ import annotations

import decimal
import math
import re

import duckdb
import pyarrow as pa

from runtime import arrow_functions
from runtime.arrow_functions import ArrowFunction

FUNCTION = "flink_printf_float"
_SPEC = re.compile(r"%([-#+ 0,(]*)(\d+)?(?:\.(\d+))?f")


def float_text(value: float | None, spec: str) -> str:
    m = _SPEC.fullmatch(spec)
    assert m is not None, f"the planner writes only %f conversions, not {spec!r}"
    flags, width_text, precision_text = m.groups()
    width = int(width_text) if width_text else 0
    if value is None:  # Formatter.print("null"): the precision cuts it, spaces pad it
        text = "null" if precision_text is None else "null"[: int(precision_text)]
        return _justify(text, width, flags)
    if value != value:
        return _justify("NaN", width, flags)
    negative = math.copysign(1.0, value) < 0  # Double.compare(value, 0.0) == -1: -0.0 too
    if negative:
        sign = "(" if "(" in flags else "-"
    else:
        sign = "+" if "+" in flags else " " if " " in flags else ""
    closing = ")" if negative and "(" in flags else ""
    if value in (float("inf"), float("-inf")):
        return _justify(f"{sign}Infinity{closing}", width, flags)
    precision = 6 if precision_text is None else int(precision_text)
    magnitude = decimal.Decimal(repr(abs(value)))  # the shortest digits, as Double.toString's
    with decimal.localcontext() as ctx:
        ctx.prec = 400 + precision  # room for every digit of the largest double
        rounded = magnitude.quantize(decimal.Decimal(1).scaleb(-precision), rounding=decimal.ROUND_HALF_UP)
    digits = format(rounded, ",f" if "," in flags else "f")
    if "#" in flags and precision == 0:
        digits += "."
    if "0" in flags:  # after the sign, and never grouped: %,010.1f of 1234.5 is 0001,234.5
        digits = digits.rjust(width - len(sign) - len(closing), "0")
    return _justify(f"{sign}{digits}{closing}", width, flags)


def _justify(text: str, width: int, flags: str) -> str:
    return text.ljust(width) if "-" in flags else text.rjust(width)


def _vectorized(values: pa.Array, specs: pa.Array) -> pa.Array:
    return pa.array([float_text(v, s) for v, s in zip(values.to_pylist(), specs.to_pylist())], pa.string())


FUNCTIONS = (ArrowFunction(FUNCTION, _vectorized, ("DOUBLE", "VARCHAR"), "VARCHAR"),)


def install(con: duckdb.DuckDBPyConnection) -> None:
    arrow_functions.install(con, FUNCTIONS)
