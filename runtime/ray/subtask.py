"""One subtask of the plan as a Ray actor: the local runtime's ``Task`` and operator,
fed by ``Inbox``es and writing through ``RemoteChannel``s.

The driver (``runtime.ray.job``) creates every actor, then ``connect``s each to the
actors it sends to, then calls ``run``, which returns when the subtask ends: None when it
finished, or a ``Failure`` (an exception does not cross the process boundary as itself).
Other calls are served on the actor's event loop between the task's steps: ``push``
(data and signals from producers), ``post`` (the checkpoint coordinator's messages),
``metrics``, ``results`` (the collect node of a SELECT) and ``cancel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from catalog.config import CHANNEL_CAPACITY
from planner.physical import PhysicalPlan
from runtime.channels import Channel
from runtime.checkpoint.control import CheckpointConfig, Restored, SubtaskCheckpoints
from runtime.checkpoint.messages import ToCoordinator, ToSubtask
from runtime.graph import (
    Router,
    build_subtask,
    edge_mode,
    edge_targets,
    make_router,
    parallelism,
    with_local_phase,
)
from runtime.job import RESULT_QUEUE_SIZE, subtask_failure
from runtime.memory import use_job_allocator
from runtime.metrics import JobMetrics, NodeInfo
from runtime.operator import Worker
from runtime.operators.collect import RESULT_QUEUE
from runtime.ray.channel import ChannelKey, Inbox, OrderedCalls, RemoteChannel
from runtime.restart import restartable

SubtaskKey = tuple[int, int]  # (node id, subtask index)
METRIC_FIELDS = (
    "rows_in",
    "rows_out",
    "batches_in",
    "batches_out",
    "late_rows_dropped",
    "watermark_ms",
    "state_rows",
    "state_bytes",
    "busy_ms",
    "state_tables",
    "partitions",
    "commits",
    "commit_ms_total",
    "commit_ms_last",
)


@dataclass(frozen=True)
class Failure:
    """Why a subtask (or the coordinator) failed, in a form that crosses processes."""

    message: str
    hint: str | None = None
    restartable: bool = True


def failure_of(where: str, error: BaseException) -> Failure:
    e = subtask_failure(where, error)
    return Failure(e.message, e.hint, restartable(error))


class CoordinatorLink:
    """This subtask's way to the coordinator actor (``SubtaskCheckpoints`` posts here)."""

    def __init__(self, coordinator: Any, config: CheckpointConfig, where: str) -> None:
        self.config = config
        self.calls = OrderedCalls(coordinator.deliver, f"{where} -> coordinator")

    def send(self, message: ToCoordinator) -> None:
        self.calls.post(message)


