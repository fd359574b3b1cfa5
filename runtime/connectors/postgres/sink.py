"""PostgreSQL tables through Flink's ``jdbc`` connector options (and ``postgres``, a libpq DSN).

Where the table is: ``conn.py``; type mapping: ``types.py``; the lookup
client of lookup joins: ``lookup.py``.

**Sink.** Without a primary key rows are appended; with one (``PRIMARY KEY (...) NOT
ENFORCED``) they are upserted (``INSERT ... ON CONFLICT (pk) DO UPDATE``), ``-D`` rows
delete by key and ``-U`` rows are skipped, as Flink's JDBC sink does. Rows are buffered
until ``sink.buffer-flush.max-rows`` (default 100; 0: no limit) or
``sink.buffer-flush.interval`` (default 1 s; 0: no timer) and then written by one
statement per kind: each column travels as a single array parameter (for scalar types
an array literal that Arrow's compute functions format, ``types.array_literal``)
and ``ROWS FROM (unnest(...))`` takes the rows apart on the server, so there is neither a
statement per row nor a Python loop per row. Within one flush the last change of a key
wins, so a statement never touches a row twice. The table must exist; its columns are
checked against the declared ones when the sink opens.

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
``PostgresSink.recover_all`` does the same for all subtasks at once.

Upserts wait: while a transaction this sink prepared is not committed, the changes that
follow stay in memory, because the next transaction would neither see that one's rows (a
delete would miss them) nor get past their row locks (and its commit has to come through
this same writer). Should barrier n+1 arrive before the commit of n, n is committed early
with a warning (replaying upserts converges to the same table, Flink's argument for
upsert sinks).

The gid is ``<prefix>-<subtask>-<checkpoint>``, with ``sink.transactional-id-prefix``
as prefix, by default ``sqlstream-<job name>-<table>``. Like Flink's, the prefix must be
unique among the jobs writing into one database: recovery rolls back whatever prepared
transaction carries it. The transaction gets its gid at ``PREPARE`` time, not at
``BEGIN``, because only the barrier says which checkpoint it belongs to (a checkpoint
aborted before it reached this sink never sends its barrier). Exactly-once needs
``max_prepared_transactions > 0``: the sink refuses to open otherwise and says how.

Rows written after the last checkpoint of a bounded job that reached its end of input
(``flush()``) are committed when the sink closes; without end of input (a failure) the
open transaction is rolled back, as recovery replays those rows.

**Source.** A bounded scan of the table's declared columns through a server-side cursor
(``scan.fetch-size`` rows a round trip, default: the poll size). With
``scan.partition.column`` / ``.num`` / ``.lower-bound`` / ``.upper-bound`` the key range
is cut into ``num`` strides dealt round-robin to the subtasks; unlike Flink's, the first
and last strides are open-ended (and the first takes NULL keys), so no row outside the
bounds is missed. The position is the list of strides done: a restore reads a stride that
was in progress again from its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from catalog.connectors import CONNECTORS, Guarantee
from catalog.errors import OptionError
from catalog.options import OptionBag
from catalog.types import DataType, parse_type
from planner.physical import ROW_KIND_COLUMN, Field, SinkSpec, SourceSpec
from runtime.batches import output_schema
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext
from runtime.connectors.postgres.conn import (
    ConnConfig,
    DataLossError,
    PostgresError,
    TableName,
    conn_config,
    connect,
    server_error,
    table_columns,
    transient,
    unique_keys,
)
from runtime.connectors.postgres.types import (
    PgColumn,
    UnsupportedType,
    check_column,
    column_param,
    param_type,
    pg_type,
)

log = logging.getLogger(__name__)

COMMITS_TABLE = "sqlstream_commits"
COMMITS_DDL = (
    "CREATE TABLE IF NOT EXISTS {} (gid text PRIMARY KEY, sink_id text NOT NULL, "
    "subtask int NOT NULL, checkpoint_id bigint NOT NULL, token text NOT NULL, "
    "committed_at timestamptz NOT NULL DEFAULT now())"
)
MARKERS_KEPT = 100  # checkpoints of marker rows kept per sink subtask
_MAX_GID = 200  # PostgreSQL's limit (GIDSIZE), in bytes
_INSERT, _UPDATE_BEFORE, _UPDATE_AFTER, _DELETE = 0, 1, 2, 3
T = TypeVar("T")


def options_bag(options: dict[str, str], table: str) -> OptionBag:
    return OptionBag(options, f"table '{table}'")


def finish_options(bag: OptionBag, connector: str) -> None:
    """Consume the keys the other side (source, sink, lookup) reads, then fail on any key
    the connector does not know."""
    known = [*CONNECTORS[connector].keys, "connector"]
    for key in known:
        bag.get(key)
    bag.finish(known)


def connector_name(spec: SinkSpec | SourceSpec) -> str:
    name = spec.connector.lower()
    return name if name in ("jdbc", "postgres") else "postgres"


def create_table_hint(name: TableName, fields: tuple[Field, ...], key: tuple[str, ...] = ()) -> str:
    """The CREATE TABLE a missing-table error suggests (quoted by psycopg's rules)."""
    cols = []
    for f in fields:
        t = parse_type(f.type)
        try:
            typ = pg_type(t)
        except UnsupportedType:
            typ = "?"
        cols.append(f"{_quote(f.name)} {typ}{'' if t.nullable and f.name not in key else ' NOT NULL'}")
    if key:
        cols.append(f"PRIMARY KEY ({', '.join(_quote(k) for k in key)})")
    return f"CREATE TABLE {_quote_name(name)} ({', '.join(cols)})"


def _quote(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _quote_name(name: TableName) -> str:
    return f"{_quote(name.schema)}.{_quote(name.table)}" if name.schema else _quote(name.table)


def match_columns(
    fields: tuple[Field, ...], pg_cols: list[PgColumn], name: TableName, where: str, db: str
) -> list[PgColumn]:
    """The PostgreSQL column of each declared column (exact name, else the one name that
    differs only in case), checked for type compatibility; every problem in one error."""
    by_name = {c.name: c for c in pg_cols}
    by_lower: dict[str, list[PgColumn]] = {}
    for c in pg_cols:
        by_lower.setdefault(c.name.lower(), []).append(c)
    out: list[PgColumn] = []
    problems: list[str] = []
    for f in fields:
        col = by_name.get(f.name)
        if col is None and len(by_lower.get(f.name.lower(), [])) == 1:
            col = by_lower[f.name.lower()][0]
        if col is None:
            problems.append(f"column '{f.name}' does not exist in PostgreSQL")
            continue
        why = check_column(f.name, parse_type(f.type), col)
        if why:
            problems.append(why)
        out.append(col)
    if problems:
        have = ", ".join(f"{c.name} {c.display}" for c in pg_cols)
        raise PostgresError(
            f"{where}: the table {name} in PostgreSQL at {db} does not match its declaration: "
            + "; ".join(problems),
            hint=f"the PostgreSQL table has ({have}); change the CREATE TABLE or the PostgreSQL table",
        )
    return out


def check_prepared_transactions(setting: str, where: str) -> None:
    """Refuse exactly-once when the server's ``max_prepared_transactions`` is 0.

    >>> check_prepared_transactions("64", "t")
    >>> check_prepared_transactions("0", "t")
    Traceback (most recent call last):
    ...
    runtime.connectors.postgres.conn.PostgresError: t: exactly-once delivery needs prepared transactions, but the server has max_prepared_transactions = 0
    Hint: ...
    """  # noqa: E501
    try:
        value = int(setting)
    except ValueError:
        value = 0
    if value > 0:
        return
    raise PostgresError(
        f"{where}: exactly-once delivery needs prepared transactions, but the server has "
        f"max_prepared_transactions = {setting}",
        hint="set it above the number of sink subtasks times the checkpoints in flight (e.g. 64): "
        "`ALTER SYSTEM SET max_prepared_transactions = 64;` as a superuser, or "
        "`max_prepared_transactions = 64` in postgresql.conf, then restart PostgreSQL; "
        "or choose 'sink.delivery-guarantee' = 'at-least-once'",
    )


def default_prefix(job_name: str, table: str) -> str:
    """``sqlstream-<job>-<table>``, made safe for a gid and short enough for it.

    >>> default_prefix("my job", "public.orders")
    'sqlstream-my_job-public.orders'
    """
    text = re.sub(r"[^A-Za-z0-9_.:-]", "_", f"sqlstream-{job_name}-{table}")
    if len(text) > 120:
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        text = f"{text[:109]}-{digest}"
    return text


def make_gid(prefix: str, subtask: int, checkpoint_id: int) -> str:
    return f"{prefix}-{subtask}-{checkpoint_id}"


def gid_pattern(prefix: str) -> re.Pattern[str]:
    """Gids of a prefix: ``<prefix>-<subtask>-<checkpoint>`` and nothing longer, so that the
    prefix ``a`` does not claim the gids of the prefix ``a-1``."""
    return re.compile(re.escape(prefix) + r"-(\d+)-(\d+)")


# ---- statements -------------------------------------------------------------------------


def _target_type(col: PgColumn) -> sql.Composable:
    if col.elem is not None:
        return sql.SQL("{}[]").format(sql.Identifier(col.schema, col.elem))
    return sql.Identifier(col.schema, col.base)


def _rows_from(types: list[DataType], cols: list[PgColumn]) -> tuple[sql.Composable, sql.Composable]:
    """``ROWS FROM (unnest(%s::int4[]), ...) AS u(c0, ...)`` and the select list that casts
    each ``u.cN`` to its column's type."""
    funcs: list[sql.Composable] = []
    select: list[sql.Composable] = []
    for i, (t, col) in enumerate(zip(types, cols)):
        c = sql.Identifier("u", f"c{i}")
        if t.name == "ARRAY":
            funcs.append(sql.SQL("jsonb_array_elements({}::jsonb)").format(sql.Placeholder()))
            select.append(
                sql.SQL(
                    "CASE WHEN jsonb_typeof({c}) = 'array' "
                    "THEN ARRAY(SELECT jsonb_array_elements_text({c}))::{t} END"
                ).format(c=c, t=_target_type(col))
            )
        else:
            funcs.append(sql.SQL("unnest({}::{}[])").format(sql.Placeholder(), sql.SQL(param_type(t))))
            select.append(sql.SQL("{}::{}").format(c, _target_type(col)))
    alias = sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in range(len(types)))
    rows_from = sql.SQL("ROWS FROM ({}) AS u({})").format(sql.SQL(", ").join(funcs), alias)
    return rows_from, sql.SQL(", ").join(select)


@dataclass
class Statements:
    """The statements of a sink, built once at open."""

    insert: sql.Composed
    delete: sql.Composed | None
    key_index: list[int]


def build_statements(
    table: TableName, fields: tuple[Field, ...], cols: list[PgColumn], key: tuple[str, ...]
) -> Statements:
    types = [parse_type(f.type) for f in fields]
    names = [c.name for c in cols]
    rows_from, select = _rows_from(types, cols)
    insert = sql.SQL("INSERT INTO {t} ({cols}) SELECT {select} FROM {rows}").format(
        t=table.ident(),
        cols=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        select=select,
        rows=rows_from,
    )
    if not key:
        return Statements(insert, None, [])
    key_index = [[f.name for f in fields].index(k) for k in key]
    key_names = [names[i] for i in key_index]
    others = [n for n in names if n not in key_names]
    if others:
        action: sql.Composable = sql.SQL("DO UPDATE SET {}").format(
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in others)
        )
    else:
        action = sql.SQL("DO NOTHING")
    insert = sql.SQL("{} ON CONFLICT ({}) {}").format(
        insert, sql.SQL(", ").join(sql.Identifier(n) for n in key_names), action
    )
    krows, _ = _rows_from([types[i] for i in key_index], [cols[i] for i in key_index])
    cond = sql.SQL(" AND ").join(
        sql.SQL("{} = {}::{}").format(
            sql.Identifier("t", n), sql.Identifier("u", f"c{j}"), _target_type(cols[key_index[j]])
        )
        for j, n in enumerate(key_names)
    )
    delete = sql.SQL("DELETE FROM {t} AS t USING {rows} WHERE {cond}").format(
        t=table.ident(), rows=krows, cond=cond
    )
    return Statements(insert, delete, key_index)


