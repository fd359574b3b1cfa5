"""Flink's ``filesystem`` connector on local files: json, csv, raw and parquet.

Source: ``path`` is a file or a directory (every file below it, sorted, except hidden ones
starting with ``.`` or ``_``, as Flink skips them; ``source.path.regex-pattern`` must match
a file's absolute path in full). The files are dealt round-robin over the subtasks; a file
is read in chunks of up to 64k records (line formats: whole lines; Parquet: row batches).
Files ending in ``.gz``, ``.bz2`` or ``.xz`` are decompressed. Bounded, unless
``source.monitor-interval`` is set: then the directory is listed again at that interval and
new files are read as they appear, and every file goes to subtask
``crc32(relative path) % parallelism`` so that the assignment survives a restart.
Metadata columns: ``file.path`` (absolute) and ``file.name``. The position is (files done,
current file, byte offset and line number, or Parquet row index).

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
import bz2
import contextlib
import gzip
import logging
import lzma
import os
import re
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from catalog.connectors import CONNECTORS, FORMATS, Guarantee
from catalog.errors import OptionError, SqlStreamError
from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, SinkSpec, SourceSpec
from runtime.batches import output_schema
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext
from runtime.formats import create_decoder, create_encoder, file_extension, is_file_only
from runtime.formats.base import FormatError, RecordDecoder, RecordEncoder
from runtime.formats.parquet import ParquetFileWriter, read_parquet

log = logging.getLogger(__name__)

CHUNK_RECORDS = 65536
_READ_BLOCK = 1 << 20
_META_KEYS = ("file.path", "file.name")
_DEFAULT_FILE_SIZE = 128 * 1024 * 1024
_DEFAULT_ROLLOVER_MS = 30 * 60 * 1000
_SIZE_UNITS = {
    "": 1, "b": 1, "bytes": 1,
    "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
    "m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gibibytes": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tebibytes": 1 << 40,
}  # fmt: skip


def parse_memory_size(text: str, key: str) -> int:
    """Flink's memory size syntax: ``128MB``, ``1 gb``, ``4096`` (bytes)."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _SIZE_UNITS:
        raise OptionError(f"'{key}' = '{text}' is not a memory size", hint="write it like '128MB'")
    return int(m.group(1)) * _SIZE_UNITS[unit]


def _local_path(path: str) -> str:
    if path.startswith("file://"):
        path = path[len("file://") :]
    elif path.startswith("file:"):
        path = path[len("file:") :]
    return os.path.abspath(os.path.expanduser(path))


def _bag(options: dict[str, str], table: str) -> OptionBag:
    return OptionBag(options, f"table '{table}'")


def _finish(bag: OptionBag, fmt: str) -> None:
    """Consume the keys only the other side (source/sink) or the planner reads, then fail on
    whatever is left: a key neither the connector nor its format knows."""
    known = [*CONNECTORS["filesystem"].keys, "connector"]
    spec = FORMATS.get(fmt)
    if spec is not None:
        known += [o.key for o in spec.options]
    for key in known:
        bag.get(key)
    bag.finish(known)


# ---- source -----------------------------------------------------------------------------


