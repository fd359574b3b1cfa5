"""Window join (Flink's WindowJoinOperator): two inputs of the same window TVF joined on
window_start, window_end and the keys, window by window.

Each side's rows wait in DuckDB state with their window's end (``__t``, epoch ms). When
the watermark reaches a window's end - 1 ms, the window fires: its rows of both sides are
joined in one statement, as a batch join (inner, or with the outer side's unmatched rows
NULL-padded; duplicates and NULL keys as SQL joins them; a semi or anti join, from
an ``IN``/``EXISTS`` subquery, emits the left rows that have or lack a match, each as
often as it came), emitted append-only, and dropped from the state. The last watermark
of a bounded input fires every window.

A row whose window has already fired is late (its partners are gone): it is dropped,
counted in ``late_rows_dropped`` and sent to the late-rows output when
``table.exec.late-rows.sink`` reads it, its event time being its window_time. State
handling, checkpoints and late rows are the interval join's (``interval_join.py``).
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from planner.physical import WindowJoinSpec
from runtime.batches import conform
from runtime.messages import Message
from runtime.operators.interval_join import FOREVER, IntervalJoinOp, TimedSide

_JOINS = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}


class WindowJoinOp(IntervalJoinOp):
    forwards_watermarks = True  # a window's rows go out before the watermark that fires it
    event_offset_ms: ClassVar[int] = -1  # window_time = window_end - 1 ms

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
        on = " AND ".join(f"l.{k} = r.{k}" for k in left.keys) or "true"
        if self.spec.residual:
            on += f" AND ({self.spec.residual})"
        lrows = f"(SELECT * FROM {left.table} WHERE {ready}) l"
        rrows = f"(SELECT * FROM {right.table} WHERE {ready}) r"
        if self.spec.semi_or_anti:  # the window's left rows with (semi) or without (anti) a match
            has = "NOT EXISTS" if self.spec.join_type == "anti" else "EXISTS"
            cols = ", ".join(f"l.{c}" for c in left.columns)
            out = st.query(f"SELECT {cols} FROM {lrows} WHERE {has} (SELECT 1 FROM {rrows} WHERE {on})")
        else:
            cols = ", ".join([*(f"l.{c}" for c in left.columns), *(f"r.{c}" for c in right.columns)])
            out = st.query(f"SELECT {cols} FROM {lrows} {_JOINS[self.spec.join_type]} {rrows} ON {on}")
        for i, s in enumerate(self.sides):
            self.rows[i] -= st.execute(f"DELETE FROM {s.table} WHERE {ready}")
        self._report()
        return out

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.wm = ts_ms
        fired = await self.ctx.run(self._fire, ts_ms)
        return list(conform(fired, self.schema))
