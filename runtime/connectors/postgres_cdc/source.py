"""Flink CDC's ``postgres-cdc`` source: the table's snapshot, then its changes from a
logical replication slot (pgoutput), exactly once.

**Why SQL functions, not the streaming protocol.** psycopg 3 has no replication
connections (START_REPLICATION's CopyBoth), so the slot is read with
``pg_logical_slot_peek_binary_changes`` and confirmed with
``pg_replication_slot_advance``. Peeking never moves the slot: a crash before a
checkpoint completes loses nothing, and only ``notify_checkpoint_complete`` advances it,
to the LSN that checkpoint recorded. The price: every peek decodes again from the slot's
confirmed position, so the work per checkpoint interval grows with the changes in it
(the interval bounds it; see benchmarks/README.md).

**Snapshot.** With ``scan.startup.mode`` = initial the table is read in key order in a
REPEATABLE READ transaction, then the slot's changes follow; ``visibility.py`` explains
why skipping the changes whose transaction the snapshot saw makes the seam exact. A
checkpoint during the snapshot records the last key read: a restore reads on after it.

**Position** (JSON): ``phase`` (snapshot | stream), ``segments`` (the snapshots keys were
read in: ``[[upper key as text, or null], "xmin:xmax:xip"]``), ``lsn`` (end LSN of the
last transaction emitted). A restore skips every transaction up to ``lsn``.

**Changelog.** ``changelog-mode`` = all (Flink CDC's default): +I, -U/+U with whole old
rows (the table must have REPLICA IDENTITY FULL), -D with the whole row; upsert: +I, +U,
-D by key. An update that changes the key is -D of the old row and +I of the new one.
A TRUNCATE fails the job: a changelog cannot say it.

Only subtask 0 reads (a slot has one reader); others stay idle. The slot and the
publication outlive the job, so that it can resume: ``sqlstream cdc-drop FILE.sql``
drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from catalog.connectors.postgres_cdc import PostgresCdcConfig
from catalog.types import parse_type
from planner.physical import SourceSpec
from runtime.batches import ROW_KIND_TYPE, output_schema
from runtime.connectors.base import SourceReader, SubtaskContext, source_config
from runtime.connectors.postgres.conn import DEFAULT_CONNECT_TIMEOUT_S, ConnConfig, TableName, connect
from runtime.connectors.postgres.conn import table_columns as pg_table_columns
from runtime.connectors.postgres.tables import create_table_hint, match_columns
from runtime.connectors.postgres_cdc import server
from runtime.connectors.postgres_cdc.pgoutput import UNCHANGED, Decoder, Transaction, lsn_text
from runtime.connectors.postgres_cdc.rows import TextColumns
from runtime.connectors.postgres_cdc.server import CdcError
from runtime.connectors.postgres_cdc.visibility import (
    Segment,
    Segments,
    XidSnapshot,
    key_value,
    sortable_key,
)

log = logging.getLogger(__name__)

INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE = 0, 1, 2, 3
CAUGHT_UP_PAUSE_S = 0.05  # between peeks that found nothing new
_TEXT_TYPES = ("STRING", "VARCHAR", "CHAR")


class PostgresCdcSource(SourceReader):
    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        config = source_config(spec)
        assert isinstance(config, PostgresCdcConfig)
        self.config = config
        self.where = f"table '{spec.table}'"
        self.cfg = ConnConfig({**config.libpq, "connect_timeout": str(DEFAULT_CONNECT_TIMEOUT_S)})
        self.full_rows = config.changelog_mode == "all"
        self.physical = tuple(f for f in spec.columns if f.name not in spec.metadata)
        self.names = [f.name for f in self.physical]
        self.key = tuple(spec.primary_key)
        self.key_idx = [self.names.index(k) for k in self.key]
        self.key_types = [parse_type(self.physical[i].type) for i in self.key_idx]
        self.schema = output_schema(spec.columns, True)
        self.text = TextColumns(self.physical)
        self.pub_args = ("proto_version", "1", "publication_names", config.publication)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._snap_conn: psycopg.AsyncConnection[Any] | None = None
        self._cursor: psycopg.AsyncServerCursor[Any] | None = None
        self._pg_cols: list[str] = []  # the PostgreSQL column of each physical column
        self._pg_display: list[str] = []
        self.phase = "snapshot" if config.startup_mode == "initial" else "stream"
        self.lsn = 0
        self._segments: list[tuple[list[str] | None, str]] = []  # done snapshot segments
        self._current_snapshot: str | None = None
        self._last_key: list[str] | None = None
        self._visibility = Segments([])
        self._restored = False
        self._idle = ctx.subtask != 0
        self._confirmed = 0
        self._peeked: list[tuple[int, int]] = []  # (end lsn, messages) of the last peek
        # A peek and a slot advance must not interleave: a peek counts on the slot starting
        # where ``_peeked`` says, and an advance between the count and the query would make
        # it skip into the middle of a transaction.
        self._slot_lock = asyncio.Lock()
        self._decoder = Decoder()  # keeps the relations across peeks
        self._caught_up_at = 0.0
        self._pending: dict[int, int] = {}  # checkpoint id -> lsn

    # ---- start ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._idle:
            return
        try:
            await self._open()
        except psycopg.Error as e:
            raise CdcError(f"{self.where}: opening the postgres-cdc source at {self.cfg.where} failed: "
                           f"{self.cfg.scrub(str(e)).strip().splitlines()[0]}") from None  # fmt: skip

    async def _open(self) -> None:
        c, db = self.config, self.cfg.where
        conn = self._conn = await connect(self.cfg, self.spec.table, autocommit=True)
        await conn.execute("SET TimeZone = 'UTC'")
        await server.check_server(conn, self.cfg, self.where)
        facts = await server.check_table(conn, c.schema, c.table, self.full_rows, self.where, db)
        name = TableName(c.table, c.schema)
        _, cols = await pg_table_columns(
            conn, name, self.cfg, create_table_hint(name, self.physical, self.key)
        )
        matched = match_columns(self.physical, cols, name, self.where, db)
        self._pg_cols = [m.name for m in matched]
        self._pg_display = [m.display for m in matched]
        declared = {self._pg_cols[i] for i in self.key_idx}
        if declared != set(facts.key):
            raise CdcError(
                f"{self.where}: the declared PRIMARY KEY ({', '.join(self.key)}) is not the primary key "
                f"({', '.join(facts.key)}) of {name} at {db}",
                hint="declare the PostgreSQL table's primary key columns as the PRIMARY KEY",
            )
        await server.lock_slot(conn, c.slot_name, self.where, db)
        await server.ensure_publication(conn, c, self.where, db)
        slot = await server.ensure_slot(conn, c.slot_name, self.where, db)
        self._confirmed = slot.confirmed_lsn
        if self._restored:
            self._check_restore(slot)
        elif self.phase == "snapshot":
            self.lsn = slot.confirmed_lsn  # the slot holds nothing before this
        else:  # latest-offset: what committed before the start is not wanted
            async with conn.cursor() as cur:
                await cur.execute("SELECT pg_current_wal_insert_lsn()::text")
                row = await cur.fetchone()
            assert row is not None
            from runtime.connectors.postgres_cdc.pgoutput import parse_lsn

            self.lsn = parse_lsn(row[0])
        if self.phase == "snapshot":
            for t in self.key_types:
                if len(self._segments) and not sortable_key(t):
                    raise CdcError(f"{self.where}: a snapshot cut by a restart cannot resume on a "
                                   f"{t.sql()} key")  # fmt: skip
            await self._begin_snapshot()
        self._rebuild_visibility()

    def _check_restore(self, slot: server.SlotFacts) -> None:
        fix = "start the job afresh (sqlstream run --fresh), which reads a new snapshot"
        if slot.created:
            raise CdcError(
                f"{self.where}: the replication slot '{self.config.slot_name}' was dropped since the "
                "checkpoint this job resumes from, and the changes it held are gone",
                hint=fix,
            )
        if self.phase == "stream" and slot.confirmed_lsn > self.lsn:
            raise CdcError(
                f"{self.where}: the replication slot '{self.config.slot_name}' was confirmed up to "
                f"{lsn_text(slot.confirmed_lsn)}, past the checkpoint's {lsn_text(self.lsn)}: the "
                "changes between are gone (was it resumed from an older checkpoint, or read by another job?)",
                hint=fix,
            )

    async def _begin_snapshot(self) -> None:
        """A REPEATABLE READ transaction reading the keys after the last one read."""
        conn = self._snap_conn = await connect(self.cfg, self.spec.table)
        await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        await conn.execute("SET TimeZone = 'UTC'")  # the first statement pins the snapshot
        async with conn.cursor() as cur:
            await cur.execute("SELECT pg_current_snapshot()::text")
            row = await cur.fetchone()
        assert row is not None
        self._current_snapshot = row[0]
        select = sql.SQL(", ").join(  # aliased: ORDER BY "id" must not sort the text
            sql.SQL("{}::text AS {}").format(sql.Identifier(c), sql.Identifier(f"c{i}"))
            for i, c in enumerate(self._pg_cols)
        )
        keys = [self._key_sql(i) for i in self.key_idx]
        query = sql.SQL("SELECT {} FROM {}").format(
            select, sql.Identifier(self.config.schema, self.config.table)
        )
        after = self._segments[-1][0] if self._segments else None
        params: list[str] = []
        if after is not None:
            typed = [sql.SQL("CAST(%s AS {})").format(sql.SQL(self._pg_display[i])) for i in self.key_idx]
            query = sql.SQL("{} WHERE ({}) > ({})").format(
                query, sql.SQL(", ").join(keys), sql.SQL(", ").join(typed)
            )
            params = list(after)
        query = sql.SQL("{} ORDER BY {}").format(query, sql.SQL(", ").join(keys))
        self._cursor = conn.cursor(name="sqlstream_cdc_snapshot")
        self._cursor.itersize = self.config.chunk_size
        await self._cursor.execute(query, params)

    def _key_sql(self, i: int) -> sql.Composable:
        col = sql.Identifier(self._pg_cols[i])
        if parse_type(self.physical[i].type).name in _TEXT_TYPES:
            return sql.SQL('{} COLLATE "C"').format(col)  # the order of Python's str
        return col

    def _rebuild_visibility(self) -> None:
        segs = []
        for upper, snap in self._segments:
            typed = None if upper is None else tuple(key_value(v, t) for v, t in zip(upper, self.key_types))
            segs.append(Segment(typed, XidSnapshot.parse(snap)))
        self._visibility = Segments(segs)

    # ---- reading -------------------------------------------------------------------------
    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        if self._idle:
            return None
        try:
            if self.phase == "snapshot":
                return await self._poll_snapshot(max_rows)
            return await self._poll_stream(max_rows)
        except psycopg.Error as e:
            detail = self.cfg.scrub(str(e)).strip().splitlines()[0]
            raise CdcError(f"{self.where}: reading PostgreSQL at {self.cfg.where} failed: {detail}") from None

    async def _poll_snapshot(self, max_rows: int) -> pa.RecordBatch | None:
        assert self._cursor is not None and self._snap_conn is not None
        rows = await self._cursor.fetchmany(max(1, min(max_rows, self.config.chunk_size)))
        if rows:
            self._last_key = [rows[-1][i] for i in self.key_idx]
            columns = [list(c) for c in zip(*rows)]
            return self._batch(columns, [INSERT] * len(rows), [0] * len(rows))
        await self._cursor.close()
        await self._snap_conn.commit()
        await self._snap_conn.close()
        self._cursor = self._snap_conn = None
        assert self._current_snapshot is not None
        self._segments.append((None, self._current_snapshot))
        self._current_snapshot, self._last_key = None, None
        self._rebuild_visibility()
        self.phase = "stream"
        log.info("%s: snapshot read; streaming changes from slot '%s'", self.where, self.config.slot_name)
        return None

    async def _poll_stream(self, max_rows: int) -> pa.RecordBatch | None:
        if time.monotonic() - self._caught_up_at < CAUGHT_UP_PAUSE_S:
            return None
        assert self._conn is not None
        async with self._slot_lock:
            txns = await self._peek(max_rows)
        return self._emit(txns)

    async def _peek(self, max_rows: int) -> list[Any]:
        """The slot's transactions after those the last peek returned, decoded."""
        assert self._conn is not None
        already = sum(n for _, n in self._peeked)
        limit = already + max(max_rows, 1000)
        async with self._conn.cursor(binary=True) as cur:
            await cur.execute(
                "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, NULL, %s, %s, %s, %s, %s)",
                [self.config.slot_name, limit, *self.pub_args],
            )
            messages = await cur.fetchall()
        if len(messages) < limit:
            self._caught_up_at = time.monotonic()
        # The first ``already`` messages are the transactions the last peek returned, all
        # emitted or skipped by now: not decoded again (their Relation messages were). But a
        # peek is a new decoding session, which sends a Relation message again inside the
        # first transaction that uses it: after a slot advance the count can fall short, into
        # the middle of a transaction. Then decode it all; transactions already emitted are
        # skipped by their end LSN in any case.
        skip = already if len(messages) >= already else 0
        if skip and not _boundary(messages, skip):
            skip = 0
        if not skip:
            self._peeked = []
        decoder = self._decoder
        for (data,) in messages[skip:]:
            decoder.feed(data)
        txns = decoder.take()
        self._peeked = [*self._peeked, *((t.end_lsn, t.messages) for t in txns)]
        return txns

    def _emit(self, txns: list[Any]) -> pa.RecordBatch | None:
        kinds: list[int] = []
        ts: list[int] = []
        columns: list[list[object]] = [[] for _ in self.physical]
        for txn in txns:
            if txn.end_lsn <= self.lsn:
                continue
            self._changes(txn, kinds, ts, columns)
            self.lsn = txn.end_lsn
        if not kinds:
            return None
        return self._batch(columns, kinds, ts)

    def _mapping(self, rel: Any) -> list[int] | None:
        """Positions of the physical columns in the relation's rows; None: another table."""
        if rel.schema != self.config.schema or rel.name != self.config.table:
            return None
        index = {c: i for i, c in enumerate(rel.columns)}
        missing = [c for c in self._pg_cols if c not in index]
        if missing:
            raise CdcError(
                f"{self.where}: the table {rel.schema}.{rel.name} no longer has the column(s) "
                f"{', '.join(missing)}",
                hint="restore the columns, or change the table's declaration",
            )
        return [index[c] for c in self._pg_cols]

    def _changes(
        self, txn: Transaction, kinds: list[int], ts: list[int], columns: list[list[object]]
    ) -> None:
        for rel in txn.truncated:
            if self._mapping(rel) is not None:
                raise CdcError(
                    f"{self.where}: {rel.schema}.{rel.name} was truncated (transaction {txn.xid}, "
                    f"LSN {lsn_text(txn.end_lsn)}); a changelog cannot express TRUNCATE",
                    hint="drop the slot (sqlstream cdc-drop) and start the job afresh to read a new snapshot",
                )
        visible = self._visibility.visible(txn.xid)
        check = any(visible)
        op_ts = txn.commit_ts_us // 1000
        maps: dict[int, list[int] | None] = {}

        def emit(kind: int, values: list[object]) -> None:
            kinds.append(kind)
            ts.append(op_ts)
            for col, v in zip(columns, values):
                col.append(v)

        def seen(values: list[object]) -> bool:
            if not check:
                return False
            key = tuple(key_value(values[i], t) for i, t in zip(self.key_idx, self.key_types))  # type: ignore[arg-type]
            return self._visibility.already_read(txn.xid, key, visible)

        for ch in txn.changes:
            if ch.relation.oid not in maps:
                maps[ch.relation.oid] = self._mapping(ch.relation)
            m = maps[ch.relation.oid]
            if m is None:
                continue
            new = [ch.new[i] for i in m] if ch.new is not None else None
            old = [ch.old[i] for i in m] if ch.old is not None else None
            if ch.kind == "I":
                assert new is not None
                if not seen(new):
                    emit(INSERT, new)
                continue
            if ch.kind == "D":
                assert old is not None
                if not seen(old):
                    emit(DELETE, old)
                continue
            assert new is not None
            if UNCHANGED in new:
                if old is None or not ch.old_is_full:
                    raise CdcError(
                        f"{self.where}: an update (LSN {lsn_text(txn.end_lsn)}) left a large (TOASTed) "
                        "value unchanged, which PostgreSQL logs only with REPLICA IDENTITY FULL",
                        hint=f"ALTER TABLE {self.config.schema}.{self.config.table} REPLICA IDENTITY FULL;",
                    )
                new = [o if v is UNCHANGED else v for v, o in zip(new, old)]
            if self.full_rows and not ch.old_is_full:
                raise CdcError(
                    f"{self.where}: an update (LSN {lsn_text(txn.end_lsn)}) carries no old row: the table's "
                    "REPLICA IDENTITY is no longer FULL",
                    hint="ALTER TABLE ... REPLICA IDENTITY FULL; or set 'changelog-mode' = 'upsert'",
                )
            new_key = [new[i] for i in self.key_idx]
            if old is not None and [old[i] for i in self.key_idx] != new_key:
                if not seen(old):
                    emit(DELETE, old)
                if not seen(new):
                    emit(INSERT, new)
            elif not seen(new):
                if self.full_rows:
                    assert old is not None
                    emit(UPDATE_BEFORE, old)
                emit(UPDATE_AFTER, new)

    def _batch(self, columns: list[list[object]], kinds: list[int], op_ts: list[int]) -> pa.RecordBatch:
        n = len(kinds)
        arrays = dict(zip(self.names, self.text.arrays(columns)))
        c, meta = self.config, self.spec.metadata
        out: list[pa.Array] = []
        for f, af in zip(self.spec.columns, self.schema):
            key = meta.get(f.name)
            if key is None:
                out.append(arrays[f.name])
            elif key == "op_ts":
                out.append(pa.array(op_ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")).cast(af.type))
            else:
                value = {"table_name": c.table, "schema_name": c.schema, "database_name": c.database}[key]
                out.append(pa.array([value] * n, pa.string()).cast(af.type))
        out.append(pa.array(kinds, ROW_KIND_TYPE))
        self.metrics.records_in += n
        return pa.RecordBatch.from_arrays(out, schema=self.schema)

    # ---- position ------------------------------------------------------------------------
    def position(self) -> dict[str, Any]:
        segments: list[list[Any]] = [[u, s] for u, s in self._segments]
        if self.phase == "snapshot" and self._last_key is not None:
            segments.append([self._last_key, self._current_snapshot])
        return {"phase": self.phase, "segments": segments, "lsn": self.lsn}

    def checkpoint_position(self, checkpoint_id: int) -> dict[str, Any]:
        if self.phase == "stream":
            self._pending[checkpoint_id] = self.lsn
        return self.position()

    def restore(self, position: dict[str, Any]) -> None:
        self._restored = True
        self.phase = position.get("phase", "stream")
        self.lsn = int(position.get("lsn", 0))
        self._segments = [(None if u is None else list(u), s) for u, s in position.get("segments", [])]

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Confirm the slot up to the LSN checkpoint ``checkpoint_id`` recorded: the server
        may then recycle the WAL before it."""
        lsn = self._pending.pop(checkpoint_id, None)
        for k in [k for k in self._pending if k < checkpoint_id]:
            del self._pending[k]
        if lsn is None or lsn <= self._confirmed or self._conn is None:
            return
        async with self._slot_lock:
            try:
                await self._conn.execute(
                    "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)",
                    [self.config.slot_name, lsn_text(lsn)],
                )
            except psycopg.Error as e:  # the WAL is kept; the next checkpoint tries again
                log.warning("%s: could not confirm slot '%s': %s", self.where, self.config.slot_name, e)
                return
            self._confirmed = lsn
            self._peeked = [(e, n) for e, n in self._peeked if e > lsn]

    async def close(self) -> None:
        self.text.close()
        for conn in (self._snap_conn, self._conn):
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    await conn.close()
        if self._conn is not None:
            log.info(
                "%s: replication slot '%s' kept for the job to resume (it holds WAL); drop it with "
                "'sqlstream cdc-drop <script.sql>'",
                self.where,
                self.config.slot_name,
            )
        self._conn = self._snap_conn = None


def _boundary(messages: list[Any], at: int) -> bool:
    """Whether ``at`` falls between two transactions of a peek's rows: after a Commit and
    before a Begin (or the end)."""
    ends = bytes(messages[at - 1][0][:1]) == b"C"
    return ends and (at == len(messages) or bytes(messages[at][0][:1]) == b"B")
