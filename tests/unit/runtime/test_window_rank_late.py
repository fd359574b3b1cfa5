"""Window Top-N and late rows: a row of a window that already fired is dropped and counted,
even when it would have ranked first, and never reaches the state; the batch's other rows
(only each window's first ``end`` of them are kept) still rank in their windows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from planner.physical import WindowRankSpec
from runtime.batches import output_schema
from runtime.operators.window_rank import WindowRankOp
from tests.unit.runtime.test_rank_changelog import open_operator

DDL = "CREATE TABLE t (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen')"
QUERY = (
    "SELECT k, v, window_start, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, "
    "window_end, k ORDER BY v DESC) AS rn FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND))) "
    "WHERE rn <= 2"
)
T0 = datetime(2024, 1, 1)


def window_rank_op() -> WindowRankOp:
    return open_operator(DDL, QUERY, WindowRankSpec, WindowRankOp)


def feed(op: WindowRankOp, rows: list[tuple[int, int, int]]) -> None:
    """Rows (k, v, ms) with their one-second tumbling window."""
    data = []
    for k, v, ms in rows:
        ts = T0 + timedelta(milliseconds=ms)
        start = T0 + timedelta(seconds=ms // 1000)
        data.append(
            {"k": k, "v": v, "ts": ts, "window_start": start, "window_end": start + timedelta(seconds=1)}
            | {"window_time": start + timedelta(milliseconds=999)}
        )
    schema = output_schema(op.ctx.input_nodes[0].schema, False)
    assert not asyncio.run(op.process_batch(pa.RecordBatch.from_pylist(data, schema=schema), 0))


def fired(op: WindowRankOp, out: list[Any]) -> list[tuple[Any, ...]]:
    rank = op.spec.rank_column
    assert rank is not None
    return sorted((r["k"], r["v"], r["window_start"], r[rank]) for b in out for r in b.to_pylist())


def test_a_late_row_is_counted_and_never_ranked() -> None:
    op = window_rank_op()
    second = T0 + timedelta(seconds=1)
    try:
        feed(op, [(1, 1, 100), (1, 3, 200), (1, 2, 300), (2, 4, 400), (1, 5, 1100)])
        first = asyncio.run(op.on_watermark(int((T0 - datetime(1970, 1, 1)).total_seconds() * 1000) + 999))
        assert fired(op, first) == [(1, 2, T0, 2), (1, 3, T0, 1), (2, 4, T0, 1)]
        # v=9 belongs to the first second, which has fired: late, though it would rank first
        feed(op, [(1, 9, 500), (1, 7, 1200), (1, 6, 1300), (1, 0, 1400)])
        assert op.metrics.late_rows_dropped == 1
        assert op.metrics.state_rows == 2  # the second window's two best, not its four rows
        rest = asyncio.run(op.on_end_of_input())
        assert fired(op, rest) == [(1, 6, second, 2), (1, 7, second, 1)]
    finally:
        asyncio.run(op.close())
