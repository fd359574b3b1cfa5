"""Window functions in batch mode (``BatchOverSpec``, Flink's batch OverAggregate): the
bounded input's rows wait in DuckDB state (table ``rows``), and when the input ends one
DuckDB query gives every row its window functions, whatever their order and frame, as a
batch engine computes them."""

from __future__ import annotations

from planner.physical import BatchOverSpec
from runtime.batches import q
from runtime.operators import aggs as A
from runtime.operators.collected import CollectedInput
from runtime.operators.over_aggregate import over_sql


def batch_over_sql(spec: BatchOverSpec, cols: list[str], relation: str) -> str:
    """The rows of ``relation`` (columns ``cols``, quoted) with the spec's window functions."""
    args = [f"({c.agg.arg}) AS a{i}" for i, c in enumerate(spec.calls) if c.agg and c.agg.arg is not None]
    items = [
        f"{c.rank}() OVER w{i}" if c.agg is None else over_sql(i, c.agg, False, f"w{i}", batch=True)
        for i, c in enumerate(spec.calls)
    ]
    windows = ", ".join(f"w{i} AS ({c.window})" for i, c in enumerate(spec.calls))
    inner = f"SELECT {', '.join([*cols, *args])} FROM {relation}"
    return f"SELECT {', '.join([*cols, *items])} FROM ({inner}) WINDOW {windows}"


class BatchOverOp(CollectedInput):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, BatchOverSpec)
        for c in spec.calls:
            if c.agg is not None:
                A.check(c.agg)
        fields = self.ctx.input_nodes[0].schema
        self._collect_into([("rows", fields)])
        cols = [q(f.name) for f in fields]
        self.result_sql = batch_over_sql(spec, cols, "rows")
        self.width = 16 + 8 * len(cols)
