"""What each connector accepts and can promise: option specs and capabilities.

Only the *description* of connectors lives here (the planner validates tables and decides
delivery guarantees from it without importing ``runtime``); implementations live in
``runtime/connectors/``. Option keys are Flink's, so DDL pastes over unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from catalog.errors import OptionError, did_you_mean
from catalog.options import parse_bool, parse_duration_ms, parse_int


class OptionType(StrEnum):
    STRING = "string"
    INT = "int"
    BOOL = "boolean"
    DURATION = "duration"
    ENUM = "enum"
    DOUBLE = "double"


class ChangelogMode(StrEnum):
    """What a stream carries: only inserts, or updates/deletes as well (Flink's modes)."""

    INSERT_ONLY = "insert-only"
    UPSERT = "upsert"  # +I/+U/-D keyed by a primary key, no -U needed
    ALL = "all"  # +I/-U/+U/-D


class Guarantee(StrEnum):
    EXACTLY_ONCE = "exactly-once"
    AT_LEAST_ONCE = "at-least-once"
    NONE = "none"


@dataclass(frozen=True)
class OptionSpec:
    """One option. ``#`` in a key stands for a field name (``fields.#.kind``)."""

    key: str
    type: OptionType = OptionType.STRING
    required: bool = False
    default: str | None = None
    choices: tuple[str, ...] = ()
    description: str = ""

    def matches(self, key: str) -> bool:
        if "#" not in self.key:
            return key == self.key
        pattern = re.escape(self.key).replace("\\#", "[^.]+")
        return re.fullmatch(pattern, key) is not None

    def check(self, key: str, value: str, where: str) -> None:
        if self.type == OptionType.INT:
            parse_int(value, key)
        elif self.type == OptionType.BOOL:
            parse_bool(value, key)
        elif self.type == OptionType.DURATION:
            parse_duration_ms(value, key)
        elif self.type == OptionType.DOUBLE:
            try:
                float(value)
            except ValueError:
                raise OptionError(f"{where}: '{key}' = '{value}' is not a number") from None
        elif self.type == OptionType.ENUM and value.lower() not in self.choices:
            raise OptionError(
                f"{where}: '{key}' = '{value}' is not one of {', '.join(self.choices)}",
                hint=did_you_mean(value, self.choices),
            )


@dataclass(frozen=True)
class FormatSpec:
    name: str
    options: tuple[OptionSpec, ...] = ()


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector's options and capabilities."""

    name: str
    options: tuple[OptionSpec, ...]
    source: bool = False
    sink: bool = False
    # Prefixes whose keys pass through untouched (e.g. ``properties.`` to the client).
    passthrough_prefixes: tuple[str, ...] = ()
    # Which option keys name a format (their value's options are then allowed too).
    format_keys: tuple[str, ...] = ()
    # Changelog modes the sink can write; the planner refuses anything else.
    sink_changelog: tuple[ChangelogMode, ...] = (ChangelogMode.INSERT_ONLY,)
    # Best delivery guarantee the sink can give (under exactly-once checkpointing).
    guarantees: tuple[Guarantee, ...] = (Guarantee.AT_LEAST_ONCE,)
    # The option that picks the guarantee, if the user can choose.
    guarantee_option: str | None = None
    # Whether a scan is bounded by default (a file) or unbounded (Kafka, datagen w/o rows).
    bounded: bool = False
    metadata: dict[str, str] = field(default_factory=dict)  # key -> Flink type text
    requires_primary_key: bool = False
    lookup: bool = False
    # How an exactly-once sink may commit (``sink.exactly-once.mode``), the default first:
    # "two-phase" (prepared transactions) and "epoch" (commit at the barrier, discard the
    # replay of what is already in; exact only when the plan replays deterministically).
    exactly_once_modes: tuple[str, ...] = ()
    # Why a scan restored from a recorded position may not emit the same rows as the first
    # time (``options``, ``[(column, type)]`` -> a reason, or None when it does). ``None``
    # here: the source replays exactly (Kafka offsets, files, seeded sequences).
    replay_nondeterminism: Callable[[Mapping[str, str], Sequence[tuple[str, str]]], str | None] | None = None

    def option(self, key: str) -> OptionSpec | None:
        for spec in self.options:
            if spec.matches(key):
                return spec
        return None

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.options]


