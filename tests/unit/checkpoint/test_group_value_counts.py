"""The value counts behind MIN/MAX and DISTINCT over retractions are checkpointed with the
rest of the group state and split by key on restore: after a restore at parallelism 2,
retracting a key's current MIN still finds the next value, and the two subtasks together
emit what one uninterrupted subtask emits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from catalog.connectors import ChangelogMode
from planner.physical import (
    ROW_KIND_COLUMN,
    AggCall,
    CalcSpec,
    Edge,
    Field,
    GroupAggregateSpec,
    Node,
    Partitioning,
    PhysicalPlan,
)
from runtime.checkpoint.control import Restored, key_filter
from runtime.connectors.base import SubtaskContext
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.group_aggregate import GroupAggregateOp
from runtime.partition import install as install_partition
from runtime.state.duckdb_state import write_snapshot

AGGS = (
    AggCall("lo", "min", '"v"', "BIGINT"),
    AggCall("hi", "max", '"v"', "BIGINT"),
    AggCall("nd", "count", '"v"', "BIGINT", distinct=True),
    AggCall("sd", "sum", '"v"', "BIGINT", distinct=True),
)
SRC = Node(1, "src", CalcSpec(()), (), (Field("k", "INT"), Field("v", "BIGINT")), 1, ChangelogMode.ALL)
SCHEMA = (Field("k", "INT"), *(Field(a.name, "BIGINT") for a in AGGS))
NODE = Node(
    2, "agg", GroupAggregateSpec(("k",), AGGS), (Edge(1, Partitioning.HASH, ("k",)),), SCHEMA, 2,
    ChangelogMode.ALL,
)  # fmt: skip


def group_op(subtask: int, parallelism: int, node: Node = NODE) -> GroupAggregateOp:
    plan = PhysicalPlan((SRC, node))
    where = SubtaskContext("t", 2, "agg", subtask, parallelism)
    ctx = OperatorContext(where, node, plan, OperatorMetrics(2, subtask), None, (SRC,))
    return GroupAggregateOp(ctx)


def batch(rows: list[tuple[int, int, int]]) -> pa.RecordBatch:
    """(row kind, k, v) rows."""
    return pa.RecordBatch.from_pydict(
        {
            "k": pa.array([r[1] for r in rows], pa.int32()),
            "v": pa.array([r[2] for r in rows], pa.int64()),
            ROW_KIND_COLUMN: pa.array([r[0] for r in rows], pa.int8()),
        }
    )


def feed(op: GroupAggregateOp, b: pa.RecordBatch) -> list[tuple[Any, ...]]:
    out = asyncio.run(op.process_batch(b, 0))
    return [tuple(r.values()) for o in out for r in o.to_pylist()]


FIRST = batch([(0, k, v) for k in range(6) for v in (5, 3, 9, 3)])
# retract each key's MIN (3, once of its two rows, then the other) and MAX (9), add 4
THEN = batch([(1, k, 3) for k in range(6)] + [(3, k, 3) for k in range(6)] + [(3, k, 9) for k in range(6)]
             + [(0, k, 4) for k in range(6)])  # fmt: skip


def test_value_counts_survive_a_restore_at_another_parallelism(tmp_path: Path) -> None:
    whole = group_op(0, 1)
    asyncio.run(whole.open())
    feed(whole, FIRST)
    cursor = whole.state.snapshot_cursor()
    write_snapshot(cursor, list(whole.state.tables), tmp_path / "s.duckdb")
    assert {"acc", "vals0", "vals1", "vals2", "vals3"} <= set(whole.state.tables)
    expected = feed(whole, THEN)
    assert sorted(r for r in expected if r[-1] == 2) == [(k, 4, 5, 2, 9, 2) for k in range(6)]

    got = restored_at_two(group_op, NODE, tmp_path / "s.duckdb", THEN)
    asyncio.run(whole.close())
    assert sorted(got, key=str) == sorted(expected, key=str)


def restored_at_two(
    make: Callable[[int, int], GroupAggregateOp], node: Node, snapshot: Path, then: pa.RecordBatch
) -> list[tuple[Any, ...]]:
    """What two subtasks restored from ``snapshot`` (each with its keys) emit for ``then``."""
    got: list[tuple[Any, ...]] = []
    for j in range(2):
        op = make(j, 2)
        where = key_filter(node, 2, j)
        asyncio.run(op.restore(Restored(1, files=[snapshot], key_filter=where)))
        asyncio.run(op.open())
        con = duckdb.connect()
        install_partition(con)
        con.register("b", pa.Table.from_batches([then]))
        mine = con.sql(f"SELECT * FROM b WHERE {where}").to_arrow_table().to_batches()
        got += [r for b in mine for r in feed(op, b)]
        asyncio.run(op.close())
    return got


SHARED = (
    AggCall("nd", "count", '"v"', "BIGINT", distinct=True),
    AggCall("ndf", "count", '"v"', "BIGINT", distinct=True, filter='"v" > 4'),
    AggCall("sdf", "sum", '"v"', "BIGINT", distinct=True, filter='"v" > 4'),
)
APPEND_SRC = Node(1, "src", CalcSpec(()), (), (Field("k", "INT"), Field("v", "BIGINT")), 1)
SHARED_NODE = Node(
    2, "agg", GroupAggregateSpec(("k",), SHARED), (Edge(1, Partitioning.HASH, ("k",)),),
    (Field("k", "INT"), *(Field(a.name, "BIGINT") for a in SHARED)), 2, ChangelogMode.ALL,
)  # fmt: skip


def shared_op(subtask: int, parallelism: int) -> GroupAggregateOp:
    plan = PhysicalPlan((APPEND_SRC, SHARED_NODE))
    where = SubtaskContext("t", 2, "agg", subtask, parallelism)
    ctx = OperatorContext(where, SHARED_NODE, plan, OperatorMetrics(2, subtask), None, (APPEND_SRC,))
    return GroupAggregateOp(ctx)


def appended(rows: list[tuple[int, int]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"k": pa.array([r[0] for r in rows], pa.int32()),
                                       "v": pa.array([r[1] for r in rows], pa.int64())})  # fmt: skip


def test_distinct_values_shared_by_filters_survive_a_restore(tmp_path: Path) -> None:
    """The insert-only DISTINCT aggregates of one argument keep one table, with a flag per
    FILTER: after a restore at parallelism 2 a value they let in before (5) is counted by
    none of them again, a new one (9) by all three, as without the restore."""
    whole = shared_op(0, 1)
    asyncio.run(whole.open())
    feed(whole, appended([(k, v) for k in range(6) for v in (3, 5)]))
    cursor = whole.state.snapshot_cursor()
    write_snapshot(cursor, list(whole.state.tables), tmp_path / "s.duckdb")
    assert [t for t in whole.state.tables if t.startswith("seen")] == ["seen0"]
    then = appended([(k, v) for k in range(6) for v in (5, 9)])
    expected = feed(whole, then)
    assert sorted(r for r in expected if r[-1] == 2) == [(k, 3, 2, 14, 2) for k in range(6)]

    got = restored_at_two(shared_op, SHARED_NODE, tmp_path / "s.duckdb", then)
    asyncio.run(whole.close())
    assert sorted(got, key=str) == sorted(expected, key=str)


def test_a_checkpoint_with_one_distinct_table_per_aggregate_restores(tmp_path: Path) -> None:
    """Earlier versions kept a ``seen<i>`` table of (key, value) per DISTINCT aggregate; such
    a checkpoint restores into the shared table and the job goes on as if uninterrupted."""
    whole = shared_op(0, 1)
    asyncio.run(whole.open())
    feed(whole, appended([(k, v) for k in range(6) for v in (3, 5)]))
    snapshot = tmp_path / "s.duckdb"
    write_snapshot(whole.state.snapshot_cursor(), list(whole.state.tables), snapshot)
    then = appended([(k, v) for k in range(6) for v in (5, 9)])
    expected = feed(whole, then)
    asyncio.run(whole.close())
    con = duckdb.connect(str(snapshot))  # rewritten as an earlier version wrote it
    without_ids(con)
    for i in (2, 1, 0):
        con.execute(f"CREATE TABLE old{i} AS SELECT k, __v FROM seen0 WHERE f{i}")
    con.execute("DROP TABLE seen0")
    for i in range(3):
        con.execute(f"ALTER TABLE old{i} RENAME TO seen{i}")
    con.close()

    got = restored_at_two(shared_op, SHARED_NODE, snapshot, then)
    assert sorted(got, key=str) == sorted(expected, key=str)


def without_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite a snapshot as versions before key ids wrote it: the value table keyed by the
    key columns, ``acc`` without ``__id``."""
    con.execute("CREATE TABLE old AS SELECT a.k, s.* EXCLUDE (__id) FROM seen0 s JOIN acc a USING (__id)")
    con.execute("DROP TABLE seen0")
    con.execute("ALTER TABLE old RENAME TO seen0")
    con.execute("ALTER TABLE acc DROP COLUMN __id")


