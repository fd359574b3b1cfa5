"""Keyed and window state of one stateful subtask: its own in-memory DuckDB database.

Each stateful subtask owns one ``DuckDBState``; every call runs on one thread at a time
(the task serialises its calls). The operator names its state tables with
``create_table`` so that a later checkpoint can pin a read transaction on a ``cursor()``
(an MVCC view that later writes do not change) and copy exactly those tables out
(``ATTACH 'chk.duckdb' AS ck; CREATE TABLE ck.t AS SELECT * FROM memory.t``) while the
stream keeps going: see ``tables`` and ``snapshot_cursor``.
"""

from __future__ import annotations

import itertools
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from runtime.batches import q
from runtime.checkpoint.store import LocalStore
from runtime.databases import open_database
from runtime.partition import install as install_partition

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored


# DuckDB's advice against Arrow from ``execute`` (an extra copy of the rows), which
# ``DuckDBState.results`` takes knowingly; a filter per call (catch_warnings) would not be
# thread-safe on the operators' worker threads.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


class DuckDBState:
    def __init__(self, plain_strings: bool = False) -> None:
        self.con = open_database()  # perhaps opened ahead, while the job was built
        if plain_strings:
            # DuckDB compresses each full row group of an in-memory table at its automatic
            # checkpoints, long strings with dict-FSST: ~0.7 us a Nexmark bid, 1.9 of q7's
            # ~5.5 CPU s. Without it (in this database only, its snapshot files included),
            # q7's join state held 245 MB instead of 211 (172 once all compressed) and its
            # snapshot file took 225 MB instead of 173, written in half the CPU
            # (benchmarks/README.md, 2026-12-05, branch pf21).
            self.con.execute("SET disabled_compression_methods = 'dict_fsst'")
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

    def results(self, sql: str) -> pa.Table:
        """``query`` for a query of many expressions and few rows (GROUP BY's changes of a
        batch): ``con.sql`` binds a SELECT once to describe it and again when it runs, and
        binding is most of such a query's cost (q17's emission of ~4k keys: ~1.5 ms of ~5).
        ``execute`` binds it once; its rows are copied once more on their way to Arrow,
        which costs less at this size (DuckDB warns of that copy: see the filter above)."""
        return self.con.execute(sql).to_arrow_table()

    def scalar(self, sql: str) -> Any:
        rows = self.con.execute(sql).fetchall()
        return rows[0][0] if rows else None

    def snapshot_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor with a pinned read transaction over the state tables (checkpoints)."""
        cur = self.con.cursor()
        cur.execute("BEGIN TRANSACTION")
        # A DuckDB transaction takes its snapshot at its first read, not at BEGIN: read now.
        for name in self.tables:
            cur.execute(f'SELECT count(*) FROM "{name}"').fetchall()
        return cur

    def close(self) -> None:
        self.con.close()


_ATTACH_LOCK = threading.Lock()
_SNAPSHOT_IDS = itertools.count(1)


def write_snapshot(cursor: duckdb.DuckDBPyConnection, tables: list[str], path: Path) -> int:
    """The asynchronous part of a snapshot (on a worker thread): copy ``tables`` as the
    pinned transaction of ``cursor`` sees them into a new DuckDB file; returns its size.
    Closes the cursor whatever happens."""
    from runtime.faults import crash_point

    # An attached database's name is shared by every cursor of the connection: each
    # snapshot attaches its file under a name of its own, so two snapshots of one subtask
    # in flight at once (a final checkpoint behind a periodic one) cannot collide.
    alias = f"__ck_{next(_SNAPSHOT_IDS)}"
    try:
        if path.exists():
            path.unlink()  # a leftover of an attempt that crashed
        cursor.execute(f"ATTACH '{_sql_str(str(path))}' AS {alias}")
        for name in tables:
            cursor.execute(f"CREATE TABLE {alias}.{q(name)} AS SELECT * FROM memory.main.{q(name)}")
        crash_point("async_snapshot")
        cursor.execute("COMMIT")
        cursor.execute(f"DETACH {alias}")
    finally:
        cursor.close()
    return path.stat().st_size


def load_snapshot(
    state: DuckDBState, restored: Restored, select: Callable[[str, str], str | None] | None = None
) -> list[str]:
    """Copy the tables of the restored snapshot files into ``state`` (rows of several files
    are appended), keeping only rows where the restore's key filter (SQL over the table's
    columns) holds. Files in an object store are downloaded first. Returns the tables now
    in ``state``.

    ``select(table, where)``, if given, may answer the query that reads a table of the file
    attached as ``__ck`` instead (``where``: the key filter's `` WHERE ...`` clause, or
    ''), for a table that the key filter cannot apply to as it is; tables are read in
    the order of their names."""
    where = f" WHERE {restored.key_filter}" if restored.key_filter else ""
    if where:
        install_partition(state.con)
    store = restored.store or LocalStore()
    for location in restored.files:
        with store.reading(location) as path, _ATTACH_LOCK:  # one attach at a time here
            state.con.execute(f"ATTACH '{_sql_str(str(path))}' AS __ck (READ_ONLY)")
            try:
                names = [
                    r[0]
                    for r in state.con.execute(
                        "SELECT table_name FROM duckdb_tables() "
                        "WHERE database_name = '__ck' ORDER BY table_name"
                    ).fetchall()
                ]
                for name in names:
                    src = (select and select(name, where)) or f"SELECT * FROM __ck.main.{q(name)}{where}"
                    dst = f"memory.main.{q(name)}"
                    if name in state.tables:
                        state.con.execute(f"INSERT INTO {dst} {src}")
                    else:
                        state.con.execute(f"CREATE TABLE {dst} AS {src}")
                        state.tables.append(name)
            finally:
                state.con.execute("DETACH __ck")
    return list(state.tables)


def _sql_str(text: str) -> str:
    return text.replace("'", "''")
