"""A PostgreSQL table's typed config (parsed and checked by ``catalog.connectors.jdbc``)
and its connection, for the source, the sink and the lookup client."""

from __future__ import annotations

from collections.abc import Sequence

from catalog.connectors import configure_table
from catalog.connectors.jdbc import JdbcConfig
from catalog.options import OptionBag
from planner.physical import SinkSpec, SourceSpec
from runtime.connectors.base import table_info
from runtime.connectors.postgres.conn import ConnConfig, TableName, conn_config


def connection(spec: SourceSpec | SinkSpec, config: JdbcConfig) -> tuple[ConnConfig, TableName]:
    """Where the table is: libpq's connection keywords and the table's name."""
    bag = OptionBag(dict(spec.options), f"table '{spec.table}'")
    return conn_config(bag, config.connector), TableName(config.table_name, config.table_schema)


def lookup_config(spec: SourceSpec, keys: Sequence[str]) -> JdbcConfig:
    """The config of a table a lookup join reads by ``keys``."""
    info = table_info(spec)
    _, config = configure_table(info)
    config.check_lookup(info, keys)
    assert isinstance(config, JdbcConfig)
    return config
