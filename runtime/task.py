"""One subtask: reads its input gate, tracks watermarks, calls the operator, forwards.

The watermark of a subtask is the minimum over its input channels (one per upstream
subtask), leaving out channels that said ``Idle`` (until they send data or a watermark
again) and channels that ended. It never goes backwards. When it advances the operator's
``on_watermark`` runs first and its output goes out before the watermark itself. When all
non-ended inputs are idle the subtask tells its consumers ``Idle`` too. When every input
has ended: ``on_end_of_input``, then ``Watermark(MAX_WATERMARK)`` (so every downstream
window fires), then ``EndOfInput``.

Barriers (``runtime/checkpoint/control.py`` injects them at the sources, between polls,
with the reader's position): in EXACTLY_ONCE mode an input that delivered barrier n is
blocked (``InputGate.blocked``) until barrier n has arrived on every live input; then the
operator snapshots (the synchronous part pins a DuckDB read transaction, the copy into
``op-<node>-<subtask>.duckdb`` runs on the thread pool while processing goes on), the
barrier is forwarded and the subtask acknowledges. AT_LEAST_ONCE skips the blocking. A
sink pre-commits at the barrier and acknowledges its handles. A source that finished
keeps answering barrier requests until the job's final checkpoint is complete, and only
then sends end of input (so the sinks' last transaction is committed).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from runtime.channels import InputGate
from runtime.checkpoint.control import SubtaskCheckpoints
from runtime.checkpoint.coordinator import Ack
from runtime.faults import crash_point
from runtime.messages import MAX_WATERMARK, Barrier, EndOfInput, Idle, Message, SideOutput, Watermark
from runtime.metrics import NO_WATERMARK, OperatorMetrics
from runtime.operator import Operator, SourceOperator, now_ms
from runtime.state.duckdb_state import write_snapshot


class Router:
    """Where a subtask's output goes on one outgoing edge (see ``runtime/graph.py``);
    ``output`` is the operator output the edge reads (0: the main one)."""

    output = 0

    async def send(self, message: Message) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (a hashing connection)."""


