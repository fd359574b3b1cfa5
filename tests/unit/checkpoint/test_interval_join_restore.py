"""An interval join's state (both sides' rows in their intervals, the outer side's
matched flags, the watermark) is in every checkpoint: a job cancelled mid-stream and
resumed from its last checkpoint, at the same or another parallelism, writes exactly the
rows of an uninterrupted run; state is dropped as the watermark passes."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from catalog.connectors import ChangelogMode
from planner.physical import Edge, Field, IntervalJoinSpec, Node, PhysicalPlan, WatermarkSpec, WindowJoinSpec
from planner.window import Window
from runtime.checkpoint.control import Restored, key_filter
from runtime.connectors.base import SubtaskContext
from runtime.messages import SideOutput, Watermark
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators import window_join
from runtime.operators.interval_join import IntervalJoinOp
from runtime.operators.window_join import WindowJoinOp
from runtime.state.duckdb_state import write_snapshot
from tests.unit.checkpoint.test_runtime_checkpoints import published, resume, run_until_checkpoint

AUCTIONS = 4000

QUERY = """INSERT INTO out SELECT a.id, b.id, b.price
FROM auction a LEFT JOIN bid b ON a.id = b.auction
AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '2' SECOND"""


def ddl(out: Path, rate: int) -> str:
    """Auction n opens at n * 10 ms; its bid comes 0.5 s later, except every fifth bid,
    which names an auction that does not exist (its auction is padded)."""
    return f"""
