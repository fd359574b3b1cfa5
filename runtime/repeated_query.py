"""A query an operator runs on every batch, over the relation it registers anew for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULT_CHUNK = 131_072  # DuckDB's own default Arrow chunk size


class RepeatedQuery:
    """``con.sql(sql).to_arrow_table()`` for a text that does not change between batches.
    ``con.sql`` binds a SELECT to describe it and binds it again when it runs; the relation
    kept from the first batch only binds it when it runs, and it reads whatever the names in
    its text stand for then (the batch registered for this run). Binding compiles every
    constant regular expression of the text: q21's Calc, with Java's LOWER five times over,
    spent ~5 ms a batch on the first of the two binds (benchmarks/README.md, 2026-12-05,
    "q21's Calc")."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        self.con = con
        self.sql = sql
        self._relation: duckdb.DuckDBPyRelation | None = None

    def arrow(self, chunk: int = DEFAULT_CHUNK) -> pa.Table:
        if self._relation is None:
            self._relation = self.con.sql(self.sql)
        return self._relation.to_arrow_table(chunk)
