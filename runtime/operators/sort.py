"""ORDER BY / LIMIT / OFFSET (``SortSpec``): one subtask holding rows in DuckDB state.

The rows are a multiset: table ``rows`` holds each row with a count ``__c`` (an insert-only
input appends its rows with count 1; an updating one merges +1/-1 per row kind, so a
retraction takes away the row it retracts). A sort by the watermark keeps rows until the
watermark passes them; the first rows (LIMIT alone) keep only a count. (A Top-N, ORDER BY
.. LIMIT on a stream, is Flink's SortLimit: a rank, ``runtime.operators.rank``.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, SortSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message
from runtime.operator import Operator, Snapshot
from runtime.state.duckdb_state import DuckDBState, load_snapshot

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored

_MIN_WATERMARK = -(2**62)  # before any time; DuckDB reads -2**63 as a HUGEINT


class SortOp(Operator):
    restored: Restored | None = None

    async def restore(self, restored: Restored) -> None:
        self.restored = restored

    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, SortSpec)
        self.spec = spec
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        self.retracting = self.ctx.input_updating(0)
        self.cols = [q(f.name) for f in self.node.schema]
        self.seen = 0  # "first": rows that arrived so far
        self.watermark = _MIN_WATERMARK  # "temporal": the last watermark fired
        self.state = await self.ctx.run(DuckDBState)
        await self.ctx.run(self.ctx.install_functions, self.state.con)
        empty = output_schema(self.node.schema, False).empty_table()
        self.state.register("__empty", empty)
        self.state.execute("CREATE TABLE rows AS SELECT *, 0::BIGINT AS __c FROM __empty")
        self.state.tables.append("rows")
        self.state.con.unregister("__empty")
        cols = ", ".join(self.cols)
        self.match = " AND ".join(f"a.{c} IS NOT DISTINCT FROM b.{c}" for c in self.cols)
        self.expanded = f"SELECT {cols} FROM (SELECT {cols}, unnest(range(__c)) FROM rows WHERE __c > 0)"
        order = ", ".join(f.sql() for f in spec.order)
        self.order_by = f" ORDER BY {order}" if order else ""
        if self.restored is not None:
            await self._load(self.restored)

    # ---- rows in, rows out ---------------------------------------------------------------
    def _add(self, batch: pa.RecordBatch) -> None:
        """Apply the batch to ``rows``."""
        st = self.state
        cols = ", ".join(self.cols)
        st.register(INPUT_RELATION, batch)
        try:
            if not self.retracting:
                st.execute(f"INSERT INTO rows SELECT {cols}, 1 FROM {INPUT_RELATION}")
                return
            sign = f"CASE WHEN {q(ROW_KIND_COLUMN)} IN (0, 2) THEN 1 ELSE -1 END"
            st.execute(
                f"CREATE OR REPLACE TEMP TABLE __d AS SELECT {cols}, sum({sign})::BIGINT AS __c "
                f"FROM {INPUT_RELATION} GROUP BY ALL"
            )
        finally:
            st.con.unregister(INPUT_RELATION)
        st.execute(
            f"CREATE OR REPLACE TEMP TABLE __m AS SELECT {', '.join(f'b.{c}' for c in self.cols)}, "
            f"coalesce(a.__c, 0) + b.__c AS __c FROM __d b LEFT JOIN rows a ON {self.match}"
        )
        st.execute(f"DELETE FROM rows a USING __d b WHERE {self.match}")
        st.execute("INSERT INTO rows SELECT * FROM __m WHERE __c <> 0")

    def _cut(self, offset: int, fetch: int | None) -> str:
        limit = f" LIMIT {fetch}" if fetch is not None else ""
        skip = f" OFFSET {offset}" if offset else ""
        return f"{self.expanded}{self.order_by}{limit}{skip}"

    def _first(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        spec = self.spec
        start = max(spec.offset - self.seen, 0)
        end = batch.num_rows if spec.fetch is None else max(spec.offset + spec.fetch - self.seen, 0)
        self.seen += batch.num_rows
        part = batch.slice(start, max(min(end, batch.num_rows) - start, 0))
        return conform(part.select(list(self.schema.names)), self.schema)

    def _temporal(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        """Hold the rows the watermark has not passed; drop (and count) the late ones."""
        t = q(self.spec.time_column or "")
        st = self.state
        st.register(INPUT_RELATION, batch)
        try:
            behind = f"epoch_ms({t}) <= {self.watermark}"
            late = int(st.scalar(f"SELECT count(*) FROM {INPUT_RELATION} WHERE {behind}"))
            st.execute(
                f"INSERT INTO rows SELECT {', '.join(self.cols)}, 1 FROM {INPUT_RELATION} "
                f"WHERE {t} IS NOT NULL AND epoch_ms({t}) > {self.watermark}"
            )
        finally:
            st.con.unregister(INPUT_RELATION)
        self.metrics.late_rows_dropped += late
        self._measure()
        return []

    def _fire(self, watermark: int) -> list[pa.RecordBatch]:
        t = q(self.spec.time_column or "")
        ready = f"epoch_ms({t}) <= {watermark}"
        out = self.state.query(f"SELECT * FROM ({self.expanded} WHERE {ready}){self.order_by}")
        self.state.execute(f"DELETE FROM rows WHERE {ready}")
        self.watermark = watermark
        self._measure()
        return conform(out, self.schema)

    def _batch_result(self) -> list[pa.RecordBatch]:
        return conform(self.state.query(self._cut(self.spec.offset, self.spec.fetch)), self.schema)

    def _measure(self) -> None:
        self.metrics.state_rows = int(self.state.scalar("SELECT count(*) FROM rows"))
        self.metrics.state_bytes = self.metrics.state_rows * 8 * (len(self.cols) + 1)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        mode = self.spec.mode
        if mode == "first":
            return list(self._first(batch))
        if mode == "temporal":
            return list(await self.ctx.run(self._temporal, batch))
        await self.ctx.run(self._add, batch)
        return []

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        if self.spec.mode != "temporal" or ts_ms <= self.watermark:
            return []
        return list(await self.ctx.run(self._fire, ts_ms))

    async def on_end_of_input(self) -> list[Message]:
        if self.spec.mode != "batch":
            return []
        return list(await self.ctx.run(self._batch_result))

    # ---- checkpoints ----------------------------------------------------------------------
    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        return Snapshot(state={"seen": self.seen, "watermark": self.watermark}, db=self.state)

    async def _load(self, restored: Restored) -> None:
        for old in restored.states:
            if isinstance(old, dict):
                self.seen += int(old.get("seen", 0))
                self.watermark = max(self.watermark, int(old.get("watermark", _MIN_WATERMARK)))
        if restored.files:
            await self.ctx.run(self._reload, restored)

    def _reload(self, restored: Restored) -> None:
        for table in list(self.state.tables):  # the snapshot's tables replace the empty ones
            self.state.execute(f"DROP TABLE {table}")
        self.state.tables.clear()
        load_snapshot(self.state, restored)
        self._measure()

    async def close(self) -> None:
        if hasattr(self, "state"):
            self.state.close()
