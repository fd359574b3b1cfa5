"""Flink's ``jdbc`` connector (PostgreSQL URLs only) and our ``postgres`` connector on
psycopg 3: a bounded source, a lookup client and an exactly-once (two-phase) sink."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.postgres.lookup import PostgresLookup
    from runtime.connectors.postgres.sink import PostgresSink
    from runtime.connectors.postgres.source import PostgresSource

    return Implementation(source=PostgresSource, sink=PostgresSink, lookup=PostgresLookup)
