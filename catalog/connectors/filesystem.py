"""Flink's ``filesystem`` connector: its options, checked at CREATE TABLE.

A table ``PARTITIONED BY (dt, hr)`` writes each row under ``<path>/dt=<v>/hr=<v>/`` (the
partition columns are in the directory names, not in the files) and may commit a partition
(``sink.partition-commit.*``): once the trigger says the partition is complete, the policy
tells readers so (``success-file``: an empty ``_SUCCESS`` file in its directory).

>>> parse_memory_size("128MB", "k"), parse_memory_size("1 kb", "k")
(134217728, 1024)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from catalog.connectors.common import DELIVERY, PARALLELISM
from catalog.connectors.spec import ConnectorConfig, ConnectorSpec, Guarantee, OptionType, TableInfo
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError
from catalog.options import parse_bool, parse_duration_ms

_D = OptionType.DURATION

_B = OptionType.BOOL
_MONITOR = "source.monitor-interval"
_FILE_SIZE = "sink.rolling-policy.file-size"
_ROLLOVER = "sink.rolling-policy.rollover-interval"
_CHECK = "sink.rolling-policy.check-interval"
_TRIGGER = "sink.partition-commit.trigger"
_DELAY = "sink.partition-commit.delay"
_POLICY = "sink.partition-commit.policy.kind"
_EXTRACTOR = "partition.time-extractor.kind"
_WATERMARK_ZONE = "sink.partition-commit.watermark-time-zone"
_SHUFFLE = "sink.shuffle-by-partition.enable"
DEFAULT_FILE_SIZE = 128 * 1024 * 1024
DEFAULT_ROLLOVER_MS = 30 * 60 * 1000
DEFAULT_CHECK_MS = 60 * 1000
TRIGGERS = ("process-time", "partition-time")
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
    check_ms: int = DEFAULT_CHECK_MS
    partition_keys: tuple[str, ...] = ()
    default_partition: str = "__DEFAULT_PARTITION__"
    shuffle: bool = False
    commit: PartitionCommit | None = None  # None: partitions are never committed

    def shuffle_by_partition(self, table: TableInfo) -> bool:
        """Partition commit is decided by the one sink subtask that writes a partition, so
        it shuffles by the partition columns (Flink's 'sink.shuffle-by-partition.enable'),
        as the user may also ask without a commit policy."""
        return bool(self.partition_keys) and (self.shuffle or self.commit is not None)

    def format_fields(self, format_key: str, table: TableInfo) -> list[str]:
        return [c for c in table.column_names if c not in self.partition_keys]


@dataclass(frozen=True)
class PartitionCommit:
    """When a partition is complete and what then says so (Flink's PartitionCommitTrigger
    and policy): process-time commits ``delay`` after the partition was first committed
    data; partition-time once the watermark passes the partition's time plus ``delay``."""

    trigger: str  # "process-time" | "partition-time"
    delay_ms: int
    success_file: str
    timestamp_pattern: str | None  # '$dt $hr:00:00'; None: the first partition value
    watermark_time_zone: str


def _partition_commit(table: TableInfo) -> PartitionCommit | None:
    options, where = table.options, table.where
    kinds = [k.strip().lower() for k in (options.get(_POLICY) or "").split(",") if k.strip()]
    for kind in kinds:
        if kind == "metastore":
            raise OptionError(
                f"{where}: '{_POLICY}' = 'metastore' is for Hive tables; a filesystem table manages "
                "its partitions through its directories",
                hint="use 'success-file'",
            )
        if kind != "success-file":
            raise OptionError(
                f"{where}: '{_POLICY}' = '{kind}' is not supported",
                hint="sqlstream commits partitions with 'success-file' (custom policy classes are Java)",
            )
    if options.get(_EXTRACTOR, "default").lower() != "default":
        raise OptionError(
            f"{where}: '{_EXTRACTOR}' = '{options[_EXTRACTOR]}' is not supported (a custom "
            "extractor is a Java class)",
            hint="use 'partition.time-extractor.timestamp-pattern', e.g. '$dt $hr:00:00'",
        )
    if "partition.time-extractor.timestamp-formatter" in options:
        raise OptionError(
            f"{where}: 'partition.time-extractor.timestamp-formatter' is not supported",
            hint="make 'partition.time-extractor.timestamp-pattern' give 'yyyy-MM-dd HH:mm:ss' or "
            "'yyyy-MM-dd', the default formatter",
        )
    if not kinds:
        return None
    if not table.partition_keys:
        raise OptionError(
            f"{where}: '{_POLICY}' commits partitions, but the table has none",
            hint="declare PARTITIONED BY (...) on the table, or drop the option",
        )
    pattern = options.get("partition.time-extractor.timestamp-pattern")
    for name in re.findall(r"\$(\w+)", pattern or ""):
        if name not in table.partition_keys:
            raise OptionError(
                f"{where}: 'partition.time-extractor.timestamp-pattern' names ${name}, which is not "
                f"a partition column ({', '.join(table.partition_keys)})"
            )
    delay = options.get(_DELAY)
    zone = options.get(_WATERMARK_ZONE, "UTC")
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        raise OptionError(
            f"{where}: '{_WATERMARK_ZONE}' = '{zone}' is not a time zone",
            hint="e.g. 'UTC' or 'Asia/Shanghai'",
        ) from None
    return PartitionCommit(
        trigger=options.get(_TRIGGER, "process-time").lower(),
        delay_ms=parse_duration_ms(delay, _DELAY) if delay is not None else 0,
        success_file=options.get("sink.partition-commit.success-file.name") or "_SUCCESS",
        timestamp_pattern=pattern,
        watermark_time_zone=zone,
    )


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
    check = options.get(_CHECK)
    default_partition = options.get("partition.default-name", "__DEFAULT_PARTITION__")
    if not default_partition:
        raise OptionError(f"{where}: 'partition.default-name' must not be empty")
    return FileSystemConfig(
        path=path,
        format=fmt.lower(),
        monitor_interval_ms=parse_duration_ms(monitor, _MONITOR) if monitor is not None else None,
        path_regex=pattern or None,
        file_size=parse_memory_size(size, _FILE_SIZE, where) if size is not None else DEFAULT_FILE_SIZE,
        rollover_ms=parse_duration_ms(rollover, _ROLLOVER) if rollover is not None else DEFAULT_ROLLOVER_MS,
        check_ms=max(1, parse_duration_ms(check, _CHECK)) if check is not None else DEFAULT_CHECK_MS,
        partition_keys=tuple(table.partition_keys),
        default_partition=default_partition,
        shuffle=parse_bool(options.get(_SHUFFLE, "false"), _SHUFFLE),
        commit=_partition_commit(table),
    )


def _bounded(options: Mapping[str, str]) -> bool:
    return "source.monitor-interval" not in options  # a monitored directory never ends


# Formats whose files Flink's filesystem source reads column by column
# (ProjectableDecodingFormat: JSON and CSV decode only the projected fields, Parquet reads
# only their column chunks; Avro's records are read whole, then projected). Raw has one
# column and the change-record formats carry row kinds: they read every column.
_PROJECTABLE = ("json", "csv", "parquet", "avro")


def _projection_pushdown(options: Mapping[str, str]) -> bool:
    return (options.get("format") or "").lower() in _PROJECTABLE


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
        _o("partition.default-name"),
        _o(_SHUFFLE, _B),
        _o(_TRIGGER, OptionType.ENUM, choices=TRIGGERS),
        _o(_DELAY, _D),
        _o(_POLICY),
        _o("sink.partition-commit.policy.class"),
        _o("sink.partition-commit.success-file.name"),
        _o(_WATERMARK_ZONE),
        _o(_EXTRACTOR),
        _o("partition.time-extractor.class"),
        _o("partition.time-extractor.timestamp-pattern"),
        _o("partition.time-extractor.timestamp-formatter"),
        PARALLELISM,
        DELIVERY,
    ),
    source=True,
    sink=True,
    format_keys=("format",),
    whole_files=True,
    partitioned=True,
    bounded=_bounded,
    guarantees=(Guarantee.EXACTLY_ONCE, Guarantee.AT_LEAST_ONCE),
    guarantee_option="sink.delivery-guarantee",
    metadata={"file.path": "STRING NOT NULL", "file.name": "STRING NOT NULL"},
    configure=configure_filesystem,
    projection_pushdown=_projection_pushdown,
)
