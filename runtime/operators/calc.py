"""Projection and filter: one DuckDB query per batch (or zero-copy column selection).

With ``table.exec.udf-errors.sink`` set, a batch on which a Python function raised is split
in halves until the rows it raises on stand alone (only failing batches pay for this);
those rows go to the udf-errors output, the others on as usual, in order.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, UDF_ERRORS_OUTPUT, CalcSpec
from runtime import udf
from runtime.batches import conform, output_schema, q, split_of, with_split
from runtime.messages import Message, SideOutput
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
        self.keeps_errors = udf.keeps_errors(self.node.id, self.ctx.plan)
        self.failed: list[tuple[pa.RecordBatch, udf.FunctionFailedError]] = []

    def _run_keeping_errors(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        try:
            return self._run(batch)
        except duckdb.Error as e:
            failure = udf.failure_in(e)
            if failure is None:
                raise
        # outside the handler: a retry's error must not chain (and quote) this one
        if batch.num_rows == 1:
            self.failed.append((batch, failure))
            return []
        half = batch.num_rows // 2
        first = self._run_keeping_errors(batch.slice(0, half))
        return first + self._run_keeping_errors(batch.slice(half))

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
            out = await self.ctx.run(self._run_keeping_errors if self.keeps_errors else self._run, batch)
        split = split_of(batch)  # keep a source split's tag for the watermark assigner
        messages: list[Message] = [with_split(b, split) for b in out] if split is not None else list(out)
        if self.failed:
            failed, self.failed = self.failed, []
            self.metrics.udf_errors += len(failed)
            messages.append(SideOutput(udf.dead_letters(f"Calc#{self.node.id}", failed), UDF_ERRORS_OUTPUT))
        return messages

    async def close(self) -> None:
        if hasattr(self, "con"):
            self.con.close()
