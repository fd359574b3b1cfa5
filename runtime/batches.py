"""Small helpers shared by operators: SQL quoting, Arrow schema conformance."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from catalog.types import parse_type
from planner.physical import ROW_KIND_COLUMN, Field
from runtime.arrow_types import to_arrow

ROW_KIND_TYPE = pa.int8()

# A reader whose table has splits that live until the end of input (Kafka partitions)
# may tag each batch with the split it came from, in the batch's schema metadata; the
# watermark assigner then takes the minimum over the splits (Flink's per-partition
# watermarks) instead of one running maximum. Quiet splits drop out after
# ``table.exec.source.idle-timeout``. Untagged batches form one implicit split.
SPLIT_KEY = b"sqlstream.split"


def split_of(batch: pa.RecordBatch) -> bytes | None:
    """The split a batch is tagged with, if any."""
    meta = batch.schema.metadata
    return meta.get(SPLIT_KEY) if meta else None


def with_split(batch: pa.RecordBatch, split: bytes | None) -> pa.RecordBatch:
    """``batch`` tagged with ``split`` (unchanged when None).

    >>> b = with_split(pa.record_batch({"x": [1]}), b"orders-3")
    >>> split_of(b)
    b'orders-3'
    """
    if split is None:
        return batch
    meta = dict(batch.schema.metadata or {})
    meta[SPLIT_KEY] = split
    return batch.replace_schema_metadata(meta)


# An empty batch with this key announces its split: the reader reads it from now on, and
# the watermark assigner waits for it (a split without a row holds the watermark back).
ANNOUNCE_KEY = b"sqlstream.announce"


def announcement(schema: pa.Schema, split: bytes) -> pa.RecordBatch:
    """An empty batch of ``schema`` announcing ``split``.

    >>> a = announcement(pa.schema([("x", pa.int64())]), b"orders-3")
    >>> is_announcement(a), split_of(a), a.num_rows
    (True, b'orders-3', 0)
    """
    empty = pa.RecordBatch.from_pylist([], schema=schema)
    meta = dict(empty.schema.metadata or {})
    meta[ANNOUNCE_KEY] = b"1"
    return with_split(empty.replace_schema_metadata(meta), split)


def is_announcement(batch: pa.RecordBatch) -> bool:
    meta = batch.schema.metadata
    return batch.num_rows == 0 and bool(meta) and ANNOUNCE_KEY in meta


def q(name: str) -> str:
    '''A quoted SQL identifier.

    >>> print(q('say "hi"'))
    "say ""hi"""
    '''
    return '"' + name.replace('"', '""') + '"'


_COLUMN_REF = re.compile(r'^"((?:[^"]|"")*)"$')


def column_named(expr: str) -> str | None:
    '''The column that the SQL expression ``expr`` is no more than the name of (``q``'s
    inverse); None when it computes something.

    >>> column_named(' "say ""hi""" '), column_named('"a" + 1')
    ('say "hi"', None)
    '''
    ref = _COLUMN_REF.match(expr.strip())
    return None if ref is None else ref.group(1).replace('""', '"')


def output_schema(fields: Sequence[Field], updating: bool) -> pa.Schema:
    """The Arrow schema of a node's batches (nullable everywhere; + row kind if updating)."""
    cols = [pa.field(f.name, to_arrow(parse_type(f.type))) for f in fields]
    if updating:
        cols.append(pa.field(ROW_KIND_COLUMN, ROW_KIND_TYPE))
    return pa.schema(cols)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of no rows with ``schema``. (``schema.empty_table()`` and ``pa.array``
    import pandas on their first call, ~0.3-0.6 s of CPU at start-up.)"""
    return pa.Table.from_batches([], schema=schema)


def numpy_array(arrow_type: pa.DataType, values: np.ndarray, length: int) -> pa.Array:
    """An Arrow array of ``length`` values over a contiguous numpy array's buffer (values
    of ``arrow_type``'s width, or bits packed little-end first). ``pa.array`` would import
    pandas on its first call (0.4 s) to ask whether the values are a pandas object, as
    ``to_numpy`` does."""
    return pa.Array.from_buffers(arrow_type, length, [None, pa.py_buffer(values)])


def int64_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit column without NULLs (or whose NULL slots are not read) as numpy int64s,
    without a copy where it is one chunk (``to_numpy`` would import pandas: see
    :func:`numpy_array`)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return np.frombuffer(column.buffers()[1], np.int64, count=len(column), offset=8 * column.offset)


def positions(mask: np.ndarray) -> pa.Array:
    """The positions where a numpy bool array is true, for ``take``."""
    at = np.flatnonzero(mask)
    return numpy_array(pa.int64(), at, len(at))


_PER_MS = {"ms": 1, "us": 1000}  # a TIMESTAMP unit's values per millisecond


def epoch_ms_values(column: pa.Array) -> np.ndarray | None:
    """A TIMESTAMP column's epoch milliseconds in numpy, floored as DuckDB's ``epoch_ms``
    floors them (-0.5 ms is -1), NULL slots unread; None for a unit other than ms or us."""
    per = _PER_MS.get(column.type.unit) if pa.types.is_timestamp(column.type) else None
    if per is None:
        return None
    values = int64_values(column.view(pa.int64()))
    return values if per == 1 else values // per


def sequence(first: int, count: int) -> pa.Array:
    """BIGINTs ``first``, ``first + 1``, ... (``count`` of them), without ``pa.array``
    (see :func:`numpy_array`)."""
    return numpy_array(pa.int64(), np.arange(first, first + count, dtype=np.int64), count)


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