def last_per_key(table: pa.Table, key: list[str]) -> pa.Table:
    """The last row of each key (rows in arrival order), computed by Arrow's group-by.

    >>> t = pa.table({"k": [1, 2, 1], "v": ["a", "b", "c"]})
    >>> sorted(last_per_key(t, ["k"]).to_pylist(), key=lambda r: r["k"])
    [{'k': 1, 'v': 'c'}, {'k': 2, 'v': 'b'}]
    """
    if table.num_rows <= 1:
        return table
    ordinal = "__sqlstream_ordinal"
    numbered = table.append_column(ordinal, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    last = numbered.group_by(key, use_threads=False).aggregate([(ordinal, "max")])
    ordinals = np.sort(last.column(f"{ordinal}_max").to_numpy())  # in arrival order
    return table.take(ordinals)


@dataclass
class Changes:
    """A flush's rows split into upserts (or appends) and deletes."""

    upserts: pa.Table
    deletes: pa.Table | None = None


def split_changes(table: pa.Table, key: list[str], where: str) -> Changes:
    """Turn buffered rows (with or without the row-kind column) into what to write: append
    mode takes every row (and refuses updates), upsert mode keeps each key's last change,
    skipping ``-U``."""
    kinds = table.column(ROW_KIND_COLUMN) if ROW_KIND_COLUMN in table.column_names else None
    if kinds is not None:
        table = table.drop_columns([ROW_KIND_COLUMN])
    if not key:
        if kinds is not None and pc.any(pc.not_equal(kinds, _INSERT)).as_py():
            raise PostgresError(
                f"{where}: the query's result updates and deletes rows, but the table declares no "
                "primary key, so the sink can only append",
                hint="declare the key of the result: PRIMARY KEY (...) NOT ENFORCED (and the same "
                "primary key or a unique index in PostgreSQL)",
            )
        return Changes(table)
    if kinds is not None:
        keep = pc.not_equal(kinds, _UPDATE_BEFORE)
        table = table.filter(keep)
        kinds = kinds.filter(keep)
        numbered = table.append_column(ROW_KIND_COLUMN, kinds)
        last = last_per_key(numbered, key)
        is_delete = pc.equal(last.column(ROW_KIND_COLUMN), _DELETE)
        last = last.drop_columns([ROW_KIND_COLUMN])
        return Changes(last.filter(pc.invert(is_delete)), last.filter(is_delete))
    return Changes(last_per_key(table, key))


# ---- sink -------------------------------------------------------------------------------


@dataclass
class RecoveryResult:
    """What ``PostgresSink.recover`` did, by gid."""

    committed: list[str] = field(default_factory=list)
    already_committed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)


