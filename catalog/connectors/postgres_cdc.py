"""Flink CDC's ``postgres-cdc`` connector: a table's snapshot, then its changes from a
logical replication slot (pgoutput), as a changelog keyed by the primary key.

Option names are Flink CDC's (``hostname``, ``port``, ``username``, ``password``,
``database-name``, ``schema-name``, ``table-name``, ``slot.name``,
``decoding.plugin.name``, ``scan.startup.mode``, ``changelog-mode``); only what the
server must tell (wal_level, the REPLICATION attribute, the table's key and replica
identity, who holds the slot) is checked when the job starts.

>>> cfg = configure_postgres_cdc(TableInfo("t", _EXAMPLE, primary_key=("id",)))
>>> cfg.slot_name, cfg.publication, cfg.startup_mode, cfg.changelog_mode
('orders_slot', 'orders_slot', 'initial', 'all')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from catalog.connectors.spec import (
    ChangelogMode,
    ConnectorConfig,
    ConnectorSpec,
    OptionType,
    TableInfo,
)
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError
from catalog.options import parse_int

_I, _B, _E = OptionType.INT, OptionType.BOOL, OptionType.ENUM

# Column types the source reads (scalars: pgoutput sends each value as text).
SCALAR_TYPES = frozenset(
    {
        "BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL",
        "STRING", "VARCHAR", "CHAR", "BYTES", "BINARY", "VARBINARY",
        "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ",
    }
)  # fmt: skip
# PostgreSQL's limit on a name (NAMEDATALEN - 1); slot names are lower case, digits, "_".
_SLOT_NAME = re.compile(r"[a-z0-9_]{1,63}")

_EXAMPLE = {
    "connector": "postgres-cdc", "hostname": "db", "username": "app", "password": "secret",
    "database-name": "shop", "schema-name": "public", "table-name": "orders", "slot.name": "orders_slot",
}  # fmt: skip


@dataclass(frozen=True)
class PostgresCdcConfig(ConnectorConfig):
    """A ``postgres-cdc`` table's options, parsed and checked."""

    hostname: str
    port: int
    username: str
    password: str
    database: str
    schema: str
    table: str
    slot_name: str
    publication: str
    startup_mode: str  # "initial" | "latest-offset"
    changelog_mode: str  # "all" | "upsert"
    chunk_size: int  # snapshot rows per fetch

    def check_source(self, table: TableInfo) -> None:
        for name, t in table.columns:
            if t.name not in SCALAR_TYPES:
                raise OptionError(
                    f"{table.where}: column '{name}' has type {t.sql()}, which the postgres-cdc source "
                    "cannot read",
                    hint="declare it as STRING (the value's text form) or leave it out",
                )

    @property
    def libpq(self) -> dict[str, str]:
        """The connection's libpq keywords (the password among them: never print it)."""
        return {
            "host": self.hostname,
            "port": str(self.port),
            "user": self.username,
            "password": self.password,
            "dbname": self.database,
        }


def _required(options: Mapping[str, str], key: str, where: str) -> str:
    value = options.get(key)
    if not value:
        raise OptionError(f"{where}: the required option '{key}' is missing")
    return value


def configure_postgres_cdc(table: TableInfo) -> PostgresCdcConfig:
    options, where = table.options, table.where
    plugin = (options.get("decoding.plugin.name") or "pgoutput").lower()
    if plugin != "pgoutput":
        raise OptionError(
            f"{where}: 'decoding.plugin.name' = '{plugin}' is not supported; sqlstream decodes pgoutput",
            hint="set 'decoding.plugin.name' = 'pgoutput' (built into PostgreSQL 10 and later)",
        )
    slot = _required(options, "slot.name", where)
    if not _SLOT_NAME.fullmatch(slot):
        raise OptionError(
            f"{where}: 'slot.name' = '{slot}' is not a replication slot name",
            hint="use at most 63 lower-case letters, digits and underscores",
        )
    publication = options.get("debezium.publication.name") or slot
    if not table.primary_key:
        raise OptionError(
            f"{where}: a postgres-cdc table needs a PRIMARY KEY: its changelog is keyed by it",
            hint="declare PRIMARY KEY (...) NOT ENFORCED with the PostgreSQL table's key columns",
        )
    port_text = options.get("port") or "5432"
    return PostgresCdcConfig(
        hostname=_required(options, "hostname", where),
        port=parse_int(port_text, "port"),
        username=_required(options, "username", where),
        password=_required(options, "password", where),
        database=_required(options, "database-name", where),
        schema=_required(options, "schema-name", where),
        table=_required(options, "table-name", where),
        slot_name=slot,
        publication=publication,
        startup_mode=(options.get("scan.startup.mode") or "initial").lower(),
        changelog_mode=(options.get("changelog-mode") or "all").lower(),
        chunk_size=max(1, parse_int(options.get("scan.incremental.snapshot.chunk.size") or "8096", "chunk")),
    )


def _changelog(options: Mapping[str, str]) -> ChangelogMode:
    """``changelog-mode`` = all: +I/-U/+U/-D with whole rows; upsert: +I/+U/-D by key."""
    upsert = (options.get("changelog-mode") or "all").lower() == "upsert"
    return ChangelogMode.UPSERT if upsert else ChangelogMode.ALL


POSTGRES_CDC = ConnectorSpec(
    "postgres-cdc",
    (
        _o("hostname", required=True),
        _o("port", _I, default="5432"),
        _o("username", required=True),
        _o("password", required=True),
        _o("database-name", required=True),
        _o("schema-name", required=True),
        _o("table-name", required=True),
        _o("slot.name", required=True),
        _o("decoding.plugin.name", _E, default="pgoutput", choices=("pgoutput", "decoderbufs")),
        _o("debezium.publication.name", description="default: the slot's name"),
        _o("scan.startup.mode", _E, default="initial", choices=("initial", "latest-offset")),
        _o("changelog-mode", _E, default="all", choices=("all", "upsert")),
        _o(
            "scan.incremental.snapshot.enabled",
            _B,
            default="true",
            description="the snapshot is always read in key order and checkpointed by key",
        ),
        _o("scan.incremental.snapshot.chunk.size", _I, default="8096"),
    ),
    source=True,
    source_changelog=ChangelogMode.ALL,
    scan_changelog=_changelog,
    metadata={
        "op_ts": "TIMESTAMP_LTZ(3) NOT NULL",
        "table_name": "STRING NOT NULL",
        "schema_name": "STRING NOT NULL",
        "database_name": "STRING NOT NULL",
    },
    configure=configure_postgres_cdc,
    # replay_nondeterminism None: a restore resumes at the checkpoint's LSN and snapshot key
)
