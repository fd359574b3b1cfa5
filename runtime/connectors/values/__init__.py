"""``values``: an in-memory source and sink for tests and examples (no catalog spec)."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.values.connector import ValuesSink, ValuesSource

    return Implementation(source=ValuesSource, sink=ValuesSink)