class PostgresSink(SinkWriter):
    """One subtask's writer into a PostgreSQL table (see the module docstring)."""

    def __init__(self, spec: SinkSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        connector = connector_name(spec)
        bag = options_bag(spec.options, spec.table)
        self.where = bag.where
        self.cfg: ConnConfig = conn_config(bag, connector)
        self.name = TableName.parse(bag.require("table-name"), self.where)
        self.max_rows = bag.get_int("sink.buffer-flush.max-rows", 100) or 0
        self.interval_ms = bag.get_duration_ms("sink.buffer-flush.interval", 1000) or 0
        self.max_retries = max(0, bag.get_int("sink.max-retries", 3) or 0)
        self.prefix = bag.get("sink.transactional-id-prefix") or default_prefix(ctx.job_name, str(self.name))
        if len(self.prefix.encode()) > _MAX_GID - 24:
            raise OptionError(
                f"{self.where}: 'sink.transactional-id-prefix' is longer than {_MAX_GID - 24} bytes",
                hint="PostgreSQL's transaction ids have at most 200 bytes; use a shorter prefix",
            )
        finish_options(bag, connector)
        self.guarantee = spec.guarantee
        self.exactly_once = spec.guarantee == Guarantee.EXACTLY_ONCE
        self.key = list(spec.primary_key)
        self.commits = self.name.sibling(COMMITS_TABLE)
        for f in spec.columns:
            try:
                param_type(parse_type(f.type))
            except UnsupportedType as e:
                raise PostgresError(
                    f"{self.where}: column '{f.name}' has type {e}, which the PostgreSQL sink cannot write",
                    hint="cast it to a supported type (numbers, strings, bytes, dates, times, "
                    "timestamps, arrays of those), e.g. JSON text for maps and rows",
                ) from None
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
                    hint=f"ALTER TABLE {_quote_name(self.name)} ADD PRIMARY KEY "
                    f"({', '.join(_quote(k) for k in sorted(wanted))})",
                )
        await self._conn.rollback()
        self._stmts = build_statements(self.name, self.spec.columns, cols, tuple(self.key))
        if self.exactly_once:
            admin = await self._admin_conn()
            cur = await admin.execute("SHOW max_prepared_transactions")
            row = await cur.fetchone()
            check_prepared_transactions(str(row[0]) if row else "0", self.where)
            try:
                await ensure_commits_table(admin, self.commits)
            except psycopg.Error as e:
                error = server_error(self.cfg, self.where, f"creating the marker table {COMMITS_TABLE}", e)
                error.hint = (
                    "exactly-once keeps one marker row per checkpoint in it; let the user create "
                    f"tables in the schema, or create it: {COMMITS_DDL.format(_quote(COMMITS_TABLE))}"
                )
                raise error from None
        if self.interval_ms > 0:
            self._ticker = asyncio.create_task(self._tick(), name=f"postgres-flush {self.where}")

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
            if self._holding:
                await self._commit_pending_early(checkpoint_id)
            await self._flush_buffer()
            if not self.exactly_once or self._txn_rows == 0:
                return None
            assert self._conn is not None
            gid = self.gid(checkpoint_id)
            token = uuid.uuid4().hex
            try:
                await self._conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (gid, sink_id, subtask, checkpoint_id, token) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (gid) DO UPDATE "
                        "SET token = EXCLUDED.token, committed_at = now()"
                    ).format(self.commits),
                    [gid, self.prefix, self.ctx.subtask, checkpoint_id, token],
                )
                await self._conn.execute(  # markers old enough that no restore can ask for them
                    sql.SQL(
                        "DELETE FROM {} WHERE sink_id = %s AND subtask = %s AND checkpoint_id < %s"
                    ).format(self.commits),
                    [self.prefix, self.ctx.subtask, checkpoint_id - MARKERS_KEPT],
                )
                await self._conn.execute(sql.SQL("PREPARE TRANSACTION {}").format(sql.Literal(gid)))
            except psycopg.errors.DuplicateObject:
                raise PostgresError(
                    f"{self.where}: cannot prepare transaction '{gid}' at {self.cfg.where}: a prepared "
                    "transaction of that name is left over from an earlier run of this sink",
                    hint="restart the job so that recovery commits or rolls back what it left, or give "
                    "this sink another 'sink.transactional-id-prefix'",
                ) from None
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

    async def commit(self, checkpoint_id: int, handle: Any) -> None:
        """COMMIT PREPARED the handle's transaction; idempotent (see the module docstring).
        Upserts held back meanwhile are then written into the open transaction."""
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
                    elif self._ended:
                        if self._holding:
                            await self._commit_pending_early(-1)
                        await self._flush_buffer()
                        await self._conn.commit()  # the tail after the last checkpoint
                        self._txn_rows = 0
                    else:
                        await self._conn.rollback()
        finally:
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


