"""A Sort's state goes into the checkpoint and comes back (a Top-N, ORDER BY .. LIMIT, is a
rank: ``test_rank_restore``): a sort by the watermark keeps its held rows and the
watermark it fired, so a held row still comes out and a late one is still dropped; the
first rows (LIMIT) keep counting where they stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow as pa

from catalog.connectors import ChangelogMode
from planner.physical import ROW_KIND_COLUMN, Field, SortField, SortSpec
from runtime.checkpoint.control import Restored
from runtime.operators.sort import SortOp
from runtime.state.duckdb_state import write_snapshot
from tests.unit.runtime.helpers import behind_source

SCHEMA = (Field("k", "INT"), Field("ts", "TIMESTAMP(3)"))


def sort_op(spec: SortSpec, updating_in: bool) -> SortOp:
    mode = ChangelogMode.ALL if updating_in else ChangelogMode.INSERT_ONLY
    return behind_source(SortOp, spec, "sort", SCHEMA, mode, ChangelogMode.INSERT_ONLY)


def batch(rows: list[tuple[int, int]], kinds: list[int] | None = None) -> pa.RecordBatch:
    """(k, second) rows."""
    data: dict[str, Any] = {
        "k": pa.array([r[0] for r in rows], pa.int32()),
        "ts": pa.array([r[1] * 1_000_000 for r in rows], pa.timestamp("us")),
    }
    if kinds is not None:
        data[ROW_KIND_COLUMN] = pa.array(kinds, pa.int8())
    return pa.RecordBatch.from_pydict(data)


def out(messages: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for m in messages if isinstance(m, pa.RecordBatch) for r in m.to_pylist()]


def run_twice(tmp_path: Path, spec: SortSpec, updating: bool, first: list[Any], then: list[Any]) -> None:
    """Feed ``first`` then ``then`` (each a batch or a watermark in ms) to one operator, and
    to one that snapshots after ``first`` and a second restored from that snapshot."""

    def feed(op: SortOp, steps: list[Any]) -> list[tuple[Any, ...]]:
        got = []
        for step in steps:
            if isinstance(step, int):
                got += out(asyncio.run(op.on_watermark(step)))
            else:
                got += out(asyncio.run(op.process_batch(step, 0)))
        return got

    whole = sort_op(spec, updating)
    asyncio.run(whole.open())
    before = feed(whole, first)
    saved = asyncio.run(whole.snapshot(1))
    write_snapshot(whole.state.snapshot_cursor(), list(whole.state.tables), tmp_path / "s.duckdb")
    expected = feed(whole, then)
    asyncio.run(whole.close())
    resumed = sort_op(spec, updating)
    asyncio.run(
        resumed.restore(Restored(1, states=[saved.state], files=[tmp_path / "s.duckdb"], key_filter="true"))
    )
    asyncio.run(resumed.open())
    assert feed(resumed, then) == expected
    assert expected, "the test must see rows after the restore"
    assert before is not None
    asyncio.run(resumed.close())


def test_sort_by_watermark_resumes_with_held_rows_and_its_watermark(tmp_path: Path) -> None:
    spec = SortSpec((SortField("ts"), SortField("k")), mode="temporal", time_column="ts")
    first = [batch([(2, 5), (1, 3), (7, 1)]), 2000]  # fires (7, 1); (1, 3) and (2, 5) wait
    then = [batch([(8, 1), (6, 4)]), 6000]  # (8, 1) is late and dropped
    run_twice(tmp_path, spec, False, first, then)


def test_first_rows_resume_counting(tmp_path: Path) -> None:
    spec = SortSpec((), 1, 3, "first")
    run_twice(tmp_path, spec, False, [batch([(1, 1), (2, 1)])], [batch([(3, 1), (4, 1), (5, 1)])])
