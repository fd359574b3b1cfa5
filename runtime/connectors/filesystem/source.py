"""Flink's ``filesystem`` connector on local files: json, csv, raw and parquet.

The sink is ``sink.py``.

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
"""

from __future__ import annotations

import asyncio
import bz2
import gzip
import logging
import lzma
import os
import re
import time
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from catalog.connectors.filesystem import FileSystemConfig
from catalog.errors import OptionError
from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, SourceSpec
from runtime.batches import output_schema
from runtime.connectors.base import SourceReader, SubtaskContext, source_config
from runtime.connectors.filesystem.options import CHUNK_RECORDS, local_path
from runtime.formats import create_changelog_decoder, create_decoder, is_changelog, is_file_only
from runtime.formats.base import RecordDecoder
from runtime.formats.changelog import ChangelogDecoder
from runtime.formats.parquet import read_parquet

log = logging.getLogger(__name__)

_READ_BLOCK = 1 << 20


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


def _nth_newline(data: bytes, n: int) -> int:
    """The index of the ``n``-th (1-based) newline of ``data``, which has at least ``n``."""
    if n <= 64:
        at = -1
        for _ in range(n):
            at = data.index(b"\n", at + 1)
        return at
    return int(np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)[n - 1])


def split_lines(chunk: bytes) -> list[bytes]:
    """The lines of a block, without their newlines."""
    lines = chunk.split(b"\n")
    if chunk.endswith(b"\n"):
        lines.pop()
    return lines


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

    def next_block(self, max_lines: int) -> tuple[bytes, int, int] | None:
        """The next up to ``max_lines`` whole lines as one block of bytes (newlines kept),
        the first one's number and how many lines it holds; None at the end of the file.
        No per-line object is made: a decoder reads the block as it is."""
        parts = [self._buf]
        count, before = self._buf.count(b"\n"), 0  # before: newlines ahead of the last part
        while count < max_lines and not self._eof:
            block = self._f.read(_READ_BLOCK)
            if not block:
                self._eof = True
                break
            parts.append(block)
            before = count
            count += block.count(b"\n")
        if count >= max_lines:  # the max_lines-th newline is in the last part
            last = parts[-1]
            end = _nth_newline(last, max_lines - before) + 1
            chunk = b"".join([*parts[:-1], last[:end]]) if len(parts) > 1 else last[:end]
            self._buf = last[end:]
            lines = max_lines
        else:  # every line buffered (the last one may lack its newline at the end of the file)
            chunk = b"".join(parts) if len(parts) > 1 else self._buf
            self._buf = b""
            if not chunk:
                return None
            lines = count + (not chunk.endswith(b"\n"))
        cut = len(chunk)
        self.chunk_has_empty_line = (
            chunk[:1] in (b"\n", b"\r") or b"\n\n" in chunk or b"\n\r\n" in chunk or chunk.endswith(b"\n\r")
        )
        first = self.line
        self.line += lines
        self.offset += cut
        return chunk, first, lines

    def close(self) -> None:
        self._f.close()


class FileSystemSource(SourceReader):
    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        config = source_config(spec)
        assert isinstance(config, FileSystemConfig)
        bag = OptionBag(spec.options, f"table '{spec.table}'")  # the format reads its own
        self.where = bag.where
        self.path = local_path(config.path)
        self.format = config.format
        self.monitor_ms = config.monitor_interval_ms
        self.regex = re.compile(config.path_regex) if config.path_regex else None
        self.physical = tuple(f for f in spec.columns if f.name not in spec.metadata)
        self.decoder: RecordDecoder | None = None
        # A change-record format (debezium-json, ...): each line is a change, rows have kinds.
        self.changes: ChangelogDecoder | None = None
        if is_changelog(self.format):
            self.changes = create_changelog_decoder(self.format, self.physical, bag)
            self.decoder = create_decoder("json", self.physical, bag)  # the lines' reading rules
        elif not is_file_only(self.format):
            self.decoder = create_decoder(self.format, self.physical, bag)
        self.schema = output_schema(spec.columns, self.changes is not None)
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
        got = lf.next_block(max_rows)
        if got is None:
            return None
        chunk, first, count = got
        if first > self.decoder.header_lines and not lf.chunk_has_empty_line and self.changes is None:
            # The good path: the whole block at once. Lines are split (and numbered for
            # bad-record reporting) only when the block does not decode as it is.
            block = self.decoder.decode_block(chunk, count)
            if block is not None:
                return block
        lines = split_lines(chunk)
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
        if self.changes is not None:
            decoded = self.changes.decode(lines, where=lambda k: f"{path}, line {numbers[k]}")
        else:
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
        if self.changes is not None:
            arrays.append(batch.column(ROW_KIND_COLUMN))
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
