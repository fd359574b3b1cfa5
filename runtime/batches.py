"""Small helpers shared by operators: SQL quoting, Arrow schema conformance."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from catalog.types import parse_type
from planner.physical import ROW_KIND_COLUMN, Field
from runtime.arrow_types import to_arrow

ROW_KIND_TYPE = pa.int8()


def q(name: str) -> str:
    '''A quoted SQL identifier.

    >>> print(q('say "hi"'))
    "say ""hi"""
    '''
    return '"' + name.replace('"', '""') + '"'


def output_schema(fields: Sequence[Field], updating: bool) -> pa.Schema:
    """The Arrow schema of a node's batches (nullable everywhere; + row kind if updating)."""
    cols = [pa.field(f.name, to_arrow(parse_type(f.type))) for f in fields]
    if updating:
        cols.append(pa.field(ROW_KIND_COLUMN, ROW_KIND_TYPE))
    return pa.schema(cols)


def duckdb_type(type_text: str) -> str:
    return parse_type(type_text).duckdb()


def conform(table: pa.Table | pa.RecordBatch, schema: pa.Schema) -> list[pa.RecordBatch]:
    """The non-empty batches of ``table`` with ``schema``'s names and types (cast if
    DuckDB picked another type)."""
    if table.num_rows == 0:
        return []
    if table.num_columns != len(schema):
        raise ValueError(
            f"internal: result has {table.num_columns} columns, schema has {len(schema)}"
        )
    if table.schema.names != schema.names:
        table = table.rename_columns(schema.names)
    if not all(a.type == b.type for a, b in zip(table.schema, schema)):
        table = table.cast(schema)
    if isinstance(table, pa.RecordBatch):
        return [table]
    return [b for b in table.to_batches() if b.num_rows]
