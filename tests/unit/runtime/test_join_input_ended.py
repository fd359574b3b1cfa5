"""A regular join whose other input has ended no longer stores a side's rows (nothing will
read them) and emits exactly what it emits when it stores them."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runtime.operators.join import JoinOp
from tests.unit.checkpoint.test_interval_join_restore import feed as feed_timed
from tests.unit.checkpoint.test_interval_join_restore import interval_op, joined
from tests.unit.runtime.test_join_oracle import SETTINGS, feed, join_op

keys = st.one_of(st.integers(0, 3), st.none())
rows = st.lists(st.tuples(keys, st.integers(0, 4)), max_size=8)
# (side, rows, kinds): the right input updates, so its later batches may retract
batches = st.lists(st.tuples(st.sampled_from([0, 1]), rows, st.booleans()), max_size=6)


def run(op: JoinOp, steps: list[tuple[int, list[tuple[Any, ...]], bool]]) -> list[list[tuple[Any, ...]]]:
    """Feed the steps; a right batch with ``retract`` set first inserts its rows, then
    retracts them (kinds +I... -D...), so that every retraction finds its row (an
    append-only right input gets its rows as they are)."""
    out = []
    updating = op.ctx.input_updating(1)
    for side, data, retract in steps:
        if side == 1 and retract and updating:
            out.append(feed(op, 1, data + data, [0] * len(data) + [3] * len(data)))
        else:
            out.append(feed(op, side, data, [0] * len(data) if side == 1 and updating else None))
    return out


@SETTINGS
@given(
    join=st.sampled_from(["inner", "left", "right", "full"]),
    before=batches,
    after=st.lists(rows, min_size=1, max_size=3),
    retract=st.booleans(),
    ended=st.sampled_from([0, 1]),
    right_updating=st.booleans(),
)
def test_a_side_is_not_stored_once_the_other_input_ended_and_the_output_is_the_same(
    join: str,
    before: list[tuple[int, list[tuple[Any, ...]], bool]],
    after: list[list[tuple[Any, ...]]],
    retract: bool,
    ended: int,
    right_updating: bool,
) -> None:
    """Two joins get the same batches; one is told that input ``ended`` has ended before the
    other input's last batches: same changelog, row for row, and those batches are not
    stored. (An inner join whose ended side is append-only reads that side's columns from
    an Arrow copy of its state from then on, for every later batch.)"""
    ops = [join_op(join, right_updating=right_updating) for _ in range(2)]
    for op in ops:
        asyncio.run(op.open())
    try:
        side = 1 - ended
        steps = [s for s in before if s[0] == ended] + [s for s in before if s[0] == side]
        last = [(side, data, retract) for data in after]
        assert run(ops[0], steps) == run(ops[1], steps)
        stored = ops[1].state.scalar(f"SELECT count(*) FROM {ops[1].sides[side].table}")
        asyncio.run(ops[1].on_input_ended(ended))
        assert run(ops[0], last) == run(ops[1], last)
        assert ops[1].state.scalar(f"SELECT count(*) FROM {ops[1].sides[side].table}") == stored
    finally:
        for op in ops:
            asyncio.run(op.close())


# ---- the interval join: the same for an inner side; an outer side is still stored -------


def test_an_interval_join_does_not_store_an_inner_side_once_the_other_input_ended() -> None:
    """LEFT interval join (l.ts within [r.ts - 5 s, r.ts + 2 s]): after the left input ended,
    right rows (the inner side) are joined but not stored; left rows after the right input
    ended (the outer side) are still stored, for their padded rows when the watermark passes
    them."""
    op = interval_op("left")
    asyncio.run(op.open())
    try:
        assert joined(feed_timed(op, 0, [(1, 10, 10)])) == []
        asyncio.run(op.on_input_ended(0))
        assert joined(feed_timed(op, 1, [(1, 100, 12), (2, 200, 12)])) == [(1, 10, 1, 100)]
        assert op.metrics.state_tables == {"left_rows": 1, "right_rows": 0}
    finally:
        asyncio.run(op.close())
    other = interval_op("left")
    asyncio.run(other.open())
    try:
        asyncio.run(other.on_input_ended(1))
        feed_timed(other, 0, [(1, 10, 10)])
        assert other.metrics.state_tables == {"left_rows": 1, "right_rows": 0}  # outer: kept
    finally:
        asyncio.run(other.close())
