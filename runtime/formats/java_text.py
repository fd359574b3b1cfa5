"""Numbers as Flink's ``json`` and ``csv`` formats write them, as DuckDB SQL over a column.

Both formats turn a row into Jackson nodes and let Jackson write them: a DOUBLE or FLOAT as
Java's Double.toString / Float.toString (``1.0E20``, ``9.999E-4``, ``-0.0``; ``java_float``),
a DECIMAL as the BigDecimal that Jackson's node factory strips of trailing zeros, written
with BigDecimal.toString: ``12.30`` is ``12.3``, ``0.00`` is ``0``, ``100`` is ``1E+2`` and
``0.0000001`` is ``1E-7`` (tests/oracle/sink_text.json records Flink writing them). With
``json.encode.decimal-as-plain-number`` Flink writes toPlainString of the value as it is,
scale kept: ``12.30``, ``100``, DuckDB's own text.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.types import DataType
from planner.numeric import decimal_text_sql
from runtime.decimal_context import EXACT

if TYPE_CHECKING:  # DuckDB loads with the first encoder that runs SQL: a file source never does
    import duckdb

_DECIMAL_FUNCTION = "flink_decimal_text"
# java_float_texts of a DOUBLE, a FLOAT, and of each with NaN and the infinities quoted
_FLOAT_FUNCTIONS = {
    (False, False): ("flink_double_text", "DOUBLE"),
    (True, False): ("flink_float_text", "FLOAT"),
    (False, True): ("flink_double_json", "DOUBLE"),
    (True, True): ("flink_float_json", "FLOAT"),
}
# BigDecimal writes an exponent for a whole number that ends in 0 once stripped (100 is
# 1E+2) and below 1e-6 (0.0000001 is 1E-7)
_TINY = ("0.000000", "-0.000000")


def _texts(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """BigDecimal's text, once stripped of trailing zeros, of each of DuckDB's decimal
    texts (``12.30``, ``100.00``, ``0``), with Arrow's string kernels; below 1e-6 (rare)
    with Python's Decimal, which writes a number by the same rule (the General Decimal
    Arithmetic's to-sci-string)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    fraction = pc.match_substring(values, ".")
    text = pc.if_else(fraction, pc.ascii_rtrim(pc.ascii_rtrim(values, "0"), "."), values)
    # stripped, a text ends in 0 only if it is a whole number
    round_ = pc.and_(pc.ends_with(text, "0"), pc.not_equal(text, "0")).fill_null(False)
    if pc.any(round_).as_py():
        text = pc.replace_with_mask(text, round_, _round_texts(text.filter(round_)))
    tiny = pc.or_(*(pc.starts_with(text, p) for p in _TINY)).fill_null(False)
    if pc.any(tiny).as_py():
        texts = [str(decimal.Decimal(v).normalize(EXACT)) for v in text.filter(tiny).to_pylist()]
        text = pc.replace_with_mask(text, tiny, pa.array(texts, pa.string()))
    return text


def _round_texts(whole: pa.Array) -> pa.Array:
    """``1.2E+3`` of ``1200``: the digits without the trailing zeros, the point after the
    first, the exponent."""
    digits = pc.ascii_ltrim(whole, "-")
    significant = pc.ascii_rtrim(digits, "0")
    rest = pc.utf8_slice_codeunits(significant, 1)
    mantissa = pc.if_else(
        pc.equal(pc.utf8_length(rest), 0),
        significant,
        pc.binary_join_element_wise(pc.utf8_slice_codeunits(significant, 0, 1), ".", rest, ""),
    )
    sign = pc.if_else(pc.starts_with(whole, "-"), "-", "")
    exponent = pc.cast(pc.subtract(pc.utf8_length(digits), 1), pa.string())
    return pc.binary_join_element_wise(sign, mantissa, "E+", exponent, "")


