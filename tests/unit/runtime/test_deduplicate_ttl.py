"""State TTL of a deduplication, on a clock the test moves: a key whose kept row was not
written for the TTL is forgotten, so its next row is its first again (+I), as Flink's
deduplicate functions do; keeping the last row writes every row, keeping the first only
the first one."""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa
import pytest

import planner
from catalog import Catalog
from planner.physical import ROW_KIND_COLUMN, RankSpec
from runtime.connectors.base import SubtaskContext
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.rank import RankOp

T0 = 1_000_000
DDL = "CREATE TABLE t (k INT, v INT, proc AS PROCTIME()) WITH ('connector' = 'datagen')"


def dedup_op(direction: str, now: list[int]) -> RankOp:
    cat = Catalog()
    for stmt in planner.parse(DDL):
        cat.create(planner.create_table(stmt, cat))
    plan = planner.plan(
        f"SELECT k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY proc {direction}) AS rn "
        "FROM t) WHERE rn = 1",
        cat,
        {"table.exec.state.ttl": "1 s"},
    )
    node = next(n for n in plan.nodes if isinstance(n.spec, RankSpec))
    assert isinstance(node.spec, RankSpec) and node.spec.deduplicate and node.spec.ttl_ms == 1000
    inputs = tuple(plan.node(e.source) for e in node.inputs)
    ctx = OperatorContext(
        SubtaskContext("t", node.id, "dedup", 0, 1), node, plan, OperatorMetrics(node.id, 0), None, inputs
    )
    op = RankOp(ctx)
    op.clock = lambda: T0 + now[0]
    asyncio.run(op.open())
    return op


def feed(op: RankOp, rows: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
    fields = op.ctx.input_nodes[0].schema
    data = {f.name: [None] * len(rows) for f in fields}
    data["k"], data["v"] = [r[0] for r in rows], [r[1] for r in rows]
    batch = pa.RecordBatch.from_pydict(
        {k: pa.array(v, pa.int32() if k in ("k", "v") else pa.timestamp("ms")) for k, v in data.items()}
    )
    out = asyncio.run(op.process_batch(batch, 0))
    return [(r.get(ROW_KIND_COLUMN, 0), r["k"], r["v"]) for b in out for r in b.to_pylist()]


@pytest.mark.parametrize(("direction", "refreshed"), [("DESC", True), ("ASC", False)])
def test_an_idle_key_is_forgotten_and_starts_anew(direction: str, refreshed: bool) -> None:
    now = [0]
    op = dedup_op(direction, now)
    try:
        assert feed(op, [(1, 10)]) == [(0, 1, 10)]
        now[0] = 600
        second = feed(op, [(1, 11)])  # keep-last replaces (and writes) the row; keep-first ignores it
        assert second == ([(1, 1, 10), (2, 1, 11)] if refreshed else [])
        now[0] = 1200  # keep-first's row was written at 0: gone; keep-last's at 600: alive
        third = feed(op, [(1, 12)])
        assert third == ([(1, 1, 11), (2, 1, 12)] if refreshed else [(0, 1, 12)])
        assert op.metrics.state_rows_expired == (0 if refreshed else 1)
        now[0] = 5000
        assert feed(op, [(1, 13)]) == [(0, 1, 13)]
        assert op.metrics.state_rows == 1
    finally:
        asyncio.run(op.close())
