"""Flink's ``filesystem`` connector: a (possibly monitored) file source and an
exactly-once rolling-file sink."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.filesystem.sink import FileSystemSink
    from runtime.connectors.filesystem.source import FileSystemSource

    return Implementation(source=FileSystemSource, sink=FileSystemSink)
