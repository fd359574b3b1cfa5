"""The shape of a connector's description: options, capabilities, and its typed config.

A ``ConnectorSpec`` says everything the planner needs to know about a connector without
importing ``runtime``: which options it takes, whether a scan is bounded for given
options, the changelog a source produces, what a sink accepts and can promise, whether it
can be looked up, which column types its sink can take, and how its options become a
typed, validated config (``configure``) at CREATE TABLE and at planning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from catalog.errors import OptionError, did_you_mean
from catalog.options import parse_bool, parse_duration_ms, parse_int
from catalog.types import DataType


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
        try:
            if self.type == OptionType.INT:
                parse_int(value, key)
            elif self.type == OptionType.BOOL:
                parse_bool(value, key)
            elif self.type == OptionType.DURATION:
                parse_duration_ms(value, key)
        except OptionError as e:  # say which table
            raise OptionError(f"{where}: {e.message}", hint=e.hint) from None
        if self.type == OptionType.DOUBLE:
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
class TableInfo:
    """What a connector's config sees of a table: its options and the columns it reads or
    writes (physical ones, in order), its metadata columns and its primary key."""

    where: str  # "table 'orders'", the prefix of every error
    options: Mapping[str, str]
    columns: tuple[tuple[str, DataType], ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)  # column -> metadata key
    primary_key: tuple[str, ...] = ()
    partition_keys: tuple[str, ...] = ()  # PARTITIONED BY

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


# The table option that picks how an exactly-once sink commits, for a connector that can
# commit more than one way (``ConnectorSpec.exactly_once_modes``).
EXACTLY_ONCE_MODE = "sink.exactly-once.mode"


def epoch_refusal(table: str, nondeterminism: str) -> tuple[str, str]:
    """The message and hint that refuse epoch mode (the planner's, and the sink's at start)."""
    return (
        f"table '{table}': exactly-once in epoch mode needs a plan that replays the same rows "
        f"after a failure, and this one does not: {nondeterminism}",
        "declare 'sink.delivery-guarantee' = 'at-least-once' on the table, or make the query "
        "deterministic (event time instead of processing time, no NOW()/RAND()/UUID()), or "
        "write to a PostgreSQL server with max_prepared_transactions > 0 "
        "('sink.exactly-once.mode' = 'two-phase')",
    )


class ConnectorConfig:
    """A connector's options, parsed and checked once. Subclasses are frozen dataclasses;
    their ``check_source`` / ``check_sink`` hold the rules that depend on the role a table
    plays in a query (and, for a sink, on the SET configuration), run while planning."""

    def check_source(self, table: TableInfo) -> None:
        """Refuse what this table cannot do when it is read."""

    def check_sink(self, table: TableInfo, requested: Guarantee, config: Mapping[str, str]) -> None:
        """Refuse what this table cannot do when it is written with the ``requested``
        guarantee (what the options ask, before checkpointing may lower it)."""

    def check_lookup(self, table: TableInfo, keys: Sequence[str]) -> None:
        """Refuse a lookup join on ``keys`` that this table cannot answer."""

    def shuffle_by_partition(self, table: TableInfo) -> bool:
        """Whether the sink's input is hash-partitioned by the table's partition columns."""
        return False

    def format_fields(self, format_key: str, table: TableInfo) -> list[str]:
        """The columns the format named by ``format_key`` encodes (default: all)."""
        return table.column_names


def _no_config(table: TableInfo) -> ConnectorConfig:
    return ConnectorConfig()


def _never_bounded(options: Mapping[str, str]) -> bool:
    return False


def _always_bounded(options: Mapping[str, str]) -> bool:
    return True


def _reads_every_column(options: Mapping[str, str]) -> bool:
    return False


def _any_type(t: DataType) -> str | None:
    return None


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector's options and capabilities: everything the planner asks about it."""

    name: str
    options: tuple[OptionSpec, ...]
    source: bool = False
    sink: bool = False
    # Whether records are whole files (only then can a format be file-only, like Parquet).
    whole_files: bool = False
    # Prefixes whose keys pass through untouched (e.g. ``properties.`` to the client).
    passthrough_prefixes: tuple[str, ...] = ()
    # Which option keys name a format (their value's options are then allowed too).
    format_keys: tuple[str, ...] = ()
    # Changelog modes the sink can write; the planner refuses anything else.
    sink_changelog: tuple[ChangelogMode, ...] = (ChangelogMode.INSERT_ONLY,)
    # The changelog a scan of the table produces.
    source_changelog: ChangelogMode = ChangelogMode.INSERT_ONLY
    # When the options decide it (postgres-cdc's 'changelog-mode'): the scan's changelog.
    scan_changelog: Callable[[Mapping[str, str]], ChangelogMode] | None = None
    # Delivery guarantees the sink can give, best first (under exactly-once checkpointing).
    guarantees: tuple[Guarantee, ...] = (Guarantee.AT_LEAST_ONCE,)
    # The guarantee when the options do not choose one (None: the best one).
    default_guarantee: Guarantee | None = None
    # The option that picks the guarantee, if the user can choose.
    guarantee_option: str | None = None
    # Whether a scan with these options is bounded (a file) or not (Kafka, datagen w/o rows).
    bounded: Callable[[Mapping[str, str]], bool] = _never_bounded
    metadata: dict[str, str] = field(default_factory=dict)  # key -> Flink type text
    requires_primary_key: bool = False
    lookup: bool = False
    # Whether a table of this connector may be PARTITIONED BY columns (Flink's
    # SupportsPartitioning: only the filesystem connector).
    partitioned: bool = False
    # Why the sink cannot write a column of this type (None: it can).
    sink_type_error: Callable[[DataType], str | None] = _any_type
    # The options parsed into the connector's typed config (raises ``OptionError``).
    configure: Callable[[TableInfo], ConnectorConfig] = _no_config
    # How an exactly-once sink may commit (``sink.exactly-once.mode``), the default first:
    # "two-phase" (prepared transactions) and "epoch" (commit at the barrier, discard the
    # replay of what is already in; exact only when the plan replays deterministically).
    exactly_once_modes: tuple[str, ...] = ()
    # Why a scan restored from a recorded position may not emit the same rows as the first
    # time (``options``, ``[(column, type)]`` -> a reason, or None when it does). ``None``
    # here: the source replays exactly (Kafka offsets, files, seeded sequences).
    replay_nondeterminism: Callable[[Mapping[str, str], Sequence[tuple[str, str]]], str | None] | None = None
    # Whether a scan with these options reads only the columns a query uses (Flink's
    # SupportsProjectionPushDown with a ProjectableDecodingFormat): the planner narrows the
    # scan, and a value in a column the query does not read is never decoded, so it cannot
    # fail the job. Only where Flink's own source and format do the same.
    projection_pushdown: Callable[[Mapping[str, str]], bool] = _reads_every_column

    def option(self, key: str) -> OptionSpec | None:
        for spec in self.options:
            if spec.matches(key):
                return spec
        return None

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.options]

    def scan_bounded(self, options: Mapping[str, str]) -> bool:
        return self.bounded(options)

    def requested_guarantee(self, options: Mapping[str, str]) -> Guarantee:
        """What the options ask of the sink (Flink's defaults when they do not say)."""
        if self.guarantee_option and self.guarantee_option in options:
            return Guarantee(options[self.guarantee_option].lower())
        return self.default_guarantee or self.guarantees[0]


def option(key: str, t: OptionType = OptionType.STRING, **kw: object) -> OptionSpec:
    """An ``OptionSpec``, shortly (the connector tables list dozens)."""
    return OptionSpec(key, t, **kw)  # type: ignore[arg-type]
