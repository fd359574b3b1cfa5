"""Flink CDC's ``postgres-cdc`` connector: a snapshot, then a logical replication slot's
changes (pgoutput), exactly once (see ``source.py``)."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.postgres_cdc.source import PostgresCdcSource

    return Implementation(source=PostgresCdcSource)
