"""Flink's ``filesystem`` sink on local files: json, csv, raw, parquet and avro part files.

Sink: ``path`` is a directory; each subtask writes its own part files
``part-<uuid>-<subtask>-<n>.<ext>``, in the partition's directory ``dt=.../hr=.../`` when
the table is ``PARTITIONED BY (dt, hr)`` (the partition columns are then in the directory
names, not in the files: ``partitions.py``). A part file is first written under a hidden
in-progress name and published by an atomic rename when it is rolled
(``sink.rolling-policy.file-size``, default 128MB, checked on write;
``sink.rolling-policy.rollover-interval``, default 30 min, checked every
``sink.rolling-policy.check-interval``, default 1 min) and at every flush (checkpoint
barrier, end of input), so readers never see a half-written file. The sink is append-only.

Partition commit (``sink.partition-commit.policy.kind`` = success-file): when a checkpoint
completes and its files are visible, the partitions it wrote join the pending ones, and
those whose trigger has fired get their ``_SUCCESS`` file (``PartitionCommitter``); at end
of input every pending partition does, as in Flink. Such a sink's input is hash-partitioned
by the partition columns, so one subtask writes each partition and can tell alone.

Delivery: at-least-once by default (parts are published at every flush). With
``sink.delivery-guarantee`` exactly-once (the planner's default for this connector when
checkpointing is on in EXACTLY_ONCE mode), a part stays in progress (hidden) until its
checkpoint completes, as with Flink's FileSink: ``pre_commit(n)`` closes the current part
and returns the (in-progress, final) names of every part closed since the last barrier;
``commit(n, handle)`` renames them (idempotent: an already published part is fine, a part
that is neither in progress nor published is data loss and raises); ``recover`` commits
the restored handles and deletes this subtask's other in-progress files. Readers never
see a partial or a duplicated file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa

from catalog.connectors import Guarantee
from catalog.connectors.filesystem import FileSystemConfig
from catalog.errors import SqlStreamError
from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, SinkSpec
from runtime.checkpoint.store import fsync_dir
from runtime.connectors.base import SinkWriter, SubtaskContext, sink_config
from runtime.connectors.filesystem.options import local_path
from runtime.connectors.filesystem.partitions import PartitionCommitter, partition_rows, split_by_partition
from runtime.formats import create_encoder, file_extension, is_changelog, is_container_file
from runtime.formats.base import FormatError, RecordEncoder, SqlRecordEncoder, strings_to_bytes

if TYPE_CHECKING:
    from runtime.formats.avro import AvroFileWriter
    from runtime.formats.parquet import ParquetFileWriter


class _Part:
    """One part file being written under its in-progress name."""

    def __init__(self, final: str, in_progress: str) -> None:
        self.final = final
        self.in_progress = in_progress
        self.opened = time.time()
        self.rows = 0

    @property
    def size(self) -> int:
        raise NotImplementedError

    def write(self, batch: pa.RecordBatch) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def publish(self) -> None:
        """Close, make durable, and move the file to its visible name."""
        self.close()
        os.replace(self.in_progress, self.final)


class _LinePart(_Part):
    def __init__(self, final: str, in_progress: str, encoder: RecordEncoder) -> None:
        super().__init__(final, in_progress)
        self.encoder = encoder
        self._f: BinaryIO = open(in_progress, "wb")  # noqa: SIM115 - closed in close()
        self._f.write(encoder.file_header())

    @property
    def size(self) -> int:
        return self._f.tell()

    def write(self, batch: pa.RecordBatch) -> None:
        self.write_encoded(self.encoder.encode_chunk(batch), batch.num_rows)

    def write_encoded(self, chunk: bytes, rows: int) -> None:
        self._f.write(chunk)
        self.rows += rows

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()


class _ContainerPart(_Part):
    """A Parquet or Avro file, written batch by batch by the format's file writer."""

    def __init__(self, final: str, in_progress: str, writer: ParquetFileWriter | AvroFileWriter) -> None:
        super().__init__(final, in_progress)
        self._w = writer

    @property
    def size(self) -> int:
        return self._w.size

    def write(self, batch: pa.RecordBatch) -> None:
        self._w.write(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        self._w.close()


class FileSystemSink(SinkWriter):
    def __init__(self, spec: SinkSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        config = sink_config(spec, ctx.config)
        assert isinstance(config, FileSystemConfig)
        bag = OptionBag(spec.options, f"table '{spec.table}'")  # the format reads its own
        self.where = bag.where
        self.path = local_path(config.path)
        self.format = config.format
        self.file_size = config.file_size
        self.rollover_ms = config.rollover_ms
        self.check_ms = config.check_ms
        self.keys = config.partition_keys
        self.default_partition = config.default_partition
        self.columns = tuple(f for f in spec.columns if f.name not in self.keys)  # what files hold
        self.encoder: RecordEncoder | None = None
        self.bag = bag
        if not is_container_file(self.format):
            self.encoder = create_encoder(self.format, self.columns, bag)
        self.extension = file_extension(self.format)
        self._uuid = str(uuid.uuid4())
        self._counter = 0
        self._parts: dict[str, _Part] = {}  # partition directory ("" unpartitioned) -> open part
        self.published: list[str] = []
        self.exactly_once = spec.guarantee == Guarantee.EXACTLY_ONCE
        self._closed: list[_Part] = []  # exactly-once: closed, waiting for their checkpoint
        self.committer: PartitionCommitter | None = None
        if config.commit is not None and self.keys:
            self.committer = PartitionCommitter(self.path, self.keys, config.commit)
        self._touched: set[str] = set()  # partitions written since the last barrier
        self._watermark: int | None = None
        self._next_check = time.time() * 1000 + self.check_ms

    async def open(self) -> None:
        await asyncio.to_thread(os.makedirs, self.path, exist_ok=True)

    async def write(self, batch: pa.RecordBatch) -> None:
        if ROW_KIND_COLUMN in batch.schema.names and not is_changelog(self.format):
            raise FormatError(
                f"{self.where}: the filesystem sink can only append rows, but its input is an "
                "updating stream (it carries update and delete rows)",
                hint="write the result to a sink that accepts updates (upsert-kafka, jdbc, "
                "postgres, print), or make the query append-only (e.g. a window aggregation)",
            )
        if batch.num_rows == 0:
            return
        await asyncio.to_thread(self._write, batch)

    def _new_part(self, partition: str) -> _Part:
        name = f"part-{self._uuid}-{self.ctx.subtask}-{self._counter}.{self.extension}"
        self._counter += 1
        directory = os.path.join(self.path, partition) if partition else self.path
        if partition:
            os.makedirs(directory, exist_ok=True)
        final = os.path.join(directory, name)
        in_progress = os.path.join(directory, f".{name}.inprogress")
        if self.format == "avro":
            from runtime.formats.avro import AvroFileWriter  # with the first file: see the source

            return _ContainerPart(final, in_progress, AvroFileWriter(in_progress, self.columns, self.bag))
        if self.encoder is None:
            from runtime.formats.parquet import ParquetFileWriter

            return _ContainerPart(final, in_progress, ParquetFileWriter(in_progress, self.columns))
        return _LinePart(final, in_progress, self.encoder)

    def _write(self, batch: pa.RecordBatch) -> None:
        if not self.keys:
            self._write_part("", batch)
            return
        if not isinstance(self.encoder, SqlRecordEncoder):
            for partition, data in split_by_partition(batch, self.keys, self.default_partition):
                self._write_part(partition, data)
                self._touched.add(partition)
            return
        # a line format: every row's line in one query, then cut by partition
        lines = self.encoder.encode_lines(batch)
        for partition, rows in partition_rows(batch, self.keys, self.default_partition):
            mine = lines if rows is None else lines.take(rows)
            self._write_part(partition, None, (strings_to_bytes(mine), len(mine)))
            self._touched.add(partition)

    def _write_part(
        self, partition: str, data: pa.RecordBatch | None, encoded: tuple[bytes, int] | None = None
    ) -> None:
        """Write ``data``, or the lines ``encoded`` (bytes, rows) already made of it."""
        part = self._parts.get(partition)
        if part is None:
            part = self._parts[partition] = self._new_part(partition)
        if encoded is not None:
            assert isinstance(part, _LinePart)
            part.write_encoded(*encoded)
            self.rows_written += encoded[1]
        else:
            assert data is not None
            part.write(data)
            self.rows_written += data.num_rows
        if part.size >= self.file_size:
            self._roll(partition)

    def _roll(self, partition: str) -> None:
        part = self._parts.pop(partition, None)
        if part is None:
            return
        if self.exactly_once:  # rolled: closed, published when its checkpoint completes
            part.close()
            self._closed.append(part)
            return
        part.publish()
        self.published.append(part.final)

    def _roll_all(self) -> None:
        for partition in list(self._parts):
            self._roll(partition)

    # ---- time: the rollover interval and the partition-time trigger's watermark -----------
    def next_timer_ms(self) -> int | None:
        return int(self._next_check) if self._parts else None

    async def on_timer(self, now_ms: int) -> None:
        """Every check-interval: roll the parts open for the rollover interval or longer."""
        self._next_check = now_ms + self.check_ms
        old = [p for p, part in self._parts.items() if now_ms - part.opened * 1000 >= self.rollover_ms]
        for partition in old:
            await asyncio.to_thread(self._roll, partition)

    async def on_watermark(self, ts_ms: int) -> None:
        self._watermark = ts_ms

    async def flush(self) -> None:
        """At end of input: at-least-once, publish what is open; either way, every pending
        partition is committed (the final checkpoint, if any, has committed its files)."""
        if not self.exactly_once:
            await asyncio.to_thread(self._roll_all)
        if self.committer is not None:
            self.committer.add(sorted(self._touched), now_ms())
            self._touched.clear()
            await asyncio.to_thread(self.committer.commit_partitions, sorted(self.committer.pending))

    # ---- two-phase commit (exactly-once) --------------------------------------------------
    async def pre_commit(self, checkpoint_id: int) -> Any:
        await asyncio.to_thread(self._roll_all)
        files: list[list[str]] | None = None
        if self.exactly_once:
            closed, self._closed = self._closed, []
            files = [[self._relative(p.in_progress), self._relative(p.final)] for p in closed]
        if self.committer is None:
            return files
        touched, self._touched = sorted(self._touched), set()
        return {
            "files": files or [],
            "partitions": touched,
            "pending": dict(self.committer.pending),
            "watermark": self._watermark,
        }

    def _relative(self, path: str) -> str:
        return os.path.relpath(path, self.path)

    async def commit(self, checkpoint_id: int, handle: Any) -> None:
        if handle:
            await asyncio.to_thread(self._commit, checkpoint_id, handle)

    def _commit(self, checkpoint_id: int, handle: Any) -> None:
        files = handle["files"] if isinstance(handle, dict) else handle
        for hidden, visible in files:
            src, dst = os.path.join(self.path, hidden), os.path.join(self.path, visible)
            if os.path.exists(src):
                os.replace(src, dst)
                self.published.append(dst)
            elif not os.path.exists(dst):
                raise SqlStreamError(
                    f"{self.where}: part file {visible} of checkpoint {checkpoint_id} is neither in "
                    f"progress ({hidden}) nor published: its rows are lost",
                    hint="something deleted files in the sink's folder while the job ran",
                )
        for directory in sorted({os.path.dirname(os.path.join(self.path, v)) for _, v in files}):
            fsync_dir(directory)
        if self.committer is not None and isinstance(handle, dict):
            now = now_ms()
            self.committer.add(handle["partitions"], now)
            self.committer.commit_partitions(self.committer.committable(handle["watermark"], now))

    async def recover(self, handles: Sequence[tuple[int, Any]]) -> None:
        if self.committer is not None:
            for _, handle in handles:  # the partitions the restored checkpoint still waits for
                if isinstance(handle, dict):
                    for p, first_seen in handle["pending"].items():
                        self.committer.pending.setdefault(p, first_seen)
        for checkpoint_id, handle in handles:
            await self.commit(checkpoint_id, handle)
        if self.exactly_once:
            keep = {os.path.basename(hidden) for _, handle in handles for hidden, _ in _files(handle)}
            await asyncio.to_thread(self._abort_leftovers, keep)

    def _abort_leftovers(self, keep: set[str]) -> None:
        """Delete in-progress parts an earlier run of this subtask left (subtask ``j`` of
        any parallelism with ``j % parallelism == subtask``), in every partition."""
        p, i = self.ctx.parallelism, self.ctx.subtask
        for root, dirs, names in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            for name in names:
                m = _IN_PROGRESS.match(name)
                if m and int(m.group(1)) % p == i and name not in keep and self._uuid not in name:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(root, name))

    async def close(self) -> None:
        if not self.exactly_once:
            await asyncio.to_thread(self._roll_all)
            return
        parts, self._parts = list(self._parts.values()), {}
        for part in parts:  # stay in progress: a restore deletes or re-creates them
            await asyncio.to_thread(part.close)


def _files(handle: Any) -> list[list[str]]:
    """A handle's (in-progress, published) part paths: a list, or a dict's "files" when the
    sink commits partitions."""
    if isinstance(handle, dict):
        return list(handle["files"])
    return list(handle or [])


def now_ms() -> int:
    return int(time.time() * 1000)


_IN_PROGRESS = re.compile(r"^\.part-[0-9a-f-]+-(\d+)-\d+\.[^/]*\.inprogress$")
