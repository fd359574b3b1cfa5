"""A running physical plan.

    job = Job(plan)                # CREATED
    await job.start()              # RUNNING: every subtask is an asyncio task
    await job.wait()               # FINISHED (bounded input), FAILED (raises) or CANCELED
    job.cancel()                   # from the job's event loop (thread-safe callers use
                                   # loop.call_soon_threadsafe(job.cancel))
    job.metrics()                  # dict snapshot, see runtime/metrics.py

For a plan whose sink is a ``CollectSpec`` (an interactive SELECT), ``job.results()`` is
an async iterator of the result batches as they are produced; an updating result carries
``planner.physical.ROW_KIND_COLUMN`` (int8: 0 +I, 1 -U, 2 +U, 3 -D) as its last column.
The iterator ends when the job ends and raises the job's error if it failed. It is
bounded: a result nobody reads back-pressures the job. ``await job.run()`` is start +
wait in one call.

>>> import asyncio
>>> from planner.physical import CalcSpec, CollectSpec, Edge, Field, Node, SourceSpec
>>> x, y = (Field("x", "INT"),), (Field("y", "INT"),)
>>> plan = PhysicalPlan((
...     Node(1, "Source", SourceSpec("t", "values", {"rows": "[[1], [2], [3]]"}, x), (), x),
...     Node(2, "Calc", CalcSpec((("y", '"x" * 10'),), '"x" > 1'), (Edge(1),), y),
...     Node(3, "Collect", CollectSpec(), (Edge(2),), y),
... ))
>>> async def main():
...     job = Job(plan)
...     batches = [b async for b in job.results()]
...     await job.wait()
...     return [v for b in batches for v in b.column("y").to_pylist()], job.status.value
>>> asyncio.run(main())
([20, 30], 'FINISHED')
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any

import pyarrow as pa

from catalog.config import THREADS, checkpointing_enabled
from catalog.errors import SqlStreamError
from planner.physical import CollectSpec, PhysicalPlan
from runtime import udf
from runtime.checkpoint.control import CheckpointControl
from runtime.checkpoint.storage import CheckpointError
from runtime.graph import JobGraph, build, parallelism
from runtime.memory import use_job_allocator
from runtime.metrics import JobMetrics
from runtime.operators.collect import RESULT_QUEUE

RESULT_QUEUE_SIZE = 16


class JobStatus(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"


FINAL = (JobStatus.FINISHED, JobStatus.CANCELED, JobStatus.FAILED)


class JobFailedError(SqlStreamError):
    """A subtask failed; the message says which operator and subtask, ``__cause__`` why."""


def subtask_failure(where: str, error: BaseException) -> JobFailedError:
    """The job's error for a subtask (``where``) that raised ``error``."""
    if isinstance(error, SqlStreamError):
        return JobFailedError(f"{where} failed: {error.message}", hint=error.hint)
    failed = udf.failure_in(error)
    if failed is not None:
        return JobFailedError(f"{where} failed: {failed.message}", hint=failed.hint)
    return JobFailedError(f"{where} failed: {type(error).__name__}: {error}")


