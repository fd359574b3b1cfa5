"""Which subtask a key belongs to: the one function behind every hash exchange
(``runtime/graph.py``) and behind splitting keyed state when a job is restored at
another parallelism (``runtime.checkpoint.control.key_filter``).

A row goes to subtask ``key_hash(keys) % p``. The hash is computed with numpy over whole
Arrow columns, holding no DuckDB connection and running no query: a DuckDB query costs
~1-3 ms of CPU whatever its size (measured with DuckDB 2.0 here), more than hashing a
64k-row batch, and the exchange runs one per batch and edge.

The hash depends only on the key's *values*, never on how a batch happens to type them,
so that a key hashes alike in a stream batch and in a state table read back from DuckDB:
integers of any width and booleans as their int64 value, floats as float64 (with -0.0 as
0.0 and one NaN), decimals as their unscaled value, dates as days, times as nanoseconds,
timestamps and durations as microseconds (whatever the unit and time zone), strings and
binaries as their bytes, dictionary-encoded columns as their values. NULL has a hash of
its own. Any other type (lists, structs, maps, intervals) hashes its values' text.

Restoring state runs the same function inside DuckDB, as a Python (Arrow) function that
``install`` registers on the connection: ``key_filter_sql`` is the SQL condition.

>>> import pyarrow as pa
>>> a = partition([pa.array([1, 2, 3, None], pa.int32())], 4)
>>> b = partition([pa.array([1, 2, 3, None], pa.int64())], 4)
>>> a.tolist() == b.tolist()
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from runtime.batches import numpy_array

# Stored in every checkpoint: a checkpoint written with another partitioning (or before this
# one existed: DuckDB's hash()) has its keyed state split again by key when restored.
PARTITIONING = "sqlstream-hash-1"

FUNCTION = "__sqlstream_partition"

_M = np.uint64(0xD6E8FEB86659FD93)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x5BD1E9955BD1E995)
_SEED = np.uint64(0x243F6A8885A308D3)
_S32 = np.uint64(32)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_NAN = np.float64("nan")
_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}  # to microseconds (ns: divided)
_TIME_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}

Column: TypeAlias = "pa.Array | pa.ChunkedArray"


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit finalizer (every input bit moves every output bit), in place on a copy of
    ``x`` with one scratch array: fewer fresh pages to fault in than a temporary per step."""
    x = np.array(x, dtype=np.uint64)
    t = np.empty_like(x)
    for last in (False, False, True):
        np.right_shift(x, _S32, out=t)
        np.bitwise_xor(x, t, out=x)
        if not last:
            np.multiply(x, _M, out=x)
    return x


def _fixed(values: pa.Array, dtype: Any) -> np.ndarray:
    """The data buffer of a fixed-width array as numpy ``dtype`` (same width), without a
    copy. A NULL's slot holds whatever was there: ``_column_hash`` replaces its hash.
    (Arrow's ``fill_null`` is avoided: its first call imports pandas, ~0.2-1 s of CPU.)"""
    dtype = np.dtype(dtype)
    return np.frombuffer(values.buffers()[1], dtype, count=len(values), offset=values.offset * dtype.itemsize)


def _ints(values: pa.Array) -> np.ndarray:
    """int64 values viewed as uint64."""
    return _fixed(values.cast(pa.int64()), np.int64).view(np.uint64)


def _bytes_hash(values: pa.Array) -> np.ndarray:
    """A hash of each value's bytes, vectorized over the array's buffers eight bytes at a
    time: each 8-byte word (the last one of a value cut at its end) is tagged with how many
    of the value's bytes remain from it, the words of a value are summed, and the sum is
    mixed with the value's length."""
    t = values.type
    small = pa.types.is_string(t) or pa.types.is_binary(t)  # int32 offsets
    if not (small or pa.types.is_large_string(t) or pa.types.is_large_binary(t)):
        values = values.cast(pa.large_binary())
    width = np.dtype(np.int32 if small else np.int64)
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], width, count=n + 1, offset=values.offset * width.itemsize)
    offsets = offsets.astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    if last == first:
        return _mix(lengths.astype(np.uint64) * _GOLDEN)
    padded = np.zeros(last - first + 8, dtype=np.uint8)
    padded[: last - first] = np.frombuffer(values.buffers()[2], np.uint8, count=last - first, offset=first)
    words_at = np.ndarray((last - first,), dtype="<u8", buffer=padded.data, strides=(1,))  # unaligned
    nwords = (lengths + 7) // 8
    wstart = np.cumsum(nwords) - nwords
    at = np.repeat(offsets[:-1] - first - 8 * wstart, nwords) + 8 * np.arange(int(nwords.sum()))
    remaining = np.repeat(offsets[1:] - first, nwords) - at
    words = words_at[at]
    words &= _ALL >> (8 * (8 - np.minimum(remaining, 8))).astype(np.uint64)  # bytes past the end
    terms = (words ^ (remaining.astype(np.uint64) * _GOLDEN)) * _M
    sums = np.concatenate(([np.uint64(0)], np.cumsum(terms, dtype=np.uint64)))
    bounds = np.concatenate((wstart, [len(terms)]))
    h = sums[bounds[1:]] - sums[bounds[:-1]]
    return _mix(h ^ (lengths.astype(np.uint64) * _GOLDEN))


