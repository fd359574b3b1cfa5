"""Epoch mode: exactly-once into a PostgreSQL server without prepared transactions.

Each checkpoint epoch's rows go into one ordinary transaction that the sink commits at the
barrier (``pre_commit``), together with its *progress rows* in
``sqlstream_sink_progress`` (``sink.exactly-once.progress-table``, in the sink table's
schema, created when missing)::

    sink_id      text    the sink ('sink.transactional-id-prefix', default sqlstream-<job>-<table>)
    subtask      int     the sink subtask
    epoch        bigint  the checkpoint (barrier) id
    kind         text    'written' | 'discarded' | 'base'
    part         int     an epoch's digests come in parts, written as its rows are flushed
    parallelism  int     the sink's parallelism when the row was written
    rows         bigint  how many rows the entry stands for
    digests      bytea   append tables: a 64-bit digest per row (little-endian), else empty
    committed_at timestamptz
    PRIMARY KEY (sink_id, subtask, epoch, kind, part)

The newest ``written`` epoch of a subtask is the epoch it committed last. The digests of
an epoch are written into its transaction part by part as its rows are flushed (a part
per ``SPILL_ROWS`` rows), so that the barrier does not wait for megabytes of them. A part
written before the barrier names the epoch after the last one committed and is renamed
at the barrier if the barrier's id is higher (a checkpoint that never reached the sink);
no complete checkpoint lies between the two, so every comparison below reads the same.

**Why digests, not epoch numbers.** A restore from checkpoint ``m`` replays the sources
from their positions at ``m``, but the barriers of the replay fall where the coordinator
happens to inject them, and windows fire when the watermark happens to arrive: the
replay's epoch ``m + 1`` need not hold the rows the first run's epoch ``m + 1`` held.
What a deterministic plan does replay is the same *rows* (for each sink subtask the same
multiset after ``m``). So an append sink keeps a digest of every row it committed after
the newest completed checkpoint, and after a restore from ``m`` drops replayed rows whose
digest is among those committed after ``m`` (each digest as many times as it was
committed), then writes normally: no row lands twice, none is lost. (Two different rows with one
64-bit digest would be taken for each other while the set is not spent; the odds are
about n^2 / 2^64 for n rows. The digest is DuckDB's ``hash``: restart with the DuckDB
version that crashed, or the replay is not recognised.)

The *excess* of checkpoint ``y`` (rows in the table that checkpoint ``y`` does not account
for) is ``base - discarded(epoch <= y) + written(epoch > y)``, where ``base`` is the
excess the subtask started its run with (at epoch ``x``, the checkpoint it restored).
When checkpoint ``c`` completes, the next epoch's transaction folds the entries up to ``c``
into the base, so the table holds only the epochs after the newest completed checkpoint.
A restore from ``y < x`` (a checkpoint older than one the sink already moved past) is
refused; a fresh start (``y = 0``) after a run that completed a checkpoint starts a new
lineage and discards nothing, as a fresh start does in two-phase mode.

Upsert tables replay idempotently (Flink's argument for upsert sinks): the replay of a
committed epoch writes each key's changes again in order, and every key ends at its
final value. They keep the progress rows (``rows``, no digests) and discard nothing: a
digest match would be wrong where the intermediate changes of a key differ between the
run and its replay (rows of one key arriving from several partitions).

**Rescaling.** A replay at another parallelism is partitioned differently, so a row
committed by old subtask 1 may come back at new subtask 0: the restore is exact only when
no old subtask committed anything after the restored checkpoint (always the case after
stop-with-savepoint). Otherwise it is refused, naming the subtasks and the parallelism to
restore at. Progress rows of old subtask ``s`` are taken over by new subtask
``s % parallelism``, as sink handles and source splits are.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from catalog.connectors import epoch_refusal
from planner.physical import ROW_KIND_COLUMN
from runtime.connectors.postgres.conn import PostgresError

log = logging.getLogger(__name__)

PROGRESS_DDL = (
    "CREATE TABLE IF NOT EXISTS {} (sink_id text NOT NULL, subtask int NOT NULL, "
    "epoch bigint NOT NULL, kind text NOT NULL, part int NOT NULL, parallelism int NOT NULL, "
    "rows bigint NOT NULL, digests bytea NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), "
    "PRIMARY KEY (sink_id, subtask, epoch, kind, part))"
)
SPILL_ROWS = 16384  # digests per part (128 KiB)
WRITTEN, DISCARDED, BASE = "written", "discarded", "base"
_EMPTY = np.zeros(0, dtype=np.uint64)


# ---- digests and the discard multiset ------------------------------------------------


class RowDigests:
    """A 64-bit digest of every row of a batch (DuckDB's ``hash`` over all columns, which
    is the same in every process), for the rows an append sink committed."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:", config={"threads": 1})

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
        if batch.num_rows == 0:
            return _EMPTY
        names = [n for n in batch.schema.names if n != ROW_KIND_COLUMN]
        cols = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
        self.con.register("__rows", batch)
        try:
            out = self.con.sql(f"SELECT hash({cols}) FROM __rows").to_arrow_table().column(0)
        finally:
            self.con.unregister("__rows")
        return np.asarray(out.to_numpy(), dtype=np.uint64)

    def close(self) -> None:
        self.con.close()


def subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Multiset ``a - b`` (each value of ``b`` removes one occurrence from ``a``).

    >>> subtract(np.array([1, 1, 2, 3], np.uint64), np.array([1, 3, 4], np.uint64)).tolist()
    [1, 2]
    """
    if len(a) == 0 or len(b) == 0:
        return np.asarray(a, dtype=np.uint64)
    values, counts = np.unique(a, return_counts=True)
    bv, bc = np.unique(b, return_counts=True)
    pos = np.searchsorted(values, bv)
    hit = pos < len(values)
    hit[hit] = values[pos[hit]] == bv[hit]
    np.subtract.at(counts, pos[hit], bc[hit])
    return np.repeat(values, np.maximum(counts, 0)).astype(np.uint64)


class DiscardSet:
    """The digests of rows already in the table that the replay will produce again; each
    is dropped as many times as it was committed, then the set is spent.

    >>> d = DiscardSet(np.array([5, 5, 7], np.uint64))
    >>> d.take(np.array([5, 9, 5, 5, 7], np.uint64)).tolist()
    [True, False, True, False, True]
    >>> len(d), d.take(np.array([5], np.uint64)).tolist()
    (0, [False])
    """

    def __init__(self, digests: np.ndarray) -> None:
        self.values, self.counts = np.unique(np.asarray(digests, dtype=np.uint64), return_counts=True)
        self.remaining = int(self.counts.sum())

    def __len__(self) -> int:
        return self.remaining

    def take(self, digests: np.ndarray) -> np.ndarray:
        """Which rows of a batch (by digest, in order) to drop; the first occurrences of a
        digest are the ones dropped, and the set shrinks by what was taken."""
        n = len(digests)
        if self.remaining == 0 or n == 0:
            return np.zeros(n, dtype=bool)
        order = np.argsort(digests, kind="stable")
        ordered = digests[order]
        starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
        sizes = np.diff(np.r_[starts, n])
        occurrence = np.arange(n) - np.repeat(starts, sizes)  # 0, 1, ... within a digest
        pos = np.searchsorted(self.values, ordered)
        pos_ok = np.minimum(pos, len(self.values) - 1)
        known = (pos < len(self.values)) & (self.values[pos_ok] == ordered)
        allowed = np.where(known, self.counts[pos_ok], 0)
        drop_sorted = occurrence < allowed
        taken = np.add.reduceat(drop_sorted.astype(np.int64), starts)  # dropped per digest
        group_pos = pos_ok[starts]
        group_known = known[starts]
        np.subtract.at(self.counts, group_pos[group_known], taken[group_known])
        self.remaining -= int(taken.sum())
        drop = np.zeros(n, dtype=bool)
        drop[order] = drop_sorted
        return drop


# ---- the progress rows -----------------------------------------------------------------


@dataclass
class Entry:
    """One progress row."""

    subtask: int
    epoch: int
    kind: str
    parallelism: int
    rows: int
    digests: np.ndarray = field(default_factory=lambda: _EMPTY)
    part: int = 0


def pack(digests: Iterable[np.ndarray]) -> bytes:
    parts = [np.asarray(d, dtype="<u8") for d in digests]
    return np.concatenate(parts).tobytes() if parts else b""


def unpack(data: bytes | memoryview | None) -> np.ndarray:
    return np.frombuffer(bytes(data or b""), dtype="<u8").astype(np.uint64)


@dataclass
class Restore:
    """What a subtask does with the progress rows it owns when it starts from a checkpoint."""

    discard: np.ndarray  # digests of rows already in the table that the replay brings again
    fresh_lineage: bool = False  # a fresh start after a run that completed checkpoints


def excess(entries: Sequence[Entry], restored: int) -> tuple[int, np.ndarray]:
    """(base epoch, rows committed that checkpoint ``restored`` does not account for) of one
    subtask's progress rows.

    >>> e = [Entry(0, 3, BASE, 1, 1, np.array([9], np.uint64)),
    ...      Entry(0, 4, DISCARDED, 1, 1, np.array([9], np.uint64)),
    ...      Entry(0, 4, WRITTEN, 1, 2, np.array([1, 2], np.uint64)),
    ...      Entry(0, 5, WRITTEN, 1, 1, np.array([3], np.uint64))]
    >>> [(x, d.tolist()) for x, d in (excess(e, 3), excess(e, 4), excess(e, 5))]
    [(3, [1, 2, 3, 9]), (3, [3]), (3, [])]
    """
    base = next((e for e in entries if e.kind == BASE), None)
    base_epoch = base.epoch if base is not None else 0
    parts = [base.digests] if base is not None else []
    parts += [e.digests for e in entries if e.kind == WRITTEN and e.epoch > restored]
    out = np.concatenate(parts) if parts else _EMPTY
    gone = [e.digests for e in entries if e.kind == DISCARDED and e.epoch <= restored]
    if gone:
        out = subtract(out, np.concatenate(gone))
    return base_epoch, np.sort(out)


def plan_restore(
    entries: Sequence[Entry], restored: int, subtask: int, parallelism: int, where: str, append: bool
) -> Restore:
    """Decide, from the progress rows of the old subtasks this subtask owns (``s %
    parallelism == subtask``), what its replay must drop; refuse what cannot be exact."""
    by_subtask: dict[int, list[Entry]] = {}
    for e in entries:
        by_subtask.setdefault(e.subtask, []).append(e)
    old_p = max((e.parallelism for e in entries), default=parallelism)
    results = {s: excess(rows, restored) for s, rows in sorted(by_subtask.items())}
    newest_base = max((x for x, _ in results.values()), default=0)
    if restored < newest_base:
        if restored == 0:
            return Restore(_EMPTY, fresh_lineage=True)
        raise PostgresError(
            f"{where}: cannot restore checkpoint {restored} in epoch mode: the sink already moved "
            f"past checkpoint {newest_base}, so the rows it committed after checkpoint {restored} "
            "are no longer known and would be written a second time",
            hint="restore the newest checkpoint (sqlstream run resumes it), or start fresh into an "
            "emptied table",
        )
    if not append:
        return Restore(_EMPTY)
    if old_p != parallelism:
        pending = {s: len(d) for s, (_, d) in results.items() if len(d)}
        if pending:
            counts = ", ".join(f"subtask {s}: {n} rows" for s, n in sorted(pending.items()))
            raise PostgresError(
                f"{where}: cannot restore checkpoint {restored} in epoch mode at parallelism "
                f"{parallelism}: at parallelism {old_p} the sink committed rows after that "
                f"checkpoint ({counts}), and a replay at another parallelism sends them to other "
                "subtasks, which could not tell them from new rows",
                hint=f"restore at parallelism {old_p} ('sink.parallelism' or 'parallelism.default'), "
                "stop the job with a savepoint (sqlstream stop --savepoint), then rescale from the "
                "savepoint",
            )
        return Restore(_EMPTY)
    mine = results.get(subtask, (0, _EMPTY))[1]
    return Restore(mine)


# ---- SQL ---------------------------------------------------------------------------------


async def ensure_progress_table(admin: psycopg.AsyncConnection[Any], table: sql.Identifier) -> None:
    """Create the progress table when it is missing (concurrent subtasks may race)."""
    with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        await admin.execute(sql.SQL(PROGRESS_DDL).format(table))


async def read_entries(
    conn: psycopg.AsyncConnection[Any], table: sql.Identifier, sink_id: str, subtask: int, parallelism: int
) -> list[Entry]:
    """The progress rows of the old subtasks ``subtask`` owns."""
    cur = await conn.execute(
        sql.SQL(
            "SELECT subtask, epoch, kind, parallelism, rows, digests, part FROM {} "
            "WHERE sink_id = %s AND subtask %% %s = %s"
        ).format(table),
        [sink_id, parallelism, subtask],
    )
    return [Entry(r[0], r[1], r[2], r[3], r[4], unpack(r[5]), r[6]) for r in await cur.fetchall()]


async def reset(
    conn: psycopg.AsyncConnection[Any],
    table: sql.Identifier,
    sink_id: str,
    subtask: int,
    parallelism: int,
    epoch: int,
    base: np.ndarray,
) -> None:
    """In the open transaction: replace the owned progress rows by one base row."""
    await conn.execute(
        sql.SQL("DELETE FROM {} WHERE sink_id = %s AND subtask %% %s = %s").format(table),
        [sink_id, parallelism, subtask],
    )
    await insert(conn, table, sink_id, Entry(subtask, epoch, BASE, parallelism, len(base), base))


async def insert(conn: psycopg.AsyncConnection[Any], table: sql.Identifier, sink_id: str, e: Entry) -> None:
    await conn.execute(
        sql.SQL(
            "INSERT INTO {} (sink_id, subtask, epoch, kind, part, parallelism, rows, digests) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %b) "
            "ON CONFLICT (sink_id, subtask, epoch, kind, part) DO UPDATE "
            "SET rows = EXCLUDED.rows, digests = EXCLUDED.digests, committed_at = now()"
        ).format(table),
        [sink_id, e.subtask, e.epoch, e.kind, e.part, e.parallelism, e.rows, pack([e.digests])],
    )


async def fold(
    conn: psycopg.AsyncConnection[Any],
    table: sql.Identifier,
    sink_id: str,
    subtask: int,
    parallelism: int,
    completed: int,
    base: np.ndarray,
) -> None:
    """In the open transaction: checkpoint ``completed`` is complete, so entries up to it
    are folded into the base (``base`` is the excess left at ``completed``)."""
    await conn.execute(
        sql.SQL("DELETE FROM {} WHERE sink_id = %s AND subtask = %s AND epoch <= %s").format(table),
        [sink_id, subtask, completed],
    )
    await insert(conn, table, sink_id, Entry(subtask, completed, BASE, parallelism, len(base), base))


# ---- a subtask's state -------------------------------------------------------------------


class EpochState:
    """One sink subtask's epoch-mode bookkeeping between its transactions, and the
    statements that commit an epoch and restore from a checkpoint."""

    def __init__(
        self, progress: sql.Identifier, sink_id: str, subtask: int, parallelism: int, append: bool, where: str
    ) -> None:
        self.progress, self.sink_id, self.where = progress, sink_id, where
        self.subtask, self.parallelism = subtask, parallelism
        self.append = append
        self.digests = RowDigests() if append else None
        self.written: list[np.ndarray] = []  # digests of this epoch's rows not yet in a part
        self.parts = 0  # parts of this epoch written
        self.discarded: list[np.ndarray] = []  # digests of this epoch's dropped replay
        self.discard = DiscardSet(_EMPTY)
        self.base_epoch = 0
        self.base = _EMPTY
        self.discarded_by_epoch: dict[int, np.ndarray] = {}  # since the base
        self.completed = 0  # newest checkpoint known complete
        self.last_epoch = 0  # newest epoch committed (or restored)

    def admit(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Drop the rows of ``batch`` that an earlier run already committed; remember the
        digests of the rest (append tables; an upsert table takes every row)."""
        if self.digests is None:
            return batch
        digests = self.digests(batch)
        if len(self.discard):
            drop = self.discard.take(digests)
            if drop.any():
                self.discarded.append(digests[drop])
                keep = ~drop
                batch, digests = batch.filter(pa.array(keep)), digests[keep]
        self.written.append(digests)
        return batch

    async def flushed(self, conn: psycopg.AsyncConnection[Any], force: bool = False) -> None:
        """After rows went into the open transaction: write their digests as a part once
        ``SPILL_ROWS`` of them wait (or when ``force``d, at the barrier)."""
        waiting = sum(len(d) for d in self.written)
        if not waiting or (waiting < SPILL_ROWS and not force):
            return
        digests = np.concatenate(self.written)
        part = Entry(
            self.subtask, self.last_epoch + 1, WRITTEN, self.parallelism, waiting, digests, self.parts
        )
        await insert(conn, self.progress, self.sink_id, part)
        self.written, self.parts = [], self.parts + 1

    async def commit(self, conn: psycopg.AsyncConnection[Any], epoch: int, rows: int) -> bool:
        """At barrier ``epoch`` (``rows`` written into the open transaction on ``conn``):
        add the epoch's last progress rows, fold the entries of completed checkpoints into
        the base, and COMMIT. False when there was nothing to commit. psycopg errors
        propagate."""
        if rows == 0 and not self.discarded and self.completed <= self.base_epoch:
            return False
        if self.append:
            await self.flushed(conn, force=True)
            if self.parts and epoch != self.last_epoch + 1:
                await conn.execute(
                    sql.SQL(
                        "UPDATE {} SET epoch = %s WHERE sink_id = %s AND subtask = %s AND epoch = %s"
                    ).format(self.progress),
                    [epoch, self.sink_id, self.subtask, self.last_epoch + 1],
                )
        for entry in self._entries(epoch, rows):
            await insert(conn, self.progress, self.sink_id, entry)
        if self.completed > self.base_epoch:
            gone = [d for e, d in self.discarded_by_epoch.items() if e <= self.completed]
            base = subtract(self.base, np.concatenate(gone)) if gone else self.base
            me, p = self.subtask, self.parallelism
            await fold(conn, self.progress, self.sink_id, me, p, self.completed, base)
            self.base, self.base_epoch = base, self.completed
            self.discarded_by_epoch = {e: d for e, d in self.discarded_by_epoch.items() if e > self.completed}
        await conn.commit()
        self.last_epoch = epoch
        return True

    def _entries(self, epoch: int, rows: int) -> list[Entry]:
        """The epoch's rows of an upsert table (a count) and its dropped replay."""
        out = []
        me, p = self.subtask, self.parallelism
        if rows and not self.append:
            out.append(Entry(me, epoch, WRITTEN, p, rows))
        self.parts = 0
        if self.discarded:
            gone = np.concatenate(self.discarded)
            out.append(Entry(me, epoch, DISCARDED, p, len(gone), gone))
            self.discarded_by_epoch[epoch] = gone
        self.discarded = []
        return out

    async def restore(self, conn: psycopg.AsyncConnection[Any], restored: int) -> Restore:
        """On every start, before any row: read the progress rows this subtask owns, decide
        what the replay from checkpoint ``restored`` must drop (``plan_restore``), and
        replace them by one base row, in one transaction. psycopg errors propagate."""
        me, p = self.subtask, self.parallelism
        entries = await read_entries(conn, self.progress, self.sink_id, me, p)
        plan = plan_restore(entries, restored, me, p, self.where, self.append)
        await reset(conn, self.progress, self.sink_id, me, p, restored, plan.discard)
        await conn.commit()
        self.base, self.base_epoch = plan.discard, restored
        self.completed = self.last_epoch = restored
        self.discard = DiscardSet(plan.discard)
        self.discarded_by_epoch = {}
        return plan

    def close(self) -> None:
        if self.digests is not None:
            self.digests.close()