class Job:
    def __init__(
        self,
        plan: PhysicalPlan,
        job_id: str | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        self.plan = plan
        self.id = job_id or uuid.uuid4().hex[:8]
        self.config = {**plan.config, **(config or {})}
        self.status = JobStatus.CREATED
        self.error: BaseException | None = None
        self._metrics = JobMetrics(self.id, plan.name)
        self._graph: JobGraph | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._cancel_requested = False
        self._end_marker: asyncio.Task[None] | None = None
        self.collects = any(isinstance(n.spec, CollectSpec) for n in plan.nodes)
        self._results: asyncio.Queue[pa.RecordBatch | None] | None = None
        # Checkpointing: when an interval is set, and not for an interactive SELECT.
        self.checkpoints: CheckpointControl | None = None
        if checkpointing_enabled(self.config) and not self.collects:
            probe = CheckpointControl(plan, self.config, {n.id: parallelism(n) for n in plan.nodes})
            if probe.config.interval_ms:
                self.checkpoints = probe
        # where the checkpoints go, for reading their state (kept by a Ray job, whose
        # checkpointing runs in its coordinator actor)
        self.checkpoint_storage = self.checkpoints.storage if self.checkpoints is not None else None
        self._checkpointing: asyncio.Task[None] | None = None
        self._checkpoint_error: BaseException | None = None

    @property
    def job_id(self) -> str:
        return self.id

    def adopt(self, previous: Job) -> None:
        """Take over what the failed attempt ``previous`` left for this one, its next
        attempt (a Ray job: the actors that survived). The local runtime keeps nothing."""

    def release(self) -> None:
        """Let go of what a failed attempt kept for a next one that will not come."""

    def preflight(self) -> dict[str, str]:
        """Checks that need I/O, made before the job starts so that the statement that
        submits it fails with the reason, not the job: an object store that is to hold
        the checkpoints must take a file. Returns the configuration the job runs with."""
        if self.checkpoints is not None and self.checkpoints.config.remote:
            self.checkpoints.storage.check_writable()
        return self.config

    def status_is_final(self) -> bool:
        return self.status in FINAL

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self.status != JobStatus.CREATED:
            raise SqlStreamError(f"job {self.id} was already started")
        use_job_allocator()  # before the operators allocate their first batch
        threads = THREADS.get(self.config)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"job-{self.id}")
        self._results = asyncio.Queue(RESULT_QUEUE_SIZE)
        try:
            self._graph = build(
                self.plan,
                self.id,
                self.config,
                self._executor,
                self._metrics,
                {RESULT_QUEUE: self._results},
            )
            if self.checkpoints is not None:
                self._wire_checkpoints(self.checkpoints, self._graph)
        except BaseException as e:
            self._finish(JobStatus.FAILED, e)
            raise
        self.status = JobStatus.RUNNING
        self._tasks = [asyncio.create_task(self._run_task(t), name=t.where) for t in self._graph.tasks]
        if self.checkpoints is not None:
            self._checkpointing = asyncio.create_task(self._run_checkpoints(self.checkpoints))
        self._supervisor = asyncio.create_task(self._supervise(), name=f"job-{self.id}")
        if self._cancel_requested:  # cancelled before it started: no subtask was there to stop
            self.cancel()

    def _wire_checkpoints(self, control: CheckpointControl, graph: JobGraph) -> None:
        """Give every subtask its port to checkpointing (its mailbox, what it restores)."""
        control.prepare_restore()
        for task in graph.tasks:
            task.checkpoints = control.subtasks[(task.op.node.id, task.op.ctx.subtask.subtask)]

    async def _run_checkpoints(self, control: CheckpointControl) -> None:
        try:
            await control.run()
        except (asyncio.CancelledError, GeneratorExit):  # stopped, not failed: see _run_task
            raise
        except CheckpointError as e:
            self._fail_from_checkpoints(JobFailedError(f"checkpointing failed: {e.message}", hint=e.hint))
        except BaseException as e:
            self._fail_from_checkpoints(JobFailedError(f"checkpointing failed: {type(e).__name__}: {e}"))

    def _fail_from_checkpoints(self, error: BaseException) -> None:
        self._checkpoint_error = error
        for t in self._tasks:
            t.cancel()

    async def _run_task(self, task: Any) -> None:
        """Run one subtask; what it raised becomes the job's error, naming the subtask.

        Not a cancellation, nor a GeneratorExit: that is the coroutine being closed (a
        task still pending when its loop went away, freed by the garbage collector), and a
        closed coroutine must let it through (anything else it raises is "ignored" with a
        warning). KeyboardInterrupt and SystemExit are failures of the job: they come of a
        subtask's own code (a UDF that calls ``exit()``), and let through they would stop
        the event loop that hosts every job of the session."""
        try:
            await task.run()
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException as e:
            raise subtask_failure(task.where, e) from e

    async def _supervise(self) -> None:
        pending = set(self._tasks)
        error: BaseException | None = None
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if not t.cancelled() and t.exception() is not None and error is None:
                    error = t.exception()
            if error is not None:
                break
        if pending:
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._checkpointing is not None:
            self._checkpointing.cancel()
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        error = error or self._checkpoint_error
        if error is not None:
            self._finish(JobStatus.FAILED, error)
        elif self._cancel_requested or any(t.cancelled() for t in self._tasks):
            self._finish(JobStatus.CANCELED, None)
        else:
            self._finish(JobStatus.FINISHED, None)

    def _finish(self, status: JobStatus, error: BaseException | None) -> None:
        self.status = status
        self.error = error
        if status == JobStatus.FINISHED and self.checkpoints is not None:
            self.checkpoints.finished()
        self._metrics.finished = time.monotonic()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self._results is not None:
            if status == JobStatus.FINISHED:
                # after every result batch, whenever the reader makes room
                self._end_marker = asyncio.create_task(self._results.put(None))
            else:
                # wake the reader now; an unread batch of a failed job may go
                if self._results.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        self._results.get_nowait()
                self._results.put_nowait(None)

    async def wait(self) -> None:
        """Until the job ends; raises its error if it failed."""
        if self._supervisor is None:
            raise SqlStreamError(f"job {self.id} was not started")
        await asyncio.shield(self._supervisor)
        if self.status == JobStatus.FAILED and self.error is not None:
            raise self.error

    async def run(self) -> None:
        await self.start()
        try:
            await self.wait()
        except asyncio.CancelledError:
            self.cancel()
            raise

    def cancel(self) -> None:
        """Stop every subtask (idempotent); status becomes CANCELED."""
        if self.status_is_final():
            return
        self._cancel_requested = True
        for t in self._tasks:
            t.cancel()

    # ---- results and metrics -------------------------------------------------------------
    async def results(self) -> AsyncIterator[pa.RecordBatch]:
        if not self.collects:
            raise SqlStreamError("this job has no collect node: its results go to its sinks")
        if self.status == JobStatus.CREATED:
            await self.start()
        assert self._results is not None
        while True:
            item = await self._results.get()
            if item is None:
                break
            yield item
        if self.status == JobStatus.FAILED and self.error is not None:
            raise self.error

    def metrics(self) -> dict[str, Any]:
        out = self._metrics.snapshot(self.status.value)
        if self.checkpoints is not None:
            out["checkpoints"] = self.checkpoints.summary()
        return out

    async def stop_with_savepoint(self) -> str:
        """Take a savepoint, wait for it, then stop the job; returns the savepoint's folder."""
        if self.checkpoints is None or self.status != JobStatus.RUNNING:
            raise SqlStreamError(
                f"job {self.id} cannot take a savepoint: "
                + ("it is not running" if self.checkpoints else "checkpointing is off"),
                hint="SET 'execution.checkpointing.interval' before starting the job",
            )
        metadata = await self.checkpoints.savepoint()
        self.cancel()
        await asyncio.gather(asyncio.shield(self._supervisor), return_exceptions=True)  # type: ignore[arg-type]
        return str(metadata.stats.get("path", ""))
