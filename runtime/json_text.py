"""JSON text as Flink writes it for JSON_QUERY and JSON_VALUE (SqlJsonUtils: Jackson with
ORDER_MAP_ENTRIES_BY_KEYS and USE_BIG_DECIMAL_FOR_FLOATS), installed on every operator's
DuckDB connection as the functions ``flink_json_query(json, steps)`` and
``flink_json_double(x)`` (JSON_STRING of a DOUBLE or FLOAT) and
``flink_json_strings(text, on_error)`` (JSON_QUERY ... RETURNING ARRAY<STRING>).

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
import pyarrow as pa

from runtime import arrow_functions
from runtime.arrow_functions import ArrowFunction

FUNCTION = "flink_json_query"
DOUBLE_FUNCTION = "flink_json_double"
STRINGS_FUNCTION = "flink_json_strings"
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
    or the path finds nothing (the SQL around the call decides what that means). A null
    step is a wildcard (``[*]``, ``.*``): the answer is then the list of what the path finds,
    as Jayway's for a strict path, an object's members in the document's order; after it,
    a key or index a value lacks skips that value.

    >>> query_text('{"b": [1, {"c": 2}], "a": {"c": 3}}', '[null, "c"]')
    '[3]'
    """
    if doc is None or steps is None:
        return None
    try:
        value: Any = json.loads(doc, parse_float=decimal.Decimal)
    except ValueError:
        return None
    found, definite = [value], True
    for step in json.loads(steps):
        if step is None:
            found = [
                m
                for v in found
                for m in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else [])
            ]
            definite = False
            continue
        kept = []
        for v in found:
            in_array = isinstance(step, int) and isinstance(v, list) and -len(v) <= step < len(v)
            in_object = isinstance(step, str) and isinstance(v, dict) and step in v
            if in_array or in_object:
                kept.append(v[step])
            elif definite:
                return None
        found = kept
    return _text(found[0]) if definite else _text(found)


def element_strings(text: str | None, on_error: str | None) -> list[str | None] | None:
    """The elements of a JSON array's text (as :func:`query_text` writes it) as JSON_QUERY
    ... RETURNING ARRAY<STRING> gives them (SqlJsonUtils.jsonQuery): a scalar as Java's
    String.valueOf writes it (a string without its quotes, 1.5E+3), null as NULL, an array
    or object as its JSON text. An object's text is an error (Flink's cast of it to a List
    fails), answered by ``on_error``: NULL, EMPTY ARRAY, or ERROR (the job fails).

    >>> element_strings('["a",1.5E+3,null,true,{"k":[1]}]', 'NULL')
    ['a', '1.5E+3', None, 'true', '{"k":[1]}']
    >>> element_strings('{"k":1}', 'NULL'), element_strings('{"k":1}', 'EMPTY ARRAY')
    (None, [])
    """
    if text is None:
        return None
    values = json.loads(text, parse_float=decimal.Decimal)
    if not isinstance(values, list):
        if on_error == "ERROR":
            raise ValueError(f"JSON_QUERY: the value is not an array (RETURNING ARRAY<STRING>): {text}")
        return [] if on_error == "EMPTY ARRAY" else None
    return [v if isinstance(v, str) else None if v is None else _text(v) for v in values]


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


def _element_strings(texts: pa.Array, on_error: pa.Array) -> pa.Array:
    rows = zip(texts.to_pylist(), on_error.to_pylist())
    return pa.array([element_strings(t, e) for t, e in rows], pa.list_(pa.string()))


FUNCTIONS = (
    ArrowFunction(STRINGS_FUNCTION, _element_strings, ("VARCHAR", "VARCHAR"), "VARCHAR[]"),
    ArrowFunction(DOUBLE_FUNCTION, _doubles, ("DOUBLE",), "VARCHAR"),
    ArrowFunction(FUNCTION, _vectorized, ("VARCHAR", "VARCHAR"), "VARCHAR"),
)


def install(con: duckdb.DuckDBPyConnection) -> None:
    arrow_functions.install(con, FUNCTIONS)
