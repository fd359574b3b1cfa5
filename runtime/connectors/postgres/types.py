"""Flink types <-> PostgreSQL types, for the ``jdbc`` / ``postgres`` connectors.

Three things live here, all pure logic (no connection):

- ``pg_type(t)``: the PostgreSQL type a Flink type maps to (``DECIMAL(10, 2)`` ->
  ``numeric(10,2)``, ``TIMESTAMP_LTZ(3)`` -> ``timestamptz(3)``, ``ARRAY<INT>`` -> ``int4[]``),
  used in the ``CREATE TABLE`` a missing-table error suggests;
- ``check_column``: whether a table's column (its base type, as ``pg_type.typname``) can
  hold a Flink column, so a mismatch is caught when the connector opens, not at the first
  write;
- ``column_param``: one Arrow column as a single statement parameter (a Python list that
  psycopg sends as an array, or a JSON document for array columns), so a whole batch
  goes to the server in one statement whose rows ``unnest`` takes apart.

>>> from catalog.types import parse_type
>>> pg_type(parse_type("DECIMAL(10, 2)")), pg_type(parse_type("ARRAY<TIMESTAMP(3)>"))
('numeric(10,2)', 'timestamp(3)[]')
"""

from __future__ import annotations

import datetime
import decimal
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from catalog.connectors.jdbc import param_type
from catalog.types import DataType

_INTEGERS = frozenset({"int2", "int4", "int8", "numeric"})
_TEXT = frozenset({"text", "varchar", "bpchar", "name", "json", "jsonb", "uuid", "xml", "citext"})
# Flink type name -> the column types (base typname) that can hold it.
_ACCEPTS: dict[str, frozenset[str]] = {
    "BOOLEAN": frozenset({"bool"}),
    "TINYINT": _INTEGERS,
    "SMALLINT": _INTEGERS,
    "INT": _INTEGERS,
    "BIGINT": _INTEGERS,
    "FLOAT": frozenset({"float4", "float8", "numeric"}),
    "DOUBLE": frozenset({"float4", "float8", "numeric"}),
    "DECIMAL": frozenset({"numeric", "int2", "int4", "int8"}),
    "STRING": _TEXT,
    "VARCHAR": _TEXT,
    "CHAR": _TEXT,
    "BYTES": frozenset({"bytea"}),
    "BINARY": frozenset({"bytea"}),
    "VARBINARY": frozenset({"bytea"}),
    "DATE": frozenset({"date"}),
    "TIME": frozenset({"time"}),
    "TIMESTAMP": frozenset({"timestamp"}),
    "TIMESTAMP_LTZ": frozenset({"timestamptz"}),
}
_STRINGS = ("STRING", "VARCHAR", "CHAR")


def pg_type(t: DataType) -> str:
    """The PostgreSQL column type for a Flink type, as a CREATE TABLE would spell it."""
    if t.name == "ARRAY":
        param_type(t)
        return pg_type(t.children[0]) + "[]"
    base = param_type(t)
    if t.name == "DECIMAL":
        return f"numeric({t.precision or 10},{t.scale or 0})"
    if t.name in ("VARCHAR", "CHAR") and t.precision is not None and t.precision < 10_485_760:
        return f"{'varchar' if t.name == 'VARCHAR' else 'char'}({t.precision})"
    if t.name in ("TIMESTAMP", "TIMESTAMP_LTZ", "TIME") and t.precision is not None:
        return f"{base}({min(t.precision, 6)})"
    return base


@dataclass(frozen=True)
class PgColumn:
    """A column of a PostgreSQL table as the catalog describes it. ``base`` is the
    ``pg_type.typname`` after resolving domains; for arrays ``elem`` is the element's."""

    name: str
    base: str
    schema: str  # namespace of ``base`` (of ``elem`` for arrays)
    display: str  # format_type(): "timestamp(3) without time zone"
    not_null: bool = False
    elem: str | None = None
    is_enum: bool = False