async def settle(
    cfg: ConnConfig,
    admin: psycopg.AsyncConnection[Any],
    commits: sql.Identifier,
    prefix: str,
    handles: Sequence[Any],
    where: str,
    owns: Callable[[int], bool],
) -> RecoveryResult:
    """Commit ``handles``, then roll back the prepared transactions of ``prefix`` (and of
    the prefixes the handles carry) in this database whose subtask ``owns`` says is ours."""
    result = RecoveryResult()
    keep: set[str] = set()
    for handle in handles:
        if not handle:
            continue
        keep.add(handle["gid"])
        done = await commit_handle(cfg, admin, commits, handle, where)
        (result.committed if done == "committed" else result.already_committed).append(handle["gid"])
    prefixes = {prefix} | {h["prefix"] for h in handles if h and h.get("prefix")}
    patterns = [gid_pattern(p) for p in sorted(prefixes)]
    cur = await admin.execute(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid"
    )
    for (gid,) in await cur.fetchall():
        if gid in keep:
            continue
        match = next((m for m in (p.fullmatch(gid) for p in patterns) if m), None)
        if match is None or not owns(int(match.group(1))):
            continue
        with contextlib.suppress(psycopg.errors.UndefinedObject):  # gone meanwhile
            await admin.execute(sql.SQL("ROLLBACK PREPARED {}").format(sql.Literal(gid)))
            result.rolled_back.append(gid)
            log.info("%s: rolled back the leftover prepared transaction '%s'", where, gid)
    return result