class Task:
    def __init__(
        self,
        op: Operator,
        metrics: OperatorMetrics,
        gate: InputGate | None,
        channel_edges: Sequence[int],
        routers: Sequence[Router],
        where: str,
    ) -> None:
        self.op = op
        self.metrics = metrics
        self.gate = gate
        self.channel_edges = list(channel_edges)
        self.routers = list(routers)
        self.where = where
        self.out_wm = NO_WATERMARK
        metrics.gate = gate
        self.checkpoints: SubtaskCheckpoints | None = None  # set by the job when checkpointing
        self._snapshots: list[concurrent.futures.Future[Any]] = []
        # alignment: checkpoint id -> (inputs that delivered its barrier, first arrival)
        self._aligning: dict[int, tuple[Barrier, set[int], float]] = {}
        self._ack_tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    async def run(self) -> None:
        try:
            await self.op.open()
            ck = self.checkpoints
            if ck is not None and ck.restored is not None:
                await self.op.restore_state(ck.restored)
            if isinstance(self.op, SourceOperator):
                await self._run_source(self.op)
            else:
                await self._run_inputs()
            await self._emit(await self.op.on_end_of_input())
            if self.out_wm < MAX_WATERMARK:
                await self._emit([Watermark(MAX_WATERMARK)])
            if isinstance(self.op, SourceOperator) and ck is not None:
                await self._await_final_checkpoint(self.op, ck)
            await self._emit([EndOfInput()])
            if self._ack_tasks:
                await asyncio.gather(*self._ack_tasks)
            if self._failure is not None:
                raise self._failure
        finally:
            self.metrics.finished = time.monotonic()
            if self.op.ctx.worker is not None:
                await self.op.ctx.worker.drain()
            while any(not f.done() for f in self._snapshots):
                await asyncio.sleep(0.005)  # a state copy must not outlive its database
            for t in list(self._ack_tasks):
                t.cancel()
            for r in self.routers:
                r.close()
            await self.op.close()

    async def _emit(self, messages: Sequence[Message]) -> None:
        if self._failure is not None:  # completing a checkpoint (its commit) failed
            raise self._failure
        for m in messages:
            if isinstance(m, pa.RecordBatch):
                if m.num_rows == 0:
                    continue
                self.metrics.rows_out += m.num_rows
                self.metrics.batches_out += 1
                for r in self.routers:
                    if not r.output:
                        await r.send(m)
                continue
            if isinstance(m, SideOutput):
                for r in self.routers:
                    if r.output == m.output:
                        await r.send(m.batch)
                continue
            if isinstance(m, Watermark):
                if m.ts_ms <= self.out_wm:
                    continue
                self.out_wm = m.ts_ms
            for r in self.routers:
                await r.send(m)

    async def _run_source(self, op: SourceOperator) -> None:
        ck = self.checkpoints
        while True:
            if ck is not None and ck.requests:
                await self._inject_barriers(op, ck)
            messages, done = await op.poll()
            await self._emit(messages)
            if done:
                return
            if messages:
                crash_point("processing")
            await self._timers()

    async def _inject_barriers(self, op: SourceOperator, ck: SubtaskCheckpoints) -> None:
        """Barrier requests from the coordinator: record the position (every row before
        it was emitted, none after), acknowledge, and send the barrier downstream."""
        while ck.requests:
            barrier = ck.requests.popleft()
            start = time.perf_counter()
            position = op.position()
            sync_ms = (time.perf_counter() - start) * 1000
            await ck.ack(
                barrier.checkpoint_id,
                Ack(ck.node_id, ck.subtask, "source", state=position, sync_ms=sync_ms),
            )
            await self._emit([barrier])

    async def _await_final_checkpoint(self, op: SourceOperator, ck: SubtaskCheckpoints) -> None:
        await ck.finished()
        while not ck.released:
            ck.wake.clear()
            if ck.requests:
                await self._inject_barriers(op, ck)
                continue
            await ck.wake.wait()

    async def _timers(self) -> None:
        due = self.op.next_timer_ms()
        if due is not None:
            now = now_ms()
            if now >= due:
                await self._emit(await self.op.on_timer(now))

    async def _run_inputs(self) -> None:
        gate = self.gate
        if gate is None or not gate.channels:
            return
        n = len(gate.channels)
        self.wms = [NO_WATERMARK] * n
        self.idle = [False] * n
        self.ended = [False] * n
        self.current = NO_WATERMARK
        self.idle_sent = False
        remaining = n
        op = self.op
        while remaining:
            due = op.next_timer_ms()
            timeout = None if due is None else max(due - now_ms(), 0) / 1000
            got = await gate.next(timeout)
            if got is None:
                await self._emit(await op.on_timer(now_ms()))
                continue
            i, msg = got
            if isinstance(msg, pa.RecordBatch):
                self.idle[i] = False
                self.idle_sent = False
                self.metrics.rows_in += msg.num_rows
                self.metrics.batches_in += 1
                await self._emit(await op.process_batch(msg, self.channel_edges[i]))
                crash_point("processing")
            elif isinstance(msg, Watermark):
                self.idle[i] = False
                if msg.ts_ms > self.wms[i]:
                    self.wms[i] = msg.ts_ms
                    await self._advance()
            elif isinstance(msg, Idle):
                self.idle[i] = True
                await self._advance()
                live = [j for j in range(n) if not self.ended[j]]
                if live and all(self.idle[j] for j in live) and not self.idle_sent:
                    self.idle_sent = True
                    await self._emit([Idle()])
            elif isinstance(msg, EndOfInput):
                self.ended[i] = True
                remaining -= 1
                await self._advance()
                for checkpoint_id in sorted(self._aligning):
                    await self._check_aligned(checkpoint_id)
            elif isinstance(msg, Barrier):
                entry = self._aligning.get(msg.checkpoint_id)
                if entry is None:
                    entry = self._aligning[msg.checkpoint_id] = (msg, set(), time.perf_counter())
                entry[1].add(i)
                if self.checkpoints is not None and self.checkpoints.exactly_once:
                    gate.blocked.add(i)  # nothing more from i until the others caught up
                await self._check_aligned(msg.checkpoint_id)
            if due is not None:
                await self._timers()

    async def _check_aligned(self, checkpoint_id: int) -> None:
        barrier, seen, start = self._aligning[checkpoint_id]
        alive = {j for j in range(len(self.ended)) if not self.ended[j]}
        if not alive <= seen:
            crash_point("alignment")
            return
        del self._aligning[checkpoint_id]
        if self.gate is not None:
            self.gate.blocked -= seen
            if self.checkpoints is not None and self.checkpoints.exactly_once:
                for _, later, _ in self._aligning.values():  # inputs already at a later barrier
                    self.gate.blocked |= later
        await self._on_barrier(barrier, (time.perf_counter() - start) * 1000)

    async def _on_barrier(self, barrier: Barrier, alignment_ms: float = 0.0) -> None:
        ck = self.checkpoints
        n = barrier.checkpoint_id
        if ck is None:
            await self._emit([barrier])
            return
        op = self.op
        start = time.perf_counter()
        pre_commit = getattr(op, "on_barrier", None)
        if pre_commit is not None:  # a sink: pre-commit, then acknowledge the handles
            handles = await pre_commit(n)
            crash_point("pre_commit")
            sync_ms = (time.perf_counter() - start) * 1000
            await self._emit([barrier])
            await ck.ack(n, Ack(ck.node_id, ck.subtask, "sink", handles, sync_ms, 0.0, alignment_ms))
            return
        small = op.snapshot()
        db = op.checkpoint_state()
        folder = ck.folder(n)
        cursor = db.snapshot_cursor() if db is not None and db.tables and folder is not None else None
        sync_ms = (time.perf_counter() - start) * 1000
        await self._emit([barrier])  # downstream goes on while the state is written
        if cursor is None or folder is None or db is None:
            state = None if small is None and db is None else {"state": small}
            await ck.ack(n, Ack(ck.node_id, ck.subtask, "operator", state, sync_ms, 0.0, alignment_ms))
            return
        tables = list(db.tables)
        path = folder / f"op-{ck.node_id}-{ck.subtask}.duckdb"
        executor = op.ctx.executor
        loop = asyncio.get_running_loop()
        copy_start = time.perf_counter()
        if executor is None:
            cf: concurrent.futures.Future[int] = concurrent.futures.Future()
            try:
                cf.set_result(write_snapshot(cursor, tables, path))
            except Exception as e:
                cf.set_exception(e)
        else:
            cf = executor.submit(write_snapshot, cursor, tables, path)
        self._snapshots = [f for f in self._snapshots if not f.done()] + [cf]

        async def finish() -> None:
            try:
                size = await asyncio.wrap_future(cf, loop=loop)
            except Exception as e:
                ck.decline(n, f"{self.where}: writing its state failed: {type(e).__name__}: {e}")
                return
            state = {"file": path.name, "tables": tables, "state": small}
            async_ms = (time.perf_counter() - copy_start) * 1000
            await ck.ack(
                n, Ack(ck.node_id, ck.subtask, "operator", state, sync_ms, async_ms, alignment_ms, size)
            )

        task = asyncio.create_task(finish(), name=f"{self.where} snapshot {n}")
        self._ack_tasks.add(task)
        task.add_done_callback(self._ack_done)

    def _ack_done(self, task: asyncio.Task[None]) -> None:
        self._ack_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    async def _advance(self) -> None:
        live = [
            w for w, idle, ended in zip(self.wms, self.idle, self.ended) if not idle and not ended
        ]
        if not live:
            return
        new = min(live)
        if new <= self.current:
            return
        self.current = new
        self.metrics.watermark_ms = new
        await self._emit(await self.op.on_watermark(new))
        if self.op.forwards_watermarks:
            await self._emit([Watermark(new)])