class SubtaskActor:
    def __init__(
        self,
        plan: PhysicalPlan,
        job_id: str,
        node_id: int,
        subtask: int,
        config: dict[str, str],
        coordinator: Any | None,
        restored: Restored | None,
        attempt: int = 0,
    ) -> None:
        self._pushes: set[asyncio.Task[Any]] = set()  # deliveries under way (``reset`` ends them)
        self._setup(plan, job_id, node_id, subtask, config, coordinator, restored, attempt)

    def _setup(
        self,
        plan: PhysicalPlan,
        job_id: str,
        node_id: int,
        subtask: int,
        config: dict[str, str],
        coordinator: Any | None,
        restored: Restored | None,
        attempt: int,
    ) -> None:
        use_job_allocator()  # this actor's process runs the subtask's operators
        self.attempt = attempt
        self.plan = plan
        self.config = config
        self.node = node = plan.node(node_id)
        self.subtask = subtask
        self.key: SubtaskKey = (node_id, subtask)
        pc = parallelism(node)
        info = NodeInfo(node.id, node.name, node.kind, pc)
        self.metrics = JobMetrics(job_id, plan.name).add_node(info)[subtask]
        self.capacity = CHANNEL_CAPACITY.get(config)
        # one thread: the other subtasks of the job are other processes
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"subtask-{node_id}.{subtask}")
        self.worker = Worker(self.executor)
        self.results: asyncio.Queue[pa.RecordBatch | None] = asyncio.Queue(RESULT_QUEUE_SIZE)
        by_id = {n.id: n for n in plan.nodes}
        self.inboxes: dict[ChannelKey, Inbox] = {}
        self.incoming: list[tuple[Channel, int]] = []
        for ei, edge in enumerate(node.inputs):
            ps = parallelism(by_id[edge.source])
            mode = edge_mode(node, edge, ps, pc)
            for i in range(ps):
                if subtask in edge_targets(mode, i, pc):
                    ch = Channel(self.capacity, f"{edge.source}.{i}->{node_id}.{subtask}")
                    self.inboxes[(ei, i)] = Inbox(ch)
                    self.incoming.append((ch, ei))
        self.coordinator = coordinator
        self.restored = restored
        self.outlets: list[RemoteChannel] = []
        self.port: SubtaskCheckpoints | None = None
        self._run: asyncio.Task[None] | None = None
        self.finished = False

    def connect(self, actors: dict[SubtaskKey, Any]) -> None:
        """Build the routers to the consumers' actors, the operator and its task."""
        me = self.node
        ps = parallelism(me)
        routers: list[Router] = []
        for consumer in self.plan.nodes:
            pc = parallelism(consumer)
            for ei, edge in enumerate(consumer.inputs):
                if edge.source != me.id:
                    continue
                mode = edge_mode(consumer, edge, ps, pc)
                chans = [
                    RemoteChannel(
                        actors[(consumer.id, j)],
                        (ei, self.subtask),
                        self.capacity,
                        f"{me.id}.{self.subtask}->{consumer.id}.{j}",
                        self.attempt,
                    )
                    for j in edge_targets(mode, self.subtask, pc)
                ]
                self.outlets += chans
                router = make_router(mode, chans, edge.keys, self.worker.run, self.subtask, edge.columns)
                router = with_local_phase(router, consumer, edge, self.plan, self.config, self.worker.run)
                router.output = edge.output
                routers.append(router)
        _, self.task = build_subtask(
            self.plan,
            me,
            self.subtask,
            self.config,
            self.metrics,
            self.executor,
            {RESULT_QUEUE: self.results},
            self.worker,
            self.incoming,
            routers,
        )
        if self.coordinator is not None:
            link = CoordinatorLink(
                self.coordinator, CheckpointConfig.from_config(self.config), self.task.where
            )
            self.port = SubtaskCheckpoints(link, me.id, self.subtask)
            self.port.restored = self.restored
            self.task.checkpoints = self.port

    async def run(self) -> Failure | None:
        """Run the subtask to its end; None when it finished, else why it failed."""
        self._run = asyncio.get_running_loop().create_task(self._main(), name=self.task.where)
        try:
            await asyncio.shield(self._run)
        except asyncio.CancelledError:
            return None
        except BaseException as e:
            return failure_of(self.task.where, e)
        finally:
            self.finished = True
            self.metrics.finished = time.monotonic()
        return None

    async def _main(self) -> None:
        await self.task.run()
        for ch in self.outlets:  # every message is with its consumer before this ends
            await ch.flush()
        if self.port is not None:
            link = self.port.control
            if isinstance(link, CoordinatorLink):
                await link.calls.drain()

    async def push(self, attempt: int, key: ChannelKey, seq: int, message: Any) -> None:
        if attempt != self.attempt:
            return  # sent by a producer of an attempt that failed
        task = asyncio.current_task()
        if task is not None:
            self._pushes.add(task)
        try:
            await self.inboxes[key].deliver(seq, message)
        finally:
            if task is not None:
                self._pushes.discard(task)

    def post(self, attempt: int, message: ToSubtask) -> None:
        if self.port is not None and attempt == self.attempt:
            self.port.post(message)

    def metrics_fields(self) -> dict[str, Any]:
        out = {name: getattr(self.metrics, name) for name in METRIC_FIELDS}
        out["queue_fill"] = self.metrics.queue_fill
        out["finished"] = self.finished
        return out

    async def take_results(self) -> list[pa.RecordBatch] | None:
        """The collect node's next result batches (waits for one); None once it ended
        and every batch was taken."""
        while self.results.empty():
            if self.finished or (self._run is not None and self._run.done()):
                return None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    item = await self.results.get()
                    if item is not None:
                        return [item, *self._drain_results()]
        return self._drain_results()

    def _drain_results(self) -> list[pa.RecordBatch]:
        out = []
        while not self.results.empty():
            item = self.results.get_nowait()
            if item is not None:
                out.append(item)
        return out

    async def cancel(self) -> None:
        """Stop the subtask; its operator closes (a sink aborts what it has open)."""
        if self._run is not None and not self._run.done():
            self._run.cancel()
            with contextlib.suppress(BaseException):
                await self._run

    async def reset(
        self,
        job_id: str,
        config: dict[str, str],
        coordinator: Any | None,
        restored: Restored | None,
        attempt: int,
    ) -> None:
        """Become this subtask of the next attempt of the job, in this process: after a
        failure only the actors that died are created again (a process each), the others
        start over here from the same checkpoint. What the failed attempt still had under
        way ends: its run (the operator closes, a sink aborts what it had open), and the
        deliveries into its channels; whatever it still sends carries its attempt and is
        dropped. ``connect`` and ``run`` follow, as for a new actor."""
        await self.cancel()
        for task in list(self._pushes):
            task.cancel()
        self._pushes.clear()
        self.executor.shutdown(wait=False)
        self._setup(self.plan, job_id, self.key[0], self.subtask, config, coordinator, restored, attempt)
