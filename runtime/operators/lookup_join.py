"""Lookup join: each batch's distinct keys are looked up in the dimension table (one query
per batch through the connector's lookup client, with its cache), then joined with Arrow.

The residual condition belongs to the ON clause: a LEFT JOIN row whose matches all fail
it still comes out once, with NULLs for the dimension's columns, as in Flink.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, LookupJoinSpec, SourceSpec
from runtime.batches import conform, output_schema
from runtime.connectors.registry import create_lookup
from runtime.messages import Message
from runtime.operator import Operator

LOOKUP_ROW = "__lookup_row"


class LookupJoinOp(Operator):
    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, LookupJoinSpec)
        self.spec = spec
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        table = SourceSpec(spec.table, spec.connector, spec.options, spec.columns, bounded=True)
        self.client = create_lookup(table, [t for _, t in spec.keys])
        await self.client.open()
        self.con = await self.ctx.run(self.ctx.duckdb) if spec.residual else None

    def _residual(self, joined: pa.RecordBatch) -> np.ndarray:
        """Which joined rows pass the residual condition."""
        assert self.con is not None and self.spec.residual is not None
        self.con.register(INPUT_RELATION, joined)
        try:
            sql = f"SELECT coalesce(({self.spec.residual}), false) FROM {INPUT_RELATION}"
            return self.con.sql(sql).to_arrow_table().column(0).to_numpy(zero_copy_only=False)
        finally:
            self.con.unregister(INPUT_RELATION)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        spec = self.spec
        data_cols = [n for n in batch.schema.names if n != ROW_KIND_COLUMN]
        keys = batch.select([i for i, _ in spec.keys])
        found = await self.client.lookup(keys)
        rows = found.column(LOOKUP_ROW).to_numpy(zero_copy_only=False).astype(np.int64)
        dim = [found.column(c.name) for c in spec.columns]
        left = batch.take(pa.array(rows))
        arrays = [left.column(n) for n in data_cols] + dim
        names = data_cols + list(spec.output_names)
        joined = pa.RecordBatch.from_arrays(arrays, names=names)
        if spec.residual and joined.num_rows:
            keep = await self.ctx.run(self._residual, joined)
            joined, rows = joined.filter(pa.array(keep)), rows[keep]
        kinds = batch.column(ROW_KIND_COLUMN) if ROW_KIND_COLUMN in batch.schema.names else None
        if kinds is not None:
            joined = joined.append_column(ROW_KIND_COLUMN, kinds.take(pa.array(rows)))
        if spec.join_type == "left":
            missing = np.setdiff1d(np.arange(batch.num_rows), rows, assume_unique=False)
            if len(missing):
                alone = batch.take(pa.array(missing))
                extra = [alone.column(n) for n in data_cols] + [
                    pa.nulls(len(missing), type=self.schema.field(n).type) for n in spec.output_names
                ]
                if kinds is not None:
                    extra.append(alone.column(ROW_KIND_COLUMN))
                padding = pa.RecordBatch.from_arrays(extra, names=joined.schema.names)
                table = pa.Table.from_batches([joined, padding.cast(joined.schema)])
                order = np.argsort(np.concatenate([rows, missing]), kind="stable")
                joined = table.take(pa.array(order)).combine_chunks().to_batches()[0]
        return list(conform(pa.Table.from_batches([joined]), self.schema)) if joined.num_rows else []

    async def close(self) -> None:
        if hasattr(self, "client"):
            await self.client.close()
        if getattr(self, "con", None) is not None:
            assert self.con is not None
            self.con.close()
