"""Flink's ``blackhole`` sink: swallows every row."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.blackhole.sink import BlackholeSink

    return Implementation(sink=BlackholeSink)