def test_a_checkpoint_without_key_ids_restores(tmp_path: Path) -> None:
    """A checkpoint whose value table holds the key columns (before key ids) restores, at
    the same parallelism and at another, and the job goes on as if uninterrupted."""
    whole = shared_op(0, 1)
    asyncio.run(whole.open())
    feed(whole, appended([(k, v) for k in range(6) for v in (3, 5)]))
    snapshot = tmp_path / "s.duckdb"
    write_snapshot(whole.state.snapshot_cursor(), list(whole.state.tables), snapshot)
    then = appended([(k, v) for k in range(6) for v in (5, 9)] + [(7, 5)])
    expected = feed(whole, then)
    asyncio.run(whole.close())
    con = duckdb.connect(str(snapshot))
    without_ids(con)
    con.close()

    same = shared_op(0, 1)
    asyncio.run(same.restore(Restored(1, files=[snapshot])))
    asyncio.run(same.open())
    assert sorted(feed(same, then), key=str) == sorted(expected, key=str)
    asyncio.run(same.close())
    got = restored_at_two(shared_op, SHARED_NODE, snapshot, then)
    assert sorted(got, key=str) == sorted(expected, key=str)


def test_two_subtasks_states_merge_into_one(tmp_path: Path) -> None:
    """Each subtask numbers its keys from 0; restored into one subtask (parallelism 2 -> 1)
    the two states' keys keep their own values (no key takes another's), and new keys get
    numbers of their own: the answers are those of one subtask that saw everything."""
    whole = shared_op(0, 1)
    asyncio.run(whole.open())
    first = appended([(k, v) for k in range(8) for v in (k, 3, 5)])
    feed(whole, first)
    then = appended([(k, v) for k in range(10) for v in (k, 5, 9)])
    expected = feed(whole, then)
    asyncio.run(whole.close())

    files = []
    for j in range(2):
        op = shared_op(j, 2)
        asyncio.run(op.open())
        con = duckdb.connect()
        install_partition(con)
        con.register("b", pa.Table.from_batches([first]))
        mine = con.sql(f"SELECT * FROM b WHERE {key_filter(SHARED_NODE, 2, j)}").to_arrow_table()
        for b in mine.to_batches():
            feed(op, b)
        files.append(tmp_path / f"s{j}.duckdb")
        write_snapshot(op.state.snapshot_cursor(), list(op.state.tables), files[-1])
        asyncio.run(op.close())
    one = shared_op(0, 1)
    asyncio.run(one.restore(Restored(1, files=files, key_filter=key_filter(SHARED_NODE, 1, 0))))
    asyncio.run(one.open())
    ids = one.state.query("SELECT count(DISTINCT __id) AS n, count(*) AS rows FROM acc").to_pylist()
    assert ids == [{"n": 8, "rows": 8}]
    assert sorted(feed(one, then), key=str) == sorted(expected, key=str)
    asyncio.run(one.close())