def choose_mode(mode: str, max_prepared: str, table: str, nondeterminism: str | None, where: str) -> bool:
    """Whether exactly-once commits at the barrier (epoch mode) instead of preparing: when
    ``mode`` names it, or when it is left open ("") and the server has no prepared
    transactions, where a plan that does not replay deterministically is refused.

    >>> choose_mode("", "64", "t", "NOW()", "w"), choose_mode("epoch", "64", "t", None, "w")
    (False, True)
    >>> choose_mode("", "0", "t", None, "w")
    True
    >>> choose_mode("", "0", "t", "PROCTIME()", "w")
    Traceback (most recent call last):
    ...
    runtime.connectors.postgres.conn.PostgresError: w has max_prepared_transactions = 0, so exactly-once would use epoch mode; table 't': exactly-once in epoch mode needs a plan that replays the same rows after a failure, and this one does not: PROCTIME()
    Hint: ...
    """  # noqa: E501
    if mode:
        return mode == "epoch"
    if max_prepared.strip() not in ("", "0"):
        return False
    if nondeterminism:
        message, hint = epoch_refusal(table, nondeterminism)
        raise PostgresError(
            f"{where} has max_prepared_transactions = 0, so exactly-once would use epoch mode; {message}",
            hint=hint,
        )
    return True