def java_float(x: float, single: bool = False) -> str:
    """Java's ``Double.toString`` (``Float.toString`` when ``single``): the shortest digits
    that read back as the value, plain between 1e-3 and 1e7, else ``d.dddE±n``; where those
    digits are one, the two-digit decimal nearest the value (which differs from ``d.0``
    only for subnormals: 4.9E-324, not 5.0E-324).

    Java 17's Double.toString (JDK-4511638, fixed in Java 19) writes a digit more than
    needed for some doubles (``2.82879384806159008E17``); this writes the shortest, as
    Java 19 does.

    >>> [java_float(x) for x in (1e20, 9.999e-4, 0.1, 100.0, -0.0, 5e-324)]
    ['1.0E20', '9.999E-4', '0.1', '100.0', '-0.0', '4.9E-324']
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    text = np.format_float_scientific(np.float32(x) if single else x, unique=True, trim="-")
    mantissa, exp_text = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    exp = int(exp_text)
    if 1e-3 <= abs(x) < 1e7:
        if exp >= 0:
            whole = digits[: exp + 1].ljust(exp + 1, "0")
            frac = digits[exp + 1 :] or "0"
        else:
            whole = "0"
            frac = "0" * (-exp - 1) + digits
        return f"{sign}{whole}.{frac}"
    if len(digits) == 1:  # the exact value's two digits, rounded: '%.1e' of a double
        mantissa, exp_text = f"{abs(x):.1e}".split("e")
        return f"{sign}{mantissa}E{int(exp_text)}"
    return f"{sign}{digits[0]}.{digits[1:]}E{exp}"


def java_float_texts(arr: pa.Array | pa.ChunkedArray, single: bool, quoted: bool = False) -> pa.Array:
    """``java_float`` of each value of a float or double array (nulls stay null): Arrow's
    shortest text is Java's between 1e-3 and 1e7 once whole values get their ``.0``; the
    rest (exponents, NaN, infinities, zeros) goes through ``java_float``, row by row.
    ``quoted``: NaN and the infinities in double quotes, as Jackson writes them in JSON."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    text = pc.cast(arr, pa.string())
    text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))
    magnitude = pc.abs(arr).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        plain = (magnitude >= 1e-3) & (magnitude < 1e7)
    other = ~plain & arr.is_valid().to_numpy(zero_copy_only=False)
    if other.any():
        values = arr.filter(pa.array(other)).to_pylist()
        texts = [java_float(v, single) for v in values]
        if quoted:
            texts = [f'"{t}"' if t[-1] in "yN" else t for t in texts]  # Infinity, NaN
        replacements = pa.array(texts, pa.string())
        text = pc.replace_with_mask(text, pa.array(other), replacements)
    return text


def _float_texts(single: bool, quoted: bool) -> Callable[[pa.Array], pa.Array]:
    def texts(arr: pa.Array) -> pa.Array:
        return java_float_texts(arr, single, quoted)

    return texts


def float_sql(x: str, single: bool, quote_non_finite: bool = False) -> str:
    """SQL of ``java_float`` of the DOUBLE (FLOAT when ``single``) expression ``x``, on a
    connection that ``install`` set up; ``quote_non_finite``: NaN and the infinities in
    double quotes, as Jackson writes them in JSON."""
    return f"{_FLOAT_FUNCTIONS[single, quote_non_finite][0]}({x})"


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Makes ``decimal_sql``'s and ``float_sql``'s SQL runnable on ``con``: the functions
    they call, which run over whole vectors (a short SQL text, too: a CASE spelling Java's
    layout out took DuckDB 15-45 ms to plan, for every batch)."""
    import duckdb.func

    varchar = con.sqltype("VARCHAR")
    con.create_function(_DECIMAL_FUNCTION, _texts, [varchar], varchar, type=duckdb.func.ARROW)
    for (single, quoted), (name, sql_type) in _FLOAT_FUNCTIONS.items():
        texts = _float_texts(single, quoted)
        con.create_function(name, texts, [con.sqltype(sql_type)], varchar, type=duckdb.func.ARROW)


def decimal_sql(x: str, t: DataType, plain: bool = False) -> str:
    """SQL of the text Flink writes for the DECIMAL expression ``x`` of type ``t``
    (``plain``: with ``json.encode.decimal-as-plain-number``), on a connection that
    ``install`` set up.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> install(con)
    >>> values = "(12.30::DECIMAL(10, 8)), (0.00), (100.00), (-0.50), (0.0000012), (-1200), (0.00000012)"
    >>> sql = decimal_sql("v", DataType("DECIMAL", 12, 8))
    >>> [r[0] for r in con.sql(f"SELECT {sql} FROM (VALUES {values}) t(v)").fetchall()]
    ['12.3', '0', '1E+2', '-0.5', '0.0000012', '-1.2E+3', '1.2E-7']
    """
    text = decimal_text_sql(x, t)
    return text if plain else f"{_DECIMAL_FUNCTION}({text})"
