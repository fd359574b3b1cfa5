"""The statements a flush runs: one per row kind, every column an array parameter
unnested on the server (no statement and no Python loop per row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from catalog.types import DataType, parse_type
from planner.physical import ROW_KIND_COLUMN, Field
from runtime.connectors.postgres.conn import (
    PostgresError,
    TableName,
)
from runtime.connectors.postgres.types import (
    PgColumn,
    param_type,
)

_INSERT, _UPDATE_BEFORE, _UPDATE_AFTER, _DELETE = 0, 1, 2, 3


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
    mode takes every row (and refuses updates), upsert mode keeps each key's last change.

    A ``-U`` counts as a delete of its key, as in Flink's JDBC sink (its reduce buffer
    flags UPDATE_BEFORE like DELETE): the ``+U`` that usually follows overwrites it, and
    where none follows (``HAVING`` filtered it out, or the row moved to another key of
    this table) the key's old row must go. Skipped, it stayed in the table."""
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
        numbered = table.append_column(ROW_KIND_COLUMN, kinds)
        last = last_per_key(numbered, key)
        last_kinds = last.column(ROW_KIND_COLUMN)
        is_delete = pc.or_(pc.equal(last_kinds, _DELETE), pc.equal(last_kinds, _UPDATE_BEFORE))
        last = last.drop_columns([ROW_KIND_COLUMN])
        return Changes(last.filter(pc.invert(is_delete)), last.filter(is_delete))
    return Changes(last_per_key(table, key))
