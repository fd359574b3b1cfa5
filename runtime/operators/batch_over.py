"""Window functions in batch mode (``BatchOverSpec``, Flink's batch OverAggregate): the
bounded input's rows wait in DuckDB state (table ``rows``), and when the input ends one
DuckDB query gives every row its window functions, whatever their order and frame, as a
batch engine computes them."""

from __future__ import annotations

import pyarrow as pa

from planner.physical import INPUT_RELATION, BatchOverSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message
from runtime.operators import aggs as A
from runtime.operators.arrival import ArrivalOrdered
from runtime.operators.over_aggregate import over_sql
from runtime.state.duckdb_state import DuckDBState


def batch_over_sql(spec: BatchOverSpec, cols: list[str], relation: str) -> str:
    """The rows of ``relation`` (columns ``cols``, quoted) with the spec's window functions."""
    args = [f"({c.agg.arg}) AS a{i}" for i, c in enumerate(spec.calls) if c.agg and c.agg.arg is not None]
    items = [
        f"{c.rank}() OVER w{i}" if c.agg is None else over_sql(i, c.agg, False, f"w{i}")
        for i, c in enumerate(spec.calls)
    ]
    windows = ", ".join(f"w{i} AS ({c.window})" for i, c in enumerate(spec.calls))
    inner = f"SELECT {', '.join([*cols, *args])} FROM {relation}"
    return f"SELECT {', '.join([*cols, *items])} FROM ({inner}) WINDOW {windows}"


class BatchOverOp(ArrivalOrdered):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, BatchOverSpec)
        for c in spec.calls:
            if c.agg is not None:
                A.check(c.agg)
        self.schema = output_schema(self.node.schema, False)
        fields = self.ctx.input_nodes[0].schema
        cols = [q(f.name) for f in fields]
        self.state = DuckDBState()
        self.ctx.install_functions(self.state.con)
        self.state.register(INPUT_RELATION, output_schema(fields, False).empty_table())
        try:
            self.state.execute(f"CREATE TABLE rows AS SELECT * FROM {INPUT_RELATION} LIMIT 0")
            self.state.tables.append("rows")
        finally:
            self.state.con.unregister(INPUT_RELATION)
        self.result_sql = batch_over_sql(spec, cols, "rows")
        self.width = 16 + 8 * len(cols)

    def _ingest(self, batch: pa.RecordBatch) -> None:
        st = self.state
        st.register(INPUT_RELATION, batch)
        try:
            st.execute(f"INSERT INTO rows SELECT * FROM {INPUT_RELATION}")
        finally:
            st.con.unregister(INPUT_RELATION)
        self._report()

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        await self.ctx.run(self._ingest, batch)
        return []

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        # nothing is complete before the input ends, not even at the last watermark: a
        # batch-mode input that makes its rows final sends them after it
        self.metrics.watermark_ms = ts_ms
        return []

    async def on_end_of_input(self) -> list[Message]:
        return list(await self.ctx.run(self._result))

    def _result(self) -> list[pa.RecordBatch]:
        out = self.state.query(self.result_sql)
        self.state.execute("DELETE FROM rows")
        self._report()
        return conform(out, self.schema)
