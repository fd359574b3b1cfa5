"""Flink's ``print`` sink: rows as Java's ``toString`` would print them."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.print.sink import PrintSink

    return Implementation(sink=PrintSink)
