"""The late-rows side output that event-time operators (window aggregates, window Top-N,
OVER aggregates) send when ``table.exec.late-rows.sink`` is set (``planner/late_rows.py``)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from planner.physical import LATE_ROWS_FIELDS, LATE_ROWS_OUTPUT, Node, PhysicalPlan
from runtime.state.duckdb_state import DuckDBState


def keeps_late_rows(node: Node, plan: PhysicalPlan) -> bool:
    """Whether a side sink reads the rows ``node`` drops as late."""
    return any(e.source == node.id and e.output == LATE_ROWS_OUTPUT for n in plan.nodes for e in n.inputs)


def late_rows_batch(
    state: DuckDBState, late: pa.RecordBatch | pa.Table, node: Node, event_time: pa.Array, watermark_ms: int
) -> pa.RecordBatch:
    """The late-rows output: operator, event time, the watermark now, and the row as JSON
    (DuckDB's ``to_json`` over the whole batch)."""
    state.register("__late", late)
    try:
        row_json = state.query("SELECT to_json(l)::VARCHAR FROM __late l").column(0).combine_chunks()
    finally:
        state.con.unregister("__late")
    if isinstance(event_time, pa.ChunkedArray):
        event_time = event_time.combine_chunks()
    event_ms = pc.cast(event_time, pa.timestamp("ms", event_time.type.tz), safe=False).view(pa.int64())
    n = late.num_rows
    return pa.RecordBatch.from_arrays(
        [
            pa.array([f"{node.name}#{node.id}"] * n, pa.string()),
            event_ms.view(pa.timestamp("ms")),
            pa.array([watermark_ms] * n, pa.int64()).view(pa.timestamp("ms")),
            row_json,
        ],
        names=[f.name for f in LATE_ROWS_FIELDS],
    )
