"""HASH_CODE of a DOUBLE or FLOAT as Java computes it (Double.hashCode, Float.hashCode: the
value's IEEE bits), installed on every operator's DuckDB connection as
``flink_float_hash(x, is_float)``; DuckDB SQL cannot read a double's bits.

>>> bits_hash(1.5, False), bits_hash(float("nan"), False), bits_hash(-0.0, False)
(1073217536, 2146959360, -2147483648)
>>> bits_hash(0.5, True), bits_hash(float("nan"), True)
(1056964608, 2143289344)
"""

from __future__ import annotations

import math
import struct

import duckdb
import pyarrow as pa

from runtime import arrow_functions
from runtime.arrow_functions import ArrowFunction

FUNCTION = "flink_float_hash"


def _int32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def bits_hash(x: float | None, is_float: bool) -> int | None:
    """Float.floatToIntBits, or Double.doubleToLongBits folded as ``(int) (bits ^ bits >>>
    32)``; both give every NaN the canonical bits."""
    if x is None:
        return None
    if is_float:
        bits = 0x7FC00000 if math.isnan(x) else struct.unpack(">I", struct.pack(">f", x))[0]
        return _int32(bits)
    bits = 0x7FF8000000000000 if math.isnan(x) else struct.unpack(">Q", struct.pack(">d", x))[0]
    return _int32((bits ^ (bits >> 32)) & 0xFFFFFFFF)


def _vectorized(values: pa.Array, is_float: pa.Array) -> pa.Array:
    return pa.array([bits_hash(v, f) for v, f in zip(values.to_pylist(), is_float.to_pylist())], pa.int32())


FUNCTIONS = (ArrowFunction(FUNCTION, _vectorized, ("DOUBLE", "BOOLEAN"), "INTEGER"),)


def install(con: duckdb.DuckDBPyConnection) -> None:
    arrow_functions.install(con, FUNCTIONS)
