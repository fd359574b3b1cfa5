"""Flink's ``kafka`` and ``upsert-kafka`` connectors: their options, and the rules between
them, checked when the table is created (and, for what depends on the table's role or on
SET keys, when a query is planned), never first when a job starts.

>>> parse_specific_offsets("partition:0,offset:42;partition:1,offset:300", "t")
{0: 42, 1: 300}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from catalog.config import CHECKPOINTING_INTERVAL, CHECKPOINTING_MODE, CHECKPOINTING_TIMEOUT
from catalog.connectors.common import ALL_GUARANTEES, DELIVERY, PARALLELISM
from catalog.connectors.kafka_properties import check_properties
from catalog.connectors.spec import (
    ChangelogMode,
    ConnectorConfig,
    ConnectorSpec,
    Guarantee,
    OptionType,
    TableInfo,
)
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError
from catalog.options import parse_duration_ms, parse_int

_I, _D, _E = OptionType.INT, OptionType.DURATION, OptionType.ENUM

STARTUP_MODES = ("earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets")
BOUNDED_MODES = ("unbounded", "latest-offset", "group-offsets", "timestamp", "specific-offsets")
PARTITIONERS = ("default", "fixed", "round-robin")
DEFAULT_TRANSACTION_TIMEOUT_MS = 900_000  # the broker's default transaction.max.timeout.ms

_COMMON = (
    _o("topic"),
    _o("properties.bootstrap.servers", required=True),
    _o("properties.group.id"),
    _o("properties.isolation.level", _E, default="read_committed",
       choices=("read_committed", "read_uncommitted")),
    _o("properties.transaction.timeout.ms", _I),
    _o("format"),
    _o("key.format"),
    _o("value.format"),
    _o("key.fields"),
    _o("key.fields-prefix"),
    _o("value.fields-include", _E, default="ALL", choices=("all", "except_key")),
    _o("sink.transactional-id-prefix"),
    _o("sink.partitioner", default="default"),
    PARALLELISM,
    _o("sqlstream.dead-letter.topic"),
)  # fmt: skip
_BOUNDED = (
    _o("scan.bounded.mode", _E, default="unbounded", choices=BOUNDED_MODES),
    _o("scan.bounded.timestamp-millis", _I),
    _o("scan.bounded.specific-offsets"),
)
_META = {
    "timestamp": "TIMESTAMP_LTZ(3) NOT NULL",
    "partition": "INT NOT NULL",
    "offset": "BIGINT NOT NULL",
    "headers": "MAP<STRING, BYTES> NOT NULL",
    "topic": "STRING NOT NULL",
    "timestamp-type": "STRING NOT NULL",
    "leader-epoch": "INT",
}


# ---- small parsers ---------------------------------------------------------------------


def parse_topics(value: str) -> list[str]:
    """``topic`` is one topic or a ``;``-separated list (Flink's form).

    >>> parse_topics("a; b;")
    ['a', 'b']
    """
    return [t.strip() for t in value.split(";") if t.strip()]


def parse_specific_offsets(
    value: str, where: str, key: str = "scan.startup.specific-offsets"
) -> dict[int, int]:
    """Flink's ``partition:0,offset:42;partition:1,offset:300``."""
    out: dict[int, int] = {}
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"\s*partition\s*:\s*(\d+)\s*,\s*offset\s*:\s*(\d+)\s*", part)
        if m is None:
            raise OptionError(
                f"{where}: '{key}' has a malformed entry '{part}'",
                hint="write it as 'partition:0,offset:42;partition:1,offset:300'",
            )
        out[int(m.group(1))] = int(m.group(2))
    if not out:
        raise OptionError(f"{where}: '{key}' is empty", hint="write it as 'partition:0,offset:42'")
    return out