def _o(key: str, t: OptionType = OptionType.STRING, **kw: object) -> OptionSpec:
    return OptionSpec(key, t, **kw)  # type: ignore[arg-type]


_I, _B, _D, _E = OptionType.INT, OptionType.BOOL, OptionType.DURATION, OptionType.ENUM

FORMATS: dict[str, FormatSpec] = {
    "json": FormatSpec(
        "json",
        (
            _o("json.ignore-parse-errors", _B, default="false"),
            _o("json.fail-on-missing-field", _B, default="false"),
            _o("json.timestamp-format.standard", _E, default="SQL", choices=("sql", "iso-8601")),
            _o("json.encode.decimal-as-plain-number", _B, default="false"),
            _o("json.map-null-key.mode", _E, default="FAIL", choices=("fail", "drop", "literal")),
        ),
    ),
    "csv": FormatSpec(
        "csv",
        (
            _o("csv.field-delimiter", default=","),
            _o("csv.quote-character", default='"'),
            _o("csv.disable-quote-character", _B, default="false"),
            _o("csv.allow-comments", _B, default="false"),
            _o("csv.ignore-parse-errors", _B, default="false"),
            _o("csv.null-literal"),
            _o("csv.escape-character"),
            _o("csv.header", _B, default="false", description="sqlstream: first line is a header"),
        ),
    ),
    "parquet": FormatSpec("parquet", ()),
    "raw": FormatSpec(
        "raw", (_o("raw.charset", default="UTF-8"), _o("raw.endianness", default="big-endian"))
    ),
}

_DELIVERY = _o(
    "sink.delivery-guarantee",
    _E,
    choices=("exactly-once", "at-least-once", "none"),
)
_PARALLELISM = _o("sink.parallelism", _I)

_KAFKA_COMMON = (
    _o("topic"),
    _o("properties.bootstrap.servers", required=True),
    _o("properties.group.id"),
    _o("properties.isolation.level", _E, default="read_committed",
       choices=("read_committed", "read_uncommitted")),
    _o("format"),
    _o("key.format"),
    _o("value.format"),
    _o("key.fields"),
    _o("key.fields-prefix"),
    _o("value.fields-include", _E, default="ALL", choices=("all", "except_key")),
    _o("sink.transactional-id-prefix"),
    _o("sink.partitioner", default="default"),
    _PARALLELISM,
    _o("sqlstream.dead-letter.topic"),
)  # fmt: skip
_KAFKA_META = {
    "timestamp": "TIMESTAMP_LTZ(3) NOT NULL",
    "partition": "INT NOT NULL",
    "offset": "BIGINT NOT NULL",
    "headers": "MAP<STRING, BYTES> NOT NULL",
    "topic": "STRING NOT NULL",
    "timestamp-type": "STRING NOT NULL",
    "leader-epoch": "INT",
}

_JDBC_COMMON = (
    _o("table-name", required=True),
    _o("username"),
    _o("password"),
    _o("sink.buffer-flush.max-rows", _I, default="100"),
    _o("sink.buffer-flush.interval", _D, default="1 s"),
    _o("sink.max-retries", _I, default="3"),
    _o("sink.transactional-id-prefix"),
    _DELIVERY,
    _PARALLELISM,
    _o("scan.partition.column"),
    _o("scan.partition.num", _I),
    _o("scan.partition.lower-bound", _I),
    _o("scan.partition.upper-bound", _I),
    _o("scan.fetch-size", _I, default="0"),
    _o("lookup.cache", _E, default="NONE", choices=("none", "partial")),
    _o("lookup.partial-cache.max-rows", _I),
    _o("lookup.partial-cache.expire-after-write", _D),
    _o("lookup.partial-cache.expire-after-access", _D),
    _o("lookup.max-retries", _I, default="3"),
)
_BOTH_TXN = (Guarantee.EXACTLY_ONCE, Guarantee.AT_LEAST_ONCE, Guarantee.NONE)
EXACTLY_ONCE_MODE = "sink.exactly-once.mode"
_EPOCH_OPTIONS = (
    _o(EXACTLY_ONCE_MODE, _E, choices=("two-phase", "epoch"),
       description="two-phase: PREPARE TRANSACTION; epoch: commit at the barrier and discard the "
       "replay of committed epochs (default: two-phase where the server allows it)"),
    _o("sink.exactly-once.progress-table", default="sqlstream_sink_progress",
       description="epoch mode: the table (in the sink table's schema) of committed epochs"),
)  # fmt: skip


