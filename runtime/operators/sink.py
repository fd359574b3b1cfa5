"""Drives a connector's ``SinkWriter``: writes each batch, pre-commits at barriers,
commits when their checkpoint completes, recovers on restore, flushes at end of input.

Two-phase commit (DESIGN.md): at barrier n the writer's ``pre_commit(n)`` returns a handle
that is kept until a checkpoint m >= n completes; then ``commit(n, handle)`` runs for every
kept handle up to m, in order (a checkpoint that was aborted has its handle committed by
the next one that completes). The acknowledgement of barrier n carries every handle not
yet committed, so recovery from checkpoint n commits exactly those (``recover``). All
calls into the writer are serialised by a lock: the commit comes from the coordinator,
not from this subtask's loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from catalog.connectors import Guarantee
from planner.physical import SinkSpec
from runtime.connectors.base import SinkWriter
from runtime.connectors.registry import create_sink
from runtime.messages import Message
from runtime.operator import Operator

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored


class SinkOp(Operator):
    writer: SinkWriter

    async def open(self) -> None:
        assert isinstance(self.node.spec, SinkSpec)
        self.writer = create_sink(self.node.spec, self.ctx.subtask)
        self.lock = asyncio.Lock()
        await self.writer.open()
        self._open = True
        self.pending_handles: dict[int, Any] = {}
        self.exactly_once = self.node.spec.guarantee == Guarantee.EXACTLY_ONCE

    async def recover(self, handles: list[tuple[int, Any]]) -> None:
        """Before any data: commit the handles of the restored checkpoint (idempotent),
        then let the writer abort what else it left open."""
        async with self.lock:
            await self.writer.recover(handles)

    async def restore_state(self, restored: Restored) -> None:
        self.writer.restored_checkpoint = restored.checkpoint_id
        await self.recover(restored.handles)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        async with self.lock:
            await self.writer.write(batch)
        return []

    async def on_barrier(self, checkpoint_id: int) -> dict[str, Any]:
        """Pre-commit; returns what the checkpoint records: every uncommitted handle."""
        async with self.lock:
            self.pending_handles[checkpoint_id] = await self.writer.pre_commit(checkpoint_id)
        return {"handles": [[n, h] for n, h in sorted(self.pending_handles.items())]}

    async def commit_upto(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` is complete: commit its handle and older ones."""
        if not getattr(self, "_open", False):
            return  # closed: recovery commits what the checkpoint recorded
        async with self.lock:
            for n in sorted(k for k in self.pending_handles if k <= checkpoint_id):
                await self.writer.commit(n, self.pending_handles[n])
                del self.pending_handles[n]

    async def on_end_of_input(self) -> list[Message]:
        async with self.lock:
            await self.writer.flush()
        return []

    async def close(self) -> None:
        if getattr(self, "_open", False):
            self._open = False
            await self.writer.close()
