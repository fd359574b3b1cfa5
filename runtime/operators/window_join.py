"""Window join (Flink's WindowJoinOperator): two inputs of the same window TVF joined on
window_start, window_end and the keys, window by window.

Each side's rows wait in DuckDB state with their window's end (``__t``, epoch ms). When
the watermark reaches a window's end - 1 ms, the window fires: its rows of both sides are
joined in one statement, as a batch join (inner, or with the outer side's unmatched rows
NULL-padded; duplicates and NULL keys as SQL joins them; a semi or anti join, from
an ``IN``/``EXISTS`` subquery, emits the left rows that have or lack a match, each as
often as it came), emitted append-only, and dropped from the state. The last watermark
of a bounded input fires every window.

A batch none of whose rows is late waits as it came, in Arrow (``Waiting``), and is read
from there when its windows fire: its rows are never written to DuckDB, where an insert,
the temporary table of the batch, the late-row count and the delete cost ~7 ms a 60k-row
batch (Nexmark q5's windows). A checkpoint writes what waits into the state tables
first, so a snapshot holds every row as before.

A row whose window has already fired is late (its partners are gone): it is dropped,
counted in ``late_rows_dropped`` and sent to the late-rows output when
``table.exec.late-rows.sink`` reads it, its event time being its window_time. State
handling, checkpoints and late rows are the interval join's (``interval_join.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from planner.physical import WindowJoinSpec
from runtime.batches import conform, empty_table, epoch_ms_values, positions
from runtime.messages import Message
from runtime.metrics import NO_WATERMARK
from runtime.operator import Snapshot
from runtime.operators.interval_join import FOREVER, IntervalJoinOp, TimedSide

_JOINS = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}


MAX_WAITING = 1 << 20  # rows of one side held in Arrow at most (Nexmark q5: ~60k a firing)


@dataclass
class Waiting:
    """An input batch whose rows wait for their windows in Arrow, with its rows' window
    ends (epoch ms, none NULL)."""

    batch: pa.RecordBatch
    ends: np.ndarray


class WindowJoinOp(IntervalJoinOp):
    forwards_watermarks = True  # a window's rows go out before the watermark that fires it
    event_offset_ms: ClassVar[int] = -1  # window_time = window_end - 1 ms

    def _prepare(self) -> None:
        super()._prepare()
        self.waiting: list[list[Waiting]] = [[], []]

    def _process(self, batch: pa.RecordBatch, index: int) -> list[Message]:
        """A batch without late rows waits in Arrow; any other goes into the state (the
        interval join's way, which drops and counts the late rows)."""
        if batch.num_rows == 0:
            return []
        column = batch.column(self.sides[index].time_column)
        ends = None if column.null_count else epoch_ms_values(column)
        if ends is None or (self.wm > NO_WATERMARK and int(ends.min()) - 1 <= self.wm):
            return super()._process(batch, index)
        self.waiting[index].append(Waiting(batch, ends))
        self.rows[index] += batch.num_rows
        if self._held(index) > MAX_WAITING:  # long windows: into DuckDB, compressed
            self._write_waiting()
        self._report()
        return []

    def _ready(self, index: int, wm: int) -> pa.Table | None:
        """The rows of side ``index`` waiting in Arrow whose window ends at or before
        ``wm`` + 1 ms, taken out of ``waiting``."""
        ready: list[pa.RecordBatch] = []
        keep: list[Waiting] = []
        for w in self.waiting[index]:
            due = w.ends - 1 <= wm
            if due.all():
                ready.append(w.batch)
            elif due.any():
                ready.append(w.batch.take(positions(due)))
                keep.append(Waiting(w.batch.take(positions(~due)), w.ends[~due]))
            else:
                keep.append(w)
        self.waiting[index] = keep
        return pa.Table.from_batches(ready) if ready else None

    def _write_waiting(self) -> None:
        """The rows waiting in Arrow into the state tables (before a snapshot, or when
        too many wait)."""
        st = self.state
        for i, side in enumerate(self.sides):
            if not self.waiting[i]:
                continue
            rows = pa.Table.from_batches([w.batch for w in self.waiting[i]])
            self.waiting[i] = []
            st.register("__w", rows)
            try:
                st.execute(f"INSERT INTO {side.table} {_stored(side, '__w')}")
            finally:
                st.con.unregister("__w")

    def _held(self, index: int) -> int:
        """How many of side ``index``'s rows wait in Arrow."""
        return sum(w.batch.num_rows for w in self.waiting[index])

    def _times(self) -> tuple[str, str]:
        assert isinstance(self.spec, WindowJoinSpec)
        return self.spec.left_end, self.spec.right_end

    def _late_condition(self, side: TimedSide) -> str:
        return f"__t - 1 <= {self.wm}"  # its window fired

    def _join_batch(self, index: int, batch: pa.RecordBatch) -> list[Message]:
        side = self.sides[index]
        unused = ", false" if side.outer else ""  # the interval join's matched flag
        self.rows[index] += self.state.execute(
            f"INSERT INTO {side.table} SELECT {', '.join([*side.columns, *side.keys])}, __t{unused} FROM __in"
        )
        self._report()
        return []

    def _fire(self, wm: int) -> pa.Table:
        """The windows ending at or before ``wm`` + 1 ms, joined and dropped."""
        st = self.state
        left, right = self.sides
        ready = "true" if wm >= FOREVER else f"__t - 1 <= {wm}"
        relations: list[str] = []
        stored = [self.rows[i] - self._held(i) for i in range(2)]
        registered: list[str] = []
        for i, side in enumerate(self.sides):
            parts = [f"SELECT * FROM {side.table} WHERE {ready}"] if stored[i] else []
            arrived = self._ready(i, wm)
            if arrived is not None:
                registered.append(f"__ready{i}")
                st.register(registered[-1], arrived)
                parts.append(_stored(side, registered[-1]))
                self.rows[i] -= arrived.num_rows
            relations.append(" UNION ALL ".join(parts))
        try:
            if not any(relations):
                return empty_table(self.schema)
            lrows, rrows = (
                f"({r or f'SELECT * FROM {s.table} WHERE false'}) {n}"
                for r, s, n in zip(relations, self.sides, "lr")
            )
            on = " AND ".join(f"l.{k} = r.{k}" for k in left.keys) or "true"
            if self.spec.residual:
                on += f" AND ({self.spec.residual})"
            if self.spec.semi_or_anti:  # the window's left rows with (semi) or without (anti) a match
                has = "NOT EXISTS" if self.spec.join_type == "anti" else "EXISTS"
                cols = ", ".join(f"l.{c}" for c in left.columns)
                out = st.query(f"SELECT {cols} FROM {lrows} WHERE {has} (SELECT 1 FROM {rrows} WHERE {on})")
            else:
                cols = ", ".join([*(f"l.{c}" for c in left.columns), *(f"r.{c}" for c in right.columns)])
                out = st.query(f"SELECT {cols} FROM {lrows} {_JOINS[self.spec.join_type]} {rrows} ON {on}")
        finally:
            for name in registered:
                st.con.unregister(name)
        for i, s in enumerate(self.sides):
            if stored[i]:
                self.rows[i] -= st.execute(f"DELETE FROM {s.table} WHERE {ready}")
        self._report()
        return out

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.wm = ts_ms
        fired = await self.ctx.run(self._fire, ts_ms)
        return list(conform(fired, self.schema))

    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        if any(self.waiting):
            await self.ctx.run(self._write_waiting)
        return await super().snapshot(checkpoint_id)


def _stored(side: TimedSide, relation: str) -> str:
    """SQL: the rows of an input batch registered as ``relation`` as ``side``'s state
    table holds them."""
    unused = ", false" if side.outer else ""  # the interval join's matched flag
    return f"SELECT {side.items}, epoch_ms({side.time})::BIGINT AS __t{unused} FROM {relation}"