def check_transaction_timeout(
    timeout_ms: int, config: Mapping[str, str], broker_max_ms: int | None, where: str
) -> None:
    """Refuse a transaction timeout that could abort a pre-committed transaction before its
    checkpoint completes (its records would be lost), or, given the broker's maximum
    (known only to the running sink), one the broker would refuse.

    >>> check_transaction_timeout(900_000, {"execution.checkpointing.interval": "1 s"}, 900_000, "t")
    """
    interval = CHECKPOINTING_INTERVAL.get(config) or 0
    cp_timeout = CHECKPOINTING_TIMEOUT.get(config) or 0
    needed = interval + cp_timeout
    if timeout_ms <= needed:
        raise OptionError(
            f"{where}: 'properties.transaction.timeout.ms' = {timeout_ms} is not above the checkpoint "
            f"interval plus the checkpoint timeout ({interval} + {cp_timeout} = {needed} ms): the "
            "broker could abort a pre-committed transaction before its checkpoint completes, and "
            "its records would be lost",
            hint=f"raise 'properties.transaction.timeout.ms' above {needed} (and at most the broker's "
            "'transaction.max.timeout.ms'), or lower 'execution.checkpointing.interval' / "
            "'execution.checkpointing.timeout'",
        )
    if broker_max_ms is not None and timeout_ms > broker_max_ms:
        raise OptionError(
            f"{where}: 'properties.transaction.timeout.ms' = {timeout_ms} is above the broker's "
            f"'transaction.max.timeout.ms' = {broker_max_ms}: the broker refuses such transactions",
            hint=f"lower 'properties.transaction.timeout.ms' to at most {broker_max_ms} (and above "
            f"{needed}), or raise 'transaction.max.timeout.ms' in the broker's configuration",
        )


# ---- how rows map to records ------------------------------------------------------------


@dataclass(frozen=True)
class RecordLayout:
    """How rows map to a record's key and value: the fields of each and their formats."""

    key_fields: tuple[str, ...]  # table column names
    key_prefix: str
    value_fields: tuple[str, ...]
    key_format: str | None
    value_format: str
    value_prefix: str  # "" for 'format', "value." for 'value.format'


def record_layout(table: TableInfo, upsert: bool) -> RecordLayout:
    """The key/value layout of ``table``'s records, checked against its columns and key."""
    options, where = table.options, table.where
    names = table.column_names
    value_format = options.get("value.format")
    value_prefix = "value."
    if value_format is None:
        value_format = options.get("format")
        value_prefix = ""
    elif "format" in options:
        raise OptionError(f"{where}: set either 'format' or 'value.format', not both")
    if value_format is None:
        raise OptionError(
            f"{where}: the Kafka connector needs a value format",
            hint="add 'value.format' = 'json' (or 'format' = 'json'; csv and raw work too)",
        )
    key_format = options.get("key.format")
    key_prefix = options.get("key.fields-prefix") or ""
    key_fields_text = options.get("key.fields")
    if upsert:
        if key_fields_text:
            raise OptionError(
                f"{where}: upsert-kafka takes its key from the PRIMARY KEY; 'key.fields' is not allowed"
            )
        if not table.primary_key:
            raise OptionError(
                f"{where}: connector 'upsert-kafka' requires a PRIMARY KEY",
                hint="declare PRIMARY KEY (...) NOT ENFORCED",
            )
        if key_format is None:
            raise OptionError(
                f"{where}: connector 'upsert-kafka' needs 'key.format'", hint="add 'key.format' = 'json'"
            )
        key_fields = tuple(table.primary_key)
    else:
        key_fields = tuple(k.strip() for k in (key_fields_text or "").split(";") if k.strip())
        if key_fields and key_format is None:
            raise OptionError(f"{where}: 'key.fields' needs 'key.format'", hint="add 'key.format' = 'json'")
        if key_format is not None and not key_fields:
            raise OptionError(
                f"{where}: 'key.format' needs 'key.fields' (the columns that make the key)",
                hint="add 'key.fields' = 'col1;col2'",
            )
    for k in key_fields:
        if k not in names:
            raise OptionError(f"{where}: key field '{k}' is not a physical column of the table")
        if not k.startswith(key_prefix):
            raise OptionError(
                f"{where}: key field '{k}' does not start with 'key.fields-prefix' '{key_prefix}'"
            )
    include = (options.get("value.fields-include") or "ALL").upper()
    if include not in ("ALL", "EXCEPT_KEY"):
        raise OptionError(f"{where}: 'value.fields-include' = '{include}' is not ALL or EXCEPT_KEY")
    if key_prefix and include != "EXCEPT_KEY":
        raise OptionError(
            f"{where}: 'key.fields-prefix' needs 'value.fields-include' = 'EXCEPT_KEY'",
            hint="Flink's rule: a prefixed key column cannot be part of the value",
        )
    value_fields = tuple(n for n in names if include == "ALL" or n not in key_fields)
    return RecordLayout(key_fields, key_prefix, value_fields, key_format, value_format.lower(), value_prefix)


# ---- the typed config ---------------------------------------------------------------------