def _datagen_replay(options: Mapping[str, str], columns: Sequence[tuple[str, str]]) -> str | None:
    """Seeded random values replay exactly (a random stream per seed, subtask and block);
    random timestamps and dates are drawn relative to the wall clock, so they do not.

    >>> _datagen_replay({}, [("v", "BIGINT"), ("ts", "TIMESTAMP(3)")])
    "random datagen field 'ts' (TIMESTAMP(3)) is drawn relative to the current time"
    >>> _datagen_replay({"fields.ts.kind": "sequence"}, [("ts", "TIMESTAMP(3)")]) is None
    True
    """
    for name, type_text in columns:
        kind = options.get(f"fields.{name}.kind", "random").lower()
        base = type_text.split("(")[0].strip().upper()
        if kind == "random" and base in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE", "TIME"):
            return f"random datagen field '{name}' ({type_text}) is drawn relative to the current time"
    return None


def _table_scan_replay(options: Mapping[str, str], columns: Sequence[tuple[str, str]]) -> str | None:
    return "a JDBC scan reads the table as it is when the job (re)starts, not from a recorded position"


CONNECTORS: dict[str, ConnectorSpec] = {
    "datagen": ConnectorSpec(
        "datagen",
        (
            _o("rows-per-second", _I, default="10000"),
            _o("number-of-rows", _I),
            _o("scan.parallelism", _I),
            _o("sqlstream.seed", _I, default="0"),
            _o("fields.#.kind", _E, default="random", choices=("random", "sequence")),
            _o("fields.#.min"),
            _o("fields.#.max"),
            _o("fields.#.max-past", _D),
            _o("fields.#.length", _I),
            _o("fields.#.start"),
            _o("fields.#.end"),
            _o("fields.#.null-rate", OptionType.DOUBLE, default="0"),
            _o("fields.#.var-len", _B, default="false"),
        ),
        source=True,
        replay_nondeterminism=_datagen_replay,
    ),
    "filesystem": ConnectorSpec(
        "filesystem",
        (
            _o("path", required=True),
            _o("format", required=True),
            _o("source.monitor-interval", _D),
            _o("source.path.regex-pattern"),
            _o("sink.rolling-policy.file-size"),
            _o("sink.rolling-policy.rollover-interval", _D),
            _o("sink.rolling-policy.check-interval", _D),
            _PARALLELISM,
            _DELIVERY,
        ),
        source=True,
        sink=True,
        format_keys=("format",),
        bounded=True,
        guarantees=(Guarantee.EXACTLY_ONCE, Guarantee.AT_LEAST_ONCE),
        guarantee_option="sink.delivery-guarantee",
        metadata={"file.path": "STRING NOT NULL", "file.name": "STRING NOT NULL"},
    ),
    "print": ConnectorSpec(
        "print",
        (
            _o("print-identifier"),
            _o("standard-error", _B, default="false"),
            _PARALLELISM,
        ),
        sink=True,
        sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.ALL),
    ),
    "blackhole": ConnectorSpec(
        "blackhole",
        (_PARALLELISM,),
        sink=True,
        sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.ALL),
    ),
    "kafka": ConnectorSpec(
        "kafka",
        (
            *_KAFKA_COMMON,
            _o("topic-pattern"),
            _o(
                "scan.startup.mode",
                _E,
                default="group-offsets",
                choices=(
                    "earliest-offset",
                    "latest-offset",
                    "group-offsets",
                    "timestamp",
                    "specific-offsets",
                ),
            ),
            _o("scan.startup.timestamp-millis", _I),
            _o("scan.startup.specific-offsets"),
            _o(
                "scan.bounded.mode",
                _E,
                default="unbounded",
                choices=("unbounded", "latest-offset", "group-offsets", "timestamp", "specific-offsets"),
            ),
            _o("scan.bounded.timestamp-millis", _I),
            _o("scan.bounded.specific-offsets"),
            _o("scan.topic-partition-discovery.interval", _D),
            _o("scan.watermark.idle-timeout", _D),
            _DELIVERY,
        ),
        source=True,
        sink=True,
        passthrough_prefixes=("properties.",),
        format_keys=("format", "key.format", "value.format"),
        guarantees=_BOTH_TXN,
        guarantee_option="sink.delivery-guarantee",
        metadata=_KAFKA_META,
    ),
    "upsert-kafka": ConnectorSpec(
        "upsert-kafka",
        (
            *_KAFKA_COMMON,
            _o("sink.buffer-flush.max-rows", _I),
            _o("sink.buffer-flush.interval", _D),
            _DELIVERY,
        ),
        source=True,
        sink=True,
        passthrough_prefixes=("properties.",),
        format_keys=("key.format", "value.format"),
        sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.UPSERT, ChangelogMode.ALL),
        guarantees=_BOTH_TXN,
        guarantee_option="sink.delivery-guarantee",
        metadata={k: v for k, v in _KAFKA_META.items() if k in ("timestamp", "headers")},
        requires_primary_key=True,
    ),
    "jdbc": ConnectorSpec(
        "jdbc",
        (_o("url", required=True), _o("driver"), *_JDBC_COMMON, *_EPOCH_OPTIONS),
        source=True,
        sink=True,
        bounded=True,
        sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.UPSERT, ChangelogMode.ALL),
        guarantees=_BOTH_TXN,
        guarantee_option="sink.delivery-guarantee",
        lookup=True,
        exactly_once_modes=("two-phase", "epoch"),
        replay_nondeterminism=_table_scan_replay,
    ),
    "postgres": ConnectorSpec(
        "postgres",
        (_o("dsn", required=True), *_JDBC_COMMON, *_EPOCH_OPTIONS),
        source=True,
        sink=True,
        bounded=True,
        sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.UPSERT, ChangelogMode.ALL),
        guarantees=_BOTH_TXN,
        guarantee_option="sink.delivery-guarantee",
        lookup=True,
        exactly_once_modes=("two-phase", "epoch"),
        replay_nondeterminism=_table_scan_replay,
    ),
}


