"""A regular join's state (both sides' rows, outer sides' match counts) is in every
checkpoint: a job cancelled mid-stream and resumed from its last checkpoint, at the same
or another parallelism, writes exactly the rows of an uninterrupted run."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from catalog.connectors import ChangelogMode
from planner.physical import ROW_KIND_COLUMN, CalcSpec, Edge, Field, JoinSpec, Node, PhysicalPlan
from runtime.checkpoint.control import Restored, key_filter
from runtime.connectors.base import SubtaskContext
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.join import JoinOp
from runtime.state.duckdb_state import write_snapshot
from tests.unit.checkpoint.test_runtime_checkpoints import published, resume, run_until_checkpoint
from tests.unit.runtime.test_join_oracle import feed, join_op

PERSONS = 1500
AUCTIONS = 5000

QUERY = """INSERT INTO out SELECT a.id, a.seller, p.id, p.name
FROM auction a JOIN person p ON a.seller = p.id"""


def ddl(out: Path, rate: int) -> str:
    return f"""
CREATE TABLE person (id BIGINT, name AS CONCAT('p', CAST(id AS STRING))) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate // 2}', 'scan.parallelism' = '1',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{PERSONS}');
CREATE TABLE auction (id BIGINT, seller AS id % 2000) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{AUCTIONS}');
CREATE TABLE out (auction BIGINT, seller BIGINT, person BIGINT, name STRING) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


def expected() -> collections.Counter[tuple[Any, ...]]:
    got = duckdb.sql(
        f"SELECT a, a % 2000, p, 'p' || p FROM range(1, {AUCTIONS + 1}) x(a) "
        f"JOIN range(1, {PERSONS + 1}) y(p) ON a % 2000 = p"
    ).fetchall()
    return collections.Counter(tuple(r) for r in got)


@pytest.mark.parametrize(("before", "after"), [(2, 2), (2, 1), (1, 2)])
def test_join_resumes_from_a_checkpoint_exactly(tmp_path: Path, before: int, after: int) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, before, out, script=ddl(out, 800), query=QUERY, checkpoints=3)
    first = sum(collections.Counter(published(out)).values())
    assert 0 < first < sum(expected().values())
    metrics = resume(tmp_path, after, out, script=ddl(out, 30000), query=QUERY)
    assert collections.Counter(published(out)) == expected()
    assert metrics["checkpoints"]["restored_from"] is not None
    join = next(op for op in metrics["operators"] if op["kind"] == "join")
    assert join["state_tables"] == {"left_rows": AUCTIONS, "right_rows": PERSONS}


def test_outer_join_match_counts_survive_a_restore_at_another_parallelism(tmp_path: Path) -> None:
    """The state of a LEFT JOIN split over two subtasks by key: each keeps its keys' rows
    and their match counts, so a retraction after the restore re-emits the padded row."""
    op = join_op("left", right_updating=True)
    asyncio.run(op.open())
    feed(op, 0, [(k, 10 * k) for k in range(1, 9)])
    feed(op, 1, [(k, 100 + k) for k in range(1, 9)], [0] * 8)
    cursor = op.state.snapshot_cursor()
    path = tmp_path / "chk.duckdb"
    write_snapshot(cursor, op.state.tables, path)
    asyncio.run(op.close())
    seen = []
    for subtask in range(2):
        new = join_op("left", right_updating=True)
        restored = Restored(1, files=[path], key_filter=key_filter(new.node, 2, subtask))
        asyncio.run(new.restore(restored))
        asyncio.run(new.open())
        mine = new.state.con.sql("SELECT k FROM left_rows").fetchall()
        for (k,) in mine:
            # the last match of k goes: -D joined, +I padded
            assert feed(new, 1, [(k, 100 + k)], [3]) == [
                (3, k, 10 * k, k, 100 + k),
                (0, k, 10 * k, None, None),
            ]
        seen += [k for (k,) in mine]
        asyncio.run(new.close())
    assert sorted(seen) == list(range(1, 9))


def anti_op() -> JoinOp:
    """``SELECT k, v FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.k = l.k)`` on its own:
    l (k, v) append-only, r (k, w) updating."""
    left = Node(1, "l", CalcSpec(()), (), (Field("k", "INT"), Field("v", "INT")))
    right = Node(2, "r", CalcSpec(()), (), (Field("k", "INT"), Field("w", "INT")), 1, ChangelogMode.ALL)
    spec = JoinSpec("anti", ("k",), ("k",), 2, 2, right_names=("k0", "w"))
    node = Node(3, "join", spec, (Edge(1), Edge(2)), left.schema, 1, ChangelogMode.ALL)
    ctx = OperatorContext(
        SubtaskContext("t", 3, "join", 0, 1), node, PhysicalPlan((left, right, node)), OperatorMetrics(3, 0),
        None, (left, right),
    )  # fmt: skip
    return JoinOp(ctx)


def anti_feed(op: JoinOp, side: int, rows: list[tuple[int, int]], kinds: list[int]) -> list[tuple[Any, ...]]:
    data = {"k": [r[0] for r in rows], ("v" if side == 0 else "w"): [r[1] for r in rows]}
    batch = pa.RecordBatch.from_pydict({**data, ROW_KIND_COLUMN: pa.array(kinds, pa.int8())})
    out = asyncio.run(op.process_batch(batch, side))
    return [(r[ROW_KIND_COLUMN], r["k"], r["v"]) for b in out for r in b.to_pylist()]


def test_anti_join_match_counts_survive_a_restore_at_another_parallelism(tmp_path: Path) -> None:
    """An anti join's left rows keep their match counts through a restore split by key:
    the last match's retraction after the restore brings the row back (+I), as Flink's
    StreamingSemiAntiJoinOperator does."""
    op = anti_op()
    asyncio.run(op.open())
    assert anti_feed(op, 0, [(k, 10 * k) for k in range(1, 9)], [0] * 8) == [
        (0, k, 10 * k) for k in range(1, 9)
    ]
    # a first match retracts the row; a second changes nothing
    assert anti_feed(op, 1, [(k, 100 + k) for k in range(1, 9)], [0] * 8) == [
        (3, k, 10 * k) for k in range(1, 9)
    ]
    assert anti_feed(op, 1, [(1, 7)], [0]) == []
    path = tmp_path / "chk.duckdb"
    write_snapshot(op.state.snapshot_cursor(), op.state.tables, path)
    asyncio.run(op.close())
    seen = []
    for subtask in range(2):
        new = anti_op()
        asyncio.run(new.restore(Restored(1, files=[path], key_filter=key_filter(new.node, 2, subtask))))
        asyncio.run(new.open())
        for (k,) in new.state.con.sql("SELECT k FROM left_rows").fetchall():
            assert anti_feed(new, 1, [(k, 100 + k)], [3]) == ([] if k == 1 else [(0, k, 10 * k)])
            seen.append(k)
        asyncio.run(new.close())
    assert sorted(seen) == list(range(1, 9))
