"""The result of an interactive SELECT: batches go to the job's result queue, which
``Job.results()`` iterates (bounded, so an unread result back-pressures the job)."""

from __future__ import annotations

import asyncio

import pyarrow as pa

from runtime.messages import Message
from runtime.operator import Operator

RESULT_QUEUE = "result_queue"


class CollectOp(Operator):
    async def open(self) -> None:
        self.queue: asyncio.Queue[pa.RecordBatch | None] = self.ctx.extras[RESULT_QUEUE]

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        await self.queue.put(batch)
        return []
