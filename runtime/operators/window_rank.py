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

from planner.physical import INPUT_RELATION, WindowRankSpec
from runtime.batches import conform, output_schema, q
from runtime.operators import rank_append
from runtime.operators.arrival import PendingUntilWatermark
from runtime.operators.late_rows import keeps_late_rows

FIRED = "{fired}"  # in ``best_sql``: the watermark acted on, past which a window is late


class WindowRankOp(PendingUntilWatermark):
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
        # a late row's time on the side output: the first of these the input has
        times = (spec.window.time_column, "window_time", "window_end")
        self.time_column = next(c for c in times if c in {f.name for f in fields})

    def _late(self) -> str:
        """A row of a window that already fired is late, whatever its own time."""
        return f"epoch_ms(window_end) - 1 <= {self.fired}"

    def _keep(self, stamped: pa.RecordBatch, first: int) -> None:
        """Of the rows that are not late, only each partition's first ``end`` rows of the
        batch can stay: only they are taken out of the Arrow batch into DuckDB (see
        ``rank_append.best_rows``), then each touched window keeps its first ``end``."""
        st = self.state
        best = rank_append.take_best(st, self.best_sql.replace(FIRED, str(self.fired)), stamped, first)
        st.register(INPUT_RELATION, best)  # in the batch's place; the caller unregisters it
        st.execute(f"CREATE OR REPLACE TEMP TABLE __b AS {self.read_sql}")
        st.execute("INSERT INTO rows SELECT * FROM __b")
        st.execute(f"CREATE OR REPLACE TEMP TABLE __t AS SELECT DISTINCT {', '.join(self.keys)} FROM __b")
        st.execute(self.prune_sql)

    def _fire(self, bound: int) -> list[pa.RecordBatch]:
        st = self.state
        if not st.scalar(f"SELECT count(*) FROM rows WHERE __we - 1 <= {bound}"):
            return []
        out = st.query(self.fire_sql.format(bound=bound))
        st.execute(f"DELETE FROM rows WHERE __we - 1 <= {bound}")
        self._report()
        return conform(out, self.schema)
