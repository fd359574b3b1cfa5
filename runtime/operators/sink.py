"""Drives a connector's ``SinkWriter``: writes each batch, pre-commits at barriers,
commits when their checkpoint completes, recovers on restore, flushes at end of input.

Two-phase commit (DESIGN.md): at barrier n the writer's ``pre_commit(n)`` returns a handle
that is kept until a checkpoint m >= n completes; then ``commit(n, handle)`` runs for every
kept handle up to m, in order (a checkpoint that was aborted has its handle committed by
the next one that completes). The acknowledgement of barrier n carries every handle not
yet committed, so recovery from checkpoint n commits exactly those (``recover``). Every
call into the writer comes from this subtask's own loop: the commit arrives as the
coordinator's ``CheckpointComplete`` message, never as a call from another task.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from catalog.connectors import Guarantee
from catalog.errors import SqlStreamError
from catalog.types import parse_type
from planner.physical import SinkSpec
from runtime.checkpoint.messages import Role
from runtime.connectors.base import SinkWriter
from runtime.connectors.registry import create_sink
from runtime.faults import broken_sink, crash_point
from runtime.messages import Message
from runtime.operator import Operator, OperatorContext, Snapshot

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored


class SinkOp(Operator):
    role: ClassVar[Role] = "sink"

    def __init__(self, ctx: OperatorContext) -> None:
        super().__init__(ctx)
        self.writer: SinkWriter | None = None
        self.pending_handles: dict[int, Any] = {}
        self.recover_handles: list[tuple[int, Any]] | None = None
        self.restored_checkpoint = 0

    async def restore(self, restored: Restored) -> None:
        self.recover_handles = restored.handles
        self.restored_checkpoint = restored.checkpoint_id

    async def open(self) -> None:
        assert isinstance(self.node.spec, SinkSpec)
        self.exactly_once = self.node.spec.guarantee == Guarantee.EXACTLY_ONCE
        self.not_null = [f.name for f in self.node.spec.columns if not parse_type(f.type).nullable]
        writer = create_sink(self.node.spec, self.ctx.subtask)
        writer.restored_checkpoint = self.restored_checkpoint
        await writer.open()
        self.writer = writer
        if self.recover_handles is not None:
            # Before any data: commit the handles of the restored checkpoint (idempotent),
            # then let the writer abort what else it left open.
            handles = self.recover_handles
            if broken_sink("skip-recovery"):
                handles = []  # a sink broken on purpose: what the checkpoint recorded is lost
            await writer.recover(handles)

    def _writer(self) -> SinkWriter:
        assert self.writer is not None, "the sink is not open"
        return self.writer

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        if self.not_null:
            batch = self._enforce_not_null(batch)
            if not batch.num_rows:
                return []
        await self._writer().write(batch)
        return []

    def _enforce_not_null(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Flink's sink not-null enforcer: a NULL bound for a NOT NULL column fails the job
        (the default) or, with 'table.exec.sink.not-null-enforcer' = 'DROP', drops its row.
        Written, it would break the table's declared schema (a database refuses it later)."""
        import pyarrow.compute as pc  # here: ~25 ms of start-up that a job without NOT NULL never needs

        assert isinstance(self.node.spec, SinkSpec)
        bad = None
        for name in self.not_null:
            nulls = batch.column(name).is_null()
            if nulls.true_count:
                if self.node.spec.not_null_enforcer != "DROP":
                    raise SqlStreamError(
                        f"column '{name}' is NOT NULL, however, a null value is being written into it",
                        hint="set 'table.exec.sink.not-null-enforcer' = 'DROP' to drop such rows instead, "
                        f"or give the column a value (COALESCE) or make table '{self.node.spec.table}' "
                        "column nullable",
                    )
                bad = nulls if bad is None else pc.or_(bad, nulls)
        if bad is None:
            return batch
        self.metrics.null_rows_dropped += bad.true_count
        return batch.filter(pc.invert(bad))

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        await self._writer().on_watermark(ts_ms)
        return []

    def next_timer_ms(self) -> int | None:
        return self.writer.next_timer_ms() if self.writer is not None else None

    async def on_timer(self, now: int) -> list[Message]:
        await self._writer().on_timer(now)
        return []

    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        """Pre-commit; the checkpoint records every handle not yet committed."""
        self.pending_handles[checkpoint_id] = await self._writer().pre_commit(checkpoint_id)
        return Snapshot({"handles": [[n, h] for n, h in sorted(self.pending_handles.items())]})

    async def on_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` is complete: commit its handle and older ones."""
        writer = self._writer()
        for n in sorted(k for k in self.pending_handles if k <= checkpoint_id):
            start = time.perf_counter()
            await writer.commit(n, self.pending_handles[n])
            self.metrics.commit_took((time.perf_counter() - start) * 1000)
            del self.pending_handles[n]
        crash_point("after_commit")

    async def on_end_of_input(self) -> list[Message]:
        await self._writer().flush()
        return []

    async def close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            await writer.close()
