"""Batch-mode operators that keep their whole bounded input and answer once it ends: each
input's rows wait in a DuckDB table, and one query (``result_sql``) over those tables gives
the final rows at end of input (a batch engine's blocking operator). Shared by the batch
OverAggregate (``batch_over``) and the fused whole-query node (``batch_query``)."""

from __future__ import annotations

import pyarrow as pa

from planner.physical import INPUT_RELATION, Field
from runtime.batches import conform, output_schema
from runtime.messages import Message
from runtime.operators.arrival import ArrivalOrdered
from runtime.state.duckdb_state import DuckDBState


class CollectedInput(ArrivalOrdered):
    result_sql: str
    inputs: list[str]  # the table of each input, by input index

    def _collect_into(self, tables: list[tuple[str, tuple[Field, ...]]]) -> None:
        """A fresh state with one empty table per input (name and fields), and the
        output schema; ``result_sql`` is the caller's to set."""
        self.schema = output_schema(self.node.schema, False)
        self.state = DuckDBState()
        self.ctx.install_functions(self.state.con)
        self.inputs = []
        for name, fields in tables:
            self.state.register(INPUT_RELATION, output_schema(fields, False).empty_table())
            try:
                self.state.execute(f"CREATE TABLE {name} AS SELECT * FROM {INPUT_RELATION} LIMIT 0")
                self.state.tables.append(name)
            finally:
                self.state.con.unregister(INPUT_RELATION)
            self.inputs.append(name)

    def _ingest(self, batch: pa.RecordBatch, index: int) -> None:
        st = self.state
        st.register(INPUT_RELATION, batch)
        try:
            st.execute(f"INSERT INTO {self.inputs[index]} SELECT * FROM {INPUT_RELATION}")
        finally:
            st.con.unregister(INPUT_RELATION)
        self._report()

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        await self.ctx.run(self._ingest, batch, input_index)
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
        for table in self.inputs:
            self.state.execute(f"DELETE FROM {table}")
        self._report()
        return conform(out, self.schema)
