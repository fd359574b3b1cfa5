"""REPLICATE_ROWS (INTERSECT ALL, EXCEPT ALL): each row as many times as its count column
says, by one ``take`` over the batch, so the copies keep the batch's order and row kind."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from planner.physical import ReplicateSpec
from runtime.batches import conform, output_schema
from runtime.messages import Message
from runtime.operator import Operator


class ReplicateOp(Operator):
    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, ReplicateSpec)
        self.count = spec.count
        self.schema = output_schema(self.node.schema, self.ctx.updating)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        times = batch.column(self.count).fill_null(0).to_numpy(zero_copy_only=False)
        rows = np.repeat(np.arange(batch.num_rows), np.maximum(times, 0))
        out = batch.take(pa.array(rows, pa.int64()))
        return list(conform(out.drop_columns([self.count]), self.schema))
