"""JSON text as Flink writes it for JSON_QUERY and JSON_VALUE (SqlJsonUtils: Jackson with
ORDER_MAP_ENTRIES_BY_KEYS and USE_BIG_DECIMAL_FOR_FLOATS), installed on every operator's
DuckDB connection as the functions ``flink_json_query(json, steps)`` and
``flink_json_double(x)`` (JSON_STRING of a DOUBLE or FLOAT).

DuckDB's JSON functions re-print a number from its double (``1.5e3`` becomes ``1500.0``)
and keep an object's keys in the document's order; Flink reads a number with a fraction or
an exponent as a BigDecimal and writes its text (``1.5E+3``, ``1.50``), and writes every
object's keys sorted. The planner calls this function only where that text is the answer
(:mod:`planner.json_functions`); ``steps`` is the path as a JSON list of keys and indexes.

>>> query_text('{"b": 1.50, "a": [1.5e3, "x"]}', '[]')
'{"a":[1.5E+3,"x"],"b":1.50}'
>>> query_text('{"b": {"n": 2e-7}}', '["b", "n"]')
'2E-7'
"""

from __future__ import annotations

import decimal
import json
from typing import Any

import duckdb
import duckdb.func
import pyarrow as pa

FUNCTION = "flink_json_query"
DOUBLE_FUNCTION = "flink_json_double"
_MISSING = object()
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(s: str) -> str:
    """A JSON string as Jackson writes it: control characters as \\uXXXX in uppercase hex,
    everything else (non-ASCII too) as it is."""
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, decimal.Decimal):  # BigDecimal.toString: no negative zero
        return str(value.copy_abs() if value.is_zero() else value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(_text(v) for v in value) + "]"
    keys = sorted(value, key=lambda k: k.encode("utf-16-be"))  # Java's String order
    return "{" + ",".join(f"{_string(k)}:{_text(value[k])}" for k in keys) + "}"


def query_text(doc: str | None, steps: str | None) -> str | None:
    """The text of the value at ``steps`` in ``doc``; None when the document is not JSON
    or the path finds nothing (the SQL around the call decides what that means)."""
    if doc is None or steps is None:
        return None
    try:
        value: Any = json.loads(doc, parse_float=decimal.Decimal)
    except ValueError:
        return None
    for step in json.loads(steps):
        in_array = isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value)
        in_object = isinstance(step, str) and isinstance(value, dict) and step in value
        if not (in_array or in_object):
            return None
        value = value[step]
    return _text(value)


def double_text(d: float | None) -> str | None:
    """A DOUBLE as Jackson writes the BigDecimal Flink makes of it (BigDecimal.valueOf:
    the decimal of Java's Double.toString), e.g. 1.0E+308, 0.000010, 1.0.

    >>> [double_text(x) for x in (1e308, 1e-5, 1.0, -0.5, 12345678.0, -0.0)]
    ['1.0E+308', '0.000010', '1.0', '-0.5', '12345678', '0.0']
    """
    if d is None or d != d or d in (float("inf"), float("-inf")):
        return None if d is None else json.dumps(d)
    if d == 0:
        return "0.0"
    exact = decimal.Decimal(repr(abs(d))).normalize()
    digits = "".join(map(str, exact.as_tuple().digits))
    adjusted = exact.adjusted()
    if 1e-3 <= abs(d) < 1e7:  # Double.toString: plain, at least one fraction digit
        java = format(exact, "f")
        java = java if "." in java else java + ".0"
    else:
        java = f"{digits[0]}.{digits[1:] or '0'}E{adjusted}"
    return str(decimal.Decimal(("-" if d < 0 else "") + java))


def _vectorized(docs: pa.Array, steps: pa.Array) -> pa.Array:
    return pa.array([query_text(d, s) for d, s in zip(docs.to_pylist(), steps.to_pylist())], pa.string())


def _doubles(values: pa.Array) -> pa.Array:
    return pa.array([double_text(v) for v in values.to_pylist()], pa.string())


def install(con: duckdb.DuckDBPyConnection) -> None:
    con.create_function(
        DOUBLE_FUNCTION,
        _doubles,
        [duckdb.sqltype("DOUBLE")],
        duckdb.sqltype("VARCHAR"),
        type=duckdb.func.ARROW,
        null_handling=duckdb.func.SPECIAL,
    )
    con.create_function(
        FUNCTION,
        _vectorized,
        [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        type=duckdb.func.ARROW,
        null_handling=duckdb.func.SPECIAL,
    )
