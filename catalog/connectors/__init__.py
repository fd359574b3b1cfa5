"""What each connector accepts and can promise: one ``ConnectorSpec`` per connector.

Only the *description* of connectors lives here (the planner validates tables, decides
boundedness, changelog modes and delivery guarantees from it without importing
``runtime``); implementations live in ``runtime/connectors/<name>/``, listed in
``runtime.connectors.registry``. Option keys are Flink's, so DDL pastes over unchanged.

A table's options are checked in two steps, both before any job runs: ``validate_options``
(each key known and well-formed) and ``configure_table`` (the connector's typed config:
the rules between options and against the table's columns). The planner adds the rules
of the role a table plays (``ConnectorConfig.check_source`` / ``check_sink``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from catalog.connectors.formats import CHANGELOG_FORMATS, FORMATS, REGISTRY_FORMATS, check_format
from catalog.connectors.spec import (
    EXACTLY_ONCE_MODE,
    ChangelogMode,
    ConnectorConfig,
    ConnectorSpec,
    FormatSpec,
    Guarantee,
    OptionSpec,
    OptionType,
    TableInfo,
    epoch_refusal,
)
from catalog.errors import OptionError, did_you_mean
from catalog.schema import ColumnKind
from catalog.table import TableDef

#: Every connector a table can name, by its ``'connector'`` option: the module that
#: describes it and the spec's name there.
_SPECS: dict[str, tuple[str, str]] = {
    "datagen": ("catalog.connectors.datagen", "DATAGEN"),
    "filesystem": ("catalog.connectors.filesystem", "FILESYSTEM"),
    "print": ("catalog.connectors.sinks", "PRINT"),
    "blackhole": ("catalog.connectors.sinks", "BLACKHOLE"),
    "kafka": ("catalog.connectors.kafka", "KAFKA"),
    "upsert-kafka": ("catalog.connectors.kafka", "UPSERT_KAFKA"),
    "jdbc": ("catalog.connectors.jdbc", "JDBC"),
    "postgres": ("catalog.connectors.jdbc", "POSTGRES"),
    "postgres-cdc": ("catalog.connectors.postgres_cdc", "POSTGRES_CDC"),
}


class _Connectors(Mapping[str, ConnectorSpec]):
    """The specs by connector name, each imported when first looked up: a script whose
    tables name datagen and blackhole never loads the option rules of Kafka, JDBC or
    the file system (~6 ms of a one-row ``sqlstream run``)."""

    def __getitem__(self, name: str) -> ConnectorSpec:
        module, spec = _SPECS[name]
        found: ConnectorSpec = vars(importlib.import_module(module))[spec]
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(_SPECS)

    def __len__(self) -> int:
        return len(_SPECS)


#: Every connector a table can name, by its ``'connector'`` option.
CONNECTORS: Mapping[str, ConnectorSpec] = _Connectors()


def connector_spec(name: str, where: str = "") -> ConnectorSpec:
    spec = CONNECTORS.get(name.lower())
    if spec is None:
        prefix = f"{where}: " if where else ""
        raise OptionError(
            f"{prefix}unknown connector '{name}'",
            hint=did_you_mean(name, CONNECTORS) or f"known connectors: {', '.join(CONNECTORS)}",
        )
    return spec


def validate_options(options: Mapping[str, str], where: str) -> ConnectorSpec:
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
        if fmt.lower() in REGISTRY_FORMATS:
            raise OptionError(
                f"{where}: the {fmt.lower()} format ('{fkey}') is not supported: it reads and writes "
                "schemas in a Confluent schema registry, and sqlstream has none to work with",
                hint="use 'avro' (plain Avro records with the schema derived from the table, as Flink's "
                "avro format), or json",
            )
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


def scan_changelog(spec: ConnectorSpec, options: Mapping[str, str]) -> ChangelogMode:
    """The changelog a scan of a table with these options produces: the connector's, or
    what its options make of it (postgres-cdc's 'changelog-mode')."""
    if spec.scan_changelog is not None:
        return spec.scan_changelog(options)
    if _changelog_format(spec, options):
        return ChangelogMode.ALL
    return spec.source_changelog


def sink_changelogs(spec: ConnectorSpec, options: Mapping[str, str]) -> tuple[ChangelogMode, ...]:
    """The changelogs a sink with these options can write: a changelog format (debezium-json,
    ...) writes every row kind."""
    if _changelog_format(spec, options):
        return (*spec.sink_changelog, ChangelogMode.ALL)
    return spec.sink_changelog


def _changelog_format(spec: ConnectorSpec, options: Mapping[str, str]) -> bool:
    return any((options.get(k) or "").lower() in CHANGELOG_FORMATS for k in spec.format_keys)


def table_info(table: TableDef) -> TableInfo:
    """What a connector's config sees of a catalog table."""
    schema = table.schema
    return TableInfo(
        where=f"table '{table.name}'",
        options=dict(table.options),
        columns=tuple((c.name, c.type) for c in schema.columns if c.kind == ColumnKind.PHYSICAL),
        metadata={c.name: c.metadata_key or c.name for c in schema.columns if c.kind == ColumnKind.METADATA},
        primary_key=tuple(schema.primary_key),
        partition_keys=tuple(table.partition_keys),
    )


def configure_table(table: TableInfo) -> tuple[ConnectorSpec, ConnectorConfig]:
    """The table's connector spec and typed config: every option checked on its own, then
    the rules between options and against the table's columns (``OptionError`` naming the
    option otherwise). Run at CREATE TABLE, when planning, and by the runtime on the plan
    it receives, so a job never meets an option a plan did not."""
    spec = validate_options(table.options, table.where)
    for column, key in table.metadata.items():
        if key not in spec.metadata:
            raise OptionError(
                f"{table.where}: column '{column}' asks for metadata '{key}', which the {spec.name} "
                f"connector does not have (it has {', '.join(spec.metadata) or 'none'})"
            )
    _check_partition_keys(spec, table)
    config = spec.configure(table)
    for fkey in spec.format_keys:
        fmt = table.options.get(fkey)
        if fmt is not None:
            fields = config.format_fields(fkey, table)
            check_format(fmt, fkey[: -len("format")], table, fields, spec.whole_files)
    return spec, config


# The types whose values read back unchanged from a directory name (``dt=2024-05-01``).
PARTITION_TYPES = (
    "CHAR", "VARCHAR", "STRING", "TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "BOOLEAN", "DATE",
)  # fmt: skip


def _check_partition_keys(spec: ConnectorSpec, table: TableInfo) -> None:
    if not table.partition_keys:
        return
    if not spec.partitioned:
        partitioned = ", ".join(s.name for s in CONNECTORS.values() if s.partitioned)
        raise OptionError(
            f"{table.where} is PARTITIONED BY ({', '.join(table.partition_keys)}), but the "
            f"{spec.name} connector does not write partitions",
            hint=f"drop PARTITIONED BY, or use a connector that writes partitions ({partitioned})",
        )
    names = table.column_names
    for key in table.partition_keys:
        if key not in names:
            raise OptionError(
                f"{table.where}: partition column '{key}' is not a physical column of the table",
                hint=did_you_mean(key, names) or f"its physical columns: {', '.join(names)}",
            )
    types = dict(table.columns)
    for key in table.partition_keys:
        if types[key].name not in PARTITION_TYPES:
            raise OptionError(
                f"{table.where}: partition column '{key}' is {types[key].sql()}; a partition value is "
                "a directory name, so it must be a string, an integer, a BOOLEAN or a DATE",
                hint="partition by a STRING made with DATE_FORMAT(ts, 'yyyy-MM-dd') or the like",
            )
    if len(table.partition_keys) == len(names):
        raise OptionError(
            f"{table.where}: every column is a partition column, so the files would hold no data",
            hint="keep at least one column out of PARTITIONED BY",
        )


__all__ = [
    "CONNECTORS",
    "EXACTLY_ONCE_MODE",
    "FORMATS",
    "ChangelogMode",
    "ConnectorConfig",
    "ConnectorSpec",
    "FormatSpec",
    "Guarantee",
    "OptionSpec",
    "OptionType",
    "TableInfo",
    "configure_table",
    "connector_spec",
    "epoch_refusal",
    "scan_changelog",
    "sink_changelogs",
    "table_info",
    "validate_options",
]
