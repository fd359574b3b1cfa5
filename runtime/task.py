"""One subtask: reads its input gate, tracks watermarks, calls the operator, forwards.

The watermark of a subtask is the minimum over its input channels (one per upstream
subtask), leaving out channels that said ``Idle`` (until they send data or a watermark
again) and channels that ended. It never goes backwards. When it advances the operator's
``on_watermark`` runs first and its output goes out before the watermark itself. When all
non-ended inputs are idle the subtask tells its consumers ``Idle`` too. When every input
has ended: ``on_end_of_input``, then ``Watermark(MAX_WATERMARK)`` (so every downstream
window fires), then ``EndOfInput``.

Checkpoints reach a subtask two ways. In-band, barriers travel with the data: a source
injects barrier n when the coordinator's ``TriggerBarrier`` message reaches it (between
polls), and a subtask with several inputs aligns them (``runtime/alignment.py``: in
EXACTLY_ONCE mode an input that delivered barrier n is not read until barrier n has
arrived on every live input). Once aligned, the operator's ``snapshot`` hook runs (a sink
pre-commits there; the synchronous part pins a DuckDB read transaction, the copy into
``op-<node>-<subtask>.duckdb`` runs on the thread pool while processing goes on), the
barrier is forwarded and the subtask posts its acknowledgement. Out of band, the
coordinator's messages arrive in the subtask's mailbox and are handled in this loop
before the next data message: ``CheckpointComplete`` calls ``on_checkpoint_complete``
(a sink commits) and is answered with ``Committed``. A source that finished keeps
answering barrier requests until the coordinator's ``Release`` says the job's final
checkpoint is committed, and only then sends end of input.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from runtime.alignment import Alignment
from runtime.batches import is_announcement
from runtime.channels import MERGE_ROWS, InputGate
from runtime.checkpoint.control import SubtaskCheckpoints
from runtime.checkpoint.messages import Ack, CheckpointComplete, Release, TriggerBarrier
from runtime.faults import crash_point
from runtime.messages import MAX_WATERMARK, Barrier, EndOfInput, Idle, Message, SideOutput, Watermark
from runtime.metrics import NO_WATERMARK, OperatorMetrics
from runtime.operator import Operator, SourceOperator, now_ms


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
        self.alignment: Alignment | None = None
        self._snapshots: list[concurrent.futures.Future[Any]] = []
        self._ack_tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._released = False

    async def run(self) -> None:
        try:
            ck = self.checkpoints
            if ck is not None:
                ck.attach(self.gate)
                if ck.restored is not None:
                    await self.op.restore(ck.restored)
            await self.op.open()
            if isinstance(self.op, SourceOperator):
                await self._run_source(self.op)
            else:
                await self._run_inputs()
            await self._emit(await self.op.on_end_of_input())
            if self.out_wm < MAX_WATERMARK:
                await self._emit([Watermark(MAX_WATERMARK)])
            if isinstance(self.op, SourceOperator) and ck is not None:
                await self._await_final_checkpoint(ck)
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
        if self._failure is not None:  # writing a snapshot failed
            raise self._failure
        for m in messages:
            if isinstance(m, pa.RecordBatch):
                if m.num_rows == 0 and not is_announcement(m):
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

    # ---- the coordinator's messages ------------------------------------------------------
    async def _handle_mailbox(self, ck: SubtaskCheckpoints) -> None:
        """Every control message that arrived, in order, in this subtask's own loop."""
        while ck.mailbox:
            msg = ck.mailbox.popleft()
            if isinstance(msg, TriggerBarrier):
                await self._on_barrier(Barrier(msg.checkpoint_id, msg.savepoint, msg.location))
            elif isinstance(msg, CheckpointComplete):
                await self.op.on_checkpoint_complete(msg.checkpoint_id)
                ck.committed(msg.checkpoint_id)
            elif isinstance(msg, Release):
                self._released = True

    # ---- sources -------------------------------------------------------------------------
    async def _run_source(self, op: SourceOperator) -> None:
        ck = self.checkpoints
        while True:
            if ck is not None and ck.mailbox:
                await self._handle_mailbox(ck)
            messages, done = await op.poll()  # its busy time: runtime/operators/source.py
            await self._emit(messages)
            if done:
                return
            if messages:
                crash_point("processing")
            await self._timers()

    async def _await_final_checkpoint(self, ck: SubtaskCheckpoints) -> None:
        ck.finished()
        while not self._released:
            ck.wake.clear()
            if ck.mailbox:
                await self._handle_mailbox(ck)
                continue
            await ck.wake.wait()

    async def _timers(self) -> None:
        due = self.op.next_timer_ms()
        if due is not None:
            now = now_ms()
            if now >= due:
                await self._emit(await self.op.on_timer(now))

    # ---- operators and sinks -------------------------------------------------------------
    async def _run_inputs(self) -> None:
        gate = self.gate
        if gate is None or not gate.channels:
            return
        n = len(gate.channels)
        ck = self.checkpoints
        self.alignment = alignment = Alignment(n, exactly_once=ck is not None and ck.exactly_once)
        gate.blocked = alignment.blocked
        self.wms = [NO_WATERMARK] * n
        self.idle = [False] * n
        self.ended = [False] * n
        self.current = NO_WATERMARK
        self.idle_sent = False
        remaining = n
        op = self.op
        merge = op.merges_batches
        same_edge: dict[int, list[int]] = {}  # edge index -> its channels
        for c, e in enumerate(self.channel_edges):
            same_edge.setdefault(e, []).append(c)
        while remaining:
            if ck is not None and ck.mailbox:
                await self._handle_mailbox(ck)
            due = op.next_timer_ms()
            timeout = None if due is None else max(due - now_ms(), 0) / 1000
            got = await gate.next(timeout)
            if got is None:  # a timer is due, or a control message arrived
                await self._timers()
                continue
            i, msg = got
            if isinstance(msg, pa.RecordBatch):
                self.idle[i] = False
                self.idle_sent = False
                self.metrics.rows_in += msg.num_rows
                self.metrics.batches_in += 1
                edge = same_edge[self.channel_edges[i]]
                more = gate.more_batches(i, msg, edge, MERGE_ROWS) if merge else []
                if more:  # e.g. the parts a hash exchange cut, queued: one operator call
                    for j, b in more:
                        self.idle[j] = False
                        self.metrics.rows_in += b.num_rows
                    self.metrics.batches_in += len(more)
                    msg = pa.concat_batches([msg, *(b for _, b in more)])
                busy = time.perf_counter()
                out = await op.process_batch(msg, self.channel_edges[i])
                self.metrics.busy_ms += (time.perf_counter() - busy) * 1000
                await self._emit(out)
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
                if all(self.ended[c] for c in same_edge[self.channel_edges[i]]):
                    await op.on_input_ended(self.channel_edges[i])
                await self._advance()
                for aligned in alignment.on_end_of_input(i):
                    await self._on_barrier(aligned.barrier, aligned.alignment_ms)
            elif isinstance(msg, Barrier):
                done = alignment.on_barrier(i, msg)
                if not done:
                    crash_point("alignment")
                for aligned in done:
                    await self._on_barrier(aligned.barrier, aligned.alignment_ms)
            if due is not None:
                await self._timers()

    async def _on_barrier(self, barrier: Barrier, alignment_ms: float = 0.0) -> None:
        """Barrier n is aligned (or, at a source, requested): snapshot, forward, acknowledge."""
        ck = self.checkpoints
        n = barrier.checkpoint_id
        if ck is None:
            await self._emit([barrier])
            return
        op = self.op
        start = time.perf_counter()
        snap = await op.snapshot(n)
        if op.role != "operator":  # a source's position, a sink's pre-committed handles
            if op.role == "sink":
                crash_point("pre_commit")
            sync_ms = (time.perf_counter() - start) * 1000
            ck.ack(n, Ack(ck.node_id, ck.subtask, op.role, snap.state, sync_ms, 0.0, alignment_ms))
            await self._emit([barrier])
            return
        db = snap.db
        folder = barrier.location or None
        cursor = db.snapshot_cursor() if db is not None and db.tables and folder is not None else None
        sync_ms = (time.perf_counter() - start) * 1000
        await self._emit([barrier])  # downstream goes on while the state is written
        if cursor is None or folder is None or db is None:
            state = None if snap.state is None and db is None else {"state": snap.state}
            ck.ack(n, Ack(ck.node_id, ck.subtask, "operator", state, sync_ms, 0.0, alignment_ms))
            return
        from runtime.state.duckdb_state import write_snapshot  # an operator with state has DuckDB loaded

        tables = list(db.tables)
        store = ck.store
        name = f"op-{ck.node_id}-{ck.subtask}.duckdb"
        location = store.join(folder, name)
        path = store.staging(location)  # the file itself, or a local file to upload
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
        small = snap.state

        async def finish() -> None:
            try:
                size = await asyncio.wrap_future(cf, loop=loop)
                if store.remote:  # the upload, off the worker that runs the operator
                    await asyncio.to_thread(store.publish, path, location)
            except Exception as e:
                ck.decline(n, f"{self.where}: writing its state failed: {type(e).__name__}: {e}")
                return
            state = {"file": name, "tables": tables, "state": small}
            async_ms = (time.perf_counter() - copy_start) * 1000
            ck.ack(n, Ack(ck.node_id, ck.subtask, "operator", state, sync_ms, async_ms, alignment_ms, size))

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
