"""``sqlstream cdc-drop FILE.sql [TABLE]``: drop the replication slots (and the
publications sqlstream created) of a script's ``postgres-cdc`` tables.

A postgres-cdc job keeps its slot when it stops, so that it can resume where its last
checkpoint was; the slot makes the server keep WAL until it is dropped. This command is
how a user ends that: it runs the script's DDL (no job), and for each postgres-cdc table
(or only TABLE) drops its slot, and its publication when sqlstream created it. A slot a
running job holds is refused, not dropped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TextIO

import planner
from catalog.connectors import configure_table, table_info
from catalog.connectors.postgres_cdc import PostgresCdcConfig
from catalog.errors import SqlStreamError
from planner import statements as st
from sqlstream.session import Session


class CdcCommandError(SqlStreamError):
    """The script has no postgres-cdc table (by that name)."""


def cdc_tables(session: Session, script: Path, only: str | None) -> list[tuple[str, PostgresCdcConfig]]:
    for s in planner.parse(script.read_text()):
        if isinstance(s, st.CreateTable | st.CreateView | st.Set | st.CreateFunction):
            session.execute_statement(s)
    found = []
    for table in session.catalog.tables():
        if table.options.get("connector", "").lower() != "postgres-cdc":
            continue
        if only is not None and table.name.lower() != only.lower():
            continue
        _, config = configure_table(table_info(table))
        assert isinstance(config, PostgresCdcConfig)
        found.append((table.name, config))
    if not found:
        what = f"a postgres-cdc table named '{only}'" if only else "a postgres-cdc table"
        raise CdcCommandError(f"{script} does not declare {what}")
    return found


async def _drop(config: PostgresCdcConfig, table: str) -> list[str]:
    from runtime.connectors.postgres.conn import ConnConfig, connect
    from runtime.connectors.postgres_cdc.server import drop_slot

    conn = await connect(ConnConfig(dict(config.libpq)), table, autocommit=True)
    try:
        return await drop_slot(conn, config)
    finally:
        await conn.close()


def cdc_drop_command(session: Session, script: Path, only: str | None, out: TextIO) -> int:
    for name, config in cdc_tables(session, script, only):
        dropped = asyncio.run(_drop(config, name))
        where = f"{config.hostname}:{config.port}/{config.database}"
        if dropped:
            out.write(f"table '{name}': dropped {' and '.join(dropped)} at {where}\n")
        else:
            out.write(f"table '{name}': no slot '{config.slot_name}' at {where}; nothing to drop\n")
    return 0
