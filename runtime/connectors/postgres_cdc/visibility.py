"""Which streamed changes a snapshot read already holds: the seam between the table's
snapshot and the slot's changes.

The source creates (or finds) its slot first, then reads the table in a REPEATABLE READ
transaction whose snapshot is ``pg_current_snapshot()``. Every transaction that committed
before the slot's consistent point is visible in that snapshot (creating a slot waits for
the transactions running then), and every one that committed after is in the slot. So a
streamed transaction is already in the snapshot read exactly when its xid is visible in
the snapshot: those are skipped, the others emitted. No exported snapshot (and no
replication connection) is needed, and the seam is exact, not a guess by time or LSN.

A snapshot read cut by a restart resumes after the last key it emitted, in a new
snapshot: the keys up to that key keep the old snapshot's visibility, the rest the new
one's (``Segments``). Keys are read in their order (text keys in the "C" collation, which
is the order of Python's ``str``), so "up to that key" is a comparison here too.

>>> s = XidSnapshot.parse("100:105:101,103")
>>> [s.visible(x) for x in (99, 100, 101, 102, 104, 105)]
[True, True, False, True, True, False]
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass

from catalog.types import DataType

_INTS = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_NUMBERS = ("DECIMAL", "FLOAT", "DOUBLE")
_TEXT = ("STRING", "VARCHAR", "CHAR")


@dataclass(frozen=True)
class XidSnapshot:
    """``pg_current_snapshot()``: transactions below ``xmin`` are done, from ``xmax`` on
    not yet started, ``xip`` were running (all 64-bit xids)."""

    xmin: int
    xmax: int
    xip: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> XidSnapshot:
        xmin, xmax, xip = text.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in xip.split(",") if x))

    def text(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(str(x) for x in sorted(self.xip))}"

    def visible(self, xid32: int) -> bool:
        """Whether the committed transaction ``xid32`` (pgoutput's 32-bit xid) had
        committed when the snapshot was taken."""
        full = (self.xmax & ~0xFFFFFFFF) | xid32
        if full > self.xmax + (1 << 31):
            full -= 1 << 32
        elif full < self.xmax - (1 << 31):
            full += 1 << 32
        return full < self.xmin or (full < self.xmax and full not in self.xip)


def key_value(text: str | None, t: DataType) -> object:
    """A key column's text as a value that compares in PostgreSQL's order."""
    if text is None:
        return None
    if t.name in _INTS:
        return int(text)
    if t.name in _NUMBERS:
        return decimal.Decimal(text)
    return text  # "C" collation strings, ISO dates and times, booleans 'f' < 't'


def sortable_key(t: DataType) -> bool:
    """Whether keys of type ``t`` compare here as PostgreSQL orders them."""
    return t.name in (*_INTS, *_NUMBERS, *_TEXT, "DATE", "TIME", "TIMESTAMP", "BOOLEAN")


@dataclass(frozen=True)
class Segment:
    """Keys up to ``upper`` (inclusive; None: every key) were read in ``snapshot``."""

    upper: tuple[object, ...] | None
    snapshot: XidSnapshot


class Segments:
    """The snapshots the table's keys were read in, in key order."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = list(segments)

    def visible(self, xid32: int) -> list[bool]:
        return [s.snapshot.visible(xid32) for s in self.segments]

    def already_read(self, xid32: int, key: tuple[object, ...], visible: list[bool]) -> bool:
        """Whether the row with ``key`` that transaction ``xid32`` changed was read by the
        snapshot of the key's segment with the change in it (``visible``: per segment)."""
        for seg, vis in zip(self.segments, visible):
            if seg.upper is None or key <= seg.upper:
                return vis
        return False  # beyond every segment: not read yet (a restart mid-snapshot reads it)
