"""A bounded PostgreSQL scan (``jdbc`` and ``postgres`` connectors).

**Source.** A bounded scan of the table's declared columns through a server-side cursor
(``scan.fetch-size`` rows a round trip, default: the poll size). With
``scan.partition.column`` / ``.num`` / ``.lower-bound`` / ``.upper-bound`` the key range
is cut into ``num`` strides dealt round-robin to the subtasks; unlike Flink's, the first
and last strides are open-ended (and the first takes NULL keys), so no row outside the
bounds is missed. The position is the list of strides done: a restore reads a stride that
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from catalog.connectors.jdbc import JdbcConfig
from catalog.types import parse_type
from planner.physical import SourceSpec
from runtime.batches import output_schema
from runtime.connectors.base import SourceReader, SubtaskContext, source_config
from runtime.connectors.postgres.conn import (
    PostgresError,
    connect,
    server_error,
    table_columns,
)
from runtime.connectors.postgres.options import connection
from runtime.connectors.postgres.tables import create_table_hint, match_columns
from runtime.connectors.postgres.types import (
    param_type,
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
        config = source_config(spec)
        assert isinstance(config, JdbcConfig)
        self.where = f"table '{spec.table}'"
        self.cfg, self.name = connection(spec, config)
        self.fetch_size = config.fetch_size
        part = config.partitioning
        self.partition_column = part.column if part else None
        self.strides = strides(part.lower, part.upper, part.num) if part else [Stride(0, None, None)]
        self.types = [parse_type(f.type) for f in spec.columns]
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
