"""OVER aggregation on event time (Flink's row-time OverAggregate): rows wait until the
watermark passes them, then are emitted in time order, each with its aggregates over its
frame in its partition.

State, keyed by the partition columns: ``pending``, the rows the watermark has not
passed, and ``history``, the emitted rows a later row's frame can still reach (the last
``n`` of a partition for ROWS, those within the interval of the watermark for RANGE,
all of them for UNBOUNDED). Each row carries its time in ms (``__t``), its arrival number
(``__seq``: rows of one time are ordered by arrival, as Flink's list per timestamp) and
its aggregate arguments (``a<i>``).

When the watermark advances to ``w``, the pending rows with time <= ``w`` are computed in
one query with DuckDB window functions over history and those rows, then move to
history. Rows that arrive with a time at or before the watermark already passed are late:
dropped and counted, as Flink does, and sent to ``table.exec.late-rows.sink`` if set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from catalog.types import parse_type
from planner.physical import INPUT_RELATION, LATE_ROWS_OUTPUT, AggCall, OverAggregateSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message, SideOutput
from runtime.metrics import NO_WATERMARK
from runtime.operator import Operator, Snapshot
from runtime.operators import aggs as A
from runtime.operators.late_rows import keeps_late_rows, late_rows_batch
from runtime.state.duckdb_state import DuckDBState, load_snapshot

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored


class OverAggregateOp(Operator):
    restored: Restored | None = None
    state: DuckDBState
    seq: int

    async def restore(self, restored: Restored) -> None:
        self.restored = restored

    async def open(self) -> None:
        await self.ctx.run(self._prepare)
        restored = self.restored
        if restored is None:
            return
        if restored.files:
            await self.ctx.run(load_snapshot, self.state, restored.files, restored.key_filter)
        states = [s for s in restored.states if s]
        if states:
            self.seq = max(int(s["seq"]) for s in states)
            self.fired = min(int(s["fired"]) for s in states)  # the most cautious
        self._report()

    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, OverAggregateSpec)
        for a in spec.aggs:
            A.check(a)
        self.spec = spec
        self.schema = output_schema(self.node.schema, False)
        fields = self.ctx.input_nodes[0].schema
        self.cols = [q(f.name) for f in fields]
        self.keys = [q(k) for k in spec.partition_keys]
        self.seq = 0
        self.fired = NO_WATERMARK
        self.state = DuckDBState()
        self.ctx.install_functions(self.state.con)
        args = [f"({a.arg}) AS a{i}" for i, a in enumerate(spec.aggs) if a.arg is not None]
        self.read_sql = (
            f"SELECT {', '.join([*self.cols, *args])}, epoch_ms({q(spec.time_column)}) AS __t, __seq "
            f"FROM {INPUT_RELATION} WHERE {q(spec.time_column)} IS NOT NULL"
        )
        empty = output_schema(fields, False).empty_table()
        self.state.register(INPUT_RELATION, empty.append_column("__seq", pa.array([], pa.int64())))
        try:
            for table in ("pending", "history"):
                self.state.execute(f"CREATE TABLE {table} AS {self.read_sql} LIMIT 0")
                self.state.tables.append(table)
        finally:
            self.state.con.unregister(INPUT_RELATION)
        part = f"PARTITION BY {', '.join(self.keys)} " if self.keys else ""
        if spec.rows:
            frame = "UNBOUNDED PRECEDING" if spec.preceding is None else f"{spec.preceding} PRECEDING"
            window = f"{part}ORDER BY __t, __seq ROWS BETWEEN {frame} AND CURRENT ROW"
        else:
            frame = "UNBOUNDED PRECEDING" if spec.preceding is None else f"{spec.preceding} PRECEDING"
            window = f"{part}ORDER BY __t RANGE BETWEEN {frame} AND CURRENT ROW"
        finals = [f"{_over(i, a)} AS {q(a.name)}" for i, a in enumerate(spec.aggs)]
        self.fire_sql = (
            "SELECT {cols}, {finals} FROM (SELECT *, 0 AS __emit FROM history UNION ALL "
            "SELECT *, 1 FROM __ready) WINDOW w AS ({window}) QUALIFY __emit = 1 ORDER BY __t, __seq"
        ).format(cols=", ".join(self.cols), finals=", ".join(finals), window=window)
        self.width = 16 + 8 * (len(self.cols) + len(args) + 2)
        self.keeps_late_rows = keeps_late_rows(self.node, self.ctx.plan)

    # ---- ingest ---------------------------------------------------------------------
    def _ingest(self, batch: pa.RecordBatch) -> pa.Table | None:
        """Rows into ``pending``; returns the late ones when a side sink keeps them."""
        st = self.state
        seq = pa.array(np.arange(self.seq, self.seq + batch.num_rows, dtype=np.int64))
        self.seq += batch.num_rows
        st.register(INPUT_RELATION, batch.append_column("__seq", seq))
        try:
            late, rows = 0, None
            if self.fired > NO_WATERMARK:
                time = q(self.spec.time_column)
                behind = f"FROM {INPUT_RELATION} WHERE epoch_ms({time}) <= {self.fired}"
                late = int(st.scalar(f"SELECT count(*) {behind}"))
                if late and self.keeps_late_rows:
                    rows = st.query(f"SELECT * EXCLUDE (__seq) {behind}")
            st.execute(f"INSERT INTO pending SELECT * FROM ({self.read_sql}) WHERE __t > {self.fired}")
        finally:
            st.con.unregister(INPUT_RELATION)
        self.metrics.late_rows_dropped += late
        self._report()
        return rows

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        late = await self.ctx.run(self._ingest, batch)
        if late is None:
            return []
        time = late.column(self.spec.time_column)
        side = late_rows_batch(self.state, late, self.node, time, self.metrics.watermark_ms)
        return [SideOutput(side, LATE_ROWS_OUTPUT)]

    # ---- firing ---------------------------------------------------------------------
    def _fire(self, bound: int) -> list[pa.RecordBatch]:
        st = self.state
        st.execute(f"CREATE OR REPLACE TEMP TABLE __ready AS SELECT * FROM pending WHERE __t <= {bound}")
        if not st.scalar("SELECT count(*) FROM __ready"):
            return []
        out = st.query(self.fire_sql)
        st.execute(f"DELETE FROM pending WHERE __t <= {bound}")
        st.execute("INSERT INTO history SELECT * FROM __ready")
        self._prune(bound)
        self._report()
        return conform(out, self.schema)

    def _prune(self, bound: int) -> None:
        """Drop the history no later row's frame reaches: later rows have times > bound."""
        spec = self.spec
        if spec.preceding is None:
            return
        if not spec.rows:
            self.state.execute(f"DELETE FROM history WHERE __t < {bound} - {spec.preceding}")
            return
        part = f"PARTITION BY {', '.join(self.keys)} " if self.keys else ""
        self.state.execute(
            f"DELETE FROM history WHERE rowid IN (SELECT rid FROM (SELECT rowid AS rid, row_number() "
            f"OVER ({part}ORDER BY __t DESC, __seq DESC) AS n FROM history) WHERE n > {spec.preceding})"
        )

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.metrics.watermark_ms = ts_ms
        if ts_ms <= self.fired:
            return []
        self.fired = ts_ms
        return list(await self.ctx.run(self._fire, ts_ms))

    async def on_end_of_input(self) -> list[Message]:
        return list(await self.ctx.run(self._fire, 2**62))

    def _report(self) -> None:
        tables = {t: int(self.state.scalar(f"SELECT count(*) FROM {t}")) for t in ("pending", "history")}
        self.metrics.state_rows = sum(tables.values())
        self.metrics.state_bytes = self.metrics.state_rows * self.width
        self.metrics.state_tables = tables

    # ---- checkpoints ----------------------------------------------------------------
    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        return Snapshot({"seq": self.seq, "fired": self.fired}, self.state)

    async def close(self) -> None:
        if hasattr(self, "state"):
            self.state.close()


def _over(i: int, agg: AggCall) -> str:
    """The aggregate over window ``w`` as its Flink type."""
    t = parse_type(agg.type)
    if agg.func == "count_star":
        return f"CAST(count(*) OVER w AS {t.duckdb()})"
    if agg.func == "count":
        return f"CAST(count(a{i}) OVER w AS {t.duckdb()})"
    if agg.func == "avg":
        return A.avg_sql(f"sum(a{i}) OVER w", f"count(a{i}) OVER w", t)
    if agg.func == "sum":
        return A.result_sql(f"sum(a{i}) OVER w", t)
    return f"CAST({agg.func}(a{i}) OVER w AS {t.duckdb()})"
