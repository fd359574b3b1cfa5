"""Flink's ``datagen`` connector: random or sequence rows, generated a block at a time."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.datagen.source import DatagenSource

    return Implementation(source=DatagenSource)
