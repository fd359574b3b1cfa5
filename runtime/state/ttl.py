"""Idle state retention of one DuckDB state table, as Flink's state TTL works for SQL
operators (``StateTtlConfig`` with ``OnCreateAndWrite``, ``NeverReturnExpired``, processing
time): every write of an entry (creating it, changing its count or its match count) sets
its expiry to now + TTL; an entry whose expiry has come is never seen again, so a row that
arrives for it later is treated as the first of its kind.

The expiry is a column of the table (``EXPIRE_COLUMN``, epoch ms), so it is in every
checkpoint and restores with the rows: an entry that expired while the job was down is
dropped before the first batch after the restore. Expired entries are deleted (not only
hidden), in one statement, before any batch that could see them and on a timer when the
stream is quiet, so the state of an unbounded stream of ever new keys stays flat.

>>> import duckdb
>>> from runtime.state.duckdb_state import DuckDBState
>>> st = DuckDBState()
>>> _ = st.execute("CREATE TABLE t AS SELECT range AS k, 1 AS __cnt, range * 10 AS __expire FROM range(5)")
>>> ttl = StateTtl("t", 1000)
>>> ttl.purge(st, 25, "__cnt"), st.scalar("SELECT count(*) FROM t"), ttl.next_due
(3, 2, 30)
>>> ttl.purge(st, 29, "__cnt")  # nothing is due before 30: no statement runs
0
"""

from __future__ import annotations

from runtime.state.duckdb_state import DuckDBState

EXPIRE_COLUMN = "__expire"


class StateTtl:
    """The retention of table ``table``: ``ttl_ms`` after an entry's last write."""

    def __init__(self, table: str, ttl_ms: int) -> None:
        self.table = table
        self.ttl_ms = ttl_ms
        # no entry expires before this (None: unknown, as after a restore); writes only set
        # expiries after it, as the clock does not go back (``now`` is kept monotonic)
        self.next_due: int | None = None
        self.last_now = 0

    def expiry(self, now: int) -> str:
        """The SQL value of the expiry of an entry written at ``now``."""
        return f"{self.now(now) + self.ttl_ms}::BIGINT"

    def now(self, now: int) -> int:
        self.last_now = max(self.last_now, now)
        return self.last_now

    def due(self, now: int) -> bool:
        """Whether an entry may have expired at ``now`` (False: nothing to delete yet)."""
        return self.next_due is None or self.now(now) >= self.next_due

    def purge(self, state: DuckDBState, now: int, weight: str = "1") -> int:
        """Delete the entries expired at ``now``; returns the sum of ``weight`` (SQL over
        the table, e.g. a row count column) over them."""
        if not self.due(now):
            return 0
        now = self.now(now)
        gone = state.con.execute(
            f"DELETE FROM {self.table} WHERE {EXPIRE_COLUMN} <= {now} RETURNING {weight}"
        ).fetchnumpy()
        left = state.scalar(f"SELECT min({EXPIRE_COLUMN}) FROM {self.table}")
        self.next_due = int(left) if left is not None else now + self.ttl_ms
        values = next(iter(gone.values()), None)
        return int(values.sum()) if values is not None and len(values) else 0
