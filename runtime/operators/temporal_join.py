"""Event-time temporal join (Flink's TemporalRowTimeJoinOperator): each row of the
append-only left input joins the version of the versioned right input (a table with a
primary key and a watermark, any changelog) that was valid at the row's time.

The right's rows are kept as versions: key, version time (``__t``), row kind (``__rk``)
and arrival number (``__n``). A left row waits in state until the watermark reaches its
time; then, in one statement (DuckDB's ASOF join), it meets its key's latest version at
or before its time (of two with one time, the later arrival, as Flink's operator sorts
them). A version that is a deletion (-U/-D), or that fails the join's other conditions,
is no version: an inner join drops the row, a LEFT join pads it. Versions older than the
newest one at or before the watermark are dropped then: no later left row can need them.

A version without a key or a time can never be the one a row joins and is not kept; it
is counted in the operator's ``versions_dropped`` metric. An upsert-kafka tombstone
carries only its key, so a versioned topic takes its version time from the record's
timestamp (``ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'``), which a tombstone has too;
with the time in the value, a tombstone has none: its deletion is not seen, and the
metric counts it. Flink does not see it either, and counts nothing: its operator reads
the missing time as 0 (a null field of a binary row) and keeps the tombstone as a deletion
at the epoch, older than every version a later row can meet.

A left row at or behind the watermark is late (its versions may be gone): dropped,
counted and sent to the late-rows output like the interval join's (``interval_join.py``,
whose state handling and checkpoints this operator shares). A right row behind the
watermark is still kept, as Flink keeps it, for the left rows still waiting.
"""

from __future__ import annotations

import pyarrow as pa

from planner.physical import ROW_KIND_COLUMN, TemporalJoinSpec
from runtime.batches import conform, q
from runtime.messages import Message
from runtime.operators.interval_join import FOREVER, IntervalJoinOp, TimedSide


class TemporalJoinOp(IntervalJoinOp):
    forwards_watermarks = True  # the rows a watermark fires go out before it
    arrivals = 0  # the next right row's arrival number

    async def open(self) -> None:
        await super().open()
        self.arrivals = int(
            await self.ctx.run(self.state.scalar, "SELECT coalesce(max(__n) + 1, 0) FROM right_rows")
        )

    def _times(self) -> tuple[str, str]:
        assert isinstance(self.spec, TemporalJoinSpec)
        return self.spec.left_time, self.spec.right_time

    def _read_items(self, index: int) -> str:
        if index == 0:
            return ""
        kind = q(ROW_KIND_COLUMN) if self.ctx.input_updating(1) else "0"
        return f", {kind}::TINYINT AS __rk"

    def _state_items(self, index: int) -> str:
        return ", __rk, __seq AS __n" if index == 1 else ""

    def _late_condition(self, side: TimedSide) -> str:
        return f"__t <= {self.wm}" if side.name == "left" else "false"

    def _join_batch(self, index: int, batch: pa.RecordBatch) -> list[Message]:
        side = self.sides[index]
        cols = ", ".join([*side.columns, *side.keys])
        st = self.state
        if index == 0:
            unmatched = ", false" if side.outer else ""  # the interval join's matched flag
            self.rows[0] += st.execute(f"INSERT INTO left_rows SELECT {cols}, __t{unmatched} FROM __in")
        else:  # a version without key or time can never be the one a row joins
            never = " OR ".join([*(f"{k} IS NULL" for k in side.keys), "__t IS NULL"])
            kept = st.execute(
                f"INSERT INTO right_rows SELECT {cols}, __t, __rk, {self.arrivals} + __seq FROM __in "
                f"WHERE NOT ({never})"
            )
            arrived = int(st.scalar("SELECT count(*) FROM __in"))
            self.rows[1] += kept
            self.metrics.versions_dropped += arrived - kept
            self.arrivals += arrived
        self._report()
        return []

    def _fire(self, wm: int) -> pa.Table:
        st = self.state
        left, right = self.sides
        ready = "true" if wm >= FOREVER else f"__t <= {wm}"
        keys = ", ".join(right.keys)
        order = f"PARTITION BY {keys}, __t ORDER BY __n DESC"
        latest = f"SELECT * FROM right_rows QUALIFY row_number() OVER ({order}) = 1"
        on = " AND ".join([*(f"l.{k} = r.{k}" for k in left.keys), "l.__t >= r.__t"])
        ok = "r.__rk IN (0, 2)"
        if self.spec.residual:
            ok += f" AND ({self.spec.residual})"
        ok = f"coalesce({ok}, false)"
        version = [f"CASE WHEN {ok} THEN r.{c} END AS {c}" for c in right.columns]
        kept = "" if self.spec.join_type == "left" else f" WHERE {ok}"
        out = st.query(
            f"SELECT {', '.join([*(f'l.{c}' for c in left.columns), *version])} "
            f"FROM (SELECT * FROM left_rows WHERE {ready}) l ASOF LEFT JOIN ({latest}) r ON {on}{kept}"
        )
        self.rows[0] -= st.execute(f"DELETE FROM left_rows WHERE {ready}")
        if wm >= FOREVER:
            self.rows[1] -= st.execute("DELETE FROM right_rows")
        else:  # each key keeps its newest version at or before the watermark, and later ones
            self.rows[1] -= st.execute(
                f"DELETE FROM right_rows WHERE rowid IN (SELECT rowid FROM (SELECT rowid, __t, max(__t) "
                f"FILTER (WHERE __t <= {wm}) OVER (PARTITION BY {keys}) AS __keep FROM right_rows) "
                f"WHERE __t < __keep)"
            )
        self._report()
        return out

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.wm = ts_ms
        fired = await self.ctx.run(self._fire, ts_ms)
        return list(conform(fired, self.schema))