async def ensure_commits_table(admin: psycopg.AsyncConnection[Any], commits: sql.Identifier) -> None:
    """Create ``sqlstream_commits`` when it is missing (concurrent subtasks may race)."""
    with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        await admin.execute(sql.SQL(COMMITS_DDL).format(commits))


async def commit_handle(
    cfg: ConnConfig,
    admin: psycopg.AsyncConnection[Any],
    commits: sql.Identifier,
    handle: dict[str, Any],
    where: str,
) -> str:
    """COMMIT PREPARED the handle's gid: "committed", or "already" when the marker row
    with the handle's token shows an earlier commit; ``DataLossError`` when it was rolled
    back."""
    gid = handle["gid"]
    try:
        await admin.execute(sql.SQL("COMMIT PREPARED {}").format(sql.Literal(gid)))
        return "committed"
    except psycopg.errors.UndefinedObject:
        pass
    try:
        cur = await admin.execute(sql.SQL("SELECT token FROM {} WHERE gid = %s").format(commits), [gid])
        row = await cur.fetchone()
    except psycopg.errors.UndefinedTable:
        row = None
    if row is not None and row[0] == handle.get("token"):
        log.debug("%s: transaction '%s' was committed before", where, gid)
        return "already"
    raise DataLossError(
        f"{where}: the prepared transaction '{gid}' (checkpoint {handle.get('checkpoint_id')}, subtask "
        f"{handle.get('subtask')}, {handle.get('rows')} rows) no longer exists at {cfg.where} and was "
        "never committed: it was rolled back and its rows are lost",
        hint="something ran ROLLBACK PREPARED on it, or another job with the same "
        "'sink.transactional-id-prefix' recovered over it; give each job its own prefix",
    )