_DISCOVERY = "scan.topic-partition-discovery.interval"
DEFAULT_DISCOVERY_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class KafkaConfig(ConnectorConfig):
    """A Kafka table's options, parsed and checked."""

    upsert: bool
    topics: tuple[str, ...]
    topic_pattern: str | None
    group_id: str | None
    startup_mode: str
    startup_timestamp: int | None
    startup_offsets: Mapping[int, int] | None
    bounded_mode: str
    bounded_timestamp: int | None
    bounded_offsets: Mapping[int, int] | None
    layout: RecordLayout
    transactional_id_prefix: str | None
    partitioner: str
    transaction_timeout_ms: int
    dead_letter_topic: str | None
    # How often an unbounded scan looks for new partitions (and topics of a pattern), read
    # from their earliest offset as Flink's KafkaSource does; 0: never. Flink's default: 5 min.
    discovery_interval_ms: int = DEFAULT_DISCOVERY_MS

    def check_source(self, table: TableInfo) -> None:
        where = table.where
        if self.startup_mode == "group-offsets" and not self.group_id:
            raise OptionError(
                f"{where}: scan.startup.mode 'group-offsets' (the default) needs 'properties.group.id'",
                hint="set 'properties.group.id', or 'scan.startup.mode' = 'earliest-offset' or "
                "'latest-offset'",
            )
        if self.bounded_mode == "group-offsets" and not self.group_id:
            raise OptionError(f"{where}: scan.bounded.mode 'group-offsets' needs 'properties.group.id'")

    def check_sink(self, table: TableInfo, requested: Guarantee, config: Mapping[str, str]) -> None:
        where = table.where
        if self.topic_pattern is not None:
            raise OptionError(f"{where}: a Kafka sink cannot write to a 'topic-pattern'")
        if len(self.topics) != 1:
            raise OptionError(
                f"{where}: a Kafka sink writes one topic; 'topic' = '{table.options.get('topic', '')}'",
                hint="set 'topic' to a single topic name",
            )
        if not self.exactly_once(requested, config):
            return
        if not self.transactional_id_prefix:
            raise OptionError(
                f"{where}: 'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix'",
                hint="set 'sink.transactional-id-prefix' to a name unique to this job and sink "
                "(its transactional ids are '<prefix>-<subtask>-<n>')",
            )
        check_transaction_timeout(self.transaction_timeout_ms, config, None, where)

    def format_fields(self, format_key: str, table: TableInfo) -> list[str]:
        if format_key == "key.format":
            return list(self.layout.key_fields)
        return list(self.layout.value_fields)

    @staticmethod
    def exactly_once(requested: Guarantee, config: Mapping[str, str]) -> bool:
        """Whether the sink runs transactions: asked for, and not under AT_LEAST_ONCE
        checkpointing (no alignment, so no exactly-once)."""
        return requested == Guarantee.EXACTLY_ONCE and CHECKPOINTING_MODE.get(config) != "AT_LEAST_ONCE"


def _offsets_mode(
    options: Mapping[str, str], kind: str, default: str, where: str
) -> tuple[str, int | None, dict[int, int] | None]:
    """``scan.<kind>.mode`` and its companion: a timestamp or specific offsets."""
    mode = (options.get(f"scan.{kind}.mode") or default).lower()
    ts = _int(options, f"scan.{kind}.timestamp-millis")
    offsets_key = f"scan.{kind}.specific-offsets"
    text = options.get(offsets_key)
    offsets = parse_specific_offsets(text, where, offsets_key) if text else None
    if mode == "timestamp" and ts is None:
        raise OptionError(f"{where}: scan.{kind}.mode 'timestamp' needs 'scan.{kind}.timestamp-millis'")
    if mode == "specific-offsets" and offsets is None:
        raise OptionError(f"{where}: scan.{kind}.mode 'specific-offsets' needs '{offsets_key}'")
    return mode, ts, offsets


def _int(options: Mapping[str, str], key: str) -> int | None:
    text = options.get(key)
    return None if text is None else parse_int(text, key)


