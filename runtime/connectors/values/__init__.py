"""``values``: an in-memory source (SQL VALUES, tests) and sink (tests); no catalog spec."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.values.connector import ValuesSink, ValuesSource

    return Implementation(source=ValuesSource, sink=ValuesSink)
