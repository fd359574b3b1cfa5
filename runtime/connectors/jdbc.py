"""Flink's ``jdbc`` connector: PostgreSQL only, by ``url`` = ``jdbc:postgresql://host:port/db``
with ``username`` / ``password``. The implementation is ``runtime/connectors/postgres.py``;
this module exists so that the registry finds ``jdbc`` by its name.
"""

from __future__ import annotations

from runtime.connectors.postgres import PostgresSink, PostgresSource
from runtime.connectors.postgres_conn import parse_jdbc_url
from runtime.connectors.registry import register_sink, register_source

register_source("jdbc", PostgresSource)
register_sink("jdbc", PostgresSink)

__all__ = ["PostgresSink", "PostgresSource", "parse_jdbc_url"]
