"""The lookup client of ``JOIN dim FOR SYSTEM_TIME AS OF o.proc_time AS d ON ...`` on a
``jdbc`` / ``postgres`` table.

``PostgresLookup(spec, key_columns).lookup(keys)`` takes a batch of key values (one
column per key column, in ``key_columns`` order; names do not matter) and returns the
matching rows of the dimension table: the column ``LOOKUP_ROW_COLUMN`` (int32, the row of
``keys`` a match belongs to) followed by the table's declared columns, ordered by that
row. A key without a match has no row (an inner join; the operator adds the NULL row of a
LEFT JOIN); NULL keys match nothing, as in SQL.

One query a batch: the distinct keys not in the cache go to the server as array
parameters, ``ROWS FROM (unnest(...)) WITH ORDINALITY`` joined with the table, and Arrow
joins the answer back to the batch. ``lookup.cache`` = ``PARTIAL`` keeps the rows of up
to ``lookup.partial-cache.max-rows`` keys (least recently used out first), a key's rows
expiring ``lookup.partial-cache.expire-after-write`` after they were read from the server
or ``...expire-after-access`` after they were last used; keys without rows are cached too
(Flink's ``cache-missing-key`` default). ``lookup.max-retries`` retries a failed query on
a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from catalog.types import parse_type
from planner.physical import SourceSpec
from runtime.batches import output_schema
from runtime.connectors.postgres.conn import (
    PostgresError,
    connect,
    server_error,
    table_columns,
    transient,
)
from runtime.connectors.postgres.options import connection, lookup_config
from runtime.connectors.postgres.tables import create_table_hint, match_columns
from runtime.connectors.postgres.types import PgColumn, column_param, param_type

log = logging.getLogger(__name__)

LOOKUP_ROW_COLUMN = "__lookup_row"
_ORDINAL = "__lookup_key"


@dataclass
class _Entry:
    rows: pa.Table
    written: float
    accessed: float


class LookupCache:
    """Rows per key, bounded by key count, with write and access expiry (seconds).

    >>> c = LookupCache(max_keys=1)
    >>> c.put((1,), pa.table({"v": [1]})); c.put((2,), pa.table({"v": [2]}))
    >>> c.get((1,)) is None, c.get((2,)).num_rows
    (True, 1)
    """

    def __init__(
        self,
        max_keys: int | None,
        expire_after_write: float | None = None,
        expire_after_access: float | None = None,
    ) -> None:
        self.max_keys = max_keys
        self.expire_after_write = expire_after_write
        self.expire_after_access = expire_after_access
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Any, ...], now: float | None = None) -> pa.Table | None:
        now = time.monotonic() if now is None else now
        entry = self._entries.get(key)
        if entry is not None and (
            (self.expire_after_write is not None and now - entry.written > self.expire_after_write)
            or (self.expire_after_access is not None and now - entry.accessed > self.expire_after_access)
        ):
            del self._entries[key]
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        entry.accessed = now
        self._entries.move_to_end(key)
        return entry.rows

    def put(self, key: tuple[Any, ...], rows: pa.Table, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._entries[key] = _Entry(rows, now, now)
        self._entries.move_to_end(key)
        while self.max_keys is not None and len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)


class PostgresLookup:
    """Batched lookups into one table by ``key_columns`` (columns of ``spec``)."""

    def __init__(self, spec: SourceSpec, key_columns: Sequence[str]) -> None:
        self.spec = spec
        config = lookup_config(spec, key_columns)
        self.where = f"table '{spec.table}'"
        self.cfg, self.name = connection(spec, config)
        self.max_retries = config.lookup_max_retries
        names = [f.name for f in spec.columns]
        self.key_columns = list(key_columns)
        self.key_index = [names.index(k) for k in self.key_columns]
        self.types = [parse_type(f.type) for f in spec.columns]
        cache = config.lookup_cache
        self.cache: LookupCache | None = None
        if cache is not None:
            self.cache = LookupCache(cache.max_rows, cache.expire_after_write_s, cache.expire_after_access_s)
        self.schema = output_schema(spec.columns, False)
        self.key_schema = pa.schema([self.schema.field(i) for i in self.key_index])
        self.out_schema = pa.schema([pa.field(LOOKUP_ROW_COLUMN, pa.int32()), *self.schema])
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._query: sql.Composed | None = None
        self.queries = 0

    async def open(self) -> None:
        try:
            await self._open()
        except psycopg.Error as e:
            raise server_error(self.cfg, self.where, f"opening {self.name}", e) from None

    async def _open(self) -> None:
        self._conn = await connect(self.cfg, str(self.name), autocommit=True)
        hint = create_table_hint(self.name, self.spec.columns)
        _, pg_cols = await table_columns(self._conn, self.name, self.cfg, hint)
        cols = match_columns(self.spec.columns, pg_cols, self.name, self.where, self.cfg.where)
        self._query = self._build(cols)

    def _build(self, cols: list[PgColumn]) -> sql.Composed:
        funcs = sql.SQL(", ").join(
            sql.SQL("unnest({}::{}[])").format(sql.Placeholder(), sql.SQL(param_type(self.types[i])))
            for i in self.key_index
        )
        alias = sql.SQL(", ").join(sql.Identifier(f"k{j}") for j in range(len(self.key_index)))
        select = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Identifier("t", c.name), sql.SQL(param_type(t)))
            for c, t in zip(cols, self.types)
        )
        cond = sql.SQL(" AND ").join(
            sql.SQL("{} = {}::{}").format(
                sql.Identifier("t", cols[i].name),
                sql.Identifier("k", f"k{j}"),
                sql.Identifier(cols[i].schema, cols[i].base),
            )
            for j, i in enumerate(self.key_index)
        )
        return sql.SQL(
            "SELECT k.{ord}::int4, {select} FROM ROWS FROM ({funcs}) WITH ORDINALITY AS k({alias}, {ord}) "
            "JOIN {table} AS t ON {cond}"
        ).format(
            ord=sql.Identifier(_ORDINAL),
            select=select,
            funcs=funcs,
            alias=alias,
            table=self.name.ident(),
            cond=cond,
        )

    # ---- lookups -------------------------------------------------------------------------
    async def lookup(self, keys: pa.RecordBatch) -> pa.RecordBatch:
        """The rows matching each row of ``keys`` (see the module docstring)."""
        if keys.num_columns != len(self.key_columns):
            raise ValueError(f"lookup keys have {keys.num_columns} columns, expected {len(self.key_columns)}")
        n = keys.num_rows
        if n == 0:
            return _empty_batch(self.out_schema)
        key_table = pa.Table.from_batches(
            [pa.RecordBatch.from_arrays(
                [a.cast(f.type) if a.type != f.type else a for a, f in zip(keys.columns, self.key_schema)],
                schema=self.key_schema,
            )]
        )  # fmt: skip
        distinct = key_table.group_by(self.key_columns, use_threads=False).aggregate([])
        distinct = distinct.select(self.key_columns)
        parts: list[pa.Table] = []
        if self.cache is None:
            misses = distinct
        else:
            now = time.monotonic()
            tuples = [tuple(r.values()) for r in distinct.to_pylist()]
            miss_at: list[int] = []
            for i, key in enumerate(tuples):
                cached = self.cache.get(key, now)
                if cached is None:
                    miss_at.append(i)
                elif cached.num_rows:
                    parts.append(cached)
            misses = distinct.take(pa.array(miss_at, pa.int64())) if miss_at else distinct.slice(0, 0)
        if misses.num_rows:
            fresh = await self._query_keys(misses)
            if self.cache is not None:
                self._fill_cache(misses, fresh)
            parts.append(fresh.drop_columns([_ORDINAL]))
        if not parts:
            return _empty_batch(self.out_schema)
        dim = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        numbered = key_table.append_column(LOOKUP_ROW_COLUMN, pa.array(np.arange(n, dtype=np.int32)))
        joined = numbered.join(dim, keys=self.key_columns, join_type="inner", use_threads=False)
        if joined.num_rows == 0:
            return _empty_batch(self.out_schema)
        joined = joined.select(self.out_schema.names).sort_by(LOOKUP_ROW_COLUMN)
        joined = joined.cast(self.out_schema)
        return joined.combine_chunks().to_batches()[0]

    def _fill_cache(self, misses: pa.Table, fresh: pa.Table) -> None:
        assert self.cache is not None
        now = time.monotonic()
        ordinals = fresh.column(_ORDINAL).to_numpy()  # 1-based index into misses, sorted
        starts = np.searchsorted(ordinals, np.arange(1, misses.num_rows + 2))
        rows = fresh.drop_columns([_ORDINAL])
        for i, key in enumerate(tuple(r.values()) for r in misses.to_pylist()):
            lo, hi = int(starts[i]), int(starts[i + 1])
            self.cache.put(key, rows.slice(lo, hi - lo), now)

    async def _query_keys(self, misses: pa.Table) -> pa.Table:
        assert self._query is not None
        params = [column_param(misses.column(j), self.types[i]) for j, i in enumerate(self.key_index)]
        attempt = 0
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await connect(self.cfg, str(self.name), autocommit=True)
                async with self._conn.cursor(binary=True) as cur:
                    await cur.execute(self._query, params)
                    rows = await cur.fetchall()
                self.queries += 1
                break
            except psycopg.Error as e:
                if self._conn is not None and self._conn.broken:
                    with contextlib.suppress(psycopg.Error):
                        await self._conn.close()
                    self._conn = None
                detail = (
                    self.cfg.scrub(str(e)).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                )
                if not transient(e) or attempt >= self.max_retries:
                    raise PostgresError(
                        f"{self.where}: looking up {self.name} at {self.cfg.where} failed: {detail}"
                    ) from None
                attempt += 1
                log.warning(
                    "%s: lookup failed (%s), retry %d of %d", self.where, detail, attempt, self.max_retries
                )
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
        columns: list[Sequence[Any]] = list(zip(*rows)) if rows else [() for _ in range(len(self.schema) + 1)]
        arrays = [pa.array(columns[0], pa.int32())]
        arrays += [pa.array(col, type=f.type) for col, f in zip(columns[1:], self.schema)]
        table = pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(_ORDINAL, pa.int32()), *self.schema]))
        return table.sort_by(_ORDINAL)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


__all__ = ["LOOKUP_ROW_COLUMN", "LookupCache", "PostgresError", "PostgresLookup"]