CREATE TABLE auction (id BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{AUCTIONS}');
CREATE TABLE bid (id BIGINT, auction AS id + CASE WHEN id % 5 = 0 THEN 100000 ELSE 0 END,
  price AS id * 3, ts AS TO_TIMESTAMP_LTZ(id * 10 + 500, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'scan.parallelism' = '1',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{AUCTIONS}');
CREATE TABLE out (auction BIGINT, bid BIGINT, price BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


def expected() -> collections.Counter[tuple[Any, ...]]:
    got = duckdb.sql(
        f"SELECT a, CASE WHEN a % 5 = 0 THEN NULL ELSE a END, CASE WHEN a % 5 = 0 THEN NULL ELSE 3 * a END "
        f"FROM range(1, {AUCTIONS + 1}) x(a)"
    ).fetchall()
    return collections.Counter(tuple(r) for r in got)


@pytest.mark.parametrize(("before", "after"), [(2, 2), (2, 1), (1, 2)])
def test_interval_join_resumes_from_a_checkpoint_exactly(tmp_path: Path, before: int, after: int) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, before, out, script=ddl(out, 200), query=QUERY, checkpoints=2)
    first = sum(collections.Counter(published(out)).values())
    assert 0 < first < AUCTIONS
    metrics = resume(tmp_path, after, out, script=ddl(out, 30000), query=QUERY)
    assert collections.Counter(published(out)) == expected()
    assert metrics["checkpoints"]["restored_from"] is not None
    join = next(op for op in metrics["operators"] if op["kind"] == "interval_join")
    assert join["state_tables"] == {"left_rows": 0, "right_rows": 0}  # all dropped at the end


# ---- one subtask on its own -----------------------------------------------------------


def interval_op(join_type: str = "left", late_sink: bool = False) -> IntervalJoinOp:
    """l (k, v, ts) LEFT JOIN r (k, w, ts) ON l.k = r.k AND l.ts BETWEEN r.ts - 5 s AND r.ts + 2 s."""
    wm = WatermarkSpec("ts", '"ts"')
    left = Node(
        1, "l", wm, (), (Field("k", "INT"), Field("v", "INT"), Field("ts", "TIMESTAMP(3)", "rowtime"))
    )
    right = Node(
        2, "r", wm, (), (Field("k", "INT"), Field("w", "INT"), Field("ts", "TIMESTAMP(3)", "rowtime"))
    )
    residual = '"ts" BETWEEN "ts0" - INTERVAL 5 SECOND AND "ts0" + INTERVAL 2 SECOND'
    spec = IntervalJoinSpec(join_type, ("k",), ("k",), 3, 3, "ts", "ts0", -5000, 2000, residual=residual)
    schema = (*left.schema, Field("k0", "INT"), Field("w", "INT"), Field("ts0", "TIMESTAMP(3)", "rowtime"))
    node = Node(3, "IntervalJoin", spec, (Edge(1), Edge(2)), schema, 1, ChangelogMode.INSERT_ONLY)
    nodes = [left, right, node]
    if late_sink:
        nodes.append(Node(4, "Calc(LateRows)", wm, (Edge(3, output=1),), ()))
    ctx = OperatorContext(
        SubtaskContext("t", 3, "join", 0, 1), node, PhysicalPlan(tuple(nodes)), OperatorMetrics(3, 0), None,
        (left, right),
    )  # fmt: skip
    return IntervalJoinOp(ctx)


def at(seconds: float) -> dt.datetime:
    return dt.datetime(2024, 1, 1) + dt.timedelta(seconds=seconds)


def ms(seconds: float) -> int:
    return int((at(seconds) - dt.datetime(1970, 1, 1)).total_seconds() * 1000)


def feed(op: IntervalJoinOp, side: int, rows: list[tuple[Any, ...]]) -> list[Any]:
    col = "v" if side == 0 else "w"
    batch = pa.RecordBatch.from_pydict(
        {
            "k": pa.array([r[0] for r in rows], pa.int32()),
            col: pa.array([r[1] for r in rows], pa.int32()),
            "ts": pa.array([at(r[2]) for r in rows], pa.timestamp("ms")),
        }
    )
    return asyncio.run(op.process_batch(batch, side))


def joined(messages: list[Any]) -> list[tuple[Any, ...]]:
    rows = [
        (r["k"], r["v"], r["k0"], r["w"])
        for m in messages
        if isinstance(m, pa.RecordBatch)
        for r in m.to_pylist()
    ]
    return sorted(rows, key=str)


def test_state_is_dropped_and_outer_rows_padded_as_the_watermark_passes() -> None:
    op = interval_op("full")
    asyncio.run(op.open())
    try:
        assert joined(feed(op, 0, [(1, 10, 10), (2, 20, 10)])) == []
        assert joined(feed(op, 1, [(1, 100, 12), (3, 300, 11)])) == [(1, 10, 1, 100)]
        assert op.metrics.state_tables == {"left_rows": 2, "right_rows": 2}
        # a right row can match left rows up to 2 s after it, a left row right rows up to 5 s after it
        out = asyncio.run(op.on_watermark(ms(13.5)))
        assert joined(out) == [(None, None, 3, 300)]  # r@11 + 2 s < 13.5: closed, never matched
        assert out[-1] == Watermark(ms(13.5) - 5000)  # held back by max(5 s, 2 s)
        assert op.metrics.state_tables == {"left_rows": 2, "right_rows": 1}
        out = asyncio.run(op.on_watermark(ms(16)))
        assert joined(out) == [(2, 20, None, None)]  # l@10 + 5 s < 16; l@10 matched, not padded
        assert op.metrics.state_tables == {"left_rows": 0, "right_rows": 0}
    finally:
        asyncio.run(op.close())


def test_rows_behind_the_watermark_are_dropped_counted_and_kept_for_the_late_rows_sink() -> None:
    op = interval_op("left", late_sink=True)
    asyncio.run(op.open())
    try:
        asyncio.run(op.on_watermark(ms(20)))
        out = feed(op, 0, [(1, 10, 19.5), (1, 11, 20)])
        assert joined(out) == []
        late = [m for m in out if isinstance(m, SideOutput)]
        assert len(late) == 1 and late[0].batch.num_rows == 1
        row = late[0].batch.to_pylist()[0]
        assert row["operator"] == "IntervalJoin#3"
        assert row["event_time"] == at(19.5) and row["watermark_time"] == at(20)
        assert '"v":10' in row["row_json"]
        assert op.metrics.late_rows_dropped == 1
        assert op.metrics.state_tables == {"left_rows": 1, "right_rows": 0}
    finally:
        asyncio.run(op.close())


def test_matched_flags_and_watermark_survive_a_restore_at_another_parallelism(tmp_path: Path) -> None:
    """The state of a LEFT interval join split over two subtasks by key: each keeps its
    keys' rows with their matched flags and the watermark, so after the restore a matched
    row leaves without padding, an unmatched one is padded, and a late row stays late."""
    op = interval_op("left")
    asyncio.run(op.open())
    feed(op, 0, [(k, 10 * k, 10) for k in range(1, 9)])
    feed(op, 1, [(k, 100 + k, 11) for k in range(1, 9) if k % 2 == 0])
    asyncio.run(op.on_watermark(ms(12)))
    cursor = op.state.snapshot_cursor()
    path = tmp_path / "chk.duckdb"
    write_snapshot(cursor, op.state.tables, path)
    small = asyncio.run(op.snapshot(1)).state
    asyncio.run(op.close())
    padded: list[tuple[Any, ...]] = []
    for subtask in range(2):
        new = interval_op("left")
        asyncio.run(
            new.restore(
                Restored(1, states=[small], files=[path], key_filter=key_filter(new.node, 2, subtask))
            )
        )
        asyncio.run(new.open())
        assert joined(feed(new, 1, [(1, 999, 11.5)])) == []  # behind the restored watermark: late
        padded += joined(asyncio.run(new.on_watermark(ms(30))))
        asyncio.run(new.close())
    assert sorted(padded) == [(k, 10 * k, None, None) for k in (1, 3, 5, 7)]


def window_op() -> WindowJoinOp:
    """l (k, v, ts) FULL JOIN r (k, w, ts) of one TUMBLE window, on k and the window's end
    (``ts`` here)."""
    wm = WatermarkSpec("ts", '"ts"')
    cols = (Field("k", "INT"), Field("v", "INT"), Field("ts", "TIMESTAMP(3)"))
    left = Node(1, "l", wm, (), cols)
    right = Node(2, "r", wm, (), (cols[0], Field("w", "INT"), cols[2]))
    window = Window("tumble", "", size_ms=5000)
    spec = WindowJoinSpec("full", ("k", "ts"), ("k", "ts"), 3, 3, "ts", "ts0", window)
    schema = (*cols, Field("k0", "INT"), Field("w", "INT"), Field("ts0", "TIMESTAMP(3)"))
    node = Node(3, "WindowJoin", spec, (Edge(1), Edge(2)), schema, 1, ChangelogMode.INSERT_ONLY)
    plan = PhysicalPlan((left, right, node))
    ctx = OperatorContext(
        SubtaskContext("t", 3, "join", 0, 1), node, plan, OperatorMetrics(3, 0), None, (left, right)
    )
    return WindowJoinOp(ctx)


def test_window_join_fires_each_window_once_and_its_state_survives_a_rescale(tmp_path: Path) -> None:
    """Rows of window [10 s, 15 s) wait in state; a restore split by key keeps them and
    the watermark (a row for the fired window [5 s, 10 s) stays late); the watermark
    passing 15 s fires the window: matches joined, the others padded, the state empty."""
    op = window_op()
    asyncio.run(op.open())
    assert joined(feed(op, 0, [(k, 10 * k, 15) for k in range(1, 7)])) == []
    assert joined(feed(op, 1, [(k, 100 + k, 15) for k in range(1, 7) if k % 2 == 0] + [(9, 109, 15)])) == []
    assert joined(asyncio.run(op.on_watermark(ms(12)))) == []
    path = tmp_path / "chk.duckdb"
    # as a task does: the operator's snapshot first (rows waiting in Arrow are written to
    # the state then), the copy of its tables after
    small = asyncio.run(op.snapshot(1)).state
    write_snapshot(op.state.snapshot_cursor(), op.state.tables, path)
    asyncio.run(op.close())
    fired: list[tuple[Any, ...]] = []
    for subtask in range(2):
        new = window_op()
        filt = key_filter(new.node, 2, subtask)
        asyncio.run(new.restore(Restored(1, states=[small], files=[path], key_filter=filt)))
        asyncio.run(new.open())
        assert joined(feed(new, 0, [(1, 5, 10)])) == [] and new.metrics.late_rows_dropped == 1
        fired += joined(asyncio.run(new.on_watermark(ms(14.999))))
        assert new.metrics.state_tables == {"left_rows": 0, "right_rows": 0}
        asyncio.run(new.close())
    expected = [(k, 10 * k, k, 100 + k) if k % 2 == 0 else (k, 10 * k, None, None) for k in range(1, 7)]
    assert sorted(fired, key=str) == sorted([*expected, (None, None, 9, 109)], key=str)


@pytest.mark.parametrize("most", [window_join.MAX_WAITING, 1])
def test_window_join_fires_rows_waiting_in_arrow_and_in_state_window_by_window(
    monkeypatch: pytest.MonkeyPatch, most: int
) -> None:
    """A batch none of whose rows is late waits in Arrow (until more than ``most`` rows
    wait: then in DuckDB state), one with a late row goes into DuckDB state (its late row
    dropped and counted): a window's rows of both kinds are joined when it fires, and a
    batch spanning two windows fires window by window."""
    monkeypatch.setattr(window_join, "MAX_WAITING", most)
    op = window_op()
    asyncio.run(op.open())
    try:
        assert joined(feed(op, 0, [(1, 10, 15), (2, 20, 20)])) == []  # two windows, in Arrow
        assert joined(asyncio.run(op.on_watermark(ms(11)))) == []
        assert joined(feed(op, 1, [(1, 101, 10), (2, 102, 15), (3, 103, 20)])) == []  # r@10: late
        assert op.metrics.late_rows_dropped == 1
        assert joined(feed(op, 1, [(1, 111, 15)])) == []  # in Arrow
        assert op.metrics.state_tables == {"left_rows": 2, "right_rows": 3}
        first = joined(asyncio.run(op.on_watermark(ms(14.999))))
        assert first == sorted([(1, 10, 1, 111), (None, None, 2, 102)], key=str)
        assert op.metrics.state_tables == {"left_rows": 1, "right_rows": 1}
        assert joined(asyncio.run(op.on_watermark(ms(19.999)))) == [(2, 20, None, None), (None, None, 3, 103)]
        assert op.metrics.state_tables == {"left_rows": 0, "right_rows": 0}
    finally:
        asyncio.run(op.close())
