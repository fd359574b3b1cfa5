"""Expand (GROUPING SETS): each input row once per grouping set, in one DuckDB query per
batch (a UNION ALL of the sets' projections). Each set's rows keep the batch's order and
their row kind, so a retraction still follows the row it retracts."""

from __future__ import annotations

import pyarrow as pa

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, ExpandSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message
from runtime.operator import Operator


class ExpandOp(Operator):
    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, ExpandSpec)
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        kind = [q(ROW_KIND_COLUMN)] if self.ctx.input_updating(0) else []
        selects = [
            f"SELECT {', '.join([f'{expr} AS {q(name)}' for name, expr in row] + kind)} FROM {INPUT_RELATION}"
            for row in spec.projections
        ]
        self.sql = " UNION ALL ".join(selects)
        self.con = self.ctx.duckdb()

    def _run(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        self.con.register(INPUT_RELATION, batch)
        try:
            return conform(self.con.sql(self.sql).to_arrow_table(), self.schema)
        finally:
            self.con.unregister(INPUT_RELATION)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        return list(await self.ctx.run(self._run, batch))

    async def close(self) -> None:
        if hasattr(self, "con"):
            self.con.close()
