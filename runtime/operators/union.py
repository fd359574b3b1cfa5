"""UNION ALL: batches pass through; an insert-only input of an updating union gets the
row-kind column (+I) so every output batch has the same columns."""

from __future__ import annotations

import pyarrow as pa

from planner.physical import ROW_KIND_COLUMN
from runtime.batches import ROW_KIND_TYPE, conform, output_schema
from runtime.messages import Message
from runtime.operator import Operator


class UnionOp(Operator):
    async def open(self) -> None:
        self.schema = output_schema(self.node.schema, self.ctx.updating)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        if self.ctx.updating and not self.ctx.input_updating(input_index):
            kinds = pa.repeat(pa.scalar(0, ROW_KIND_TYPE), batch.num_rows)
            batch = batch.append_column(ROW_KIND_COLUMN, kinds)
        return list(conform(batch, self.schema))
