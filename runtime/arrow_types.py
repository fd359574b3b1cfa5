"""Mapping Flink types (``catalog.types.DataType``) to Arrow types.

Timestamps are carried as microseconds (DuckDB's native TIMESTAMP resolution), so
batches cross between Arrow and DuckDB without conversion; TIMESTAMP_LTZ is UTC.
"""

from __future__ import annotations

import pyarrow as pa

from catalog.types import DataType, parse_type
from planner.physical import Field

_SIMPLE: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INT": pa.int32(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "STRING": pa.string(),
    "VARCHAR": pa.string(),
    "CHAR": pa.string(),
    "BYTES": pa.binary(),
    "BINARY": pa.binary(),
    "VARBINARY": pa.binary(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP_LTZ": pa.timestamp("us", tz="UTC"),
    "NULL": pa.null(),
}


def to_arrow(t: DataType) -> pa.DataType:
    if t.name in _SIMPLE:
        return _SIMPLE[t.name]
    if t.name == "DECIMAL":
        return pa.decimal128(t.precision or 10, t.scale or 0)
    if t.name in ("ARRAY", "MULTISET"):
        return pa.list_(to_arrow(t.children[0]))
    if t.name == "MAP":
        return pa.map_(to_arrow(t.children[0]), to_arrow(t.children[1]))
    if t.name == "ROW":
        return pa.struct([pa.field(n, to_arrow(c)) for n, c in zip(t.field_names, t.children)])
    raise ValueError(f"no Arrow type for {t.sql()}")


def arrow_schema(fields: tuple[Field, ...] | list[Field]) -> pa.Schema:
    """Arrow schema of a plan node's output fields."""
    return pa.schema(
        [pa.field(f.name, to_arrow(t), nullable=t.nullable) for f in fields for t in [parse_type(f.type)]]
    )
