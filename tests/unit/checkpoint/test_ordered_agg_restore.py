"""The live values behind LISTAGG, FIRST_VALUE and LAST_VALUE over retractions (and
COLLECT's value counts) are checkpointed with the rest of the group state and split by key
on restore: after a restore at parallelism 2, retracting a key's first value still finds
the next one in arrival order, rows that arrive later come after the restored ones, and
the two subtasks together emit what one uninterrupted subtask emits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from catalog.connectors import ChangelogMode
from planner.physical import AggCall, Edge, Field, GroupAggregateSpec, Node, Partitioning
from runtime.operators.group_aggregate import GroupAggregateOp
from runtime.state.duckdb_state import write_snapshot
from tests.unit.checkpoint.test_group_value_counts import batch, feed, restored_at_two
from tests.unit.checkpoint.test_group_value_counts import group_op as value_counts_op

AGGS = (
    AggCall("l", "listagg", 'CAST("v" AS VARCHAR)', "STRING", args=("'|'",)),
    AggCall("f", "first_value", '"v"', "BIGINT"),
    AggCall("z", "last_value", '"v"', "BIGINT"),
    AggCall("c", "collect", '"v"', "MULTISET<BIGINT> NOT NULL"),
)
SCHEMA = (Field("k", "INT"), *(Field(a.name, a.type) for a in AGGS))
NODE = Node(
    2, "agg", GroupAggregateSpec(("k",), AGGS), (Edge(1, Partitioning.HASH, ("k",)),), SCHEMA, 2,
    ChangelogMode.ALL,
)  # fmt: skip


def group_op(subtask: int, parallelism: int) -> GroupAggregateOp:
    return value_counts_op(subtask, parallelism, NODE)


FIRST = batch([(0, k, v) for k in range(6) for v in (5, 3, 9, 3)])
# retract each key's first 5 and one 3 (the earlier one), then add 4
THEN = batch([(1, k, 5) for k in range(6)] + [(3, k, 3) for k in range(6)] + [(0, k, 4) for k in range(6)])


def test_ordered_values_survive_a_restore_at_another_parallelism(tmp_path: Path) -> None:
    whole = group_op(0, 1)
    asyncio.run(whole.open())
    assert sorted(feed(whole, FIRST)) == [(k, "5|3|9|3", 5, 3, [3, 3, 5, 9], 0) for k in range(6)]
    cursor = whole.state.snapshot_cursor()
    write_snapshot(cursor, list(whole.state.tables), tmp_path / "s.duckdb")
    assert {"acc", "ord0", "ord1", "ord2", "vals3"} <= set(whole.state.tables)
    expected = feed(whole, THEN)
    assert sorted(r for r in expected if r[-1] == 2) == [(k, "9|3|4", 9, 4, [3, 4, 9], 2) for k in range(6)]

    got = restored_at_two(group_op, NODE, tmp_path / "s.duckdb", THEN)
    asyncio.run(whole.close())
    assert sorted(got, key=str) == sorted(expected, key=str)
