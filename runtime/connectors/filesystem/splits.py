"""Splits of the ``filesystem`` source: whole files, or byte ranges of one big file.

At parallelism p > 1 a bounded source cuts every uncompressed file of at least
``SPLIT_MIN_BYTES`` whose records are lines (json, raw, csv without quoting, the change-record
formats) into p byte ranges, so that p subtasks read one big file together (as Flink's file
source reads splits of a file). A line belongs to the range its first byte is in: a range
that starts inside a line begins at the next line, and a range reads on past its end to
finish the line it is in. So each line is read exactly once, whatever the cut.

A csv file with quoting (the default) is read whole by one subtask, as Flink reads it (its
CSV reader format is not splittable): a quoted field may hold a line break, and from the
bytes after a cut one cannot tell whether the cut is inside such a field. A position says
so (``csv_whole``); one of an older version, which cut such files too, is restored with
them cut again, read line by line as that version read them, so that every subtask still
plans the same splits.

The list of splits is a function of the listed files, their sizes and the parallelism the
ranges were cut for (``cut_for``); split k goes to subtask ``k % parallelism``. A position
records ``cut_for``, so that a restore, at the same or another parallelism, cuts the same
ranges again and continues each where it stopped: ranges are never cut anew over rows
that a range read before the checkpoint already covered.

A whole file's key is its path, as before ranges existed (positions of older checkpoints
stay valid); a range's key is ``path NUL start-end``, NUL being a byte no path holds.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import numpy as np

SPLIT_MIN_BYTES = 4 << 20
_SCAN_BLOCK = 1 << 20
_COMPRESSED = (".gz", ".bz2", ".xz")


@dataclass(frozen=True)
class Split:
    """A file (``end`` None) or the lines of a file that start in ``[start, end)``."""

    key: str
    path: str
    start: int = 0
    end: int | None = None


def splittable(path: str) -> bool:
    """Whether ``path`` can be read from a byte offset: not compressed."""
    return not path.lower().endswith(_COMPRESSED)


def plan_splits(files: list[str], cut_for: int, lines: bool) -> list[Split]:
    """Every file's splits in order: ``cut_for`` ranges for a big uncompressed file of a
    format whose records are lines (``lines``), the whole file otherwise."""
    out: list[Split] = []
    for path in files:
        size = os.path.getsize(path) if cut_for > 1 and lines and splittable(path) else 0
        if size < SPLIT_MIN_BYTES:
            out.append(Split(path, path))
            continue
        bounds = [size * j // cut_for for j in range(cut_for + 1)]
        for start, end in itertools.pairwise(bounds):
            out.append(Split(f"{path}\0{start}-{end}", path, start, end))
    return out


def first_line_start(path: str, start: int) -> int:
    """The byte offset of the first line that starts at or after ``start`` (the file's
    size when none does)."""
    if start == 0:
        return 0
    with open(path, "rb") as f:
        f.seek(start - 1)
        at = start - 1
        while block := f.read(_SCAN_BLOCK):
            found = block.find(b"\n")
            if found >= 0:
                return at + found + 1
            at += len(block)
        return at


def count_newlines(path: str, upto: int) -> int:
    """How many newlines the file has before byte ``upto``: the number of the line that
    starts there, minus one. Only asked when a line number is needed (a bad record, or a
    header check) inside a range that did not start at the top of the file."""
    count = 0
    with open(path, "rb") as f:
        left = upto
        while left > 0 and (block := f.read(min(_SCAN_BLOCK, left))):
            count += int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))
            left -= len(block)
    return count