def check_column(name: str, t: DataType, col: PgColumn) -> str | None:
    """Why ``col`` cannot hold the Flink column ``name t``, or None when it can.

    >>> from catalog.types import parse_type
    >>> col = PgColumn("n", "int4", "pg_catalog", "integer")
    >>> check_column("n", parse_type("STRING"), col)
    "column 'n' is STRING in the table definition but integer in PostgreSQL"
    >>> check_column("n", parse_type("BIGINT"), col) is None
    True
    """
    mismatch = f"column '{name}' is {t.sql()} in the table definition but {col.display} in PostgreSQL"
    if t.name == "ARRAY":
        elem = t.children[0]
        if col.elem is None or elem.name not in _ACCEPTS:
            return mismatch
        ok = col.elem in _ACCEPTS[elem.name] or (elem.name in _STRINGS and col.is_enum)
        return None if ok else mismatch
    if t.name not in _ACCEPTS:
        return f"column '{name}' has type {t.sql()}, which the PostgreSQL connector cannot map"
    if col.elem is not None:
        return mismatch
    ok = col.base in _ACCEPTS[t.name] or (t.name in _STRINGS and col.is_enum)
    return None if ok else mismatch


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} inside an array")


def json_dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def column_param(array: pa.Array | pa.ChunkedArray, t: DataType) -> Any:
    """One column as a statement parameter: an array literal in text (``array_literal``)
    for the types Arrow formats the way PostgreSQL reads them, else the values as a list
    (psycopg sends it as one PostgreSQL array), or for an ARRAY column a JSON array of
    arrays (PostgreSQL's unnest would flatten a two-dimensional array).

    >>> from catalog.types import parse_type
    >>> column_param(pa.array([1, None]), parse_type("INT"))
    '{1,NULL}'
    >>> column_param(pa.array([b"x", None]), parse_type("BYTES"))
    [b'x', None]
    """
    if t.name in _LITERAL:
        literal = array_literal(array, t)
        if literal is not None:
            return literal
    values = array.to_pylist()
    if t.name == "ARRAY":
        return json_dumps(values)
    return values


# Types whose Arrow text form (pyarrow's cast to string) PostgreSQL reads back as the same
# value. TIME (nanosecond digits) and bytes (bytea's escape syntax) go through Python.
_LITERAL = frozenset(
    {"BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL"}
    | set(_STRINGS)
    | {"DATE", "TIMESTAMP", "TIMESTAMP_LTZ"}
)

_Z, _EMPTY, _QUOTE, _NULL, _COMMA = (pa.scalar(x, pa.large_string()) for x in ("Z", "", '"', "NULL", ","))


def array_literal(array: pa.Array | pa.ChunkedArray, t: DataType) -> str | None:
    r"""The column as one PostgreSQL array literal, built by Arrow's compute functions
    over the whole column: psycopg's adaptation of a Python list costs a Python call per
    value (~50k rows/s for four columns here), this a few vectorised passes and one text
    parameter that the server parses (~350k rows/s). None when Arrow cannot format it.

    >>> from catalog.types import parse_type
    >>> array_literal(pa.array([1, None, 3]), parse_type("BIGINT"))
    '{1,NULL,3}'
    >>> print(array_literal(pa.array(['a"b', None, "NULL", "c\\d"]), parse_type("STRING")))
    {"a\"b",NULL,"NULL","c\\d"}
    >>> array_literal(pa.array([0], pa.timestamp("ms", "UTC")), parse_type("TIMESTAMP_LTZ(3)"))
    '{1970-01-01 00:00:00.000Z}'
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    try:
        if pa.types.is_timestamp(array.type) and array.type.tz is not None:
            utc = array.cast(pa.timestamp(array.type.unit))  # the UTC wall clock, then "Z"
            text = pc.binary_join_element_wise(utc.cast(pa.large_string()), _Z, _EMPTY)
        else:
            text = array.cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if t.name in _STRINGS:
        text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, '"', '\\"')
        text = pc.binary_join_element_wise(_QUOTE, text, _QUOTE, _EMPTY)
    text = pc.fill_null(text, _NULL)
    offsets = pa.array([0, len(text)], pa.int64())
    joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, text), _COMMA)[0].as_py()
    return "{" + joined + "}"