# ---- source -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stride:
    """One partition of a scan: ``lower <= col < upper`` (None: open-ended)."""

    index: int
    lower: int | None
    upper: int | None
    nulls: bool = False


def strides(lower: int, upper: int, num: int) -> list[Stride]:
    """``num`` strides covering every value: the first and last open-ended.

    >>> [(s.lower, s.upper) for s in strides(1, 100, 3)]
    [(None, 34), (34, 67), (67, None)]
    """
    num = max(1, min(num, upper - lower + 1))
    bounds = [lower + i * (upper - lower + 1) // num for i in range(num)]
    out = []
    for i in range(num):
        lo = None if i == 0 else bounds[i]
        hi = None if i == num - 1 else bounds[i + 1]
        out.append(Stride(i, lo, hi, nulls=i == 0))
    return out


class PostgresSource(SourceReader):
    """A bounded scan of one subtask's strides of a table."""

    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        connector = connector_name(spec)
        bag = options_bag(spec.options, spec.table)
        self.where = bag.where
        self.cfg = conn_config(bag, connector)
        self.name = TableName.parse(bag.require("table-name"), self.where)
        self.fetch_size = bag.get_int("scan.fetch-size", 0) or 0
        column = bag.get("scan.partition.column")
        num = bag.get_int("scan.partition.num")
        lower = bag.get_int("scan.partition.lower-bound")
        upper = bag.get_int("scan.partition.upper-bound")
        finish_options(bag, connector)
        given = [column is not None, num is not None, lower is not None, upper is not None]
        if any(given) and not all(given):
            raise OptionError(
                f"{self.where}: the scan.partition.* options go together",
                hint="set all of 'scan.partition.column', 'scan.partition.num', "
                "'scan.partition.lower-bound' and 'scan.partition.upper-bound', or none",
            )
        self.partition_column = column
        if column is not None:
            assert num is not None and lower is not None and upper is not None
            if num < 1 or lower > upper:
                raise OptionError(
                    f"{self.where}: scan.partition.num must be >= 1 and lower-bound <= upper-bound"
                )
            if column not in [f.name for f in spec.columns]:
                raise OptionError(f"{self.where}: 'scan.partition.column' = '{column}' is not a column")
            self.strides = strides(lower, upper, num)
        else:
            self.strides = [Stride(0, None, None)]
        if spec.metadata:
            raise OptionError(f"{self.where}: the jdbc/postgres connector has no metadata columns")
        self.types = [parse_type(f.type) for f in spec.columns]
        for f, t in zip(spec.columns, self.types):
            try:
                param_type(t)
            except UnsupportedType as e:
                raise PostgresError(
                    f"{self.where}: column '{f.name}' has type {e}, which the PostgreSQL source cannot read"
                ) from None
        self.schema = output_schema(spec.columns, False)
        self._done: set[int] = set()
        self._mine: list[Stride] = []
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._cursor: psycopg.AsyncServerCursor[Any] | None = None
        self._current: Stride | None = None
        self._query: sql.Composed | None = None
        self._opened = False

    async def open(self) -> None:
        try:
            await self._open()
        except psycopg.Error as e:
            raise server_error(self.cfg, self.where, f"opening {self.name}", e) from None

    async def _open(self) -> None:
        p, i = self.ctx.parallelism, self.ctx.subtask
        self._mine = [s for s in self.strides if s.index % p == i and s.index not in self._done]
        self._opened = True
        if not self._mine:
            return
        self._conn = await connect(self.cfg, str(self.name))
        hint = create_table_hint(self.name, self.spec.columns)
        _, pg_cols = await table_columns(self._conn, self.name, self.cfg, hint)
        cols = match_columns(self.spec.columns, pg_cols, self.name, self.where, self.cfg.where)
        select = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Identifier(c.name), sql.SQL(param_type(t)))
            for c, t in zip(cols, self.types)
        )
        self._query = sql.SQL("SELECT {} FROM {}").format(select, self.name.ident())
        if self.partition_column is not None:
            idx = [f.name for f in self.spec.columns].index(self.partition_column)
            self._pcol = sql.Identifier(cols[idx].name)
        await self._conn.rollback()
        await self._conn.set_read_only(True)

    @property
    def finished(self) -> bool:
        return self._opened and not self._mine and self._current is None

    def _stride_query(self, s: Stride) -> tuple[sql.Composed, list[int]]:
        assert self._query is not None
        if self.partition_column is None:
            return self._query, []
        conds: list[sql.Composable] = []
        params: list[int] = []
        if s.lower is not None:
            conds.append(sql.SQL("{} >= %s").format(self._pcol))
            params.append(s.lower)
        if s.upper is not None:
            conds.append(sql.SQL("{} < %s").format(self._pcol))
            params.append(s.upper)
        if not conds:
            return self._query, []
        cond = sql.SQL(" AND ").join(conds)
        if s.nulls:
            cond = sql.SQL("({} OR {} IS NULL)").format(cond, self._pcol)
        return sql.SQL("{} WHERE {}").format(self._query, cond), params

    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        assert self._conn is not None or not self._mine
        while True:
            if self._cursor is None:
                if not self._mine:
                    return None
                assert self._conn is not None
                self._current = self._mine.pop(0)
                query, params = self._stride_query(self._current)
                size = self.fetch_size or max(1, max_rows)
                self._cursor = self._conn.cursor(name=f"sqlstream_scan_{self._current.index}", binary=True)
                self._cursor.itersize = size
                try:
                    await self._cursor.execute(query, params)
                except psycopg.Error as e:
                    raise self._read_error(e) from None
            try:
                rows = await self._cursor.fetchmany(self.fetch_size or max(1, max_rows))
            except psycopg.Error as e:
                raise self._read_error(e) from None
            if rows:
                self.metrics.records_in += len(rows)
                return self._to_batch(rows)
            await self._cursor.close()
            self._cursor = None
            assert self._current is not None
            self._done.add(self._current.index)
            self._current = None
            if not self._mine:
                await self._conn.commit() if self._conn is not None else None
                return None

    def _read_error(self, e: psycopg.Error) -> PostgresError:
        detail = self.cfg.scrub(str(e)).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return PostgresError(f"{self.where}: reading {self.name} at {self.cfg.where} failed: {detail}")

    def _to_batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        columns = list(zip(*rows))
        arrays = [pa.array(col, type=f.type) for col, f in zip(columns, self.schema)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def position(self) -> dict[str, Any]:
        return {"done": sorted(self._done)}

    def restore(self, position: dict[str, Any]) -> None:
        self._done = set(position.get("done", []))

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None
