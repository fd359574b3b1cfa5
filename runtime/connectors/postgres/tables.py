"""What the declared table must look like in PostgreSQL: the columns matched to the
server's, and the CREATE TABLE a missing-table error suggests.
"""

from __future__ import annotations

import re

from catalog.connectors.jdbc import UnsupportedType
from catalog.types import parse_type
from planner.physical import Field
from runtime.connectors.postgres.conn import PostgresError, TableName
from runtime.connectors.postgres.types import PgColumn, check_column, pg_type


def create_table_hint(name: TableName, fields: tuple[Field, ...], key: tuple[str, ...] = ()) -> str:
    """The CREATE TABLE a missing-table error suggests (quoted by psycopg's rules)."""
    cols = []
    for f in fields:
        t = parse_type(f.type)
        try:
            typ = pg_type(t)
        except UnsupportedType:
            typ = "?"
        cols.append(f"{quote(f.name)} {typ}{'' if t.nullable and f.name not in key else ' NOT NULL'}")
    if key:
        cols.append(f"PRIMARY KEY ({', '.join(quote(k) for k in key)})")
    return f"CREATE TABLE {quote_name(name)} ({', '.join(cols)})"


def quote(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_name(name: TableName) -> str:
    return f"{quote(name.schema)}.{quote(name.table)}" if name.schema else quote(name.table)


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
