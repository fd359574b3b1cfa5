"""The watermark assigner: running max, emit interval, idleness."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.physical import Field, Node, PhysicalPlan, WatermarkSpec
from runtime.connectors.base import SubtaskContext
from runtime.messages import MAX_WATERMARK, Idle, Message, Watermark
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.watermark import WatermarkOp
from tests.unit.runtime.plans import table

FIELDS = (Field("ts", "TIMESTAMP(3)", "rowtime"),)


def make(spec: WatermarkSpec) -> WatermarkOp:
    node = Node(1, "Watermark", spec, (), FIELDS)
    ctx = OperatorContext(
        SubtaskContext("t", 1, "Watermark", 0, 1),
        node,
        PhysicalPlan((node,)),
        OperatorMetrics(1, 0),
        ThreadPoolExecutor(1),
    )
    return WatermarkOp(ctx)


def batch(*ms: int) -> pa.RecordBatch:
    return table([(1, 1, None, m) for m in ms]).select(["ts"]).to_batches()[0]


def wms(messages: list[Message]) -> list[int]:
    return [m.ts_ms for m in messages if isinstance(m, Watermark)]


def test_running_max_minus_delay_passes_batches_through() -> None:
    async def go() -> list[Message]:
        op = make(WatermarkSpec("ts", '"ts" - INTERVAL 1 SECOND', emit_interval_ms=0))
        await op.open()
        out: list[Message] = []
        for b in (batch(5000, 3000), batch(4000), batch(9000)):
            out += await op.process_batch(b, 0)
        out += await op.on_end_of_input()
        await op.close()
        return out

    out = asyncio.run(go())
    assert wms(out) == [4000, 8000, MAX_WATERMARK]  # the batch behind the max sends none
    assert sum(m.num_rows for m in out if isinstance(m, pa.RecordBatch)) == 4


def test_emit_interval_holds_watermarks_for_the_timer() -> None:
    async def go() -> tuple[list[int], list[int], int | None]:
        op = make(WatermarkSpec("ts", '"ts"', emit_interval_ms=10_000))
        await op.open()
        first = wms(await op.process_batch(batch(1000), 0))
        held = wms(await op.process_batch(batch(2000), 0))
        due = op.next_timer_ms()
        assert due is not None
        later = wms(await op.on_timer(due))
        await op.close()
        return first + held, later, op.next_timer_ms()

    now, later, after = asyncio.run(go())
    assert now == [1000] and later == [2000] and after is None


def test_idle_after_timeout_and_active_again_with_data() -> None:
    async def go() -> tuple[list[Message], list[Message]]:
        op = make(WatermarkSpec("ts", '"ts"', idle_timeout_ms=50, emit_interval_ms=0))
        await op.open()
        await op.process_batch(batch(1000), 0)
        due = op.next_timer_ms()
        assert due is not None
        idle = await op.on_timer(due)
        again = await op.on_timer(due + 1000)  # already idle: said once
        await op.process_batch(batch(2000), 0)
        assert op.next_timer_ms() is not None  # watching for idleness again
        await op.close()
        return idle, again

    idle, again = asyncio.run(go())
    assert idle == [Idle()] and again == []


def test_watermark_is_min_over_tagged_splits() -> None:
    from runtime.batches import with_split

    async def go() -> tuple[list[int], list[int]]:
        op = make(WatermarkSpec("ts", '"ts"', idle_timeout_ms=10_000, emit_interval_ms=0))
        await op.open()
        out: list[Message] = []
        out += await op.process_batch(with_split(batch(1000), b"p0"), 0)
        out += await op.process_batch(with_split(batch(5000), b"p1"), 0)  # p0 holds it at 1000
        out += await op.process_batch(with_split(batch(3000), b"p0"), 0)
        await asyncio.sleep(0.003)  # p1 is seen last, in a later millisecond than p0
        out += await op.process_batch(with_split(batch(9000), b"p1"), 0)
        early = wms(out)
        # p0 goes quiet: after the idle timeout p1 alone decides
        later = wms(await op.on_timer(op.split_seen[b"p0"] + 10_000))
        await op.close()
        return early, later

    early, later = asyncio.run(go())
    assert early == [1000, 3000]
    assert later == [9000]


def test_source_keeps_splits_apart_when_it_merges_polls() -> None:
    from runtime.batches import split_of, with_split
    from runtime.operators.source import SourceOp

    parts = [with_split(batch(1), b"a"), with_split(batch(2), b"a"), with_split(batch(3), b"b")]
    merged = SourceOp._flush(parts)
    assert [(split_of(b), b.num_rows) for b in merged] == [(b"a", 2), (b"b", 1)]


@settings(max_examples=40, deadline=None)
@given(
    stamps=st.lists(st.one_of(st.none(), st.integers(-(10**13), 10**13)), min_size=1, max_size=20),
    delay=st.sampled_from(
        [
            "",
            " - INTERVAL '2' SECOND",
            " - INTERVAL '0.5' SECOND",
            " - INTERVAL '10' MILLISECOND",
            " - INTERVAL '3' MINUTE",
            " - INTERVAL '1' HOUR",
            " - INTERVAL '1' DAY",
        ]
    ),
    ltz=st.booleans(),
)
def test_a_fixed_delay_watermark_is_what_duckdb_computes(
    stamps: list[int | None], delay: str, ltz: bool
) -> None:
    # The Arrow shortcut for "rowtime minus a fixed interval" against the DuckDB query it
    # skips, on microsecond stamps before and after 1970, nulls and time zones included.
    unit = pa.timestamp("us", tz="UTC") if ltz else pa.timestamp("us")
    b = pa.record_batch({"ts": pa.array(stamps, pa.int64()).cast(unit)})

    async def both() -> tuple[int | None, int | None]:
        op = make(WatermarkSpec("ts", f'"ts"{delay}', emit_interval_ms=0))
        await op.open()
        fast = op._max(b)
        op.delay_us = None
        slow = op._max(b)
        await op.close()
        return fast, slow

    fast, slow = asyncio.run(both())
    assert fast == slow
