"""State TTL of a regular join, on a clock the test moves: a side's stored row that was
not written for the TTL is dropped from the state table (not only hidden), so a row of
the other side arriving later no longer matches it; every write (a new row, an identical
row again, a change of its match count) gives it the full TTL again, as Flink's
``OnCreateAndWrite`` does; expiry times are part of a checkpoint."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from planner.physical import JoinSpec
from runtime.checkpoint.control import Restored
from runtime.operators.join import JoinOp
from runtime.state.duckdb_state import write_snapshot
from tests.unit.runtime.test_join_oracle import feed, join_op


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def ttl_join(
    join_type: str, left_ttl: int, right_ttl: int, clock: Clock, right_updating: bool = False
) -> JoinOp:
    op = join_op(join_type, right_updating)
    spec = op.node.spec
    assert isinstance(spec, JoinSpec)
    op.node = dataclasses.replace(
        op.node, spec=dataclasses.replace(spec, left_ttl_ms=left_ttl, right_ttl_ms=right_ttl)
    )
    op.ctx.node = op.node
    op.clock = clock
    asyncio.run(op.open())
    return op


def at(
    clock: Clock, ms: int, op: JoinOp, side: int, rows: list[tuple[Any, ...]], kinds: list[int] | None = None
) -> list[tuple[Any, ...]]:
    clock.now = 1_000_000 + ms
    return feed(op, side, rows, kinds)


def test_an_expired_row_no_longer_matches_and_leaves_the_state_table() -> None:
    clock = Clock()
    op = ttl_join("inner", 1000, 1000, clock)
    try:
        assert at(clock, 0, op, 0, [(1, 10), (2, 20)]) == []
        assert at(clock, 999, op, 1, [(1, 7)]) == [(0, 1, 10, 1, 7)]
        # at 1000 the left rows written at 0 have expired; the right row of 999 has not
        assert at(clock, 1000, op, 1, [(1, 8), (2, 9)]) == []
        assert op.state.scalar("SELECT count(*) FROM left_rows") == 0
        assert op.metrics.state_rows_expired == 2
        # a left row arriving now is new: it meets the right rows still alive
        assert at(clock, 1500, op, 0, [(1, 11)]) == [(0, 1, 11, 1, 7), (0, 1, 11, 1, 8)]
        assert at(clock, 1999, op, 0, [(1, 12), (2, 21)]) == [(0, 1, 12, 1, 8), (0, 2, 21, 2, 9)]
        assert op.metrics.state_tables == {"left_rows": 3, "right_rows": 2}
    finally:
        asyncio.run(op.close())


def test_an_identical_row_refreshes_its_entry_and_joins_as_often_as_it_came() -> None:
    """Flink keeps identical rows of a side as one map entry with a count: the second copy
    writes the entry, so both copies live until the TTL after the second."""
    clock = Clock()
    op = ttl_join("inner", 1000, 0, clock)
    try:
        at(clock, 0, op, 0, [(1, 10)])
        at(clock, 800, op, 0, [(1, 10)])
        assert at(clock, 1500, op, 1, [(1, 7)]) == [(0, 1, 10, 1, 7)] * 2
        assert at(clock, 1800, op, 1, [(1, 8)]) == []
        # the right side has no TTL: its rows stay
        assert op.metrics.state_tables == {"left_rows": 0, "right_rows": 2}
    finally:
        asyncio.run(op.close())


def test_a_new_match_refreshes_an_outer_row_and_an_expired_partner_pads_again() -> None:
    """LEFT JOIN, both sides with a TTL: a right row matching a left row changes that
    row's match count, which is a write; once the right row has expired, a new left row
    of its key finds nothing and is padded."""
    clock = Clock()
    op = ttl_join("left", 1000, 1000, clock)
    try:
        assert at(clock, 0, op, 0, [(1, 10)]) == [(0, 1, 10, None, None)]
        assert at(clock, 900, op, 1, [(1, 7)]) == [(3, 1, 10, None, None), (0, 1, 10, 1, 7)]
        # the left row's count of matches was written at 900: it lives until 1900
        assert at(clock, 1500, op, 1, [(1, 8)]) == [(0, 1, 10, 1, 8)]
        # at 1900 the right row of 900 and the left row are gone; 8 (from 1500) lives
        assert at(clock, 1950, op, 0, [(1, 11)]) == [(0, 1, 11, 1, 8)]
        assert at(clock, 2600, op, 0, [(1, 12)]) == [(0, 1, 12, None, None)]
    finally:
        asyncio.run(op.close())


def test_a_quiet_join_drops_its_expired_state_on_a_timer() -> None:
    clock = Clock()
    op = ttl_join("inner", 1000, 500, clock)
    try:
        at(clock, 0, op, 0, [(1, 10)])
        at(clock, 100, op, 1, [(2, 7)])
        assert op.next_timer_ms() is None or op.next_timer_ms() <= 1_000_000 + 600
        clock.now = 1_000_000 + 700
        asyncio.run(op.on_timer(clock.now))
        assert op.metrics.state_tables == {"left_rows": 1, "right_rows": 0}
        assert op.next_timer_ms() == 1_000_000 + 1000
        clock.now = 1_000_000 + 1000
        asyncio.run(op.on_timer(clock.now))
        assert op.metrics.state_tables == {"left_rows": 0, "right_rows": 0}
        assert op.next_timer_ms() is None
    finally:
        asyncio.run(op.close())


def test_expiry_times_are_part_of_a_checkpoint(tmp_path: Path) -> None:
    """A row restored from a checkpoint keeps its expiry: one whose TTL ran out while the
    job was down is gone at the first batch; one still alive matches."""
    clock = Clock()
    op = ttl_join("inner", 1000, 1000, clock)
    at(clock, 0, op, 0, [(1, 10)])
    at(clock, 600, op, 0, [(2, 20)])
    path = tmp_path / "chk.duckdb"
    write_snapshot(op.state.snapshot_cursor(), op.state.tables, path)
    asyncio.run(op.close())
    new = join_op("inner", False)
    spec = new.node.spec
    assert isinstance(spec, JoinSpec)
    new.node = dataclasses.replace(
        new.node, spec=dataclasses.replace(spec, left_ttl_ms=1000, right_ttl_ms=1000)
    )
    new.ctx.node = new.node
    new.clock = clock
    asyncio.run(new.restore(Restored(1, files=[path])))
    asyncio.run(new.open())
    try:
        assert at(clock, 1200, new, 1, [(1, 7), (2, 8)]) == [(0, 2, 20, 2, 8)]
        assert new.metrics.state_tables == {"left_rows": 1, "right_rows": 2}
    finally:
        asyncio.run(new.close())
