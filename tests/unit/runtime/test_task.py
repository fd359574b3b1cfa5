"""Subtask mechanics: watermark = min over inputs, idle inputs left out, end of input,
barriers, back-pressure."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from planner.physical import Field, Node, PhysicalPlan, UnionSpec
from runtime.channels import Channel, InputGate
from runtime.connectors.base import SubtaskContext
from runtime.messages import MAX_WATERMARK, Barrier, EndOfInput, Idle, Message, Watermark
from runtime.metrics import OperatorMetrics
from runtime.operator import Operator, OperatorContext
from runtime.task import Router, Task


class Recorder(Operator):
    def __init__(self, ctx: OperatorContext) -> None:
        super().__init__(ctx)
        self.calls: list[tuple[str, object]] = []

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        self.calls.append(("batch", (input_index, batch.num_rows)))
        return [batch]

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.calls.append(("wm", ts_ms))
        return []

    async def on_input_ended(self, input_index: int) -> None:
        self.calls.append(("input ended", input_index))

    async def on_end_of_input(self) -> list[Message]:
        self.calls.append(("end", None))
        return []


class ListRouter(Router):
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def make_task(
    n_inputs: int, edges: list[int] | None = None, op_cls: type[Recorder] = Recorder
) -> tuple[Task, list[Channel], ListRouter, Recorder]:
    node = Node(1, "Op", UnionSpec(), (), (Field("x", "INT"),))
    metrics = OperatorMetrics(1, 0)
    ctx = OperatorContext(SubtaskContext("t", 1, "Op", 0, 1), node, PhysicalPlan((node,)), metrics)
    op = op_cls(ctx)
    chans = [Channel(4, f"c{i}") for i in range(n_inputs)]
    router = ListRouter()
    task = Task(op, metrics, InputGate(chans), edges or [0] * n_inputs, [router], "Op (1/1)")
    return task, chans, router, op


def batch(n: int = 3) -> pa.RecordBatch:
    return pa.record_batch({"x": pa.array(range(n), pa.int32())})


def watermarks(sent: list[Message]) -> list[int]:
    return [m.ts_ms for m in sent if isinstance(m, Watermark)]


async def _feed(chan: Channel, *messages: Message) -> None:
    for m in messages:
        await chan.send(m)


def test_watermark_is_min_over_inputs() -> None:
    async def go() -> tuple[ListRouter, Recorder]:
        task, (a, b), router, op = make_task(2)
        runner = asyncio.create_task(task.run())
        await _feed(a, Watermark(100), Watermark(300))
        await asyncio.sleep(0.01)
        assert watermarks(router.sent) == []  # b has no watermark yet
        await _feed(b, Watermark(200))
        await asyncio.sleep(0.01)
        assert watermarks(router.sent) == [200]
        await _feed(b, Watermark(500))
        await asyncio.sleep(0.01)
        assert watermarks(router.sent) == [200, 300]
        await _feed(a, EndOfInput())
        await asyncio.sleep(0.01)
        assert watermarks(router.sent) == [200, 300, 500]  # an ended input no longer counts
        await _feed(b, Watermark(400), EndOfInput())  # never backwards
        await runner
        return router, op

    router, op = asyncio.run(go())
    assert watermarks(router.sent) == [200, 300, 500, MAX_WATERMARK]
    assert isinstance(router.sent[-1], EndOfInput)
    assert [c for c in op.calls if c[0] == "wm"] == [("wm", 200), ("wm", 300), ("wm", 500)]
    assert op.calls[-1] == ("end", None)


def test_idle_input_is_left_out_until_it_sends_again() -> None:
    async def go() -> ListRouter:
        task, (a, b), router, _ = make_task(2)
        runner = asyncio.create_task(task.run())
        await _feed(a, Watermark(100))
        await _feed(b, Idle())
        await asyncio.sleep(0.01)
        assert watermarks(router.sent) == [100]
        await _feed(a, Watermark(150))
        await asyncio.sleep(0.01)
        assert watermarks(router.sent) == [100, 150]
        await _feed(b, Watermark(120))  # active again, behind: holds the watermark
        await asyncio.sleep(0.01)
        await _feed(a, Watermark(400))
        await asyncio.sleep(0.01)
        assert watermarks(router.sent) == [100, 150]
        await _feed(a, Idle())
        await asyncio.sleep(0.01)
        await _feed(b, Idle())
        await asyncio.sleep(0.01)
        assert isinstance(router.sent[-1], Idle)  # all inputs idle: tell downstream
        await _feed(a, EndOfInput())
        await _feed(b, EndOfInput())
        await runner
        return router

    router = asyncio.run(go())
    assert watermarks(router.sent) == [100, 150, MAX_WATERMARK]


def test_batches_keep_order_and_edge_index() -> None:
    async def go() -> tuple[ListRouter, Recorder]:
        task, (a, b), router, op = make_task(2, edges=[0, 1])
        runner = asyncio.create_task(task.run())
        first, second = (pa.record_batch({"x": pa.array(v, pa.int32())}) for v in ([11], [12, 13]))
        await _feed(a, first, second, EndOfInput())
        await _feed(b, batch(5), EndOfInput())
        await runner
        return router, op

    router, op = asyncio.run(go())
    got = sorted(c[1] for c in op.calls if c[0] == "batch")  # type: ignore[type-var]
    assert got in ([(0, 1), (0, 2), (1, 5)], [(0, 3), (1, 5)])  # queued together: one call
    rows = [x for m in router.sent if isinstance(m, pa.RecordBatch) for x in m.column("x").to_pylist()]
    assert [x for x in rows if x > 10] == [11, 12, 13]


def test_an_input_ends_when_its_last_channel_ends_after_its_last_batch() -> None:
    """Edges 0, 1, 1 (input 1 from two subtasks): input 1 ends with its second channel,
    after every batch it sent; input 0 ends on its own."""

    async def go() -> Recorder:
        task, (a, b, c), _, op = make_task(3, edges=[0, 1, 1])
        runner = asyncio.create_task(task.run())
        await _feed(b, batch(2), EndOfInput())
        await asyncio.sleep(0.01)
        assert ("input ended", 1) not in op.calls  # its other channel is still open
        await _feed(c, batch(4), EndOfInput())
        await asyncio.sleep(0.01)
        assert op.calls[-1] == ("input ended", 1)
        await _feed(a, batch(1), EndOfInput())
        await runner
        return op

    op = asyncio.run(go())
    ended = [c for c in op.calls if c[0] in ("input ended", "end")]
    assert ended == [("input ended", 1), ("input ended", 0), ("end", None)]
    assert op.calls.index(("input ended", 1)) > op.calls.index(("batch", (1, 4)))


def test_barrier_forwarded_once_seen_on_every_input() -> None:
    async def go() -> ListRouter:
        task, (a, b), router, _ = make_task(2)
        runner = asyncio.create_task(task.run())
        await _feed(a, Barrier(1))
        await asyncio.sleep(0.01)
        assert not any(isinstance(m, Barrier) for m in router.sent)
        await _feed(b, Barrier(1))
        await asyncio.sleep(0.01)
        assert [m for m in router.sent if isinstance(m, Barrier)] == [Barrier(1)]
        await _feed(a, EndOfInput())
        await _feed(b, EndOfInput())
        await runner
        return router

    asyncio.run(go())


def test_channel_back_pressure() -> None:
    async def go() -> None:
        ch = Channel(2)
        gate = InputGate([ch])
        await ch.send(Watermark(1))
        await ch.send(Watermark(2))
        assert ch.fill == 1.0
        blocked = asyncio.create_task(ch.send(Watermark(3)))
        await asyncio.sleep(0.01)
        assert not blocked.done()
        assert await gate.next() == (0, Watermark(1))
        await asyncio.sleep(0.01)
        assert blocked.done()
        assert await gate.next(timeout=0.01) == (0, Watermark(2))
        assert await gate.next(timeout=0.01) == (0, Watermark(3))
        assert await gate.next(timeout=0.01) is None

    asyncio.run(go())


def test_channel_rejects_zero_capacity() -> None:
    with pytest.raises(ValueError):
        Channel(0)


def test_a_cancel_that_comes_as_input_arrives_is_not_lost() -> None:
    """A subtask waiting with a timer (``next(timeout)``) is cancelled in the same moment
    that something arrives: the cancellation must win, or the subtask would outlive its
    cancelled job (Python 3.11's ``asyncio.wait_for`` loses it in that moment)."""

    async def go() -> None:
        gate = InputGate([Channel(4, "a")])
        waiting = asyncio.create_task(gate.next(timeout=10))
        await asyncio.sleep(0.01)
        gate.interrupt()  # a control message arrives...
        waiting.cancel()  # ...as the job is cancelled
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(go())


class MergingRecorder(Recorder):
    merges_batches = True


@pytest.mark.parametrize("op_cls", [MergingRecorder, Recorder])
def test_batches_queued_on_one_edge_go_to_the_operator_in_one_call(op_cls: type[Recorder]) -> None:
    """A hash exchange cuts each batch into one part per consumer: what is queued on a
    subtask's inputs runs through its operator once (each call has a fixed cost), without
    passing a signal and without mixing edges or splits; only for an operator whose output
    does not depend on the batches (an updating aggregate's -U/+U do)."""

    async def go() -> tuple[ListRouter, Recorder]:
        task, (a, b, c), router, op = make_task(3, edges=[0, 0, 1], op_cls=op_cls)
        tagged = batch(5).replace_schema_metadata({b"sqlstream.split": b"p-1"})
        await _feed(a, batch(2), batch(3), Watermark(10), EndOfInput())  # queued before it runs
        await _feed(b, batch(6), tagged, EndOfInput())
        await _feed(c, batch(7), EndOfInput())
        await task.run()
        return router, op

    router, op = asyncio.run(go())
    got = [v for kind, v in op.calls if kind == "batch"]
    if op_cls is MergingRecorder:
        # a's 2 and 3 and b's 6 (the heads up to a's watermark), then c's on the other edge
        assert got[0] == (0, 11)
        assert sorted(got[1:]) == [(0, 5), (1, 7)]
    else:
        assert sorted(got) == [(0, 2), (0, 3), (0, 5), (0, 6), (1, 7)]
    assert sum(m.num_rows for m in router.sent if isinstance(m, pa.RecordBatch)) == 23
