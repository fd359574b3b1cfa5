"""DECIMAL +, -, * and / whose exact value needs more than 38 digits on the way, as Flink's
DecimalDataUtils computes them (BigDecimal arithmetic, then HALF_UP to the result's scale),
installed on every operator's DuckDB connection as ``flink_decimal(op, a, b, scale)``.

DuckDB computes ``a * b`` in DECIMAL(38, s1 + s2) and ``a + b`` in DECIMAL(38, max(s1, s2)),
so two DECIMAL(38, 18) values whose product is 100 or more overflow there, though Flink's
result type, DECIMAL(38, 6), holds it. The planner calls this function only for the rows
where DuckDB's own exact operation could overflow (:func:`planner.codegen`'s decimal
arithmetic); the operands come as text, the result goes back as text that the planner
casts to the result type (NULL when it does not fit, as in Flink).

>>> decimal_text('*', '99999999.990000000000000000', '14285714.284285714285700000', 6)
'1428571428285714.285727'
>>> decimal_text('+', '-0.5', '0.5', 0), decimal_text('-', '1.25', '0.005', 2)
('0', '1.25')
>>> decimal_text('-', '0', '10000000000000000000000000001', 8)
'-10000000000000000000000000001.00000000'
>>> decimal_text('/', '99999999.990000000000000000000000000000', '3', 30)
'33333333.330000000000000000000000000000'
>>> decimal_text('/', '-2', '3', 2), decimal_text('/', '1', '0', 2)
('-0.67', None)
"""

from __future__ import annotations

import decimal

import duckdb
import pyarrow as pa

from runtime import arrow_functions
from runtime.arrow_functions import ArrowFunction
from runtime.decimal_context import EXACT

FUNCTION = "flink_decimal"


def decimal_text(op: str, a: str | None, b: str | None, scale: int) -> str | None:
    if a is None or b is None:
        return None
    x, y = decimal.Decimal(a), decimal.Decimal(b)
    if op == "/":
        return _quotient_text(x, y, scale)
    # every step in EXACT (0 - 10000000000000000000000000001 negated in the default context
    # came out -10000000000000000000000000000)
    exact = {"*": EXACT.multiply, "+": EXACT.add, "-": EXACT.subtract}[op](x, y)
    unit = decimal.Decimal(1).scaleb(-scale)
    rounded = exact.quantize(unit, rounding=decimal.ROUND_HALF_UP, context=EXACT)
    return format(rounded.copy_abs() if rounded.is_zero() else rounded, "f")


def _quotient_text(x: decimal.Decimal, y: decimal.Decimal, scale: int) -> str | None:
    """``x / y`` rounded HALF_UP to ``scale`` digits (BigDecimal.divide), on exact integers:
    a quotient that does not end is never rounded twice. None for a zero divisor (the
    planner fails the job on that row before)."""
    if y.is_zero():
        return None
    (sx, dx, ex), (sy, dy, ey) = x.as_tuple(), y.as_tuple()
    ux = int("".join(map(str, dx))) * (-1 if sx else 1)
    uy = int("".join(map(str, dy))) * (-1 if sy else 1)
    shift = scale + int(ex) - int(ey)  # x / y * 10^scale = ux / uy * 10^shift
    num, den = (ux * 10**shift, uy) if shift >= 0 else (ux, uy * 10**-shift)
    q, r = divmod(abs(num), abs(den))
    if 2 * r >= abs(den):
        q += 1
    negative = (num < 0) != (den < 0) and q != 0
    return format(decimal.Decimal(-q if negative else q).scaleb(-scale, EXACT), "f")


def _vectorized(ops: pa.Array, a: pa.Array, b: pa.Array, scales: pa.Array) -> pa.Array:
    return pa.array(
        [
            decimal_text(o, x, y, s)
            for o, x, y, s in zip(ops.to_pylist(), a.to_pylist(), b.to_pylist(), scales.to_pylist())
        ],
        pa.string(),
    )


FUNCTIONS = (ArrowFunction(FUNCTION, _vectorized, ("VARCHAR", "VARCHAR", "VARCHAR", "INTEGER"), "VARCHAR"),)


def install(con: duckdb.DuckDBPyConnection) -> None:
    arrow_functions.install(con, FUNCTIONS)