def connector_spec(name: str, where: str = "") -> ConnectorSpec:
    spec = CONNECTORS.get(name.lower())
    if spec is None:
        prefix = f"{where}: " if where else ""
        raise OptionError(
            f"{prefix}unknown connector '{name}'",
            hint=did_you_mean(name, CONNECTORS) or f"known connectors: {', '.join(CONNECTORS)}",
        )
    return spec


def validate_options(options: dict[str, str], where: str) -> ConnectorSpec:
    """Check a table's WITH options against its connector: unknown keys, missing required
    keys and malformed values are errors that name the key and suggest the closest one."""
    connector = options.get("connector")
    if not connector:
        raise OptionError(
            f"{where}: the option 'connector' is missing",
            hint=f"add 'connector' = '...' (one of {', '.join(CONNECTORS)})",
        )
    spec = connector_spec(connector, where)
    allowed: list[OptionSpec] = list(spec.options)
    for fkey in spec.format_keys:
        fmt = options.get(fkey)
        if fmt is None:
            continue
        fspec = FORMATS.get(fmt.lower())
        if fspec is None:
            raise OptionError(
                f"{where}: unknown format '{fmt}' for '{fkey}'",
                hint=did_you_mean(fmt, FORMATS) or f"known formats: {', '.join(FORMATS)}",
            )
        prefix = fkey[: -len("format")]  # "" or "key." / "value."
        allowed.extend(
            OptionSpec(prefix + o.key, o.type, o.required, o.default, o.choices) for o in fspec.options
        )
    for key, value in options.items():
        if key == "connector":
            continue
        if any(key.startswith(p) for p in spec.passthrough_prefixes):
            match = next((o for o in allowed if o.matches(key)), None)
            if match:
                match.check(key, value, where)
            continue
        match = next((o for o in allowed if o.matches(key)), None)
        if match is None:
            raise OptionError(
                f"{where}: unknown option '{key}' for connector '{spec.name}'",
                hint=did_you_mean(key, [o.key for o in allowed]),
            )
        match.check(key, value, where)
    for o in allowed:
        if o.required and "#" not in o.key and o.key not in options:
            raise OptionError(f"{where}: the required option '{o.key}' is missing")
    return spec