def _open_maybe_compressed(path: str) -> BinaryIO:
    """The file's bytes, decompressed when its extension says so (as Flink does for
    ``.gz``, ``.bz2``, ``.xz``); offsets then count decompressed bytes."""
    lowered = path.lower()
    if lowered.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if lowered.endswith(".bz2"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if lowered.endswith(".xz"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


class _LineFile:
    """Reads whole lines of a file from a byte offset, a chunk at a time."""

    def __init__(self, path: str, offset: int, line: int) -> None:
        self.path = path
        self.offset = offset  # byte offset of the first line not yet returned
        self.line = line  # 1-based number of that line
        self._f: BinaryIO = _open_maybe_compressed(path)
        self._f.seek(offset)
        self._buf = b""
        self._eof = False
        self.chunk_has_empty_line = False

    def next_lines(self, max_lines: int) -> tuple[list[bytes], int] | None:
        """Up to ``max_lines`` lines (without their newline) and the first one's number;
        None at the end of the file."""
        parts = [self._buf]
        count = self._buf.count(b"\n")
        while count < max_lines and not self._eof:
            block = self._f.read(_READ_BLOCK)
            if not block:
                self._eof = True
                break
            parts.append(block)
            count += block.count(b"\n")
        buf = b"".join(parts) if len(parts) > 1 else self._buf
        if not buf:
            return None
        if count >= max_lines:
            newlines = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
            cut = int(newlines[max_lines - 1]) + 1
        else:
            cut = len(buf)
        chunk, self._buf = buf[:cut], buf[cut:]
        self.chunk_has_empty_line = (
            chunk[:1] in (b"\n", b"\r") or b"\n\n" in chunk or b"\n\r\n" in chunk or chunk.endswith(b"\n\r")
        )
        lines = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            lines.pop()
        first = self.line
        self.line += len(lines)
        self.offset += cut
        return lines, first

    def close(self) -> None:
        self._f.close()


class FileSystemSource(SourceReader):
    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        bag = _bag(spec.options, spec.table)
        self.where = bag.where
        self.path = _local_path(bag.require("path"))
        self.format = bag.require("format").lower()
        self.monitor_ms = bag.get_duration_ms("source.monitor-interval")
        pattern = bag.get("source.path.regex-pattern")
        try:
            self.regex = re.compile(pattern) if pattern else None
        except re.error as e:
            raise OptionError(f"{self.where}: 'source.path.regex-pattern' is not a regex: {e}") from None
        for column, key in spec.metadata.items():
            if key not in _META_KEYS:
                raise OptionError(
                    f"{self.where}: column '{column}' asks for metadata '{key}', which the "
                    f"filesystem connector does not have (it has {', '.join(_META_KEYS)})"
                )
        self.physical = tuple(f for f in spec.columns if f.name not in spec.metadata)
        self.decoder: RecordDecoder | None = None
        if not is_file_only(self.format):
            self.decoder = create_decoder(self.format, self.physical, bag)
        _finish(bag, self.format)
        self.schema = output_schema(spec.columns, False)
        # Position.
        self._done: list[str] = []
        self._seen: set[str] = set()
        self._pending: list[str] = []
        self._restored: dict[str, Any] | None = None
        self._current: str | None = None
        self._lines: _LineFile | None = None
        self._parquet: Iterator[pa.RecordBatch] | None = None
        self._parquet_row = 0
        self._parquet_left: pa.RecordBatch | None = None
        self._listed_at = 0.0
        self._opened = False
        self._partial: dict[str, dict[str, Any]] = {}

    # ---- splits --------------------------------------------------------------------------
    def _list(self) -> list[str]:
        if os.path.isfile(self.path):
            return [self.path]
        if not os.path.isdir(self.path):
            if self.monitor_ms is not None:
                return []
            raise OptionError(f"{self.where}: the path '{self.path}' does not exist")
        found = []
        for root, dirs, files in os.walk(self.path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for name in files:
                if name.startswith((".", "_")):
                    continue
                full = os.path.join(root, name)
                if self.regex is None or self.regex.fullmatch(full):
                    found.append(full)
        return sorted(found)

    def _mine_by_hash(self, path: str) -> bool:
        rel = os.path.relpath(path, self.path)
        return zlib.crc32(rel.encode("utf-8")) % self.ctx.parallelism == self.ctx.subtask

    async def open(self) -> None:
        files = await asyncio.to_thread(self._list)
        p, i = self.ctx.parallelism, self.ctx.subtask
        if self.monitor_ms is None:
            mine = [f for k, f in enumerate(files) if k % p == i]
        else:  # files come and go: a file's subtask must not depend on the others
            mine = [f for f in files if self._mine_by_hash(f)]
        self._seen = set(files)
        restored = self._restored or {}
        done = set(restored.get("done", []))
        self._seen |= set(restored.get("seen", []))
        self._done = [f for f in restored.get("done", [])]
        current = restored.get("current")
        # files part-read by another subtask before a rescale: continue where it stopped
        self._partial = {f: at for f, at in restored.get("partial", {}).items() if f in mine}
        self._pending = [f for f in mine if f not in done and f != current]
        if current is not None:
            self._start(current, restored)
        self._listed_at = time.monotonic()
        self._opened = True

    def _start(self, path: str, at: dict[str, Any] | None = None) -> None:
        at = at or {}
        self._current = path
        if self.decoder is None:
            self._parquet_row = int(at.get("row", 0))
            self._parquet = read_parquet(path, self.physical, self._parquet_row, CHUNK_RECORDS)
            self._parquet_left = None
        else:
            self._lines = _LineFile(path, int(at.get("offset", 0)), int(at.get("line", 1)))

    def _end_current(self) -> None:
        if self._lines is not None:
            self._lines.close()
        if self._current is not None:
            self._done.append(self._current)
        self._current, self._lines, self._parquet, self._parquet_left = None, None, None, None

    @property
    def finished(self) -> bool:
        return self._opened and self.monitor_ms is None and self._current is None and not self._pending

    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        if self._current is None and not self._pending and self.monitor_ms is not None:
            if (time.monotonic() - self._listed_at) * 1000 < self.monitor_ms:
                return None
            await asyncio.to_thread(self._discover)
        if self._current is None and not self._pending:
            return None
        return await asyncio.to_thread(self._read, max(1, min(max_rows, CHUNK_RECORDS)))

    def _discover(self) -> None:
        self._listed_at = time.monotonic()
        for f in self._list():
            if f not in self._seen:
                self._seen.add(f)
                if self._mine_by_hash(f):
                    self._pending.append(f)

    def _read(self, max_rows: int) -> pa.RecordBatch | None:
        """The next rows of the current file (opening the next file when one ends); None
        when the assigned files are exhausted without a row."""
        while True:
            if self._current is None:
                if not self._pending:
                    return None
                nxt = self._pending.pop(0)
                self._start(nxt, self._partial.pop(nxt, None))
            path = self._current
            assert path is not None
            batch = self._read_parquet(max_rows) if self.decoder is None else self._read_lines(max_rows)
            if batch is None:
                self._end_current()
                continue
            if batch.num_rows == 0:
                continue
            self.metrics.records_in += batch.num_rows
            return self._with_metadata(batch, path)

    def _read_lines(self, max_rows: int) -> pa.RecordBatch | None:
        assert self._lines is not None and self.decoder is not None
        lf = self._lines
        got = lf.next_lines(max_rows)
        if got is None:
            return None
        lines, first = got
        numbers = np.arange(first, first + len(lines), dtype=np.int64)
        if first <= self.decoder.header_lines:
            skip = self.decoder.header_lines - first + 1
            lines, numbers = lines[skip:], numbers[skip:]
        skip_blank = self.decoder.skip_blank_lines
        if skip_blank and lines and lf.chunk_has_empty_line:
            # Empty lines go here; lines of only spaces are rare and the decoder drops them.
            keep = [k for k, line in enumerate(lines) if line.strip()]
            lines = [lines[k] for k in keep]
            numbers = numbers[keep]
        if not lines:
            return _EMPTY
        path = lf.path
        decoded = self.decoder.decode(
            lines, where=lambda k: f"{path}, line {numbers[k]}", skip_blank=skip_blank
        )
        if decoded.skipped:
            self.metrics.bad_records_skipped += decoded.skipped
            log.warning(
                "%s: skipped %d bad %s record(s), e.g. %s",
                self.where,
                decoded.skipped,
                self.format,
                decoded.messages[0] if decoded.messages else "?",
            )
        return decoded.batch

    def _read_parquet(self, max_rows: int) -> pa.RecordBatch | None:
        assert self._parquet is not None
        batch = self._parquet_left
        if batch is None:
            batch = next(self._parquet, None)
            if batch is None:
                return None
        if batch.num_rows > max_rows:
            self._parquet_left = batch.slice(max_rows)
            batch = batch.slice(0, max_rows)
        else:
            self._parquet_left = None
        self._parquet_row += batch.num_rows
        return batch

    def _with_metadata(self, batch: pa.RecordBatch, path: str) -> pa.RecordBatch:
        if not self.spec.metadata:
            if batch.schema.equals(self.schema):
                return batch
            return pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        n = batch.num_rows
        arrays = []
        for f in self.spec.columns:
            key = self.spec.metadata.get(f.name)
            if key == "file.path":
                arrays.append(pa.repeat(pa.scalar(path, pa.string()), n))
            elif key == "file.name":
                arrays.append(pa.repeat(pa.scalar(os.path.basename(path), pa.string()), n))
            else:
                arrays.append(batch.column(f.name))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    # ---- position ----------------------------------------------------------------------
    def position(self) -> dict[str, Any]:
        pos: dict[str, Any] = {"done": list(self._done), "current": self._current}
        if self._lines is not None:
            pos.update(offset=self._lines.offset, line=self._lines.line)
        elif self._current is not None:
            pos["row"] = self._parquet_row
        if self.monitor_ms is not None:
            pos["seen"] = sorted(self._seen)
        if self._partial:
            pos["partial"] = dict(self._partial)
        return pos

    def restore(self, position: dict[str, Any]) -> None:
        self._restored = dict(position)

    def restore_rescaled(self, positions: list[dict[str, Any]]) -> None:
        """Another parallelism: files every old subtask finished are done; a file one of
        them was reading continues at its offset in whichever subtask now owns it (by the
        same rule as at start)."""
        done: list[str] = []
        seen: set[str] = set()
        partial: dict[str, dict[str, Any]] = {}
        for pos in positions:
            done += [f for f in pos.get("done", []) if f not in done]
            seen |= set(pos.get("seen", []))
            partial.update(pos.get("partial", {}))
            current = pos.get("current")
            if current is not None:
                partial[current] = {k: pos[k] for k in ("offset", "line", "row") if k in pos}
        self._restored = {"done": done, "current": None, "partial": partial}
        if self.monitor_ms is not None:
            self._restored["seen"] = sorted(seen)

    async def close(self) -> None:
        if self._lines is not None:
            self._lines.close()
            self._lines = None


_EMPTY = pa.RecordBatch.from_pylist([])


# ---- sink -------------------------------------------------------------------------------


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
        bag = _bag(spec.options, spec.table)
        self.where = bag.where
        self.path = _local_path(bag.require("path"))
        self.format = bag.require("format").lower()
        size = bag.get("sink.rolling-policy.file-size")
        self.file_size = (
            parse_memory_size(size, "sink.rolling-policy.file-size") if size else _DEFAULT_FILE_SIZE
        )
        self.rollover_ms = bag.get_duration_ms("sink.rolling-policy.rollover-interval", _DEFAULT_ROLLOVER_MS)
        self.encoder: RecordEncoder | None = None
        if not is_file_only(self.format):
            self.encoder = create_encoder(self.format, spec.columns, bag)
        _finish(bag, self.format)
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
        if ROW_KIND_COLUMN in batch.schema.names:
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
