"""Flink's ``filesystem`` connector: its options, checked at CREATE TABLE.

>>> parse_memory_size("128MB", "k"), parse_memory_size("1 kb", "k")
(134217728, 1024)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from catalog.connectors.common import DELIVERY, PARALLELISM
from catalog.connectors.spec import ConnectorConfig, ConnectorSpec, Guarantee, OptionType, TableInfo
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError
from catalog.options import parse_duration_ms

_D = OptionType.DURATION

_MONITOR = "source.monitor-interval"
_FILE_SIZE = "sink.rolling-policy.file-size"
_ROLLOVER = "sink.rolling-policy.rollover-interval"
_MONITOR = "source.monitor-interval"
_FILE_SIZE = "sink.rolling-policy.file-size"
_ROLLOVER = "sink.rolling-policy.rollover-interval"
DEFAULT_FILE_SIZE = 128 * 1024 * 1024
DEFAULT_ROLLOVER_MS = 30 * 60 * 1000
_SIZE_UNITS = {
    "": 1, "b": 1, "bytes": 1,
    "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
    "m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gibibytes": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tebibytes": 1 << 40,
}  # fmt: skip


def parse_memory_size(text: str, key: str, where: str = "") -> int:
    """Flink's memory size syntax: ``128MB``, ``1 gb``, ``4096`` (bytes)."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _SIZE_UNITS:
        prefix = f"{where}: " if where else ""
        raise OptionError(f"{prefix}'{key}' = '{text}' is not a memory size", hint="write it like '128MB'")
    return int(m.group(1)) * _SIZE_UNITS[unit]


@dataclass(frozen=True)
class FileSystemConfig(ConnectorConfig):
    """A file table's options, parsed and checked."""

    path: str  # as written; the runtime resolves it against its working directory
    format: str
    monitor_interval_ms: int | None
    path_regex: str | None
    file_size: int
    rollover_ms: int


def configure_filesystem(table: TableInfo) -> FileSystemConfig:
    options, where = table.options, table.where
    path, fmt = options.get("path"), options.get("format")
    if path is None or fmt is None:
        raise OptionError(f"{where}: the required option '{'path' if path is None else 'format'}' is missing")
    pattern = options.get("source.path.regex-pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            raise OptionError(f"{where}: 'source.path.regex-pattern' is not a regex: {e}") from None
    monitor = options.get("source.monitor-interval")
    size = options.get("sink.rolling-policy.file-size")
    rollover = options.get("sink.rolling-policy.rollover-interval")
    return FileSystemConfig(
        path=path,
        format=fmt.lower(),
        monitor_interval_ms=parse_duration_ms(monitor, _MONITOR) if monitor is not None else None,
        path_regex=pattern or None,
        file_size=parse_memory_size(size, _FILE_SIZE, where) if size is not None else DEFAULT_FILE_SIZE,
        rollover_ms=parse_duration_ms(rollover, _ROLLOVER) if rollover is not None else DEFAULT_ROLLOVER_MS,
    )


def _bounded(options: Mapping[str, str]) -> bool:
    return "source.monitor-interval" not in options  # a monitored directory never ends


FILESYSTEM = ConnectorSpec(
    "filesystem",
    (
        _o("path", required=True),
        _o("format", required=True),
        _o("source.monitor-interval", _D),
        _o("source.path.regex-pattern"),
        _o("sink.rolling-policy.file-size"),
        _o("sink.rolling-policy.rollover-interval", _D),
        _o("sink.rolling-policy.check-interval", _D),
        PARALLELISM,
        DELIVERY,
    ),
    source=True,
    sink=True,
    format_keys=("format",),
    whole_files=True,
    bounded=_bounded,
    guarantees=(Guarantee.EXACTLY_ONCE, Guarantee.AT_LEAST_ONCE),
    guarantee_option="sink.delivery-guarantee",
    metadata={"file.path": "STRING NOT NULL", "file.name": "STRING NOT NULL"},
    configure=configure_filesystem,
)
