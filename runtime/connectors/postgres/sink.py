"""PostgreSQL tables through Flink's ``jdbc`` connector options (and ``postgres``, a libpq DSN).

Where the table is: ``conn.py``; type mapping: ``types.py``; the lookup
client of lookup joins: ``lookup.py``.
The two-phase commit is ``txn.py``; the source ``source.py``; the statements
``statements.py``.

**Sink.** Without a primary key rows are appended; with one (``PRIMARY KEY (...) NOT
ENFORCED``) they are upserted (``INSERT ... ON CONFLICT (pk) DO UPDATE``), ``-D`` rows
delete by key, and so do ``-U`` rows that no later change of their key overwrites, as
Flink's JDBC sink flags UPDATE_BEFORE (``statements.split_changes``). Rows are buffered
until ``sink.buffer-flush.max-rows`` (default 100; 0: no limit) or
``sink.buffer-flush.interval`` (default 1 s; 0: no timer) and then written by one
statement per kind: each column travels as a single array parameter (for scalar types
an array literal that Arrow's compute functions format, ``types.array_literal``)
and ``ROWS FROM (unnest(...))`` takes the rows apart on the server, so there is neither a
statement per row nor a Python loop per row. Within one flush the last change of a key
wins, so a statement never touches a row twice. The table must exist; its columns are


**Delivery.** ``at-least-once`` (and ``none``): a flush commits. Transient errors (lost
connection, serialization failure, deadlock) are retried ``sink.max-retries`` times on a
new connection; constraint violations and bad data are not. ``exactly-once`` (the
default under EXACTLY_ONCE checkpointing): the rows between two checkpoints go into one
transaction. ``pre_commit(n)`` flushes, inserts a marker row (gid, sink id, subtask,
checkpoint, a random token) into ``sqlstream_commits`` (in the table's schema; created
when missing; markers of the subtask's checkpoints before ``n - 100`` are deleted) inside
that transaction, runs ``PREPARE TRANSACTION '<gid>'`` and returns
the handle; the next write opens the next transaction. ``commit(n, handle)`` runs
``COMMIT PREPARED`` on a second (autocommit) connection, again on a new one after a lost
connection or while the server is unreachable (``sink.max-retries``: a prepared
transaction outlives a server restart); if the gid is gone, the marker row with the
handle's token says it was committed before (fine) and its absence says it was rolled
back (``DataLossError`` naming the gid). ``recover(handles)`` (each subtask, after a
restart) commits the handles a restored checkpoint recorded and rolls back every other
prepared transaction of this sink in this database that falls to this subtask (old
subtask ``s`` falls to ``s % parallelism``, so a smaller parallelism still cleans up);


Upserts wait: while a transaction this sink prepared is not committed, the changes that
follow stay in memory, because the next transaction would neither see that one's rows (a
delete would miss them) nor get past their row locks (and its commit has to come through
this same writer). Should barrier n+1 arrive before the commit of n, n is committed early
with a warning (replaying upserts converges to the same table, Flink's argument for

**Epoch mode** (``'sink.exactly-once.mode' = 'epoch'``, or exactly-once on a server with
``max_prepared_transactions = 0`` when the mode is not named): the transaction of an epoch
is committed at its barrier with the epoch's progress rows, and after a restart the
replay of what was committed is dropped; exact only for plans that replay
deterministically, which the planner decides (``SinkSpec.replay_nondeterminism``). See
``epoch.py``.

Rows written after the last checkpoint of a bounded job that reached its end of input
(``flush()``) are committed when the sink closes; without end of input (a failure) the
open transaction is rolled back, as recovery replays those rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
import pyarrow as pa

from catalog.connectors import Guarantee
from catalog.connectors.jdbc import JdbcConfig
from catalog.types import parse_type
from planner.physical import SinkSpec
from runtime.connectors.base import SinkWriter, SubtaskContext, sink_config
from runtime.connectors.postgres.conn import (
    ConnConfig,
    PostgresError,
    TableName,
    connect,
    server_error,
    table_columns,
    transient,
    unique_keys,
)
from runtime.connectors.postgres.epoch import (
    PROGRESS_DDL,
    EpochState,
    choose_mode,
    ensure_progress_table,
)
from runtime.connectors.postgres.options import connection
from runtime.connectors.postgres.statements import (
    Changes,
    Statements,
    build_statements,
    split_changes,
)
from runtime.connectors.postgres.tables import create_table_hint, match_columns, quote, quote_name
from runtime.connectors.postgres.txn import (
    COMMITS_DDL,
    COMMITS_TABLE,
    RecoveryResult,
    check_prepared_transactions,
    commit_handle,
    default_prefix,
    ensure_commits_table,
    make_gid,
    prepare,
    settle,
)
from runtime.connectors.postgres.types import (
    column_param,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class PostgresSink(SinkWriter):
    """One subtask's writer into a PostgreSQL table (see the module docstring)."""

    def __init__(self, spec: SinkSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        config = sink_config(spec, ctx.config)
        assert isinstance(config, JdbcConfig)
        self.where = f"table '{spec.table}'"
        self.cfg: ConnConfig
        self.cfg, self.name = connection(spec, config)
        self.max_rows = config.flush_max_rows
        self.interval_ms = config.flush_interval_ms
        self.max_retries = config.max_retries
        self.prefix = config.transactional_id_prefix or default_prefix(ctx.job_name, str(self.name))
        self.mode_option = config.exactly_once_mode
        self.progress_name = TableName(config.progress_table, config.progress_schema)
        self.progress = self.progress_name.ident()
        self.guarantee = spec.guarantee
        self.exactly_once = spec.guarantee == Guarantee.EXACTLY_ONCE
        self.key = list(spec.primary_key)
        self.commits = self.name.sibling(COMMITS_TABLE)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._admin: psycopg.AsyncConnection[Any] | None = None
        self._stmts: Statements | None = None
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._txn_rows = 0  # exactly-once: rows in the open transaction
        self._last_flush = time.monotonic()
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._ended = False
        self._pending: dict[str, dict[str, Any]] = {}  # prepared here, not yet committed
        self.recovered = RecoveryResult()
        self.epoch_mode = False  # decided at open (see epoch.py)
        self._epoch: EpochState | None = None

    def __repr__(self) -> str:
        return f"PostgresSink({self.where}, {self.name} at {self.cfg.where}, {self.guarantee.value})"

    # ---- open ----------------------------------------------------------------------------
    async def open(self) -> None:
        try:
            await self._open()
        except psycopg.Error as e:
            raise server_error(self.cfg, self.where, f"opening {self.name}", e) from None

    async def _open(self) -> None:
        self._conn = await connect(self.cfg, str(self.name))
        hint = create_table_hint(self.name, self.spec.columns, tuple(self.key))
        oid, pg_cols = await table_columns(self._conn, self.name, self.cfg, hint)
        cols = match_columns(self.spec.columns, pg_cols, self.name, self.where, self.cfg.where)
        if self.key:
            wanted = {cols[[f.name for f in self.spec.columns].index(k)].name for k in self.key}
            if wanted not in await unique_keys(self._conn, oid):
                raise PostgresError(
                    f"{self.where}: upserts into {self.name} at {self.cfg.where} need a primary key or "
                    f"unique index on ({', '.join(sorted(wanted))}) in PostgreSQL, and there is none",
                    hint=f"ALTER TABLE {quote_name(self.name)} ADD PRIMARY KEY "
                    f"({', '.join(quote(k) for k in sorted(wanted))})",
                )
        await self._conn.rollback()
        self._stmts = build_statements(self.name, self.spec.columns, cols, tuple(self.key))
        if self.exactly_once:
            admin = await self._admin_conn()
            cur = await admin.execute("SHOW max_prepared_transactions")
            row = await cur.fetchone()
            setting = str(row[0]) if row else "0"
            self.epoch_mode = await self._open_epoch(admin, setting)
            if self.epoch_mode:
                return self._start_ticker()
            check_prepared_transactions(setting, self.where)
            try:
                await ensure_commits_table(admin, self.commits)
            except psycopg.Error as e:
                error = server_error(self.cfg, self.where, f"creating the marker table {COMMITS_TABLE}", e)
                error.hint = (
                    "exactly-once keeps one marker row per checkpoint in it; let the user create "
                    f"tables in the schema, or create it: {COMMITS_DDL.format(quote(COMMITS_TABLE))}"
                )
                raise error from None
        self._start_ticker()

    def _start_ticker(self) -> None:
        if self.interval_ms > 0:
            self._ticker = asyncio.create_task(self._tick(), name=f"postgres-flush {self.where}")

    async def _open_epoch(self, admin: psycopg.AsyncConnection[Any], max_prepared: str) -> bool:
        """Decide the exactly-once mode (``epoch.choose_mode``); in epoch mode, say so and
        create the progress table."""
        server = f"{self.where}: the server at {self.cfg.where}"
        why = self.spec.replay_nondeterminism
        if not choose_mode(self.mode_option, max_prepared, self.spec.table, why, server):
            return False
        if not self.mode_option and self.ctx.subtask == 0:
            log.warning(
                "%s has max_prepared_transactions = 0, so exactly-once uses epoch mode: each "
                "checkpoint's rows are committed at its barrier with progress rows in %s, and after "
                "a failure the replay of what is already committed is discarded",
                server, quote_name(self.progress_name),
            )  # fmt: skip
        try:
            await ensure_progress_table(admin, self.progress)
        except psycopg.Error as e:
            doing = f"creating the progress table {quote_name(self.progress_name)}"
            error = server_error(self.cfg, self.where, doing, e)
            error.hint = (
                "epoch mode keeps its progress rows in it; let the user create tables in the "
                f"schema, or create it: {PROGRESS_DDL.format(quote_name(self.progress_name))}"
            )
            raise error from None
        p, me = self.ctx.parallelism, self.ctx.subtask
        self._epoch = EpochState(self.progress, self.prefix, me, p, not self.key, self.where)
        return True

    async def _admin_conn(self) -> psycopg.AsyncConnection[Any]:
        if self._admin is None or self._admin.closed:
            self._admin = await connect(self.cfg, str(self.name), autocommit=True)
        return self._admin

    async def _on_admin(self, what: str, op: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Run ``op`` on the autocommit connection (COMMIT PREPARED, recovery), on a new
        connection again after a lost one or an unreachable server, up to
        ``sink.max-retries`` times: a prepared transaction outlives a server restart, and
        each of these steps may be repeated (a COMMIT PREPARED whose answer was lost is
        found committed by its marker row)."""
        attempt = 0
        while True:
            try:
                return await op(await self._admin_conn())
            except (psycopg.Error, PostgresError) as e:
                retry = e.unreachable if isinstance(e, PostgresError) else transient(e)
                if isinstance(e, psycopg.Error) and self._admin is not None:
                    with contextlib.suppress(psycopg.Error):
                        await self._admin.close()
                    self._admin = None
                if not retry or attempt >= self.max_retries:
                    if isinstance(e, PostgresError):
                        raise
                    raise self._write_error(e, f"{what} failed; the job must recover") from None
                attempt += 1
                text = self.cfg.scrub(str(e)).strip()
                detail = text.splitlines()[0] if text else type(e).__name__
                log.warning(
                    "%s: %s failed (%s), retry %d of %d", self.where, what, detail, attempt, self.max_retries
                )
                await asyncio.sleep(min(0.5 * 2**attempt, 5.0))

    # ---- writing -------------------------------------------------------------------------
    async def write(self, batch: pa.RecordBatch) -> None:
        self._raise_background_error()
        if batch.num_rows == 0:
            return
        async with self._lock:
            if self._epoch is not None:
                batch = self._epoch.admit(batch)
                if batch.num_rows == 0:
                    return
            self._buffer.append(batch)
            self._buffered += batch.num_rows
            if self.max_rows and self._buffered >= self.max_rows and not self._holding:
                await self._flush_buffer()

    @property
    def _holding(self) -> bool:
        """Upserts under exactly-once wait in memory while a prepared transaction of this
        sink is not committed: the next transaction would not see its rows (a delete would
        miss them) and would wait on its row locks for a commit that this same task has to
        send."""
        return self.exactly_once and bool(self.key) and bool(self._pending)

    async def _tick(self) -> None:
        period = self.interval_ms / 1000
        while True:
            await asyncio.sleep(period)
            if not self._buffer or self._holding or (time.monotonic() - self._last_flush) < period:
                continue
            try:
                async with self._lock:
                    await self._flush_buffer()
            except Exception as e:  # reported by the next write/flush
                self._error = e
                return

    def _raise_background_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def _flush_buffer(self) -> None:
        """Write the buffered rows (into the open transaction under exactly-once; committed
        otherwise). The buffer is kept until the write succeeded."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        table = pa.Table.from_batches(self._buffer)
        changes = split_changes(table, self.key, self.where)
        if self.exactly_once:
            try:
                await self._execute(changes)
                if self._epoch is not None:
                    assert self._conn is not None
                    await self._epoch.flushed(self._conn)
            except psycopg.Error as e:
                raise self._write_error(e, "the open transaction is lost; the job must recover") from None
            self._txn_rows += table.num_rows
        else:
            await self._execute_with_retries(changes)
        self.rows_written += table.num_rows
        self._buffer, self._buffered = [], 0

    async def _execute(self, changes: Changes) -> None:
        assert self._conn is not None and self._stmts is not None
        types = [parse_type(f.type) for f in self.spec.columns]
        async with self._conn.cursor() as cur:
            if changes.deletes is not None and changes.deletes.num_rows and self._stmts.delete is not None:
                idx = self._stmts.key_index
                params = [column_param(changes.deletes.column(i), types[i]) for i in idx]
                await cur.execute(self._stmts.delete, params)
            if changes.upserts.num_rows:
                params = [column_param(changes.upserts.column(i), t) for i, t in enumerate(types)]
                await cur.execute(self._stmts.insert, params)

    async def _execute_with_retries(self, changes: Changes) -> None:
        attempt = 0
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await connect(self.cfg, str(self.name))
                await self._execute(changes)
                await self._conn.commit()
                return
            except psycopg.Error as e:
                await self._discard_connection()
                if not transient(e) or attempt >= self.max_retries:
                    tried = f" after {attempt + 1} attempts" if attempt else ""
                    raise self._write_error(e, f"the rows were not written{tried}") from None
                attempt += 1
                log.warning(
                    "%s: writing into %s failed (%s), retry %d of %d",
                    self.where, self.name, self.cfg.scrub(str(e)).splitlines()[0], attempt, self.max_retries,
                )  # fmt: skip
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))

    async def _discard_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.rollback()
            if isinstance(self._conn, psycopg.AsyncConnection) and self._conn.broken:
                await self._conn.close()
                self._conn = None

    def _write_error(self, e: psycopg.Error, consequence: str) -> PostgresError:
        detail = self.cfg.scrub(str(e)).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = None
        if isinstance(e, psycopg.errors.IntegrityError):
            hint = "a row breaks a constraint of the PostgreSQL table; check the table's constraints"
        elif isinstance(e, psycopg.errors.DataError):
            hint = "a value does not fit its PostgreSQL column (length, range or precision)"
        elif transient(e):
            hint = "check that the server is up; the job restarts from its last checkpoint"
        return PostgresError(
            f"{self.where}: writing into {self.name} at {self.cfg.where} failed: {detail} ({consequence})",
            hint=hint,
        )

    async def flush(self) -> None:
        """At-least-once: write and commit what is buffered. Exactly-once (called at end of
        input): write it into the open transaction, which ``close`` then commits unless a
        final checkpoint pre-commits it first."""
        self._raise_background_error()
        async with self._lock:
            if not self._holding:
                await self._flush_buffer()
            self._ended = True

    # ---- two-phase commit ----------------------------------------------------------------
    def gid(self, checkpoint_id: int) -> str:
        return make_gid(self.prefix, self.ctx.subtask, checkpoint_id)

    async def pre_commit(self, checkpoint_id: int) -> Any:
        """Flush; under exactly-once prepare the open transaction and return its handle
        ``{"gid", "token", "subtask", "checkpoint_id", "rows"}`` (None when the transaction
        is empty: nothing to commit)."""
        self._raise_background_error()
        async with self._lock:
            if self._epoch is not None:
                await self._flush_buffer()
                await self._commit_epoch(checkpoint_id)
                return None
            if self._holding:
                await self._commit_pending_early(checkpoint_id)
            await self._flush_buffer()
            if not self.exactly_once or self._txn_rows == 0:
                return None
            assert self._conn is not None
            try:
                gid, token = await prepare(
                    self._conn,
                    self.commits,
                    self.prefix,
                    self.ctx.subtask,
                    checkpoint_id,
                    self.where,
                    self.cfg,
                )
            except psycopg.Error as e:
                lost = "the checkpoint's transaction is lost; the job must recover"
                raise self._write_error(e, lost) from None
            handle = {
                "gid": gid,
                "token": token,
                "subtask": self.ctx.subtask,
                "checkpoint_id": checkpoint_id,
                "rows": self._txn_rows,
                "prefix": self.prefix,
            }
            self._txn_rows = 0
            self._pending[gid] = handle
            return handle

    async def _commit_epoch(self, epoch: int) -> None:
        """Epoch mode, at barrier ``epoch`` (or at the end, after the last one): commit the
        open transaction with the epoch's progress rows (see ``epoch.py``)."""
        assert self._epoch is not None and self._conn is not None
        try:
            await self._epoch.commit(self._conn, epoch, self._txn_rows)
        except psycopg.Error as e:
            raise self._write_error(e, f"epoch {epoch}'s transaction is lost; the job must recover") from None
        self._txn_rows = 0

    async def commit(self, checkpoint_id: int, handle: Any) -> None:
        """COMMIT PREPARED the handle's transaction; idempotent (see the module docstring).
        Upserts held back meanwhile are then written into the open transaction. Epoch mode:
        note that the checkpoint completed (its rows are committed already)."""
        if self._epoch is not None:
            self._epoch.completed = max(self._epoch.completed, checkpoint_id)
            return
        if not handle:
            return
        await self._commit_one(handle)
        self._pending.pop(handle["gid"], None)
        if self._buffer and not self._holding and self._conn is not None:
            async with self._lock:
                if self._ended or (self.max_rows and self._buffered >= self.max_rows):
                    await self._flush_buffer()

    async def _commit_one(self, handle: dict[str, Any]) -> str:
        return await self._on_admin(
            f"COMMIT PREPARED '{handle['gid']}'",
            lambda admin: commit_handle(self.cfg, admin, self.commits, handle, self.where),
        )

    async def _commit_pending_early(self, checkpoint_id: int) -> None:
        """Barrier ``checkpoint_id`` came before the commit of an earlier checkpoint: commit
        that one now, so that this checkpoint's upserts can be written. Its checkpoint may
        still fail; a replay then upserts the same rows again, which an upsert table absorbs
        (Flink's idempotent-upsert argument), but readers saw it early, hence the warning."""
        for gid, handle in list(self._pending.items()):
            log.warning(
                "%s: checkpoint %s was not committed before barrier %d; committing '%s' early",
                self.where, handle.get("checkpoint_id"), checkpoint_id, gid,
            )  # fmt: skip
            await self._commit_one(handle)
            del self._pending[gid]

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ticker
            self._ticker = None
        try:
            async with self._lock:
                if self._conn is not None and not self._conn.closed:
                    if not self.exactly_once:
                        await self._flush_buffer()
                    elif self._epoch is not None:
                        if self._ended:  # the tail after the last checkpoint, if any
                            await self._flush_buffer()
                            await self._commit_epoch(max(self._epoch.last_epoch, self._epoch.completed) + 1)
                        else:
                            await self._conn.rollback()
                    elif self._ended:
                        if self._holding:
                            await self._commit_pending_early(-1)
                        await self._flush_buffer()
                        await self._conn.commit()  # the tail after the last checkpoint
                        self._txn_rows = 0
                    else:
                        await self._conn.rollback()
        finally:
            if self._epoch is not None:
                self._epoch.close()
            for conn in (self._conn, self._admin):
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        await conn.close()
            self._conn = self._admin = None

    # ---- recovery ------------------------------------------------------------------------
    async def recover(self, handles: Sequence[tuple[int, Any]]) -> None:
        """After ``open``, before any ``write`` (the checkpoint coordinator calls it on every
        start, with no handles on a fresh one): commit the restored checkpoint's handles of
        this subtask (idempotent), then roll back every other prepared transaction of this
        sink whose subtask ``s`` is this subtask's to clean (``s % parallelism ==
        subtask``: after a rescale, the old subtasks beyond the parallelism are covered).
        Raises ``DataLossError`` when a recorded transaction was rolled back; what it did
        is kept in ``recovered``."""
        p, me = self.ctx.parallelism, self.ctx.subtask
        if self._epoch is not None:
            await self._restore_epoch()
            if not any(h for _, h in handles):
                return  # two-phase handles only after a switch from two-phase mode
        async with self._lock:
            self.recovered = await self._on_admin(
                "recovering prepared transactions",
                lambda admin: settle(
                    self.cfg,
                    admin,
                    self.commits,
                    self.prefix,
                    [h for _, h in handles],
                    self.where,
                    lambda subtask: subtask % p == me,
                ),
            )

    async def _restore_epoch(self) -> None:
        """Epoch mode, on every start: what the replay from ``restored_checkpoint`` drops."""
        assert self._epoch is not None and self._conn is not None
        restored = self.restored_checkpoint
        try:
            plan = await self._epoch.restore(self._conn, restored)
        except psycopg.Error as e:
            doing = f"restoring from the progress rows in {quote_name(self.progress_name)}"
            raise server_error(self.cfg, self.where, doing, e) from None
        if plan.fresh_lineage:
            log.warning(
                "%s: starting fresh; the rows earlier runs of this sink committed stay in %s, and "
                "nothing is discarded", self.where, self.name,
            )  # fmt: skip
        elif len(plan.discard):
            log.info(
                "%s: restored checkpoint %d; %d rows committed after it are dropped from the replay",
                self.where, restored, len(plan.discard),
            )  # fmt: skip

    @classmethod
    async def recover_all(
        cls,
        spec: SinkSpec,
        handles: Sequence[Any],
        config: dict[str, str] | None = None,
        parallelism: int = 1,
        *,
        job_name: str | None = None,
    ) -> RecoveryResult:
        """The same for every subtask at once, without a writer (a tool, or a coordinator
        that recovers a sink before its writers open): ``handles`` of all subtasks. ``job_name``
        is the plan's name (the writers' ``ctx.job_name``, part of the default prefix)."""
        job = job_name or (config or {}).get("pipeline.name") or "sqlstream-job"
        ctx = SubtaskContext(job, 0, spec.table, 0, max(1, parallelism), dict(config or {}))
        probe = cls(spec, ctx)
        admin = await connect(probe.cfg, str(probe.name), autocommit=True)
        try:
            return await settle(
                probe.cfg, admin, probe.commits, probe.prefix, list(handles), probe.where, lambda _: True
            )
        finally:
            await admin.close()
