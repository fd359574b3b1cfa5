"""State TTL of an unwindowed GROUP BY, on a clock the test moves: a key not touched for
the TTL is forgotten (its accumulators and the values its MIN/MAX and DISTINCT keep), so
its next row is its first again (+I of a result counted from zero) and a retraction for
it is ignored, as Flink's GroupAggFunction does once its state has expired; a key touched
in time lives on."""

from __future__ import annotations

import asyncio
import dataclasses

from planner.physical import GroupAggregateSpec
from runtime.operators.group_aggregate import GroupAggregateOp
from tests.unit.checkpoint.test_group_value_counts import appended, batch, feed, group_op, shared_op

T0 = 1_000_000


def ttl_group(ttl_ms: int, now: list[int]) -> GroupAggregateOp:
    op = group_op(0, 1)
    spec = op.node.spec
    assert isinstance(spec, GroupAggregateSpec)
    op.node = dataclasses.replace(op.node, spec=dataclasses.replace(spec, ttl_ms=ttl_ms))
    op.ctx.node = op.node
    op.clock = lambda: T0 + now[0]
    asyncio.run(op.open())
    return op


def test_an_idle_key_starts_anew_and_a_touched_key_lives_on() -> None:
    now = [0]
    op = ttl_group(1000, now)
    try:
        # (kind, k, v); results are (k, min, max, count distinct, sum distinct, kind)
        assert sorted(feed(op, batch([(0, 1, 5), (0, 1, 3), (0, 2, 7)]))) == [
            (1, 3, 5, 2, 8, 0), (2, 7, 7, 1, 7, 0),
        ]  # fmt: skip
        now[0] = 600
        assert feed(op, batch([(0, 2, 1)])) == [(2, 7, 7, 1, 7, 1), (2, 1, 7, 2, 8, 2)]
        now[0] = 1000  # key 1 (last written at 0) is gone; key 2 (600) is not
        assert feed(op, batch([(0, 1, 4)])) == [(1, 4, 4, 1, 4, 0)]
        assert op.metrics.state_rows_expired == 1
        now[0] = 1500
        assert feed(op, batch([(0, 2, 2)])) == [(2, 1, 7, 2, 8, 1), (2, 1, 7, 3, 10, 2)]
        now[0] = 2600  # both expired: a retraction finds nothing and changes nothing
        assert feed(op, batch([(3, 2, 7)])) == []
        assert op.metrics.state_rows == 0
    finally:
        asyncio.run(op.close())


def test_a_quiet_aggregate_drops_expired_keys_on_a_timer() -> None:
    now = [0]
    op = ttl_group(1000, now)
    try:
        feed(op, batch([(0, 1, 5), (0, 2, 7)]))
        assert op.next_timer_ms() is None or op.next_timer_ms() <= T0 + 1000
        now[0] = 1000
        asyncio.run(op.on_timer(T0 + 1000))
        assert op.metrics.state_rows == 0
        assert op.state.scalar("SELECT count(*) FROM acc") == 0
        assert op.next_timer_ms() is None
    finally:
        asyncio.run(op.close())


def test_the_distinct_values_of_an_expired_key_are_forgotten() -> None:
    """Over an insert-only input the DISTINCT values sit in a table keyed by the key's id:
    an expired key's values go with it, so the same value counts again once the key comes
    back (a new id), while a live key's values still count once."""
    now = [0]
    op = shared_op(0, 1)
    spec = op.node.spec
    assert isinstance(spec, GroupAggregateSpec)
    op.node = dataclasses.replace(op.node, spec=dataclasses.replace(spec, ttl_ms=1000))
    op.ctx.node = op.node
    op.clock = lambda: T0 + now[0]
    asyncio.run(op.open())
    try:
        # (k, v); results are (k, count distinct, count distinct v > 4, sum distinct v > 4, kind)
        assert sorted(feed(op, appended([(1, 5), (1, 3), (2, 5)]))) == [(1, 2, 1, 5, 0), (2, 1, 1, 5, 0)]
        now[0] = 600
        assert feed(op, appended([(2, 9)])) == [(2, 1, 1, 5, 1), (2, 2, 2, 14, 2)]
        now[0] = 1000  # key 1 (last written at 0) is gone with its values 5 and 3
        assert feed(op, appended([(1, 5), (2, 5)])) == [(1, 1, 1, 5, 0)]
        assert op.state.scalar("SELECT count(*) FROM seen0") == 3  # key 1: 5; key 2: 5, 9
    finally:
        asyncio.run(op.close())
