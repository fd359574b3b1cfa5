"""A Calc's projections that format one TIMESTAMP column with a pattern of whole seconds,
minutes, hours or days (``DATE_FORMAT(ts, 'yyyy-MM-dd')``, ``'HH:mm'``): computed once per
distinct second, minute, hour or day of a batch, and each row given its grain's text.

Such a projection is DuckDB's ``STRFTIME`` of the column (``planner.dateformat``), and its
text depends only on the grain the timestamp falls in: the text of the grain's first instant
is that of every instant in it (a TIMESTAMP has no zone, so a day is 86,400 s and a grain's
start is the value floored to a multiple of the grain). The same SQL runs on the batch's
distinct grain starts, a few rows, and Arrow takes its text for each row: Nexmark q15 and q17
format 262,144 timestamps a batch to one or two days, ~15 ms a batch in DuckDB's ``strftime``
against ~3 (benchmarks/README.md, 2026-12-05, branch ag22).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.types import parse_type
from planner.physical import Field

if TYPE_CHECKING:
    import duckdb

_SECOND_US = 1_000_000
_GRAIN_US = {  # strftime codes (DuckDB's) whose text depends only on the grain they name
    **dict.fromkeys("YymdjaAbB", 86_400 * _SECOND_US),
    **dict.fromkeys("HIp", 3_600 * _SECOND_US),
    "M": 60 * _SECOND_US,
    "S": _SECOND_US,
}
_UNIT_US = {"s": _SECOND_US, "ms": 1_000, "us": 1}  # per unit of an Arrow timestamp
# Flink's TIMESTAMP years, 0001-01-01 to 9999-12-31, in microseconds since the epoch: a
# batch with a value outside (which DuckDB may read as infinite, or fail to cast) is
# formatted row by row, as it was
_FIRST_US, _END_US = -62_135_596_800 * _SECOND_US, 253_402_300_800 * _SECOND_US
# STRFTIME((CAST(("col") AS TIMESTAMP)), 'format'): DATE_FORMAT of a TIMESTAMP column
_STRFTIME = re.compile(r"""STRFTIME\(\(CAST\(\("((?:[^"]|"")*)"\) AS TIMESTAMP\)\), '((?:[^']|'')*)'\)""")
GRAINS = "grains"  # the relation of a batch's distinct grain starts (a table name: no column's)


def grain_us(fmt: str) -> int | None:
    """The coarsest grain (microseconds) within which ``fmt`` (a strftime format) writes
    the same text; None when one of its codes reads more (a fraction, a zone, a week).

    >>> grain_us("%Y-%m-%d"), grain_us("%H:%M"), grain_us("%Y %f"), grain_us("at noon")
    (86400000000, 60000000, None, None)
    """
    grains = []
    i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            i += 1
            continue
        code = fmt[i + 1 : i + 2]
        if code != "%":
            if code not in _GRAIN_US:
                return None
            grains.append(_GRAIN_US[code])
        i += 2
    return min(grains) if grains else None


@dataclass(frozen=True)
class Grained:
    """A projection ``sql`` of the input column ``column`` alone whose value is the same for
    every timestamp of one grain (``grain_us`` microseconds)."""

    column: str
    sql: str
    grain_us: int

    def values(self, con: duckdb.DuckDBPyConnection, column: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The projection of each of ``column``'s timestamps (NULL for NULL): computed by
        ``con`` on the distinct grain starts, taken in Arrow for every row."""
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        unit = _UNIT_US.get(array.type.unit) if pa.types.is_timestamp(array.type) else None
        if unit is None or array.type.tz is not None or self.grain_us % unit:
            return self._query(con, array)  # (nanoseconds, a zone: not what the planner gives)
        ticks = array.view(pa.int64())  # the nulls' values are arbitrary: their grain unused
        bounds = pc.min_max(ticks).as_py()
        if bounds["min"] is None or bounds["min"] < _FIRST_US // unit or bounds["max"] >= _END_US // unit:
            return self._query(con, array)
        step = self.grain_us // unit
        raw = np.frombuffer(ticks.buffers()[1], np.int64, count=len(ticks) + ticks.offset)
        floored = np.floor_divide(raw, step)
        grains = pa.Array.from_buffers(
            pa.int64(), len(ticks), [ticks.buffers()[0], pa.py_buffer(floored)], offset=ticks.offset
        )
        encoded = pc.dictionary_encode(grains)  # each row's grain, by number, and the grains
        numbers = encoded.dictionary
        starts = (
            np.frombuffer(numbers.buffers()[1], np.int64, count=len(numbers), offset=8 * numbers.offset)
            * step
        )
        firsts = pa.Array.from_buffers(array.type, len(starts), [None, pa.py_buffer(starts)])
        return self._query(con, firsts).take(encoded.indices)

    def _query(self, con: duckdb.DuckDBPyConnection, values: pa.Array) -> pa.Array:
        con.register(GRAINS, pa.RecordBatch.from_arrays([values], names=[self.column]))
        try:
            return con.sql(f"SELECT {self.sql} FROM {GRAINS}").to_arrow_table().column(0).combine_chunks()
        finally:
            con.unregister(GRAINS)


def grained(sql: str, fields: dict[str, Field]) -> Grained | None:
    """``sql`` as a :class:`Grained` projection: DATE_FORMAT's ``STRFTIME`` of a TIMESTAMP
    column (``fields``: the Calc's input columns by name, those it may read) with a format of
    whole grains; None otherwise."""
    match = _STRFTIME.fullmatch(sql.strip())
    if match is None:
        return None
    column = match.group(1).replace('""', '"')
    field = fields.get(column)
    if field is None or parse_type(field.type).name != "TIMESTAMP":
        return None
    grain = grain_us(match.group(2).replace("''", "'"))
    return Grained(column, sql, grain) if grain is not None else None
