"""Flink's ``filesystem`` connector on local files: json, csv, raw, parquet and avro.

The sink is ``sink.py``.

Source: ``path`` is a file or a directory (every file below it, sorted, except hidden ones
starting with ``.`` or ``_``, as Flink skips them; ``source.path.regex-pattern`` must match
a file's absolute path in full). The splits are dealt round-robin over the subtasks: whole
files, and at parallelism > 1 byte ranges of big line-format files (``splits.py``); a split
is read in chunks of up to 64k records (line formats: whole lines, or for csv with quoting
whole records, which a quoted field may carry over several lines, see
``runtime/formats/csv_records.py``; Parquet: row batches). Csv files with quoting are not
cut into byte ranges (``splits.py``).
Files ending in ``.gz``, ``.bz2`` or ``.xz`` are decompressed. Bounded, unless
``source.monitor-interval`` is set: then the directory is listed again at that interval and
new files are read as they appear, and every file goes to subtask
``crc32(relative path) % parallelism`` so that the assignment survives a restart.
Metadata columns: ``file.path`` (absolute) and ``file.name``. The position is (splits done,
current split, byte offset and line number, or Parquet row index; the line number is null
while nobody needed it inside a range that began mid-file, see ``_LineFile``).
"""

from __future__ import annotations

import asyncio
import bz2
import contextlib
import gzip
import io
import logging
import lzma
import os
import re
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from catalog.connectors.filesystem import FileSystemConfig
from catalog.errors import OptionError
from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, SourceSpec
from runtime.batches import output_schema
from runtime.connectors.base import SourceReader, SubtaskContext, count_nulled, source_config
from runtime.connectors.filesystem.options import CHUNK_RECORDS, MAX_READ_RECORDS, local_path
from runtime.connectors.filesystem.partitions import partition_spec
from runtime.connectors.filesystem.splits import Split, count_newlines, first_line_start, plan_splits
from runtime.formats import create_changelog_decoder, create_decoder, is_changelog, is_container_file
from runtime.formats.base import FormatError, RecordDecoder
from runtime.formats.changelog import ChangelogDecoder
from runtime.formats.csv import CsvDecoder
from runtime.formats.csv_records import MAX_RECORD_BYTES, QuotedRecords

log = logging.getLogger(__name__)

_READ_BLOCK = 1 << 20
_HALVED_READ = 8 << 20  # a read the caller waits for, of this many bytes or more, on two threads
# Reads the next chunk's bytes while the last chunk is decoded (``_LineFile.next_block``).
_PREFETCH = ThreadPoolExecutor(thread_name_prefix="file-prefetch")


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


def _read_and_scan(f: BinaryIO, buf: np.ndarray, start: int, base: int) -> tuple[int, list[np.ndarray]]:
    """Fill ``buf[start:]`` from ``f`` (fewer bytes only at the end of the file); the bytes
    read and the positions of their newlines, plus ``base``. Read and scanned 1 MB at a
    time, while the bytes are in the cache: scanning the whole buffer after took twice
    as long. numpy scans without holding the GIL, so the operators keep running meanwhile."""
    found: list[np.ndarray] = []
    at = start
    while at < len(buf):
        piece = buf[at : at + _READ_BLOCK]
        got = 0
        while got < len(piece):
            n = f.readinto(piece.data[got:])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
        newlines = np.flatnonzero(piece[:got] == 10)
        if len(newlines):
            found.append(newlines + (base + at - start))
        at += got
        if got < len(piece):
            break
    return at - start, found


def _read_and_scan_halves(
    f: BinaryIO, path: str, buf: np.ndarray, start: int
) -> tuple[int, list[np.ndarray]]:
    """``_read_and_scan(f, buf, start, start)``, its second half read and scanned on a
    thread of its own meanwhile, through a second handle on the file. For a read the caller
    waits for (a file's first chunk), with a core to spare: the job's operators are idle
    then, and one thread read and scanned q0's first 67 MB of bids in ~120 ms, a twentieth
    of the job. Reads ahead run beside the decoder and gain nothing by it."""
    pos = f.tell()
    half = start + (len(buf) - start) // 2

    def second() -> tuple[int, list[np.ndarray]]:
        with open(path, "rb", buffering=0) as g:
            g.seek(pos + half - start)
            return _read_and_scan(g, buf, half, half)

    later = _PREFETCH.submit(second)
    try:
        got, found = _read_and_scan(f, buf[:half], start, start)
    finally:
        got2, found2 = later.result()
    if got < half - start:  # the file ends in the first half: nothing is read past that
        return got, found
    f.seek(pos + got + got2)
    return got + got2, found + found2


