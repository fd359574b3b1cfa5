"""What the ``postgres-cdc`` source asks of the server, each refusal naming its fix:
wal_level, the REPLICATION attribute, the table's key and replica identity, the slot
(created with pgoutput when missing, refused when another job holds it) and the
publication (created for the table when missing); and ``drop_slot``, which removes the
slot and the publication a job created (``sqlstream cdc-drop``).

Slots and publications the source creates carry its mark: a publication's comment
says sqlstream created it, so ``drop_slot`` never drops one a DBA made.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from catalog.connectors.postgres_cdc import PostgresCdcConfig
from runtime.connectors.postgres.conn import ConnConfig, PostgresError

PUBLICATION_MARK = "created by sqlstream postgres-cdc for slot "


class CdcError(PostgresError):
    """The server, the table or the slot cannot serve a postgres-cdc source as declared."""


@dataclass(frozen=True)
class TableFacts:
    oid: int
    key: tuple[str, ...]  # the primary key's columns, in key order
    replica_identity: str  # d, f, i, n


@dataclass(frozen=True)
class SlotFacts:
    created: bool
    confirmed_lsn: int


def lock_key(slot: str) -> str:
    return f"sqlstream.postgres-cdc:{slot}"


async def _one(conn: psycopg.AsyncConnection[Any], query: Any, params: Any = None) -> Any:
    async with conn.cursor() as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def check_server(conn: psycopg.AsyncConnection[Any], cfg: ConnConfig, where: str) -> None:
    """wal_level = logical and a user with REPLICATION (or a superuser)."""
    (level,) = await _one(conn, "SHOW wal_level")
    if level != "logical":
        raise CdcError(
            f"{where}: PostgreSQL at {cfg.where} runs with wal_level = {level}; a postgres-cdc source "
            "reads changes from a logical replication slot, which needs wal_level = logical",
            hint="set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) "
            "and restart the server",
        )
    row = await _one(conn, "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user")
    if row is None or not (row[0] or row[1]):
        raise CdcError(
            f"{where}: user '{cfg.user}' at {cfg.where} lacks the REPLICATION attribute, which reading "
            "a replication slot needs",
            hint=f"ALTER ROLE {sql.Identifier(cfg.user).as_string()} REPLICATION; (as a superuser)",
        )


async def check_table(
    conn: psycopg.AsyncConnection[Any], schema: str, table: str, full_rows: bool, where: str, db: str
) -> TableFacts:
    """The table's oid, primary key and replica identity; refused when it has no key, or
    when whole old rows are needed (changelog-mode all) and its identity is not FULL."""
    name = sql.Identifier(schema, table).as_string(conn)
    row = await _one(conn, "SELECT to_regclass(%s)::oid", [name])
    if row is None or row[0] is None:
        raise CdcError(f"{where}: the table {name} does not exist in PostgreSQL at {db}")
    oid = int(row[0])
    row = await _one(
        conn,
        "SELECT c.relreplident, (SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = c.oid AND i.indisprimary) FROM pg_class c WHERE c.oid = %s",
        [oid],
    )
    identity, key = str(row[0]), tuple(row[1] or ())
    if not key:
        raise CdcError(
            f"{where}: the table {name} has no primary key, so its changes cannot be keyed",
            hint=f"ALTER TABLE {name} ADD PRIMARY KEY (...);",
        )
    if identity == "n":
        raise CdcError(
            f"{where}: the table {name} has REPLICA IDENTITY NOTHING: its updates and deletes "
            "carry no key in the WAL",
            hint=f"ALTER TABLE {name} REPLICA IDENTITY DEFAULT; (or FULL)",
        )
    if full_rows and identity != "f":
        raise CdcError(
            f"{where}: 'changelog-mode' = 'all' emits each update's old row (-U) and each delete's "
            f"whole row, but the table {name} logs only its key (REPLICA IDENTITY "
            f"{ {'d': 'DEFAULT', 'i': 'USING INDEX'}.get(identity, identity) })",
            hint=f"ALTER TABLE {name} REPLICA IDENTITY FULL; or set 'changelog-mode' = 'upsert' "
            "(+I/+U/-D by key, as upsert-kafka)",
        )
    return TableFacts(oid, key, identity)


# How long a starting job waits for the slot: the server backend of a job instance that
# was killed goes on holding it until its running query ends or notices the client left
# (client_connection_check_interval), a few seconds, and a restart must not fail on that.
SLOT_WAIT_S = 15.0


async def lock_slot(conn: psycopg.AsyncConnection[Any], slot: str, where: str, db: str) -> None:
    """Hold the slot for this session (an advisory lock, released when the session ends,
    also by a crash), or refuse: two jobs reading one slot would each miss changes. A
    holder that does not let go within ``SLOT_WAIT_S`` is another job."""
    await conn.execute("SET client_connection_check_interval = '1s'")  # our own, if we die
    deadline = time.monotonic() + SLOT_WAIT_S
    while True:
        row = await _one(conn, "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [lock_key(slot)])
        if row[0]:
            active = await _one(conn, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", [slot])
            if active is None or not active[0] or time.monotonic() > deadline:
                break
            await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [lock_key(slot)])
        elif time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    if not row[0]:
        holder = await _one(
            conn,
            "SELECT a.pid, a.client_addr::text, a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0) "
            "LIMIT 1",
            [lock_key(slot)],
        )
        who = f" (PostgreSQL backend pid {holder[0]}, client {holder[1] or 'local'})" if holder else ""
        raise CdcError(
            f"{where}: the replication slot '{slot}' at {db} is held by another sqlstream job{who}",
            hint="stop that job, or give this table its own 'slot.name'",
        )
    row = await _one(conn, "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = %s", [slot])
    if row is not None and row[0]:
        raise CdcError(
            f"{where}: the replication slot '{slot}' at {db} is in use by another client "
            f"(PostgreSQL backend pid {row[1]})",
            hint="stop that client (SELECT pg_terminate_backend(pid)), or give this table its own "
            "'slot.name'",
        )


async def ensure_publication(
    conn: psycopg.AsyncConnection[Any], config: PostgresCdcConfig, where: str, db: str
) -> None:
    """The publication the slot is decoded through: created for the table when missing;
    an existing one must publish the table."""
    pub, table = config.publication, sql.Identifier(config.schema, config.table)
    row = await _one(conn, "SELECT 1 FROM pg_publication WHERE pubname = %s", [pub])
    if row is None:
        await conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(pub), table))
        await conn.execute(
            sql.SQL("COMMENT ON PUBLICATION {} IS {}").format(
                sql.Identifier(pub), sql.Literal(PUBLICATION_MARK + config.slot_name)
            )
        )
        return
    row = await _one(
        conn,
        "SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s AND tablename = %s",
        [pub, config.schema, config.table],
    )
    if row is None:
        raise CdcError(
            f"{where}: the publication '{pub}' at {db} does not publish the table {table.as_string(conn)}",
            hint=f"ALTER PUBLICATION {sql.Identifier(pub).as_string(conn)} ADD TABLE "
            f"{table.as_string(conn)}; or set 'debezium.publication.name' to another publication",
        )


async def ensure_slot(conn: psycopg.AsyncConnection[Any], slot: str, where: str, db: str) -> SlotFacts:
    """The slot's confirmed position; a missing slot is created with pgoutput."""
    from runtime.connectors.postgres_cdc.pgoutput import parse_lsn

    row = await _one(
        conn,
        "SELECT plugin, slot_type, database, confirmed_flush_lsn::text FROM pg_replication_slots "
        "WHERE slot_name = %s",
        [slot],
    )
    if row is None:
        row = await _one(
            conn, "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')", [slot]
        )
        return SlotFacts(True, parse_lsn(row[0]))
    plugin, kind, database, confirmed = row
    current = await _one(conn, "SELECT current_database()")
    if kind != "logical" or plugin != "pgoutput" or database != current[0]:
        raise CdcError(
            f"{where}: the replication slot '{slot}' at {db} exists but is a {kind} slot with plugin "
            f"'{plugin}' on database '{database}', not a pgoutput slot of '{current[0]}'",
            hint="give this table another 'slot.name', or drop that slot "
            "(SELECT pg_drop_replication_slot(...))",
        )
    return SlotFacts(False, parse_lsn(confirmed))


async def drop_slot(conn: psycopg.AsyncConnection[Any], config: PostgresCdcConfig) -> list[str]:
    """Drop the slot and, if sqlstream created it, the publication; what was dropped."""
    done: list[str] = []
    slot, pub = config.slot_name, config.publication
    row = await _one(conn, "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [lock_key(slot)])
    if not row[0]:
        raise CdcError(
            f"the replication slot '{slot}' is held by a running sqlstream job",
            hint="stop the job first (sqlstream stop PID), then drop its slot",
        )
    try:
        row = await _one(conn, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [slot])
        if row is not None:
            if row[0] is not None:
                raise CdcError(
                    f"the replication slot '{slot}' is in use by PostgreSQL backend pid {row[0]}",
                    hint="stop that client first",
                )
            await conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
            done.append(f"replication slot '{slot}'")
        row = await _one(
            conn,
            "SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = %s",
            [pub],
        )
        if row is not None and row[0] == PUBLICATION_MARK + slot:
            await conn.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(pub)))
            done.append(f"publication '{pub}'")
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [lock_key(slot)])
    return done
