"""One subtask: reads its input gate, tracks watermarks, calls the operator, forwards.

The watermark of a subtask is the minimum over its input channels (one per upstream
subtask), leaving out channels that said ``Idle`` (until they send data or a watermark
again) and channels that ended. It never goes backwards. When it advances the operator's
``on_watermark`` runs first and its output goes out before the watermark itself. When all
non-ended inputs are idle the subtask tells its consumers ``Idle`` too. When every input
has ended: ``on_end_of_input``, then ``Watermark(MAX_WATERMARK)`` (so every downstream
window fires), then ``EndOfInput``.

Barriers: forwarded once they arrived on every live input (at-least-once, no blocking);
exactly-once alignment belongs to the checkpoint issue (``InputGate.blocked``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import pyarrow as pa

from runtime.channels import InputGate
from runtime.messages import MAX_WATERMARK, Barrier, EndOfInput, Idle, Message, Watermark
from runtime.metrics import NO_WATERMARK, OperatorMetrics
from runtime.operator import Operator, SourceOperator, now_ms


class Router:
    """Where a subtask's output goes on one outgoing edge (see ``runtime/graph.py``)."""

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

    async def run(self) -> None:
        try:
            await self.op.open()
            if isinstance(self.op, SourceOperator):
                await self._run_source(self.op)
            else:
                await self._run_inputs()
            await self._emit(await self.op.on_end_of_input())
            if self.out_wm < MAX_WATERMARK:
                await self._emit([Watermark(MAX_WATERMARK)])
            await self._emit([EndOfInput()])
        finally:
            self.metrics.finished = time.monotonic()
            if self.op.ctx.worker is not None:
                await self.op.ctx.worker.drain()
            for r in self.routers:
                r.close()
            await self.op.close()

    async def _emit(self, messages: Sequence[Message]) -> None:
        for m in messages:
            if isinstance(m, pa.RecordBatch):
                if m.num_rows == 0:
                    continue
                self.metrics.rows_out += m.num_rows
                self.metrics.batches_out += 1
            elif isinstance(m, Watermark):
                if m.ts_ms <= self.out_wm:
                    continue
                self.out_wm = m.ts_ms
            for r in self.routers:
                await r.send(m)

    async def _run_source(self, op: SourceOperator) -> None:
        while True:
            messages, done = await op.poll()
            await self._emit(messages)
            if done:
                return
            await self._timers()

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
        barriers: dict[int, set[int]] = {}
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
            elif isinstance(msg, Barrier):
                seen = barriers.setdefault(msg.checkpoint_id, set())
                seen.add(i)
                alive = {j for j in range(n) if not self.ended[j]}
                if alive <= seen:
                    del barriers[msg.checkpoint_id]
                    await self._on_barrier(msg)
            if due is not None:
                await self._timers()

    async def _on_barrier(self, barrier: Barrier) -> None:
        hook: Callable[[int], Awaitable[None]] | None = getattr(self.op, "on_barrier", None)
        if hook is not None:
            await hook(barrier.checkpoint_id)
        self.op.snapshot()
        await self._emit([barrier])

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