def has_empty_line(chunk: bytes | memoryview, newlines: np.ndarray) -> bool:
    """Whether ``chunk`` (whole lines; ``newlines``: its newline positions) has an empty
    line or one that is only a carriage return: such lines are not records, so the block
    cannot be read as one record per line. From the newline positions alone, no byte scan:
    two newlines side by side, or one newline apart with a ``\r`` between them."""
    if chunk[:1] in (b"\n", b"\r") or chunk[-2:] == b"\n\r":
        return True
    if len(newlines) < 2:
        return False
    gaps = np.diff(newlines)
    if bool((gaps == 1).any()):
        return True
    two = newlines[:-1][gaps == 2]
    return bool(len(two)) and bool((np.frombuffer(chunk, dtype=np.uint8)[two + 1] == 13).any())


def split_lines(chunk: bytes) -> list[bytes]:
    """The lines of a block, without their newlines."""
    lines = chunk.split(b"\n")
    if chunk.endswith(b"\n"):
        lines.pop()
    return lines


def split_records(chunk: bytes, ends: np.ndarray) -> list[bytes]:
    """The records of a block whose records end at the line breaks ``ends`` (the last
    record may end with the block instead), without those line breaks."""
    starts = [0, *(ends + 1).tolist()]
    stops = [*ends.tolist(), len(chunk)]
    if starts[-1] == len(chunk):
        starts.pop()
        stops.pop()
    return [chunk[a:b] for a, b in zip(starts, stops)]


def quoted_records(decoder: RecordDecoder | None) -> QuotedRecords | None:
    """How records end in files of ``decoder``'s format, when not at every line break:
    csv with quoting (``runtime/formats/csv_records.py``)."""
    if not isinstance(decoder, CsvDecoder) or decoder.opts.disable_quote:
        return None
    o = decoder.opts
    return QuotedRecords(o.delimiter, o.quote, o.escape, o.allow_comments)


