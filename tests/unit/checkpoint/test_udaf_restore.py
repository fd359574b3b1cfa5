"""A Python aggregate function's accumulators (pickled in the group state) are in the
checkpoint and split by key on restore: after a restore at parallelism 2, the two subtasks
go on from the restored accumulators, retractions included, and together emit what one
uninterrupted subtask emits. A window job with one resumes exactly too."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import duckdb

from catalog.connectors import ChangelogMode
from catalog.functions import FunctionDef
from catalog.types import parse_type
from planner.physical import AggCall, Edge, Field, GroupAggregateSpec, Node, Partitioning, PhysicalPlan
from runtime.connectors.base import SubtaskContext
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.group_aggregate import GroupAggregateOp
from runtime.state.duckdb_state import write_snapshot
from tests.unit.checkpoint.test_group_value_counts import SRC, batch, feed, restored_at_two
from tests.unit.checkpoint.test_runtime_checkpoints import ROWS, published, resume, run_until_checkpoint
from tests.unit.checkpoint.test_udf_restore import MOD, QUERY, script

WAVG = FunctionDef(
    "weighted_avg",
    (parse_type("BIGINT"), parse_type("BIGINT")),
    parse_type("DOUBLE"),
    target="tests.unit.sqlstream.udf_module.weighted_avg",
    kind="aggregate",
    retract=True,
)
AGGS = (
    AggCall("w", "udaf", None, "DOUBLE", function="weighted_avg", args=('"v"', '"v"')),
    AggCall("n", "count_star", None, "BIGINT"),
)
SCHEMA = (Field("k", "INT"), Field("w", "DOUBLE"), Field("n", "BIGINT"))
NODE = Node(
    2, "agg", GroupAggregateSpec(("k",), AGGS), (Edge(1, Partitioning.HASH, ("k",)),), SCHEMA, 2,
    ChangelogMode.ALL,
)  # fmt: skip


def group_op(subtask: int, parallelism: int) -> GroupAggregateOp:
    plan = PhysicalPlan((SRC, NODE), functions=(WAVG,))
    where = SubtaskContext("t", 2, "agg", subtask, parallelism)
    ctx = OperatorContext(where, NODE, plan, OperatorMetrics(2, subtask), None, (SRC,))
    return GroupAggregateOp(ctx)


FIRST = batch([(0, k, v) for k in range(6) for v in (5, 3, 9, 3)])
THEN = batch([(1, k, 3) for k in range(6)] + [(3, k, 9) for k in range(6)] + [(0, k, 4) for k in range(6)])


def test_accumulators_survive_a_restore_at_another_parallelism(tmp_path: Path) -> None:
    whole = group_op(0, 1)
    asyncio.run(whole.open())
    feed(whole, FIRST)
    write_snapshot(whole.state.snapshot_cursor(), list(whole.state.tables), tmp_path / "s.duckdb")
    expected = feed(whole, THEN)
    # (5*5 + 3*3 + 4*4) / (5 + 3 + 4) after -3, -9, +4: the retractions took their rows out
    assert sorted(r for r in expected if r[-1] == 2) == [(k, 50 / 12, 3, 2) for k in range(6)]

    got = restored_at_two(group_op, NODE, tmp_path / "s.duckdb", THEN)
    asyncio.run(whole.close())
    assert sorted(got, key=str) == sorted(expected, key=str)


def test_a_window_job_with_a_python_aggregate_resumes_exactly_at_another_parallelism(tmp_path: Path) -> None:
    """The window keeps the Python aggregate's input rows in its state: after a restore at
    parallelism 2 from a checkpoint taken at 1, every window's total equals DuckDB's."""
    out = tmp_path / "out"
    setup = f"CREATE FUNCTION py_total AS '{MOD}.py_total' LANGUAGE PYTHON;\n"
    one_source = ("'connector' = 'datagen',", "'connector' = 'datagen', 'scan.parallelism' = '1',")
    query = QUERY.replace("SUM(count_char(CAST(v AS STRING), '7'))", "py_total(v)")
    second = "strftime(make_timestamp((v * 10) // 1000 * 1000000), '%Y-%m-%d %H:%M:%S')"
    want = collections.Counter(
        duckdb.sql(
            f"SELECT (v // 10) % 5, {second}, count(*), sum(v) FROM range(1, {ROWS + 1}) t(v) GROUP BY ALL"
        ).fetchall()
    )
    run_until_checkpoint(tmp_path, 1, out, script=setup + script(out, 2000).replace(*one_source), query=query)
    assert 0 < sum(collections.Counter(published(out)).values()) < sum(want.values())
    resume(tmp_path, 2, out, script=setup + script(out, 20000).replace(*one_source), query=query)
    assert collections.Counter(published(out)) == want