def _configure(table: TableInfo, upsert: bool) -> KafkaConfig:
    options, where = table.options, table.where
    properties = {k[len("properties.") :]: v for k, v in options.items() if k.startswith("properties.")}
    check_properties(properties, where)
    topic, pattern = options.get("topic"), options.get("topic-pattern")
    if bool(topic) == bool(pattern):
        raise OptionError(
            f"{where}: set exactly one of 'topic' and 'topic-pattern'",
            hint="'topic' = 'a;b' names topics, 'topic-pattern' = 'logs-.*' matches them",
        )
    if pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            raise OptionError(f"{where}: 'topic-pattern' is not a regex: {e}") from None
    default_startup = "earliest-offset" if upsert else "group-offsets"  # Flink's upsert-kafka reads all
    startup, startup_ts, startup_offsets = _offsets_mode(options, "startup", default_startup, where)
    bounded, bounded_ts, bounded_offsets = _offsets_mode(options, "bounded", "unbounded", where)
    partitioner = (options.get("sink.partitioner") or "default").lower()
    if partitioner not in PARTITIONERS:
        raise OptionError(
            f"{where}: 'sink.partitioner' = '{partitioner}' is not default, fixed or round-robin",
            hint="a custom partitioner class cannot be loaded by sqlstream",
        )
    timeout = _int(options, "properties.transaction.timeout.ms")
    discovery = options.get(_DISCOVERY)
    return KafkaConfig(
        upsert=upsert,
        topics=tuple(parse_topics(topic)) if topic else (),
        topic_pattern=pattern or None,
        group_id=options.get("properties.group.id"),
        startup_mode=startup,
        startup_timestamp=startup_ts,
        startup_offsets=startup_offsets,
        bounded_mode=bounded,
        bounded_timestamp=bounded_ts,
        bounded_offsets=bounded_offsets,
        layout=record_layout(table, upsert),
        transactional_id_prefix=options.get("sink.transactional-id-prefix"),
        partitioner=partitioner,
        transaction_timeout_ms=DEFAULT_TRANSACTION_TIMEOUT_MS if timeout is None else timeout,
        dead_letter_topic=options.get("sqlstream.dead-letter.topic"),
        discovery_interval_ms=parse_duration_ms(discovery, _DISCOVERY) if discovery else DEFAULT_DISCOVERY_MS,
    )


def configure_kafka(table: TableInfo) -> KafkaConfig:
    return _configure(table, upsert=False)


def configure_upsert_kafka(table: TableInfo) -> KafkaConfig:
    return _configure(table, upsert=True)


def _bounded(options: Mapping[str, str]) -> bool:
    return (options.get("scan.bounded.mode") or "unbounded").lower() != "unbounded"


# Formats of a key or value that a narrowed scan can read, as Flink's KafkaDynamicSource
# (SupportsProjectionPushDown) reads them: JSON and CSV decode only the projected fields
# (ProjectableDecodingFormat); an Avro record and a raw value are decoded whole and then
# projected. The change-record formats (debezium-json, ...) read every column, as the
# filesystem source does with them.
_PROJECTABLE = ("json", "csv", "avro", "raw")


def _projection_pushdown(options: Mapping[str, str]) -> bool:
    value = options.get("value.format") or options.get("format") or ""
    key = options.get("key.format")
    return value.lower() in _PROJECTABLE and (key is None or key.lower() in _PROJECTABLE)


KAFKA = ConnectorSpec(
    "kafka",
    (
        *_COMMON,
        _o("topic-pattern"),
        _o("scan.startup.mode", _E, default="group-offsets", choices=STARTUP_MODES),
        _o("scan.startup.timestamp-millis", _I),
        _o("scan.startup.specific-offsets"),
        *_BOUNDED,
        _o("scan.topic-partition-discovery.interval", _D),
        _o("scan.watermark.idle-timeout", _D),
        DELIVERY,
    ),
    source=True,
    sink=True,
    passthrough_prefixes=("properties.",),
    format_keys=("format", "key.format", "value.format"),
    guarantees=ALL_GUARANTEES,
    default_guarantee=Guarantee.AT_LEAST_ONCE,  # Flink's default for the Kafka sink
    guarantee_option="sink.delivery-guarantee",
    bounded=_bounded,
    metadata=_META,
    configure=configure_kafka,
    projection_pushdown=_projection_pushdown,
)

UPSERT_KAFKA = ConnectorSpec(
    "upsert-kafka",
    (
        *_COMMON,
        _o("sink.buffer-flush.max-rows", _I),
        _o("sink.buffer-flush.interval", _D),
        *_BOUNDED,  # the reader stops at offsets taken at start, as a kafka table's does
        DELIVERY,
    ),
    source=True,
    sink=True,
    passthrough_prefixes=("properties.",),
    format_keys=("key.format", "value.format"),
    sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.UPSERT, ChangelogMode.ALL),
    source_changelog=ChangelogMode.UPSERT,
    guarantees=ALL_GUARANTEES,
    default_guarantee=Guarantee.AT_LEAST_ONCE,
    guarantee_option="sink.delivery-guarantee",
    bounded=_bounded,
    metadata={k: v for k, v in _META.items() if k in ("timestamp", "headers")},
    requires_primary_key=True,
    configure=configure_upsert_kafka,
    projection_pushdown=_projection_pushdown,  # the primary key is always read (the planner's rule)
)
