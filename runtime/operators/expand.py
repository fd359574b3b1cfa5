"""Expand (GROUPING SETS): each input row once per grouping set, in one DuckDB query per
batch (a UNION ALL of the sets' projections), run as a Calc runs its query. Each set's rows
keep the batch's order and their row kind, so a retraction still follows the row it
retracts."""

from __future__ import annotations

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, ExpandSpec
from runtime import udf
from runtime.batches import output_schema, q
from runtime.operators.calc import CalcOp
from runtime.repeated_query import RepeatedQuery


class ExpandOp(CalcOp):
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
        self.columns = None  # never a plain column selection
        self.con = await self.ctx.run(self.ctx.duckdb)
        self.query = RepeatedQuery(self.con, self.sql)
        self.keeps_errors = udf.keeps_errors(self.node.id, self.ctx.plan)
        self.catches_errors = udf.catches_errors(self.node.id, self.ctx.plan, self.ctx.config)
        self.failed = []
