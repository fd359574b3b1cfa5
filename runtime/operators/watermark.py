"""Assigns watermarks: the running maximum of the watermark expression over the rows.

Batches pass through unchanged. After a batch the maximum of ``expr`` (one DuckDB
aggregate over the batch) may advance the watermark; it is emitted at once unless one was
emitted less than ``emit_interval_ms`` ago, in which case a timer emits it later. When no
batch arrives for ``idle_timeout_ms`` (``table.exec.source.idle-timeout``, 0 = never)
the operator sends ``Idle`` so that downstream leaves this input out of its watermark
minimum until data flows again. The operator does not forward upstream watermarks.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from planner.physical import INPUT_RELATION, WatermarkSpec
from runtime.messages import MAX_WATERMARK, Idle, Message, Watermark
from runtime.metrics import NO_WATERMARK
from runtime.operator import Operator, now_ms


class WatermarkOp(Operator):
    forwards_watermarks = False

    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, WatermarkSpec)
        self.spec = spec
        self.sql = f"SELECT epoch_ms(max({spec.expr})) FROM {INPUT_RELATION}"
        self.con = duckdb.connect(":memory:", config={"threads": 1})
        self.max_seen = NO_WATERMARK
        self.emitted = NO_WATERMARK
        self.last_emit_at = 0
        self.last_data_at = now_ms()
        self.idle = False

    def _max(self, batch: pa.RecordBatch) -> int | None:
        self.con.register(INPUT_RELATION, batch)
        try:
            got = self.con.execute(self.sql).fetchall()
            row = got[0] if got else None
        finally:
            self.con.unregister(INPUT_RELATION)
        return None if row is None or row[0] is None else int(row[0])

    def _maybe_emit(self, now: int) -> list[Message]:
        if self.max_seen <= self.emitted:
            return []
        if self.spec.emit_interval_ms > 0 and now - self.last_emit_at < self.spec.emit_interval_ms:
            return []
        self.emitted = self.max_seen
        self.last_emit_at = now
        self.metrics.watermark_ms = self.emitted
        return [Watermark(self.emitted)]

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        now = now_ms()
        self.last_data_at = now
        self.idle = False
        m = await self.ctx.run(self._max, batch)
        if m is not None and m > self.max_seen:
            self.max_seen = m
        return [batch, *self._maybe_emit(now)]

    def next_timer_ms(self) -> int | None:
        timers = []
        if self.max_seen > self.emitted and self.spec.emit_interval_ms > 0:
            timers.append(self.last_emit_at + self.spec.emit_interval_ms)
        if self.spec.idle_timeout_ms > 0 and not self.idle:
            timers.append(self.last_data_at + self.spec.idle_timeout_ms)
        return min(timers) if timers else None

    async def on_timer(self, now: int) -> list[Message]:
        out = self._maybe_emit(now)
        if (
            self.spec.idle_timeout_ms > 0
            and not self.idle
            and now - self.last_data_at >= self.spec.idle_timeout_ms
        ):
            self.idle = True
            out.append(Idle())
        return out

    async def on_end_of_input(self) -> list[Message]:
        self.emitted = MAX_WATERMARK
        self.metrics.watermark_ms = MAX_WATERMARK
        return [Watermark(MAX_WATERMARK)]

    async def close(self) -> None:
        if hasattr(self, "con"):
            self.con.close()
