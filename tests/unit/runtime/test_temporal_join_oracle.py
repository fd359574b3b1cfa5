"""Event-time temporal joins against a reference model: a left stream of rows and a
versioned right stream (+I/+U versions and -D deletions by key, in time order within the
watermark delay) interleaved at random into one join subtask, the watermark following
both; every left row must join the version of its key valid at its time (the latest at
or before it, the later arrival of two with one time), or none when that version is a
deletion or fails the condition, as Flink's TemporalRowTimeJoinOperator does."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.connectors import ChangelogMode
from planner.physical import ROW_KIND_COLUMN, Edge, Field, Node, PhysicalPlan, TemporalJoinSpec, WatermarkSpec
from runtime.checkpoint.control import Restored, key_filter
from runtime.connectors.base import SubtaskContext
from runtime.messages import MAX_WATERMARK
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.temporal_join import TemporalJoinOp
from runtime.state.duckdb_state import write_snapshot
from tests.conftest import examples

EPOCH = dt.datetime(2024, 1, 1)
DELAY = 3  # seconds


def temporal_op(join_type: str, residual: str | None = None) -> TemporalJoinOp:
    """``l (k, v, ts) [LEFT] JOIN r FOR SYSTEM_TIME AS OF l.ts ON l.k = r.k``; r (k, w, ts)
    is an updating (upsert) stream keyed by k."""
    wm = WatermarkSpec("ts", '"ts"')
    ts = Field("ts", "TIMESTAMP(3)", "rowtime")
    left = Node(1, "l", wm, (), (Field("k", "INT"), Field("v", "INT"), ts))
    right = Node(2, "r", wm, (), (Field("k", "INT"), Field("w", "INT"), ts), 1, ChangelogMode.UPSERT)
    spec = TemporalJoinSpec(join_type, ("k",), ("k",), 3, 3, "ts", "ts0", residual=residual)
    schema = (*left.schema, Field("k0", "INT"), Field("w", "INT"), Field("ts0", "TIMESTAMP(3)"))
    node = Node(3, "TemporalJoin", spec, (Edge(1), Edge(2)), schema, 1, ChangelogMode.INSERT_ONLY)
    plan = PhysicalPlan((left, right, node))
    ctx = OperatorContext(
        SubtaskContext("t", 3, "j", 0, 1), node, plan, OperatorMetrics(3, 0), None, (left, right)
    )
    return TemporalJoinOp(ctx)


def batch(side: int, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    data: dict[str, Any] = {
        "k": pa.array([r[0] for r in rows], pa.int32()),
        ("v" if side == 0 else "w"): pa.array([r[1] for r in rows], pa.int32()),
        "ts": pa.array([EPOCH + dt.timedelta(seconds=r[2]) for r in rows], pa.timestamp("us")),
    }
    if side == 1:
        data[ROW_KIND_COLUMN] = pa.array([r[3] for r in rows], pa.int8())
    return pa.RecordBatch.from_pydict(data)


def rows_of(messages: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (r["k"], r["v"], int((r["ts"] - EPOCH).total_seconds()), r["k0"], r["w"])
        for m in messages
        if isinstance(m, pa.RecordBatch)
        for r in m.to_pylist()
    ]


def ms(seconds: int) -> int:
    return int((EPOCH - dt.datetime(1970, 1, 1)).total_seconds() * 1000) + seconds * 1000


def in_time_order(events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """By time plus a jitter within the watermark delay (the last field), which is dropped."""
    return [e[:-1] for e in sorted(events, key=lambda e: (e[2] + e[-1], e[2]))]


def reference(
    left: list[tuple[Any, ...]], right: list[tuple[Any, ...]], join_type: str, residual: bool
) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for k, v, t in left:
        versions = [
            (rt, i, w, kind)
            for i, (rk, w, rt, kind) in enumerate(right)
            if k is not None and rk == k and rt <= t
        ]
        found = max(versions, default=None)
        if (
            found is not None
            and found[3] in (0, 2)
            and (not residual or (found[2] is not None and found[2] > v))
        ):
            out[(k, v, t, k, found[2])] += 1
        elif join_type == "left":
            out[(k, v, t, None, None)] += 1
    return out


left_event = st.tuples(
    st.one_of(st.integers(0, 3), st.none()), st.integers(0, 9), st.integers(0, 30), st.integers(0, DELAY)
)
right_event = st.tuples(
    st.integers(0, 3),
    st.integers(0, 9),
    st.integers(0, 30),
    st.sampled_from([0, 2, 2, 3]),
    st.integers(0, DELAY),
)


@settings(max_examples=examples(40), deadline=None)
@given(
    left=st.lists(left_event, max_size=20),
    right=st.lists(right_event, max_size=20),
    order=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 4)), max_size=40),
    join_type=st.sampled_from(["inner", "left"]),
    residual=st.booleans(),
)
def test_each_row_joins_the_version_valid_at_its_time(
    left: list[tuple[Any, ...]],
    right: list[tuple[Any, ...]],
    order: list[tuple[int, int]],
    join_type: str,
    residual: bool,
) -> None:
    lrows = in_time_order(left)
    rrows = [(k, None if kind == 3 else w, t, kind) for k, w, t, kind in in_time_order(right)]
    op = temporal_op(join_type, '"w" > "v"' if residual else None)
    asyncio.run(op.open())
    got: list[tuple[Any, ...]] = []
    queues = [list(lrows), list(rrows)]
    seen = [-(10**9), -(10**9)]
    wm = None
    try:
        for side, n in [*order, (0, 10**6), (1, 10**6)]:
            chunk, queues[side] = queues[side][:n], queues[side][n:]
            if not chunk:
                continue
            got += rows_of(asyncio.run(op.process_batch(batch(side, chunk), side)))
            seen[side] = max(seen[side], *(r[2] for r in chunk))
            new = min(seen) - DELAY
            if min(seen) > -(10**9) and (wm is None or new > wm):
                wm = new
                got += rows_of(asyncio.run(op.on_watermark(ms(wm))))
        got += rows_of(asyncio.run(op.on_watermark(MAX_WATERMARK)))
    finally:
        asyncio.run(op.close())
    right_model = [(k, w, t, kind) for k, w, t, kind in rrows]
    assert op.metrics.late_rows_dropped == 0
    assert Counter(got) == reference(lrows, right_model, join_type, residual)


def test_versions_survive_a_restore_at_another_parallelism(tmp_path: Path) -> None:
    """Left rows waiting for the watermark and the versions they will join are split by
    key over two subtasks; after the restore each row joins the version valid at its
    time, a deleted key pads its row, and old versions were dropped."""
    op = temporal_op("left")
    asyncio.run(op.open())
    asyncio.run(op.process_batch(batch(1, [(k, 10 * k, 1, 0) for k in range(6)]), 1))
    asyncio.run(op.process_batch(batch(1, [(k, 20 * k, 5, 2) for k in range(6)] + [(5, None, 6, 3)]), 1))
    asyncio.run(op.on_watermark(ms(5)))  # the versions at 1 s are older than the newest at or before 5 s
    assert op.metrics.state_tables == {"left_rows": 0, "right_rows": 7}
    asyncio.run(op.process_batch(batch(0, [(k, k, 8) for k in range(6)]), 0))
    path = tmp_path / "chk.duckdb"
    write_snapshot(op.state.snapshot_cursor(), op.state.tables, path)
    small = asyncio.run(op.snapshot(1)).state
    asyncio.run(op.close())
    got: list[tuple[Any, ...]] = []
    for subtask in range(2):
        new = temporal_op("left")
        asyncio.run(
            new.restore(
                Restored(1, states=[small], files=[path], key_filter=key_filter(new.node, 2, subtask))
            )
        )
        asyncio.run(new.open())
        assert rows_of(asyncio.run(new.process_batch(batch(0, [(0, 99, 4)]), 0))) == []  # late
        got += rows_of(asyncio.run(new.on_watermark(ms(9))))
        asyncio.run(new.close())
    assert sorted(got, key=str) == sorted(
        [(k, k, 8, k, 20 * k) for k in range(5)] + [(5, 5, 8, None, None)], key=str
    )


def test_a_tombstone_without_a_version_time_is_counted_not_seen() -> None:
    """An upsert-kafka tombstone whose version time is a value column reaches the join as
    a -D with only its key: it cannot be placed in time, so the join keeps the version
    before it (an order after the deletion still gets the old rate) and counts the
    tombstone in ``versions_dropped``, where a user can see deletions are missed."""
    op = temporal_op("left")
    asyncio.run(op.open())
    try:
        asyncio.run(op.process_batch(batch(1, [(1, 100, 0, 0), (2, 7, 0, 0)]), 1))
        tombstone = pa.RecordBatch.from_pydict({
            "k": pa.array([1], pa.int32()),
            "w": pa.array([None], pa.int32()),
            "ts": pa.array([None], pa.timestamp("us")),
            ROW_KIND_COLUMN: pa.array([3], pa.int8()),
        })  # fmt: skip
        asyncio.run(op.process_batch(tombstone, 1))
        asyncio.run(op.process_batch(batch(1, [(2, None, 5, 3)]), 1))  # a tombstone with its time
        asyncio.run(op.process_batch(batch(0, [(1, 1, 10), (2, 2, 10)]), 0))
        got = rows_of(asyncio.run(op.on_watermark(MAX_WATERMARK)))
        assert sorted(got) == [(1, 1, 10, 1, 100), (2, 2, 10, None, None)]
        assert op.metrics.versions_dropped == 1
        assert op.metrics.as_dict()["versions_dropped"] == 1
    finally:
        asyncio.run(op.close())