class _LineFile:
    """Reads whole lines of a file from a byte offset, a chunk at a time; within a byte
    range (``end``), the lines that start before ``end`` (``splits.py``). With ``records``
    (csv with quoting, never in a range) whole records, which may span lines: the offset is
    always a record's first byte and the line number its first line's."""

    def __init__(
        self,
        path: str,
        offset: int,
        line: int | None,
        end: int | None = None,
        records: QuotedRecords | None = None,
    ) -> None:
        self.path = path
        self.offset = offset  # byte offset of the first line not yet returned
        self.end = end
        # Where records end when a record may span lines (CSV with quoting); None: every
        # line is a record. A byte range is read line by line (``splits.py``).
        self.records = records if end is None else None
        # The number of the line at ``offset``; None until asked for in a range that began
        # inside the file: counting the newlines before it costs a read of all of them.
        self._line = line
        self._unknown_from = offset
        self._since = 0  # lines returned since _unknown_from, while the number is unknown
        self._f: BinaryIO = _open_maybe_compressed(path)
        self._f.seek(offset)
        self._buf: bytes | memoryview = b""  # the bytes from ``offset`` on read so far
        self._newlines = np.zeros(0, dtype=np.int64)  # positions of the newlines in _buf
        self._spares: list[np.ndarray] = []  # the two read buffers, older first (``_spare``)
        self._prefetch: Future[None] | None = None  # the next chunk's read, under way
        self._line_bytes = 0.0  # mean line length of the last chunk, to size reads
        self._eof = False
        self.chunkhas_empty_line = False
        self.chunk_offset = offset  # where the last chunk returned starts
        self.chunk_lines = 0
        self.chunk_newlines = np.zeros(0, dtype=np.int64)
        # The line breaks that end the last chunk's records, and the line (from the chunk's
        # first) each record starts on; None when every line is a record.
        self.chunk_ends: np.ndarray | None = None
        self.chunk_record_lines: np.ndarray | None = None
        # Whether the last chunk is one record whose quoted field the file never closes.
        self.chunk_unterminated = False

    @property
    def known_line(self) -> int | None:
        """The number of the line at ``offset``, if known without reading the file."""
        return self._line

    @property
    def line(self) -> int:
        """The number of the line at ``offset``."""
        if self._line is None:
            self._line = count_newlines(self.path, self._unknown_from) + 1 + self._since
        return self._line

    def chunk_first_line(self) -> int:
        """The number of the first line of the last chunk returned."""
        return self.line - self.chunk_lines

    def _complete(self) -> bool:
        """Whether the buffer holds every line that starts before ``end``."""
        if self.end is None or not len(self._newlines):
            return False
        return self.offset + int(self._newlines[-1]) >= self.end - 1

    def _fill(self, lines: int) -> None:
        """Read until the buffer holds ``lines`` whole lines, or every line that starts
        before ``end``, or the file ends, after ``_read_ahead``'s read if one is under way.
        Each read asks for about what the missing lines take (from the mean line length of
        the last chunk), so one read usually does: its bytes go straight into a buffer
        (``_spare``) behind the few left from the last chunk, and nothing is joined or
        sliced. Only when the guess falls short does what was read move, once (``_room``)."""
        self._join()
        self._read_lines(lines, waited=True)

    def _read_ahead(self, lines: int) -> None:
        """Start reading the next chunk (``lines`` lines) on a thread of its own, while the
        caller decodes the chunk just returned: the read (and the scan for newlines) took
        a fifth of q0's time, one core, with the decoder's threads waiting. Only the
        buffer's fields change meanwhile, never the position (``offset``, the line): a
        checkpoint taken during the read is the chunk boundary, as before."""
        if self._prefetch is None and not self._holds(lines):
            self._prefetch = _PREFETCH.submit(self._read_lines, lines)

    def _join(self) -> None:
        """Wait for the read under way, if any (its error is raised here, where a read
        made now would have raised it)."""
        if self._prefetch is not None:
            prefetch, self._prefetch = self._prefetch, None
            prefetch.result()

    def _holds(self, lines: int) -> bool:
        """Whether no read can add to what the buffer holds for ``lines`` lines."""
        return len(self._newlines) >= lines or self._eof or self._complete()

    def _read_lines(self, lines: int, waited: bool = False) -> None:
        """Read about ``lines`` more lines into the buffer; ``waited``: the caller waits for
        them, nothing else reading meanwhile (see ``_read_and_scan_halves``)."""
        if self._holds(lines):
            return
        size = len(self._buf)
        limit = None if self.end is None else self.end - self.offset - 1
        buf: np.ndarray | None = None
        found = [self._newlines]
        count = len(self._newlines)
        line_bytes = self._line_bytes  # 0 before a file's first chunk: a 1 MB read tells
        while count < lines:
            want = max(_READ_BLOCK, int((lines - count) * line_bytes * 1.05))
            if limit is not None:  # not much past the range's end
                want = min(want, max(limit + 1 - size, 0) + _READ_BLOCK)
            buf = self._room(buf, size, want)
            if waited and want >= _HALVED_READ and isinstance(self._f, io.BufferedReader):
                got, at = _read_and_scan_halves(self._f, self.path, buf, size)
            else:
                got, at = _read_and_scan(self._f, buf, size, size)
            found += at
            size += got
            count += sum(len(a) for a in at)
            if got < want:
                self._eof = True
                break
            if limit is not None and at and int(at[-1][-1]) >= limit:
                break
            line_bytes = size / count if count else line_bytes
        assert buf is not None  # not _holds: at least one read
        self._buf = buf[:size].data
        self._newlines = np.concatenate(found) if len(found) > 1 else found[0]

    def _room(self, buf: np.ndarray | None, size: int, want: int) -> np.ndarray:
        """A buffer of ``size + want`` bytes whose first ``size`` are the ones buffered: at
        a read's start the older spare (``_spare``) with the bytes left from the last chunk
        copied in front; when the read fell short of the lines asked for (a file's first
        chunk, whose line length is not known yet: 1 MB is read to learn it), a bigger one
        in its place, at least twice as big, with the bytes read so far copied in once.
        Reading on into pieces joined at the end had, on each file's first chunk, faulted
        in the chunk's memory twice and copied it once."""
        if buf is None:
            buf = self._spare(size + want)
            if size:
                buf[:size] = np.frombuffer(self._buf, dtype=np.uint8)
            return buf
        need = size + want
        bigger = np.empty(max(need + (need >> 3), 2 * len(buf)), dtype=np.uint8)
        bigger[:size] = buf[:size]
        self._spares[-1] = bigger  # the buffer _spare gave this read: nobody else's
        return bigger[:need]

    def _spare(self, size: int) -> np.ndarray:
        """A buffer of ``size`` bytes for a chunk's read: the older of two kept for it (the
        newer holds the bytes left from the last chunk, copied in front of the read, and, while
        ``_read_ahead`` reads, the chunk being decoded). A fresh one per chunk had the kernel
        zero and fault in its pages each time (q0's 700 MB of bids: 4% of the process's CPU).
        Reuse is safe because a chunk is decoded before the chunk after the next is read, and
        the decoders' batches own their memory (pyarrow's readers build their own arrays;
        the other paths split ``bytes(chunk)``): ``test_filesystem.py`` checks it.
        The cost: two chunks of memory per file being read instead of one."""
        spare = self._spares.pop(0) if len(self._spares) == 2 else None
        if spare is None or len(spare) < size:
            spare = np.empty(size + (size >> 3), dtype=np.uint8)  # not zeroed: the read fills it
        self._spares.append(spare)
        return spare[:size]

    def next_block(self, max_lines: int) -> tuple[memoryview, int] | None:
        """The next up to ``max_lines`` whole records (lines, unless ``records`` says
        where records end) as one block of bytes (newlines kept; a view of the read
        buffer, not a copy) and how many records it holds; None at the end of the file
        or range. No per-record object is made: a decoder reads the block as it is."""
        self.chunk_ends = self.chunk_record_lines = None
        self.chunk_unterminated = False
        if self.records is not None:
            return self._next_records(max_lines)
        if self.end is not None:
            if self.offset >= self.end:
                return None
            self._fill(max_lines)
            # lines that start before the end: the first, and one after each newline before it
            starting = int(np.searchsorted(self._newlines, self.end - self.offset - 1)) + 1
            max_lines = min(max_lines, starting)
        else:
            self._fill(max_lines)
        newlines = self._newlines
        if len(newlines) >= max_lines:
            chunk = self._take(int(newlines[max_lines - 1]) + 1, max_lines, max_lines)
            self._read_ahead(max_lines)
            return chunk
        # every line buffered (the last one may lack its newline at the end of the file)
        if not len(self._buf):
            return None
        lines = len(newlines) + (self._buf[-1:] != b"\n")
        return self._take(len(self._buf), lines, lines)

    def _next_records(self, max_records: int) -> tuple[memoryview, int] | None:
        """``next_block`` when a record may span lines: the whole records among the next
        ``max_records`` lines (fewer records than asked when some span lines: the lines
        are not read twice to make up the count), more lines only while not one record
        has ended, or the file ends."""
        assert self.records is not None
        want = max_records
        while True:
            self._fill(want)
            ends, open_at = self.records.ends(self._buf, self._newlines, self._eof)
            count = len(self._newlines) if ends is None else int(np.count_nonzero(ends))
            if count or self._eof:
                break
            if open_at is not None and len(self._buf) - open_at > MAX_RECORD_BYTES:
                line = self.line + int(np.searchsorted(self._newlines, open_at))
                raise FormatError(
                    f"cannot read a csv record at {self.path}, line {line}: a quoted field is still "
                    f"open {MAX_RECORD_BYTES >> 20} MB further on (a quote that is never closed?)",
                    hint="fix the file: a quote character that starts a field must be closed, "
                    "or set 'csv.disable-quote-character' = 'true' if the file has no quoting",
                )
            want = 2 * len(self._newlines) + 1  # a record over many lines: twice the lines
        newlines = self._newlines
        index = np.arange(len(newlines)) if ends is None else np.flatnonzero(ends)
        if count and (not self._eof or count >= max_records or open_at is not None):
            count = min(count, max_records)
            last = int(index[count - 1])
            chunk = self._take(int(newlines[last]) + 1, last + 1, count, index[:count])
            self._read_ahead(max_records)
            return chunk
        # the end of the file: every record is buffered; the last may lack its newline
        if open_at == 0:  # a record the file never closes: a bad record of its own
            self.chunk_unterminated = True
            lines = len(newlines) + (self._buf[-1:] != b"\n")
            return self._take(len(self._buf), lines, 1, index[:0]) if lines else None
        size = len(self._buf) if open_at is None else open_at
        if not size:
            return None
        lines = int(np.searchsorted(newlines, size))  # the line breaks in the block
        tail = size > (int(newlines[index[-1]]) + 1 if count else 0)  # a last record without one
        return self._take(size, lines + (self._buf[size - 1 : size] != b"\n"), count + tail, index)

    def _take(
        self, size: int, lines: int, records: int, ends: np.ndarray | None = None
    ) -> tuple[memoryview, int]:
        """Return the first ``size`` bytes of the buffer, ``lines`` lines holding ``records``
        records (``ends``: the indices of the line breaks that end them, when not every
        one does), and move the position past them."""
        view = memoryview(self._buf)
        chunk, self._buf = view[:size], view[size:]
        inside = int(np.searchsorted(self._newlines, size))
        mine, self._newlines = self._newlines[:inside], self._newlines[inside:] - size
        if ends is not None and len(ends) == inside and records == lines:
            ends = None  # every line a record after all
        record_ends = mine
        if ends is not None:
            self.chunk_ends = record_ends = mine[ends]
            self.chunk_record_lines = np.concatenate(([0], ends[: records - 1] + 1))
        self.chunkhas_empty_line = has_empty_line(chunk, record_ends)
        self.chunk_newlines = mine  # for the decoder's checks of the whole block
        self.chunk_offset, self.chunk_lines = self.offset, lines
        if self._line is None:
            self._since += lines
        else:
            self._line += lines
        self.offset += size
        self._line_bytes = size / lines
        return chunk, records

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):  # a read of a file being closed: nobody wants its bytes
                self._join()
        finally:
            self._f.close()
            self._spares = []


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
        self.avro_legacy = (bag.get("avro.timestamp_mapping.legacy") or "true").lower() == "true"
        self.default_partition = config.default_partition
        # What the files hold: not the metadata columns, nor the partition columns (those
        # are read from the directories: ``dt=2024-05-01/...``).
        self.keys = config.partition_keys
        # A pushed projection (``spec.projection``): only the columns the query reads are
        # decoded; a line format still gets the table's fields, CSV parsing by position.
        files_hold = tuple(f for f in spec.columns if f.name not in (*spec.metadata, *self.keys))
        self.physical = tuple(f for f in spec.produced if f.name not in (*spec.metadata, *self.keys))
        read = None if spec.projection is None else [f.name for f in self.physical]
        self.decoder: RecordDecoder | None = None
        # A change-record format (debezium-json, ...): each line is a change, rows have kinds.
        self.changes: ChangelogDecoder | None = None
        if is_changelog(self.format):
            self.changes = create_changelog_decoder(self.format, self.physical, bag)
            self.decoder = create_decoder("json", self.physical, bag)  # the lines' reading rules
        elif not is_container_file(self.format):
            self.decoder = create_decoder(self.format, files_hold, bag, projection=read)
        if self.decoder is not None:
            self.decoder.threads = ctx.parallelism == 1  # else each subtask has its core
        self.records = quoted_records(self.decoder)  # None: every line is a record
        self.schema = output_schema(spec.produced, self.changes is not None)
        # Position, by split key (``splits.py``: a file's path, or a byte range's key).
        self._splits: dict[str, Split] = {}
        self._cut_for = 1
        self._csv_whole = True  # csv files with quoting are not cut (see ``open``)
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
        restored = self._restored or {}
        if self.monitor_ms is None:
            # Ranges are cut for the parallelism of the run that first read the files; a
            # restore cuts the same ones (a position without ``cut_for`` read whole files).
            self._cut_for = int(restored.get("cut_for", 1)) if self._restored is not None else p
            # Files whose records may span lines are read whole, as Flink reads csv files: a
            # range cannot tell whether its first line break is inside a quoted field. A
            # position of a version that cut them anyway (no ``csv_whole``) has them cut
            # again, the same in every subtask (``_LineFile`` reads a range line by line).
            self._csv_whole = self._restored is None or self._cut_for == 1 or bool(restored.get("csv_whole"))
            lines = self.decoder is not None and (self.records is None or not self._csv_whole)
            splits = await asyncio.to_thread(plan_splits, files, self._cut_for, lines)
            self._splits = {s.key: s for s in splits}
            self._check_ranges(restored)
            mine = [s.key for k, s in enumerate(splits) if k % p == i]
        else:  # files come and go: a file's subtask must not depend on the others
            mine = [f for f in files if self._mine_by_hash(f)]
        self._seen = set(files)
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

    def _check_ranges(self, restored: dict[str, Any]) -> None:
        """A restored byte range must be one of the ranges cut now: a file that changed
        size since the checkpoint would be cut elsewhere, and its lines read twice."""
        keys = [*restored.get("done", []), *restored.get("partial", {}), restored.get("current")]
        cut = {s.path for s in self._splits.values() if s.end is not None}
        for key in keys:
            if key and key not in self._splits and ("\0" in key or key in cut):
                raise OptionError(
                    f"{self.where}: the checkpoint holds a byte range of '{key.partition(chr(0))[0]}' "
                    "that the file no longer has: it changed size since the checkpoint",
                    hint="restore with the files as they were when the checkpoint was taken",
                )

    def _split(self, key: str) -> Split:
        # a file found by monitoring the directory is not in the list made at open
        return self._splits.get(key) or Split(key, key)

    def _start(self, key: str, at: dict[str, Any] | None = None) -> None:
        at = at or {}
        split = self._split(key)
        self._current = key
        if self.decoder is None:
            # fastavro and pyarrow.parquet load with the first file of theirs (~8 ms that
            # every job reading or writing JSON or CSV files paid, on its event loop)
            from runtime.formats.avro import read_avro
            from runtime.formats.parquet import read_parquet

            self._parquet_row = int(at.get("row", 0))
            if self.format == "avro":
                self._parquet = read_avro(
                    split.path, self.physical, self.avro_legacy, self._parquet_row, CHUNK_RECORDS
                )
            else:
                self._parquet = read_parquet(split.path, self.physical, self._parquet_row, CHUNK_RECORDS)
            self._parquet_left = None
            return
        offset, line = at.get("offset"), at.get("line", 1)
        if offset is None:  # not started: a range begins at its first whole line
            offset = first_line_start(split.path, split.start)
            line = 1 if offset == 0 else None
        line = None if line is None else int(line)
        self._lines = _LineFile(split.path, int(offset), line, split.end, self.records)

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
        return await asyncio.to_thread(self._read, max(1, min(max_rows, MAX_READ_RECORDS)))

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
            assert self._current is not None
            path = self._split(self._current).path
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
        chunk, count = got
        if lf.chunk_unterminated:
            return self._unterminated(lf)
        header = self.decoder.header_lines
        # A chunk that does not start the file starts at line 2 or later.
        in_header = header > 0 and (lf.chunk_offset == 0 or (header > 1 and lf.chunk_first_line() <= header))
        if not in_header and not lf.chunkhas_empty_line and self.changes is None:
            # The good path: the whole block at once. Lines are split (and numbered for
            # bad-record reporting) only when the block does not decode as it is.
            block = self.decoder.decode_block(chunk, count, lf.chunk_newlines)
            if block is not None:
                return block
        if lf.chunk_ends is None:
            lines = split_lines(bytes(chunk))
            numbers = np.arange(len(lines), dtype=np.int64)  # from the chunk's first line
        else:  # records over several lines: each numbered by its first line
            assert lf.chunk_record_lines is not None
            lines = split_records(bytes(chunk), lf.chunk_ends)
            numbers = lf.chunk_record_lines
        if in_header:
            skip = header - lf.chunk_first_line() + 1
            lines, numbers = lines[skip:], numbers[skip:]
        skip_blank = self.decoder.skip_blank_lines
        if skip_blank and lines and lf.chunkhas_empty_line:
            # Empty lines go here; lines of only spaces are rare and the decoder drops them.
            keep = [k for k, line in enumerate(lines) if line.strip()]
            lines = [lines[k] for k in keep]
            numbers = numbers[keep]
        if not lines:
            return _EMPTY
        path = lf.path

        def where(k: int) -> str:  # the chunk's first line is numbered only when asked
            return f"{path}, line {lf.chunk_first_line() + int(numbers[k])}"

        if self.changes is not None:
            decoded = self.changes.decode(lines, where=where)
        else:
            decoded = self.decoder.decode(lines, where=where, skip_blank=skip_blank)
        if decoded.skipped:
            self.metrics.bad_records_skipped += decoded.skipped
            log.warning(
                "%s: skipped %d bad %s record(s), e.g. %s",
                self.where,
                decoded.skipped,
                self.format,
                decoded.messages[0] if decoded.messages else "?",
            )
        count_nulled(self.metrics, decoded, self.where)
        return decoded.batch

    def _unterminated(self, lf: _LineFile) -> pa.RecordBatch:
        """The last record of a file opens a quoted field it never closes: a bad record,
        as for Jackson ("Missing closing quote"), named by its first line."""
        assert self.decoder is not None
        line = lf.chunk_first_line()
        message = f"{lf.path}, line {line}: a quoted field is not closed before the end of the file"
        if not self.decoder.ignore_errors:
            raise FormatError(
                f"cannot decode a {self.decoder.name} record at {message}",
                hint=f"fix the record, or set '{self.decoder.ignore_option}' = 'true' "
                "to skip (and count) bad records",
            )
        self.metrics.bad_records_skipped += 1
        log.warning("%s: skipped 1 bad %s record, %s", self.where, self.format, message)
        return _EMPTY

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
        if not self.spec.metadata and not self.keys:
            if batch.schema.equals(self.schema):
                return batch
            return pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        n = batch.num_rows
        arrays = []
        values = self._partition_values(path) if self.keys else {}
        for f in self.spec.produced:
            key = self.spec.metadata.get(f.name)
            if f.name in values:
                arrays.append(pa.repeat(values[f.name], n))
            elif key == "file.path":
                arrays.append(pa.repeat(pa.scalar(path, pa.string()), n))
            elif key == "file.name":
                arrays.append(pa.repeat(pa.scalar(os.path.basename(path), pa.string()), n))
            else:
                arrays.append(batch.column(f.name))
        if self.changes is not None:
            arrays.append(batch.column(ROW_KIND_COLUMN))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _partition_values(self, path: str) -> dict[str, pa.Scalar]:
        """The partition columns' values of a file, from its directories (Flink's
        PartitionPathUtils): the default partition name is NULL."""
        spec = partition_spec(os.path.relpath(os.path.dirname(path), self.path))
        out = {}
        for k in self.keys:
            if k not in self.schema.names:  # a column the query does not read
                continue
            text = spec.get(k)
            arrow_type = self.schema.field(k).type
            if text is None or text == self.default_partition:
                out[k] = pa.scalar(None, arrow_type)
                continue
            try:
                out[k] = pa.scalar(text).cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise FormatError(
                    f"{self.where}: file {path}: partition value {k}='{text}' is not a {arrow_type}"
                ) from None
        return out

    # ---- position ----------------------------------------------------------------------
    def position(self) -> dict[str, Any]:
        pos: dict[str, Any] = {"done": list(self._done), "current": self._current}
        if self._lines is not None:
            pos.update(offset=self._lines.offset, line=self._lines.known_line)
        elif self._current is not None:
            pos["row"] = self._parquet_row
        if self.monitor_ms is not None:
            pos["seen"] = sorted(self._seen)
        if self._partial:
            pos["partial"] = dict(self._partial)
        if self._cut_for > 1:
            pos["cut_for"] = self._cut_for
            if self.records is not None and self._csv_whole:
                pos["csv_whole"] = True
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
        cut_for = {int(pos.get("cut_for", 1)) for pos in positions}
        if cut_for != {1}:
            self._restored["cut_for"] = max(cut_for)  # positions of one run agree
            self._restored["csv_whole"] = all(pos.get("csv_whole") for pos in positions)
        if self.monitor_ms is not None:
            self._restored["seen"] = sorted(seen)

    async def close(self) -> None:
        if self._lines is not None:
            self._lines.close()
            self._lines = None


_EMPTY = pa.RecordBatch.from_pylist([])
