"""Drives a connector's ``SinkWriter``: writes each batch, pre-commits at barriers,
closes (flushes) at end of input."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from planner.physical import SinkSpec
from runtime.connectors.base import SinkWriter
from runtime.connectors.registry import create_sink
from runtime.messages import Message
from runtime.operator import Operator


class SinkOp(Operator):
    writer: SinkWriter

    async def open(self) -> None:
        assert isinstance(self.node.spec, SinkSpec)
        self.writer = create_sink(self.node.spec, self.ctx.subtask)
        await self.writer.open()
        self._open = True
        self.pending_handles: dict[int, Any] = {}

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        await self.writer.write(batch)
        return []

    async def on_barrier(self, checkpoint_id: int) -> None:
        self.pending_handles[checkpoint_id] = await self.writer.pre_commit(checkpoint_id)

    async def on_end_of_input(self) -> list[Message]:
        await self.writer.flush()
        return []

    async def close(self) -> None:
        if getattr(self, "_open", False):
            self._open = False
            await self.writer.close()
