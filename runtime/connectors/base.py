"""The interfaces every connector implements: a source reader and a sink writer per subtask.

Connectors are constructed from a plan node's spec (table name, options, columns) and a
``SubtaskContext``; the task that owns them drives every call from its asyncio loop, one
call at a time (never concurrently), so a connector needs no locks of its own.
Blocking work (file or DuckDB I/O) belongs in ``asyncio.to_thread`` so the loop and the
other core keep going.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from catalog.connectors import ConnectorConfig, Guarantee, TableInfo, configure_table
from catalog.errors import SqlStreamError
from catalog.types import parse_type
from planner.physical import Field, SinkSpec, SourceSpec

if TYPE_CHECKING:  # the formats load DuckDB, which a job need not start with
    from runtime.formats.base import Decoded


@dataclass
class SourceMetrics:
    """Counters a source keeps; the task publishes them as operator metrics."""

    records_in: int = 0
    bad_records_skipped: int = 0
    # Records kept with a bad field set to NULL (a format's ignore-parse-errors, as in Flink)
    bad_fields_nulled: int = 0
    # split -> (next offset, records behind it), for the consumer-lag metric
    partitions: dict[str, tuple[int, int]] = field(default_factory=dict)


def count_nulled(metrics: SourceMetrics, decoded: Decoded, where: str) -> None:
    """Records kept with a bad field set to NULL (a format's ignore-parse-errors): counted
    and logged, as skipped records are, though Flink does neither (the user still learns
    that the input had bad values)."""
    if decoded.nulled:
        metrics.bad_fields_nulled += decoded.nulled
        logging.getLogger(__name__).warning(
            "%s: %d record(s) kept with a bad field set to NULL, e.g. %s",
            where,
            decoded.nulled,
            decoded.null_messages[0],
        )


@dataclass
class SubtaskContext:
    """Where a connector or operator runs: job, node, subtask, configuration, state dir."""

    job_name: str
    node_id: int
    node_name: str
    subtask: int
    parallelism: int
    config: dict[str, str] = field(default_factory=dict)
    state_dir: str | None = None  # where this subtask may keep files (checkpoint issue)

    @property
    def where(self) -> str:
        return f"{self.node_name} (subtask {self.subtask + 1}/{self.parallelism})"


class SourceReader(ABC):
    """Reads one subtask's share of a table (its splits: files, partitions, a sequence
    range). Emits Arrow batches whose columns are exactly ``spec.produced`` in order: all
    of ``spec.columns``, unless the connector's spec lets the planner push a projection
    into the scan (``ConnectorSpec.projection_pushdown``)."""

    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.metrics = SourceMetrics()

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Called once before the first ``poll``; connect, list splits, restore position."""

    @abstractmethod
    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        """Up to ``max_rows`` rows, or None when nothing is available right now (the task
        then waits a little and polls again). After ``finished`` is True it is not called."""

    @property
    def finished(self) -> bool:
        """True once a bounded source has emitted everything."""
        return False

    def position(self) -> dict[str, Any]:
        """A JSON-able position that ``restore`` can resume from (taken at a barrier: every
        row before it was emitted, none after)."""
        return {}

    def checkpoint_position(self, checkpoint_id: int) -> dict[str, Any]:
        """The position recorded in checkpoint ``checkpoint_id`` (at its barrier). A reader
        that acts when that checkpoint completes (confirms a replication slot up to it)
        remembers it by id. Default: ``position()``."""
        return self.position()

    def restore(self, position: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Called before ``open`` when resuming from a checkpoint."""

    def restore_rescaled(self, positions: list[dict[str, Any]]) -> None:
        """Called before ``open`` instead of ``restore`` when the checkpoint was taken at
        another parallelism: ``positions`` holds every old subtask's position; keep the
        splits that the rule used at start gives this subtask. Default: refuse."""
        raise SqlStreamError(
            f"{self.ctx.where}: the '{self.spec.connector}' source cannot resume at another "
            "parallelism than its checkpoint was taken at",
            hint="restore at the parallelism of the checkpoint, or start fresh",
        )

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:  # noqa: B027 - optional hook
        """Checkpoint completed; e.g. commit Kafka offsets to the group for monitoring."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; never called twice, nothing is called after it."""


class SinkWriter(ABC):
    """Writes one subtask's rows into a table.

    Batches have the columns of ``spec.columns`` in order; an updating input adds the
    row-kind column ``planner.physical.ROW_KIND_COLUMN`` last. The delivery guarantee a
    writer gives is its ``guarantee``; a transactional writer overrides ``pre_commit``, ``commit`` and
    ``recover`` (see ``runtime/operators/sink.py`` for when each is called).
    """

    guarantee: Guarantee = Guarantee.AT_LEAST_ONCE

    def __init__(self, spec: SinkSpec, ctx: SubtaskContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.rows_written = 0
        # The checkpoint the job resumed from (0: a fresh start); set before ``recover``.
        self.restored_checkpoint = 0

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Called once before the first ``write``."""

    @abstractmethod
    async def write(self, batch: pa.RecordBatch) -> None:
        """Write (or buffer) a batch."""

    async def flush(self) -> None:  # noqa: B027 - optional hook
        """Make everything written so far durable/visible (at-least-once: at a barrier and
        at end of input)."""

    async def on_watermark(self, ts_ms: int) -> None:  # noqa: B027 - optional hook
        """The sink's input watermark advanced (a partition-time commit trigger reads it)."""

    def next_timer_ms(self) -> int | None:
        """Wall-clock epoch ms at which ``on_timer`` wants to be called, or None."""
        return None

    async def on_timer(self, now_ms: int) -> None:  # noqa: B027 - optional hook
        """The wall clock passed ``next_timer_ms()`` (a rolling policy's check-interval)."""

    async def pre_commit(self, checkpoint_id: int) -> Any:
        """At barrier ``checkpoint_id``: flush and return a JSON-able handle stored in the
        checkpoint. Default: flush, no handle."""
        await self.flush()
        return None

    async def commit(self, checkpoint_id: int, handle: Any) -> None:  # noqa: B027 - optional hook
        """Checkpoint ``checkpoint_id`` completed: make its pre-committed data visible.
        Must be idempotent (recovery may commit a handle that was already committed)."""

    async def recover(self, handles: Sequence[tuple[int, Any]]) -> None:
        """On start with checkpointing on, after ``open`` and before any ``write``:
        ``handles`` are the (checkpoint id, handle) pairs the restored checkpoint recorded
        for this subtask (at another parallelism: those of every old subtask ``i`` with
        ``i % parallelism == subtask``), oldest first; empty on a fresh start. Commit each
        (idempotently), then abort whatever else this subtask left open before a crash.
        Default: ``commit`` each handle."""
        for checkpoint_id, handle in handles:
            await self.commit(checkpoint_id, handle)

    async def close(self) -> None:
        """Flush what is left and release resources; nothing is called after it."""
        await self.flush()


class LookupClient(Protocol):
    """What a lookup join asks of a connector (``runtime/operators/lookup_join.py``):
    ``lookup(keys)`` returns the matching table rows, a column ``__lookup_row`` (which row
    of ``keys`` each match belongs to) followed by the table's columns."""

    async def open(self) -> None: ...

    async def lookup(self, keys: pa.RecordBatch) -> pa.RecordBatch: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Implementation:
    """What a connector's package provides: the classes the registry table builds readers,
    writers and lookup clients from (``None``: the connector cannot do that). Its
    capabilities must match its spec in ``catalog.connectors`` (a test checks)."""

    source: type[SourceReader] | None = None
    sink: type[SinkWriter] | None = None
    lookup: Callable[[SourceSpec, Sequence[str]], LookupClient] | None = None


def source_columns(spec: SourceSpec) -> tuple[Field, ...]:
    """The columns a reader must produce, in order."""
    return spec.produced


def table_info(spec: SourceSpec | SinkSpec) -> TableInfo:
    """What the connector's catalog config sees of a plan node's table: for a source its
    physical columns (metadata columns apart), for a sink every column it writes."""
    metadata = spec.metadata if isinstance(spec, SourceSpec) else {}
    return TableInfo(
        where=f"table '{spec.table}'",
        options={**spec.options, "connector": spec.connector},
        columns=tuple((f.name, parse_type(f.type)) for f in spec.columns if f.name not in metadata),
        metadata=dict(metadata),
        primary_key=tuple(spec.primary_key),
        partition_keys=tuple(spec.partition_keys),
    )


def source_config(spec: SourceSpec) -> ConnectorConfig:
    """The typed config of a source, from the catalog's one parser (the planner ran the
    same on this plan, so on a planned job this cannot fail)."""
    info = table_info(spec)
    _, config = configure_table(info)
    config.check_source(info)
    return config


def sink_config(spec: SinkSpec, job_config: Mapping[str, str]) -> ConnectorConfig:
    """The typed config of a sink (see ``source_config``)."""
    info = table_info(spec)
    connector, config = configure_table(info)
    config.check_sink(info, connector.requested_guarantee(info.options), job_config)
    return config