def _decimal_hash(values: pa.Array) -> np.ndarray:
    t = values.type
    if t.bit_width < 128:
        values = values.cast(pa.decimal128(38, t.scale))
    elif t.bit_width > 128:
        return _text_hash(values)
    words = np.frombuffer(values.buffers()[1], np.uint64, count=2 * len(values), offset=values.offset * 16)
    low, high = words[0::2], words[1::2]
    return _mix(_mix(low) * _GOLDEN + high)


def _text_hash(values: pa.Array) -> np.ndarray:
    """Types without a numeric or byte form: their values as text (slow; rare as keys)."""
    text = pa.array([None if v is None else repr(v) for v in values.to_pylist()], pa.large_string())
    return _bytes_hash(text)


def _nulls(values: pa.Array) -> np.ndarray:
    """Which values are NULL, as a numpy bool array read off the validity bitmap
    (``BooleanArray.to_numpy`` imports pandas on its first call, 0.15-0.5 CPU s)."""
    n = len(values)
    if values.null_count == 0:
        return np.zeros(n, dtype=bool)
    validity = values.buffers()[0]
    if validity is None:  # the null type: every value is NULL
        return np.ones(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
    return bits[values.offset : values.offset + n] == 0


def _values_hash(values: pa.Array) -> np.ndarray:
    t = values.type
    if pa.types.is_dictionary(t):
        hashed = np.append(_values_hash(values.dictionary), np.uint64(0))  # the last: NULL's slot
        indices = _fixed(values.indices.cast(pa.int64()), np.int64)
        return hashed[np.where(_nulls(values.indices), len(hashed) - 1, indices)]
    if pa.types.is_null(t):
        return np.zeros(len(values), dtype=np.uint64)
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        if pa.types.is_uint64(t):
            return _mix(_fixed(values, np.uint64))
        return _mix(_ints(values))
    if pa.types.is_floating(t):
        f = _fixed(values.cast(pa.float64()), np.float64)
        f = np.where(np.isnan(f), _NAN, f + 0.0)  # -0.0 + 0.0 is 0.0
        return _mix(f.view(np.uint64))
    if pa.types.is_decimal(t):
        return _decimal_hash(values)
    if pa.types.is_date(t):
        return _mix(_ints(values.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())))
    if pa.types.is_time(t):
        raw = values.cast(pa.int32() if t.bit_width == 32 else pa.int64())
        return _mix(_ints(raw.cast(pa.int64())) * np.uint64(_TIME_NS[t.unit]))
    if pa.types.is_timestamp(t) or pa.types.is_duration(t):
        raw = _fixed(values.cast(pa.int64()), np.int64)
        micros = raw // 1_000 if t.unit == "ns" else raw * _UNITS[t.unit]
        return _mix(micros.view(np.uint64))
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary_view(t)
    ):
        import pyarrow.compute as pc  # not at import: every job imports this module, few hash text

        if len(values) > 4096 and pc.count_distinct(values.slice(0, 1024)).as_py() < 256:
            return _values_hash(pc.dictionary_encode(values))  # few values: each hashed once
        return _bytes_hash(values)
    return _text_hash(values)


def _column_hash(column: Column) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    h = _values_hash(column)
    if column.null_count:
        h = np.where(_nulls(column), _NULL, h)
    return h


def key_hash(columns: Sequence[Column]) -> np.ndarray:
    """The uint64 hash of each row's key (the given key columns, in order)."""
    with np.errstate(over="ignore"):
        acc: np.ndarray | None = None
        for column in columns:
            h = _column_hash(column)
            acc = _mix(h ^ _SEED) if acc is None else _mix(acc * _GOLDEN + h)
    if acc is None:
        raise ValueError("a hash partitioning needs at least one key column")
    return acc


def partition(columns: Sequence[Column], parallelism: int) -> np.ndarray:
    """The subtask (0 .. parallelism - 1, int64) of each row's key."""
    return (key_hash(columns) % np.uint64(parallelism)).astype(np.int64)


def key_filter_sql(columns_sql: Sequence[str], parallelism: int, subtask: int) -> str:
    """SQL that holds for rows whose key (``columns_sql``: quoted column names) is
    ``subtask``'s; needs ``install`` on the connection that runs it."""
    return f"{FUNCTION}(row({', '.join(columns_sql)}), {int(parallelism)}) = {int(subtask)}"


def _partition_udf(keys: pa.ChunkedArray, parallelism: pa.ChunkedArray) -> pa.Array:
    struct = keys.combine_chunks()
    if isinstance(struct, pa.ChunkedArray):  # an empty one
        struct = pa.array([], struct.type)
    fields = [struct.field(i) for i in range(struct.type.num_fields)]
    p = int(parallelism.chunk(0)[0].as_py())
    subtasks = partition(fields, p)
    return numpy_array(pa.int64(), subtasks, len(subtasks))


def install(con: Any) -> None:
    """Make ``key_filter_sql``'s function callable on the DuckDB connection ``con``."""
    import duckdb
    from duckdb.sqltypes import BIGINT

    try:
        con.create_function(FUNCTION, _partition_udf, None, BIGINT, type="arrow")
    except duckdb.NotImplementedException as e:  # already there: the same function
        if "already created" not in str(e):
            raise
