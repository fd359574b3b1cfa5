"""Window Top-N and window deduplication (Flink's WindowRank and WindowDeduplicate): each
window's rows are ranked once, when the watermark passes the window's end, and only the
ranked range is sent, insert-only.

State, keyed by the partition columns (window_start and window_end among them): table
``rows``, the input's columns, the arrival number ``__seq`` (ties in the order go by it)
and the window's end in ms ``__we``. After each batch, a touched window keeps only its
first ``end`` rows, so the state is the open windows' Top-N, not their every row. A window
fires when the watermark reaches its end - 1 ms (as window aggregations fire); its rows are
then deleted. A row of a window that already fired is late: dropped and counted, and sent
to ``table.exec.late-rows.sink`` if set.
"""

from __future__ import annotations

import pyarrow as pa

from planner.physical import INPUT_RELATION, LATE_ROWS_OUTPUT, WindowRankSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message, SideOutput
from runtime.operators import rank_append
from runtime.operators.arrival import ArrivalOrdered
from runtime.operators.late_rows import keeps_late_rows, late_rows_batch

FIRED = "{fired}"  # in ``best_sql``: the watermark acted on, past which a window is late


class WindowRankOp(ArrivalOrdered):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, WindowRankSpec)
        self.spec = spec
        self.schema = output_schema(self.node.schema, False)
        fields = self.ctx.input_nodes[0].schema
        self.cols = [q(f.name) for f in fields]
        self.keys = [q(k) for k in spec.partition_keys]
        self.read_sql = (
            f"SELECT {', '.join(self.cols)}, __seq, epoch_ms(window_end) AS __we FROM {INPUT_RELATION}"
        )
        self._new_state(fields, {"rows": self.read_sql})
        order = [
            f"{q(k.column)} {'ASC' if k.ascending else 'DESC'} NULLS {'FIRST' if k.nulls_first else 'LAST'}"
            for k in spec.order
        ]
        order.append("__seq DESC" if spec.ties_last else "__seq")
        schema = output_schema(fields, False)
        late = f" WHERE epoch_ms(window_end) - 1 > {FIRED}"
        self.best_sql = rank_append.best_rows(spec, self.keys, order, schema, late)
        self.rank = f"row_number() OVER (PARTITION BY {', '.join(self.keys)} ORDER BY {', '.join(order)})"
        touched = " AND ".join(f"r.{k} IS NOT DISTINCT FROM t.{k}" for k in self.keys)
        self.prune_sql = (
            f"DELETE FROM rows WHERE rowid IN (SELECT __rid FROM (SELECT r.rowid AS __rid, "
            f"{self.rank} AS __rn FROM rows r SEMI JOIN __t t ON {touched}) WHERE __rn > {spec.end})"
        )
        rank = ", __rn" if spec.rank_column else ""
        self.fire_sql = (
            "SELECT {cols}{rank} FROM (SELECT *, {fn} AS __rn FROM rows WHERE __we - 1 <= {{bound}}) "
            "WHERE __rn BETWEEN {start} AND {end} ORDER BY __we, {keys}, __rn"
        ).format(
            cols=", ".join(self.cols), rank=rank, fn=self.rank, start=spec.start, end=spec.end,
            keys=", ".join(self.keys),
        )  # fmt: skip
        self.width = 16 + 8 * (len(self.cols) + 2)
        self.keeps_late_rows = keeps_late_rows(self.node, self.ctx.plan)

    def _ingest(self, batch: pa.RecordBatch) -> pa.Table | None:
        """Rows into state; returns the late ones when a side sink keeps them. Of the
        others, only each partition's first ``end`` rows of the batch can stay: only they
        are taken out of the Arrow batch into DuckDB (see ``rank_append.best_rows``)."""
        st = self.state
        first = self.seq
        stamped = self._stamped(batch)
        is_late = f"epoch_ms(window_end) - 1 <= {self.fired}"
        st.register(INPUT_RELATION, stamped)
        try:
            late = int(st.scalar(f"SELECT count(*) FROM {INPUT_RELATION} WHERE {is_late}"))
            rows = None
            if late and self.keeps_late_rows:
                rows = st.query(f"SELECT * EXCLUDE (__seq) FROM {INPUT_RELATION} WHERE {is_late}")
            best = rank_append.take_best(st, self.best_sql.replace(FIRED, str(self.fired)), stamped, first)
        finally:
            st.con.unregister(INPUT_RELATION)
        self.metrics.late_rows_dropped += late
        st.register(INPUT_RELATION, best)
        try:
            st.execute(f"CREATE OR REPLACE TEMP TABLE __b AS {self.read_sql}")
        finally:
            st.con.unregister(INPUT_RELATION)
        st.execute("INSERT INTO rows SELECT * FROM __b")
        st.execute(f"CREATE OR REPLACE TEMP TABLE __t AS SELECT DISTINCT {', '.join(self.keys)} FROM __b")
        st.execute(self.prune_sql)
        self._report()
        return rows

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        late = await self.ctx.run(self._ingest, batch)
        if late is None:
            return []
        names = late.schema.names
        column = next(c for c in (self.spec.window.time_column, "window_time", "window_end") if c in names)
        side = late_rows_batch(self.state, late, self.node, late.column(column), self.metrics.watermark_ms)
        return [SideOutput(side, LATE_ROWS_OUTPUT)]

    def _fire(self, bound: int) -> list[pa.RecordBatch]:
        st = self.state
        if not st.scalar(f"SELECT count(*) FROM rows WHERE __we - 1 <= {bound}"):
            return []
        out = st.query(self.fire_sql.format(bound=bound))
        st.execute(f"DELETE FROM rows WHERE __we - 1 <= {bound}")
        self._report()
        return conform(out, self.schema)
