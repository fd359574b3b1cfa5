"""Where a ``jdbc`` / ``postgres`` table lives: connection settings, connecting with clear
errors, and reading the table's columns from the catalog.

``'connector' = 'jdbc'`` names the server with Flink's ``url``
(``jdbc:postgresql://host:port/db?param=value``) plus ``username`` / ``password``;
``'connector' = 'postgres'`` with a libpq ``dsn`` (``host=... dbname=...`` or a
``postgresql://`` URL), where ``username`` / ``password`` override the DSN's. Either way
the password is kept out of every message, log line and repr: errors name the server as
``host:port/db`` and the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from catalog.connectors.jdbc import parse_jdbc_url, split_table_name
from catalog.errors import OptionError, SqlStreamError
from catalog.options import OptionBag
from runtime.connectors.postgres.types import PgColumn

DEFAULT_CONNECT_TIMEOUT_S = 10


class PostgresError(SqlStreamError):
    """A PostgreSQL table cannot be reached, read or written as declared."""

    #: The server could not be reached (down, restarting): trying again later may work.
    unreachable: bool = False


class DataLossError(PostgresError):
    """A pre-committed transaction was rolled back before it could be committed."""


@dataclass(frozen=True)
class TableName:
    """A possibly schema-qualified table name. Unquoted parts are taken as written (no case
    folding): ``public.Orders`` is the table ``"public"."Orders"``."""

    table: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str, where: str) -> TableName:
        schema, table = split_table_name(text, where)
        return cls(table, schema)

    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table) if self.schema else sql.Identifier(self.table)

    def sibling(self, name: str) -> sql.Identifier:
        """Another table in the same schema (``sqlstream_commits``)."""
        return sql.Identifier(self.schema, name) if self.schema else sql.Identifier(name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


@dataclass(frozen=True)
class ConnConfig:
    """libpq connection keywords; ``repr`` and ``where`` never show the password."""

    params: dict[str, str] = field(repr=False)

    @property
    def where(self) -> str:
        host = self.params.get("host") or self.params.get("hostaddr") or "localhost"
        port = self.params.get("port") or "5432"
        return f"{host}:{port}/{self.params.get('dbname') or self.params.get('user') or '?'}"

    @property
    def user(self) -> str:
        return self.params.get("user", "")

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "password" else v) for k, v in self.params.items()}
        return f"ConnConfig({shown})"

    def scrub(self, text: str) -> str:
        """``text`` with the password blanked out, should a library ever echo it."""
        password = self.params.get("password")
        return text.replace(password, "***") if password else text


def conn_config(bag: OptionBag, connector: str) -> ConnConfig:
    """Connection settings from a table's options (consumes url/dsn, username, password)."""
    if connector == "jdbc":
        params = parse_jdbc_url(bag.require("url"), bag.where)  # 'driver' is checked by the catalog
    else:
        dsn = bag.require("dsn")
        try:
            params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
        except psycopg.ProgrammingError:
            raise OptionError(
                f"{bag.where}: 'dsn' is not a libpq connection string",
                hint="write it like 'host=127.0.0.1 port=5432 dbname=shop user=app' "
                "or 'postgresql://app@127.0.0.1:5432/shop'",
            ) from None
    user, password = bag.get("username"), bag.get("password")
    if user is not None:
        params["user"] = user
    if password is not None:
        params["password"] = password
    params.setdefault("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT_S))
    return ConnConfig(params)


def _explain_connect_error(cfg: ConnConfig, e: Exception, table: str) -> PostgresError:
    text = cfg.scrub(str(e)).strip()
    lowered = text.lower()
    at = f"PostgreSQL at {cfg.where} (table '{table}')"
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return PostgresError(
            f"cannot log in to {at} as user '{cfg.user}': the server rejected the credentials",
            hint="check the 'username' and 'password' options (or the DSN's user/password)",
        )
    if "no password supplied" in lowered:
        return PostgresError(
            f"cannot log in to {at} as user '{cfg.user}': the server asks for a password",
            hint="set the 'password' option",
        )
    if "database" in lowered and "does not exist" in lowered:
        return PostgresError(
            f"cannot connect to {at}: the database '{cfg.params.get('dbname')}' does not exist",
            hint="check the database name in 'url' / 'dsn', or CREATE DATABASE it",
        )
    first = text.splitlines()[0] if text else type(e).__name__
    error = PostgresError(
        f"cannot reach {at}: {first}",
        hint="is the server running and accepting TCP connections there? check host and port "
        "in 'url' / 'dsn' (and pg_hba.conf / firewalls)",
    )
    error.unreachable = True
    return error


async def connect(cfg: ConnConfig, table: str, *, autocommit: bool = False) -> psycopg.AsyncConnection[Any]:
    """An async connection, or a ``PostgresError`` that says what went wrong where."""
    try:
        return await psycopg.AsyncConnection.connect(make_conninfo(**cfg.params), autocommit=autocommit)
    except psycopg.Error as e:
        raise _explain_connect_error(cfg, e, table) from None


_COLUMNS = """
SELECT a.attname,
       bt.typname,
       COALESCE(en.nspname, bn.nspname),
       format_type(a.atttypid, a.atttypmod),
       a.attnotnull,
       et.typname,
       COALESCE(et.typtype, bt.typtype) = 'e'
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
JOIN pg_namespace bn ON bn.oid = bt.typnamespace
LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
LEFT JOIN pg_namespace en ON en.oid = et.typnamespace
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_UNIQUE_KEYS = """
SELECT array_agg(a.attname::text ORDER BY a.attname)
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = %s::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid
"""


async def table_columns(
    conn: psycopg.AsyncConnection[Any], name: TableName, cfg: ConnConfig, create_hint: str
) -> tuple[int, list[PgColumn]]:
    """The table's oid and columns; a missing table is a ``PostgresError`` that suggests the
    CREATE TABLE statement."""
    qualified = name.ident().as_string(conn)
    async with conn.cursor() as cur:
        await cur.execute("SELECT to_regclass(%s)::oid", [qualified])
        row = await cur.fetchone()
        if row is None or row[0] is None:
            raise PostgresError(
                f"the table {qualified} does not exist in PostgreSQL at {cfg.where} "
                f"(or user '{cfg.user}' cannot see it)",
                hint=f"create it first, e.g. {create_hint}",
            )
        oid = int(row[0])
        await cur.execute(_COLUMNS, [oid])
        cols = [
            PgColumn(name=r[0], base=r[1], schema=r[2], display=r[3], not_null=r[4], elem=r[5], is_enum=r[6])
            for r in await cur.fetchall()
        ]
    return oid, cols


async def unique_keys(conn: psycopg.AsyncConnection[Any], oid: int) -> list[set[str]]:
    """Column sets of the table's unique indexes (primary key included)."""
    async with conn.cursor() as cur:
        await cur.execute(_UNIQUE_KEYS, [oid])
        return [set(r[0]) for r in await cur.fetchall()]


def server_error(cfg: ConnConfig, where: str, doing: str, e: psycopg.Error) -> PostgresError:
    """A PostgreSQL error met while ``doing`` something, with the server named and the
    password scrubbed."""
    text = cfg.scrub(str(e)).strip()
    detail = text.splitlines()[0] if text else type(e).__name__
    hint = None
    if isinstance(e, psycopg.errors.InsufficientPrivilege):
        hint = f"grant user '{cfg.user}' the privileges it needs on the table (and its schema)"
    return PostgresError(f"{where}: {doing} at {cfg.where} failed: {detail}", hint=hint)


def transient(e: BaseException) -> bool:
    """Whether retrying the same statements may succeed: a lost connection, a serialization
    failure or deadlock, an admin shutdown; never a constraint violation or bad data."""
    if isinstance(e, psycopg.errors.IntegrityError | psycopg.errors.DataError | psycopg.ProgrammingError):
        return False
    return isinstance(e, psycopg.OperationalError | psycopg.InterfaceError)
