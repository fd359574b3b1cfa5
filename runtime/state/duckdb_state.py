"""Keyed and window state of one stateful subtask: its own in-memory DuckDB database.

Each stateful subtask owns one ``DuckDBState``; every call runs on one thread at a time
(the task serialises its calls). The operator names its state tables with
``create_table`` so that a later checkpoint can pin a read transaction on a ``cursor()``
(an MVCC view that later writes do not change) and copy exactly those tables out
(``ATTACH 'chk.duckdb' AS ck; CREATE TABLE ck.t AS SELECT * FROM memory.t``) while the
stream keeps going: see ``tables`` and ``snapshot_cursor``.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa


class DuckDBState:
    def __init__(self, threads: int = 1) -> None:
        self.con = duckdb.connect(":memory:", config={"threads": threads})
        self.tables: list[str] = []

    def create_table(self, name: str, columns_sql: str) -> None:
        """Create a state table (registered for checkpoints)."""
        self.con.execute(f"CREATE TABLE {name} ({columns_sql})")
        self.tables.append(name)

    def register(self, name: str, data: pa.RecordBatch | pa.Table) -> None:
        self.con.register(name, data)

    def execute(self, sql: str) -> int:
        """Run a statement; returns the affected row count for DML (else 0)."""
        rows = self.con.execute(sql).fetchall()
        if rows and len(rows[0]) == 1 and isinstance(rows[0][0], int):
            return int(rows[0][0])
        return 0

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def scalar(self, sql: str) -> Any:
        rows = self.con.execute(sql).fetchall()
        return rows[0][0] if rows else None

    def snapshot_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor with a pinned read transaction over the state tables (checkpoints)."""
        cur = self.con.cursor()
        cur.execute("BEGIN TRANSACTION")
        return cur

    def close(self) -> None:
        self.con.close()
