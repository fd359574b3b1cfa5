"""The checkpoint coordinator: triggers checkpoints, collects acknowledgements, completes
them atomically, and tells the sinks to commit.

It talks to subtasks only through messages (a barrier injected at the sources, an
acknowledgement with a snapshot handle back, a commit notice out), so the same protocol
can later span machines. One checkpoint is:

1. ``trigger``: a new id n and folder; every source subtask is asked to inject barrier n.
2. every subtask acknowledges n once it has snapshotted (sources: their positions;
   stateful operators: their state files; sinks: their pre-committed transaction handle);
3. when every expected subtask has acknowledged, the metadata file is written atomically:
   checkpoint n is complete, and only then are the sinks told to commit n;
4. a checkpoint that takes longer than ``execution.checkpointing.timeout``, or that a
   subtask declines, is aborted: its folder is discarded and the job goes on, unless more
   than ``tolerable-failed-checkpoints`` fail in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from catalog.config import (
    CHECKPOINTING_INTERVAL,
    CHECKPOINTING_MAX_CONCURRENT,
    CHECKPOINTING_MIN_PAUSE,
    CHECKPOINTING_MODE,
    CHECKPOINTING_TIMEOUT,
    CHECKPOINTING_TOLERABLE_FAILED,
    CHECKPOINTS_DIR,
    CHECKPOINTS_RETAINED,
)
from catalog.errors import SqlStreamError
from runtime.checkpoint.messages import Ack
from runtime.checkpoint.storage import CheckpointError, CheckpointMetadata, CheckpointStorage
from runtime.checkpoint.store import Store, is_object_store, local_path, open_store
from runtime.partition import PARTITIONING

SubtaskId = tuple[int, int]  # (node id, subtask index)


@dataclass(frozen=True)
class CheckpointConfig:
    interval_ms: int | None
    exactly_once: bool = True
    min_pause_ms: int = 0
    timeout_ms: int = 600_000
    max_concurrent: int = 1
    tolerable_failed: int = 0
    num_retained: int = 1
    directory: str = "checkpoints"
    store_options: tuple[tuple[str, str], ...] = ()  # the object store's s3.* keys

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> CheckpointConfig:
        directory = CHECKPOINTS_DIR.get(config) or "checkpoints"
        return cls(
            interval_ms=CHECKPOINTING_INTERVAL.get(config) or None,
            exactly_once=CHECKPOINTING_MODE.get(config) == "EXACTLY_ONCE",
            min_pause_ms=CHECKPOINTING_MIN_PAUSE.get(config) or 0,
            timeout_ms=CHECKPOINTING_TIMEOUT.get(config) or 0,
            max_concurrent=max(1, CHECKPOINTING_MAX_CONCURRENT.get(config)),
            tolerable_failed=CHECKPOINTING_TOLERABLE_FAILED.get(config),
            num_retained=max(1, CHECKPOINTS_RETAINED.get(config)),
            directory=local_path(directory),
            store_options=tuple(sorted((k, v) for k, v in config.items() if k.startswith("s3."))),
        )

    @cached_property
    def store(self) -> Store:
        """The folder or object store of ``directory`` (one client per config)."""
        return open_store(self.directory, dict(self.store_options))

    def storage(self, job_name: str) -> CheckpointStorage:
        """The checkpoint folders of the job named ``job_name`` (``pipeline.name``)."""
        return CheckpointStorage(self.directory, job_name, self.store)

    @property
    def remote(self) -> bool:
        """True when checkpoints go to an object store, not a folder."""
        return is_object_store(self.directory)


@dataclass
class CheckpointStats:
    checkpoint_id: int
    savepoint: bool
    status: str  # "completed" | "aborted"
    started_ms: int
    duration_ms: float
    sync_ms: float = 0.0
    async_ms: float = 0.0
    alignment_ms: float = 0.0
    bytes: int = 0
    reason: str = ""
    path: str = ""


@dataclass
class _Pending:
    checkpoint_id: int
    savepoint: bool
    folder: str
    started: float
    expected: set[SubtaskId]
    acks: dict[SubtaskId, Ack] = field(default_factory=dict)
    done: asyncio.Future[CheckpointMetadata] | None = None


Inject = Callable[[int, bool, str], Awaitable[None]]
# Tells the subtasks that a checkpoint is complete; returns once its sinks have committed.
Commit = Callable[[int, CheckpointMetadata], Awaitable[None]]

__all__ = ["Ack", "CheckpointConfig", "CheckpointCoordinator", "CheckpointStats"]


class CheckpointCoordinator:
    """Runs on the job's event loop; every method is called from it."""

    def __init__(
        self,
        config: CheckpointConfig,
        storage: CheckpointStorage,
        expected: set[SubtaskId],
        inject: Inject,
        commit: Commit,
        plan_fingerprint: str,
        parallelism: Mapping[int, int],
        first_id: int | None = None,
    ) -> None:
        self.config = config
        self.storage = storage
        self.expected = set(expected)
        self._inject = inject
        self._commit = commit
        self.fingerprint = plan_fingerprint
        self.parallelism = {str(k): v for k, v in parallelism.items()}
        self.next_id = first_id if first_id is not None else storage.next_id()
        self.pending: dict[int, _Pending] = {}
        self.history: list[CheckpointStats] = []
        self.failures_in_row = 0
        self.last_completed_ms: float | None = None
        self.latest: CheckpointMetadata | None = None
        self.failure: BaseException | None = None
        self._wake = asyncio.Event()
        self.node_fingerprints: dict[str, str] = {}  # stored in the metadata (restore checks)
        self.plan_json = ""  # stored in the metadata (reading the state back)
        self._committing: set[asyncio.Task[None]] = set()

    # ---- triggering -------------------------------------------------------------------
    async def run(self) -> None:
        """Trigger periodically until cancelled (only when an interval is set)."""
        interval = self.config.interval_ms
        if not interval:
            return
        last_trigger = time.monotonic()
        while True:
            await asyncio.sleep(max(interval / 1000 - (time.monotonic() - last_trigger), 0.001))
            if self.last_completed_ms is not None:
                pause = self.config.min_pause_ms / 1000 - (time.monotonic() - self.last_completed_ms)
                if pause > 0:
                    await asyncio.sleep(pause)
            if len(self.pending) >= self.config.max_concurrent:
                await self._wait_for_room()
            last_trigger = time.monotonic()
            await self.trigger()

    async def _wait_for_room(self) -> None:
        while len(self.pending) >= self.config.max_concurrent:
            self._wake.clear()
            await self._wake.wait()

    async def trigger(self, savepoint: bool = False) -> asyncio.Future[CheckpointMetadata]:
        """Start checkpoint n; the returned future completes with its metadata."""
        checkpoint_id = self.next_id
        self.next_id += 1
        folder = self.storage.prepare(checkpoint_id, savepoint)
        future: asyncio.Future[CheckpointMetadata] = asyncio.get_running_loop().create_future()
        pending = _Pending(
            checkpoint_id, savepoint, folder, time.monotonic(), set(self.expected), done=future
        )
        self.pending[checkpoint_id] = pending
        asyncio.get_running_loop().call_later(self.config.timeout_ms / 1000, self._expire, checkpoint_id)
        await self._inject(checkpoint_id, savepoint, folder)
        return future

    # ---- acknowledgements -------------------------------------------------------------
    async def acknowledge(self, checkpoint_id: int, ack: Ack) -> None:
        pending = self.pending.get(checkpoint_id)
        if pending is None:
            return  # aborted or unknown: the subtask's files go with the folder
        key = (ack.node_id, ack.subtask)
        if key not in pending.expected:
            raise CheckpointError(f"unexpected acknowledgement from node {key[0]} subtask {key[1]}")
        pending.acks[key] = ack
        if len(pending.acks) == len(pending.expected):
            await self._complete(pending)

    def decline(self, checkpoint_id: int, reason: str) -> None:
        """A subtask could not snapshot: abort this checkpoint (the job goes on)."""
        self._abort(checkpoint_id, reason)

    async def _complete(self, pending: _Pending) -> None:
        del self.pending[pending.checkpoint_id]
        metadata = CheckpointMetadata(
            checkpoint_id=pending.checkpoint_id,
            job_name=self.storage.job_name,
            plan_fingerprint=self.fingerprint,
            timestamp_ms=int(time.time() * 1000),
            savepoint=pending.savepoint,
            parallelism=dict(self.parallelism),
            nodes=dict(self.node_fingerprints),
            plan=self.plan_json,
            partitioning=PARTITIONING,
        )
        for (node, subtask), ack in sorted(pending.acks.items()):
            section = {"source": metadata.sources, "operator": metadata.operators, "sink": metadata.sinks}[
                ack.kind
            ]
            if ack.state is not None:
                section.setdefault(str(node), {})[str(subtask)] = ack.state
        stats = CheckpointStats(
            checkpoint_id=pending.checkpoint_id,
            savepoint=pending.savepoint,
            status="completed",
            started_ms=int(time.time() * 1000 - (time.monotonic() - pending.started) * 1000),
            duration_ms=(time.monotonic() - pending.started) * 1000,
            sync_ms=max((a.sync_ms for a in pending.acks.values()), default=0.0),
            async_ms=max((a.async_ms for a in pending.acks.values()), default=0.0),
            alignment_ms=max((a.alignment_ms for a in pending.acks.values()), default=0.0),
            bytes=sum(a.bytes for a in pending.acks.values()),
            path=pending.folder,
        )
        metadata.stats = stats.__dict__.copy()
        try:
            self.storage.complete(pending.folder, metadata)
        except (OSError, SqlStreamError) as e:
            self._record_failure(pending, f"cannot write checkpoint metadata: {e}")
            return
        self.history.append(stats)
        self.latest = metadata
        self.failures_in_row = 0
        self.last_completed_ms = time.monotonic()
        # Older pending checkpoints are subsumed by this one.
        for older in [p for p in self.pending.values() if p.checkpoint_id < pending.checkpoint_id]:
            self._abort(older.checkpoint_id, f"subsumed by checkpoint {pending.checkpoint_id}")
        if not pending.savepoint:
            self.storage.retain(self.config.num_retained)
        self._wake.set()
        # The commit is awaited apart from the inbox: the sinks' answers come through it.
        task = asyncio.create_task(
            self._committed(pending, metadata), name=f"commit checkpoint {pending.checkpoint_id}"
        )
        self._committing.add(task)
        task.add_done_callback(self._committing.discard)

    async def _committed(self, pending: _Pending, metadata: CheckpointMetadata) -> None:
        """Tell the subtasks that the checkpoint is complete; its future completes once its
        sinks have committed."""
        done = pending.done
        try:
            await self._commit(pending.checkpoint_id, metadata)
        except BaseException as e:
            if done is not None and not done.done():
                reason = "the job stopped" if isinstance(e, asyncio.CancelledError) else f"{e}"
                done.set_exception(
                    CheckpointError(
                        f"checkpoint {pending.checkpoint_id} is complete but was not committed: {reason}"
                    )
                )
                with contextlib.suppress(BaseException):
                    done.exception()  # retrieved: nobody has to await it
            if isinstance(e, asyncio.CancelledError):
                raise
            return
        if done is not None and not done.done():
            done.set_result(metadata)

    # ---- failure ---------------------------------------------------------------------
    def _expire(self, checkpoint_id: int) -> None:
        if checkpoint_id in self.pending:
            self._abort(checkpoint_id, f"timed out after {self.config.timeout_ms} ms")

    def _abort(self, checkpoint_id: int, reason: str) -> None:
        pending = self.pending.pop(checkpoint_id, None)
        if pending is None:
            return
        self._record_failure(pending, reason)

    def _record_failure(self, pending: _Pending, reason: str) -> None:
        self.storage.discard(pending.folder)
        self.history.append(
            CheckpointStats(
                checkpoint_id=pending.checkpoint_id,
                savepoint=pending.savepoint,
                status="aborted",
                started_ms=int(time.time() * 1000),
                duration_ms=(time.monotonic() - pending.started) * 1000,
                reason=reason,
            )
        )
        subsumed = reason.startswith("subsumed")
        if not subsumed:
            self.failures_in_row += 1
            if self.failures_in_row > self.config.tolerable_failed and self.failure is None:
                self.failure = CheckpointError(
                    f"checkpoint {pending.checkpoint_id} failed ({reason}); "
                    f"{self.failures_in_row} failed in a row, more than the "
                    f"{self.config.tolerable_failed} that "
                    "'execution.checkpointing.tolerable-failed-checkpoints' allows",
                    hint="raise execution.checkpointing.timeout or the tolerable failures",
                )
        if pending.done is not None and not pending.done.done():
            pending.done.set_exception(
                CheckpointError(f"checkpoint {pending.checkpoint_id} aborted: {reason}")
            )
            with contextlib.suppress(BaseException):
                pending.done.exception()  # retrieved: nobody has to await it
        self._wake.set()

    async def commits_done(self) -> None:
        """Until every complete checkpoint's sinks have committed (or the job stopped)."""
        while self._committing:
            await asyncio.gather(*self._committing, return_exceptions=True)

    def abort_all(self, reason: str) -> None:
        """Abort every pending checkpoint and stop waiting for commits (the job stops)."""
        for checkpoint_id in list(self.pending):
            self._abort(checkpoint_id, reason)
        for task in list(self._committing):
            task.cancel()

    def summary(self) -> dict[str, Any]:
        """For metrics: counts and the last completed checkpoint's figures."""
        completed = [h for h in self.history if h.status == "completed"]
        last = completed[-1] if completed else None
        return {
            "completed": len(completed),
            "failed": sum(
                1 for h in self.history if h.status == "aborted" and not h.reason.startswith("subsumed")
            ),
            "in_progress": len(self.pending),
            "last": last.__dict__.copy() if last else None,
        }
