"""The local phase of a two-phase window aggregation (Flink's LocalWindowAggregate).

Run by each producer subtask on every batch it sends over the exchange into a window
aggregate (``planner.agg_phase``; ``runtime/graph.py`` chains it into the router): the
batch's rows become one partial row per key and window slice, with the same partial
columns the one-phase operator keeps in its state (``window_aggregate.partials_sql``) and
``__n``, the number of rows each stands for. Those are what the exchange ships.

It keeps nothing from one batch to the next, so a checkpoint barrier (or a watermark, or
the end of input) always finds it empty: nothing to snapshot, nothing to flush. It drops
no row as late: the global phase judges each partial row against its own watermark, as
the one-phase operator judges each row (a row without an event time belongs to no window,
as there).
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from planner.physical import INPUT_RELATION, Node, PhysicalPlan, WindowAggregateSpec
from runtime.operator import install_functions
from runtime.operators.window_aggregate import partials_sql, timed_sql
from runtime.state.duckdb_state import DuckDBState


class LocalWindowAggregate:
    """The local phase of window aggregate ``node``, for one producer subtask; ``apply``
    runs on that subtask's worker thread, one batch at a time."""

    def __init__(self, node: Node, plan: PhysicalPlan, config: Mapping[str, str]) -> None:
        spec = node.spec
        assert isinstance(spec, WindowAggregateSpec)  # the planner marks no other edge
        self.sql = partials_sql(spec, timed_sql(spec), "count(*) AS __n")
        self.plan = plan
        self.config = dict(config)
        self.state: DuckDBState | None = None  # opened with the first batch

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        """The partial rows of ``batch`` (None when it has no row with a time)."""
        if batch.num_rows == 0:
            return None
        if self.state is None:
            self.state = DuckDBState()  # as the window aggregate's own, for the same answers
            install_functions(self.state.con, self.plan, self.config)
        st = self.state
        st.register(INPUT_RELATION, batch)
        try:
            table = st.query(self.sql)
        finally:
            st.con.unregister(INPUT_RELATION)
        if table.num_rows == 0:
            return None
        return table.combine_chunks().to_batches()[0]

    def close(self) -> None:
        if self.state is not None:
            self.state.close()
            self.state = None
