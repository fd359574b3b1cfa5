"""PostgreSQL's text form of values (what pgoutput sends, and what the snapshot selects
as ``::text``) to typed Arrow columns: one DuckDB query per batch, no per-value Python.

The connection's TimeZone is UTC, so ``timestamptz`` text ends in ``+00``.

>>> conv = TextColumns([Field("id", "BIGINT"), Field("b", "BYTES"), Field("ok", "BOOLEAN")])
>>> [a.to_pylist() for a in conv.arrays([["1", None], ["\\\\x0aff", None], ["t", "f"]])]
[[1, None], [b'\\n\\xff', None], [True, False]]
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from catalog.types import parse_type
from planner.physical import Field
from runtime.batches import q
from runtime.formats.base import nullable_schema

_BYTES = ("BYTES", "BINARY", "VARBINARY")


def _cast_sql(col: str, type_text: str) -> str:
    t = parse_type(type_text)
    if t.name in ("STRING", "VARCHAR", "CHAR"):
        return col
    if t.name in _BYTES:
        return f"from_hex(substr({col}, 3))"  # bytea's hex output: \x0aff
    return f"CAST({col} AS {t.duckdb()})"


class TextColumns:
    """Converts columns of text values to Arrow arrays of ``fields``' types."""

    def __init__(self, fields: Sequence[Field]) -> None:
        self.fields = tuple(fields)
        self.schema = nullable_schema(self.fields)
        self._text_schema = pa.schema([pa.field(f"c{i}", pa.string()) for i in range(len(self.fields))])
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        select = ", ".join(
            f"{_cast_sql(q(f'c{i}'), f.type)} AS {q(f.name)}" for i, f in enumerate(self.fields)
        )
        self._sql = f"SELECT {select} FROM text_batch"

    def arrays(self, columns: Sequence[Sequence[object]]) -> list[pa.Array]:
        """One array per field from its column of text values (str or None)."""
        n = len(columns[0]) if columns else 0
        if not self.fields or n == 0:
            return [pa.nulls(n, f.type) for f in self.schema]
        text = pa.RecordBatch.from_arrays(
            [pa.array(c, pa.string()) for c in columns], schema=self._text_schema
        )
        self._con.register("text_batch", text)
        try:
            table = self._con.sql(self._sql).to_arrow_table()
        finally:
            self._con.unregister("text_batch")
        out = []
        for col, f in zip(table.columns, self.schema):
            arr = col.combine_chunks()
            out.append(arr if arr.type == f.type else arr.cast(f.type))
        return out

    def close(self) -> None:
        self._con.close()
