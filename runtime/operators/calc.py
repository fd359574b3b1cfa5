"""Projection and filter: one DuckDB query per batch (or zero-copy column selection)."""

from __future__ import annotations

import re

import pyarrow as pa

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, CalcSpec
from runtime.batches import conform, output_schema, q, split_of, with_split
from runtime.messages import Message
from runtime.operator import Operator

_COLUMN_REF = re.compile(r'^"((?:[^"]|"")*)"$')


class CalcOp(Operator):
    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, CalcSpec)
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        keep_kind = self.ctx.input_updating(0)
        items = [f"{expr} AS {q(name)}" for name, expr in spec.projections]
        if keep_kind:
            items.append(q(ROW_KIND_COLUMN))
        self.sql = f"SELECT {', '.join(items)} FROM {INPUT_RELATION}"
        if spec.condition:
            self.sql += f" WHERE {spec.condition}"
        # Pure column selection without a filter: no query at all.
        self.columns: list[str] | None = None
        if not spec.condition:
            refs = [_COLUMN_REF.match(expr.strip()) for _, expr in spec.projections]
            if all(refs):
                self.columns = [m.group(1).replace('""', '"') for m in refs if m]
                if keep_kind:
                    self.columns.append(ROW_KIND_COLUMN)
        self.con = self.ctx.duckdb()

    def _run(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        self.con.register(INPUT_RELATION, batch)
        try:
            return conform(self.con.sql(self.sql).to_arrow_table(), self.schema)
        finally:
            self.con.unregister(INPUT_RELATION)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        if self.columns is not None:
            out = conform(batch.select(self.columns), self.schema)
        else:
            out = await self.ctx.run(self._run, batch)
        split = split_of(batch)  # keep a source split's tag for the watermark assigner
        return [with_split(b, split) for b in out] if split is not None else list(out)

    async def close(self) -> None:
        if hasattr(self, "con"):
            self.con.close()
