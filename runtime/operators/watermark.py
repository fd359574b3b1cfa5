"""Assigns watermarks: the running maximum of the watermark expression over the rows.

Batches pass through unchanged. After a batch the maximum of ``expr`` (one DuckDB
aggregate over the batch) may advance the watermark; it is emitted at once unless one was
emitted less than ``emit_interval_ms`` ago, in which case a timer emits it later. When no
batch arrives for ``idle_timeout_ms`` (``table.exec.source.idle-timeout``, 0 = never)
the operator sends ``Idle`` so that downstream leaves this input out of its watermark
minimum until data flows again. The operator does not forward upstream watermarks.

Batches a reader tagged with a split (``runtime.batches.SPLIT_KEY``, e.g. a Kafka
partition) keep one running maximum per split, and the candidate watermark is the
minimum over the splits, leaving out splits quiet for the idle timeout (Flink's
per-partition watermarks): a fast partition cannot make a slow one's rows late. A reader
announces each split it reads with an empty batch tagged with it (at start, and when it
discovers a new Kafka partition): a split that has had no row yet holds the watermark back,
as in Flink, until the idle timeout passes without a row from it. The announcement is not
forwarded.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from planner.physical import INPUT_RELATION, WatermarkSpec
from runtime.batches import is_announcement, split_of
from runtime.messages import MAX_WATERMARK, Idle, Message, Watermark
from runtime.metrics import NO_WATERMARK
from runtime.operator import Operator, now_ms

if TYPE_CHECKING:
    import duckdb

# The usual watermark, the rowtime or the rowtime minus a fixed delay, as the planner writes
# it in DuckDB SQL: its maximum is the rowtime's maximum minus the delay, which Arrow finds
# in a tenth of a millisecond where a DuckDB query over the batch takes several.
_SHIFTED = re.compile(
    r"^\"((?:[^\"]|\"\")*)\"(?: - INTERVAL '(\d+(?:\.\d+)?)' (MILLISECOND|SECOND|MINUTE|HOUR))?$"
)
_UNIT_US = {"MILLISECOND": 1000, "SECOND": 1_000_000, "MINUTE": 60_000_000, "HOUR": 3_600_000_000}


def fixed_delay_us(expr: str, rowtime: str) -> int | None:
    """The delay in microseconds when ``expr`` is ``rowtime`` minus a fixed interval (or
    ``rowtime`` itself); None for any other expression.

    >>> fixed_delay_us('''"ts" - INTERVAL '2' SECOND''', "ts")
    2000000
    >>> fixed_delay_us('''"ts" - INTERVAL '1' DAY''', "ts") is None  # calendar days: DuckDB
    True
    """
    m = _SHIFTED.match(expr.strip())
    if m is None or m.group(1).replace('""', '"') != rowtime:
        return None
    if m.group(2) is None:
        return 0
    delay = Decimal(m.group(2)) * _UNIT_US[m.group(3)]
    return int(delay) if delay == int(delay) else None


def _epoch_ms(us: int) -> int:
    """Milliseconds from microseconds as DuckDB's ``epoch_ms`` gives them: rounded half
    away from zero."""
    return (us + 500) // 1000 if us >= 0 else -((-us + 500) // 1000)


class WatermarkOp(Operator):
    forwards_watermarks = False

    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, WatermarkSpec)
        self.spec = spec
        self.sql = f"SELECT epoch_ms(max({spec.expr})) FROM {INPUT_RELATION}"
        self.delay_us = fixed_delay_us(spec.expr, spec.rowtime)
        # Opened at the first batch Arrow cannot take: a DuckDB connection costs ~12 ms
        # of CPU to open, and the usual watermark (a fixed delay) never queries.
        self.con: duckdb.DuckDBPyConnection | None = None
        self.max_seen = NO_WATERMARK  # the watermark to emit (never goes back)
        self.split_max: dict[bytes, int] = {}
        self.split_seen: dict[bytes, int] = {}
        self.emitted = NO_WATERMARK
        self.last_emit_at = 0
        self.last_data_at = now_ms()
        self.idle = False

    def _max(self, batch: pa.RecordBatch) -> int | None:
        at = -1 if self.delay_us is None else batch.schema.get_field_index(self.spec.rowtime)
        if self.delay_us is not None and at >= 0:
            col = batch.column(at)
            if pa.types.is_timestamp(col.type) and col.type.unit == "us":
                top = pc.max(col).value
                if top is None:
                    return None
                return _epoch_ms(top - self.delay_us)
        if self.con is None:
            self.con = self.ctx.duckdb()
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
        split = split_of(batch) or b""
        if is_announcement(batch):
            if split not in self.split_seen:  # a split announced: it counts from now
                self.split_seen[split] = now
                self.split_max.setdefault(split, NO_WATERMARK)
            return []
        self.last_data_at = now
        self.idle = False
        m = await self.ctx.run(self._max, batch)
        self.split_seen[split] = now
        if m is not None and m > self.split_max.get(split, NO_WATERMARK):
            self.split_max[split] = m
        else:
            self.split_max.setdefault(split, NO_WATERMARK)
        self._update(now)
        return [batch, *self._maybe_emit(now)]

    def _update(self, now: int) -> None:
        """The minimum over the splits not quiet for the idle timeout; a split without a
        row yet is at its very start (NO_WATERMARK), so nothing advances past it."""
        timeout = self.spec.idle_timeout_ms
        live = [
            m
            for s, m in self.split_max.items()
            if timeout <= 0 or now - self.split_seen[s] < timeout or len(self.split_max) == 1
        ]
        if live and min(live) > self.max_seen:
            self.max_seen = min(live)

    def next_timer_ms(self) -> int | None:
        timers = []
        if self.max_seen > self.emitted and self.spec.emit_interval_ms > 0:
            timers.append(self.last_emit_at + self.spec.emit_interval_ms)
        if self.spec.idle_timeout_ms > 0 and not self.idle:
            timers.append(self.last_data_at + self.spec.idle_timeout_ms)
        if self.spec.idle_timeout_ms > 0 and len(self.split_max) > 1:
            quiet = [t + self.spec.idle_timeout_ms for t in self.split_seen.values()]
            now = now_ms()
            pending = [t for t in quiet if t > now]  # splits not yet quiet
            if pending:
                timers.append(min(pending))
        return min(timers) if timers else None

    async def on_timer(self, now: int) -> list[Message]:
        if len(self.split_max) > 1:
            self._update(now)  # a split that went quiet no longer holds the others back
        out = self._maybe_emit(now)
        if (
            self.spec.idle_timeout_ms > 0
            and not self.idle
            and now - self.last_data_at >= self.spec.idle_timeout_ms
        ):
            self.idle = True
            out.append(Idle())
        return out

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        """Upstream watermarks are not forwarded, except the final one: a bounded input
        ended, so every window may fire now (before the job's final checkpoint)."""
        if ts_ms >= MAX_WATERMARK:
            return await self.on_end_of_input()
        return []

    async def on_end_of_input(self) -> list[Message]:
        self.emitted = MAX_WATERMARK
        self.metrics.watermark_ms = MAX_WATERMARK
        return [Watermark(MAX_WATERMARK)]

    async def close(self) -> None:
        con = getattr(self, "con", None)  # None: open failed early, or never needed one
        if con is not None:
            con.close()
