"""BYTES read as UTF-8 text the way Java's ``new String(bytes, UTF_8)`` does, installed on
every operator's DuckDB connection as ``flink_utf8(b)``: CAST(b AS STRING) in Flink, where
a byte sequence that is no UTF-8 becomes U+FFFD. DuckDB's CAST of a BLOB to VARCHAR writes
every byte that is not printable ASCII as an escape (``\\xC3\\x9F`` for ß), and its decode()
fails on invalid UTF-8. The planner calls this only for bytes that decode() cannot read.

>>> text(b'\\xc3\\x9f'), text(b'\\x01\\xff'), text(None)
('ß', '\\x01�', None)
"""

from __future__ import annotations

import duckdb
import duckdb.func
import pyarrow as pa

FUNCTION = "flink_utf8"


def text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", errors="replace")


def _vectorized(values: pa.Array) -> pa.Array:
    return pa.array([text(v) for v in values.to_pylist()], pa.string())


def install(con: duckdb.DuckDBPyConnection) -> None:
    con.create_function(
        FUNCTION,
        _vectorized,
        [duckdb.sqltype("BLOB")],
        duckdb.sqltype("VARCHAR"),
        type=duckdb.func.ARROW,
        null_handling=duckdb.func.SPECIAL,
    )
