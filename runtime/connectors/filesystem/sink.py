"""Flink's ``filesystem`` sink on local files: json, csv, raw and parquet part files.

Sink: ``path`` is a directory; each subtask writes its own part files
``part-<uuid>-<subtask>-<n>.<ext>``. A part file is first written under a hidden
in-progress name and published by an atomic rename when it is rolled
(``sink.rolling-policy.file-size``, default 128MB; ``sink.rolling-policy.rollover-interval``,
default 30 min, checked on write) and at every flush (checkpoint barrier, end of input), so
readers never see a half-written file. The sink is append-only.

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
from typing import Any, BinaryIO

import pyarrow as pa

from catalog.connectors import Guarantee
from catalog.connectors.filesystem import FileSystemConfig
from catalog.errors import SqlStreamError
from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, SinkSpec
from runtime.connectors.base import SinkWriter, SubtaskContext, sink_config
from runtime.connectors.filesystem.options import local_path
from runtime.formats import create_encoder, file_extension, is_changelog, is_file_only
from runtime.formats.base import FormatError, RecordEncoder
from runtime.formats.parquet import ParquetFileWriter


class _Part:
    """One part file being written under its in-progress name."""

    def __init__(self, final: str, in_progress: str) -> None:
        self.final = final
        self.in_progress = in_progress
        self.opened = time.monotonic()
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
        self._f.write(self.encoder.encode_chunk(batch))
        self.rows += batch.num_rows

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()


class _ParquetPart(_Part):
    def __init__(self, final: str, in_progress: str, spec: SinkSpec) -> None:
        super().__init__(final, in_progress)
        self._w = ParquetFileWriter(in_progress, spec.columns)

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
        self.encoder: RecordEncoder | None = None
        if not is_file_only(self.format):
            self.encoder = create_encoder(self.format, spec.columns, bag)
        self.extension = file_extension(self.format)
        self._uuid = str(uuid.uuid4())
        self._counter = 0
        self._part: _Part | None = None
        self.published: list[str] = []
        self.exactly_once = spec.guarantee == Guarantee.EXACTLY_ONCE
        self._closed: list[_Part] = []  # exactly-once: closed, waiting for their checkpoint

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

    def _new_part(self) -> _Part:
        name = f"part-{self._uuid}-{self.ctx.subtask}-{self._counter}.{self.extension}"
        self._counter += 1
        final = os.path.join(self.path, name)
        in_progress = os.path.join(self.path, f".{name}.inprogress")
        if self.encoder is None:
            return _ParquetPart(final, in_progress, self.spec)
        return _LinePart(final, in_progress, self.encoder)

    def _write(self, batch: pa.RecordBatch) -> None:
        if self._part is None:
            self._part = self._new_part()
        self._part.write(batch)
        self.rows_written += batch.num_rows
        part = self._part
        too_old = (time.monotonic() - part.opened) * 1000 >= (self.rollover_ms or 0)
        if part.size >= self.file_size or too_old:
            self._publish()

    def _publish(self) -> None:
        part, self._part = self._part, None
        if part is None:
            return
        if self.exactly_once:  # rolled: closed, published when its checkpoint completes
            part.close()
            self._closed.append(part)
            return
        part.publish()
        self.published.append(part.final)

    async def flush(self) -> None:
        if self.exactly_once:
            return  # nothing becomes visible outside a completed checkpoint
        await asyncio.to_thread(self._publish)

    # ---- two-phase commit (exactly-once) --------------------------------------------------
    async def pre_commit(self, checkpoint_id: int) -> Any:
        if not self.exactly_once:
            await self.flush()
            return None
        await asyncio.to_thread(self._publish)
        closed, self._closed = self._closed, []
        return [[os.path.basename(p.in_progress), os.path.basename(p.final)] for p in closed]

    async def commit(self, checkpoint_id: int, handle: Any) -> None:
        if handle:
            await asyncio.to_thread(self._commit, checkpoint_id, handle)

    def _commit(self, checkpoint_id: int, handle: Any) -> None:
        for hidden, visible in handle:
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
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def recover(self, handles: Sequence[tuple[int, Any]]) -> None:
        for checkpoint_id, handle in handles:
            await self.commit(checkpoint_id, handle)
        if self.exactly_once:
            keep = {hidden for _, handle in handles for hidden, _ in (handle or [])}
            await asyncio.to_thread(self._abort_leftovers, keep)

    def _abort_leftovers(self, keep: set[str]) -> None:
        """Delete in-progress parts an earlier run of this subtask left (subtask ``j`` of
        any parallelism with ``j % parallelism == subtask``)."""
        p, i = self.ctx.parallelism, self.ctx.subtask
        for name in os.listdir(self.path):
            m = _IN_PROGRESS.match(name)
            if m and int(m.group(1)) % p == i and name not in keep and self._uuid not in name:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.path, name))

    async def close(self) -> None:
        if not self.exactly_once:
            await self.flush()
            return
        part, self._part = self._part, None
        if part is not None:  # stays in progress: a restore deletes or re-creates it
            await asyncio.to_thread(part.close)


_IN_PROGRESS = re.compile(r"^\.part-[0-9a-f-]+-(\d+)-\d+\.[^/]*\.inprogress$")
