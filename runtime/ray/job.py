"""A job whose subtasks are Ray actors: deploy, watch, tear down one attempt.

``RayJob`` has the local ``Job``'s surface (``start``, ``wait``, ``run``, ``cancel``,
``status``, ``metrics()``, ``results()``, ``stop_with_savepoint()``), so the session,
``SHOW JOBS``, the dashboard and the restart strategy treat both alike. ``start``:

1. connects to Ray (``ray.address``) and refuses what cannot work (``cluster.py``);
2. creates the coordinator actor (with checkpointing), which decides what every subtask
   restores, then one actor per subtask, spread over the nodes;
3. connects every actor to its consumers, and the coordinator to every subtask;
4. runs them. The supervisor waits for every subtask: the job FINISHES when all did,
   and FAILS at the first failure or lost actor (a lost node loses its actors); then
   the restart strategy makes a new attempt from the newest complete checkpoint, on the
   nodes that are left. A checkpointing job keeps the actors that still answer (their
   subtasks stopped, their operators closed): the next attempt ``adopt``s them and resets
   each in place (``SubtaskActor.reset``), so that only the lost actors' processes start
   again; the checkpoint coordinator is a new actor each attempt.

Metrics are fetched from the actors once a second into mirrors of the local counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import pyarrow as pa

from catalog.config import CHECKPOINTS_DIR, RAY_ADDRESS
from catalog.errors import SqlStreamError
from planner.physical import CollectSpec, PhysicalPlan
from runtime.channels import InputGate
from runtime.checkpoint.coordinator import CheckpointConfig
from runtime.checkpoint.store import is_object_store
from runtime.faults import forwarded_env
from runtime.graph import parallelism
from runtime.job import RESULT_QUEUE_SIZE, Job, JobFailedError, JobStatus
from runtime.metrics import NodeInfo, OperatorMetrics
from runtime.ray.cluster import RayError, check_checkpoint_dir, check_cpus, connect, cpu_share
from runtime.ray.coordinator import CoordinatorActor
from runtime.ray.subtask import Failure, SubtaskActor, SubtaskKey

METRICS_EVERY_S = 1.0
CANCEL_GRACE_S = 5.0
PING_S = 5.0  # an actor that does not answer within this after a failure is not kept


class _RemoteFill(InputGate):
    """The queue fill an actor reported, where the local metrics read a gate's."""

    def __init__(self) -> None:
        super().__init__([])
        self.value = 0.0

    @property
    def fill(self) -> float:
        return self.value


def _failure_error(failure: Failure) -> JobFailedError:
    error = JobFailedError(failure.message, hint=failure.hint)
    if not failure.restartable:
        error.restartable = False  # type: ignore[attr-defined]
    return error


def _cause(error: BaseException) -> BaseException:
    """The exception an actor raised, out of Ray's wrapper."""
    return getattr(error, "cause", None) or error


class RayJob(Job):
    def __init__(
        self, plan: PhysicalPlan, job_id: str | None = None, config: dict[str, str] | None = None
    ) -> None:
        super().__init__(plan, job_id, config)
        # the coordinator actor does the checkpointing; the local control only decided it
        self.checkpointing = self.checkpoints is not None
        self.checkpoints = None
        self._actors: dict[SubtaskKey, Any] = {}
        self._coordinator: Any | None = None
        self._runs: dict[asyncio.Future[Any], str] = {}
        self._mirrors: dict[SubtaskKey, OperatorMetrics] = {}
        self._summary: dict[str, Any] | None = None
        self._stop = asyncio.Event()
        self._helpers: list[asyncio.Task[None]] = []
        self._pump: asyncio.Task[None] | None = None
        self._checked: dict[str, str] | None = None  # the configuration preflight() checked
        self.attempt = 0  # attempts of the job before this one
        self._survivors: dict[SubtaskKey, Any] = {}  # actors kept from a failed attempt

    def adopt(self, previous: Job) -> None:
        """Take over the actors the failed ``previous`` attempt kept (see the module's
        docstring); they are reset, not created, when this attempt starts."""
        if isinstance(previous, RayJob):
            self.attempt = previous.attempt + 1
            self._survivors, previous._survivors = previous._survivors, {}

    def release(self) -> None:
        """Stop the actors kept for a next attempt that will not come."""
        survivors, self._survivors = self._survivors, {}
        with contextlib.suppress(Exception):
            import ray

            for actor in survivors.values():
                ray.kill(actor, no_restart=True)

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self.status != JobStatus.CREATED:
            raise SqlStreamError(f"job {self.id} was already started")
        self._results = asyncio.Queue(RESULT_QUEUE_SIZE)
        try:
            await self._deploy()
        except GeneratorExit:  # the coroutine closed (see Job._run_task): nothing to await
            raise
        except BaseException as e:
            await self._teardown()
            error = _cause(e)
            if not isinstance(error, SqlStreamError):
                error = JobFailedError(f"the job could not start on Ray: {type(error).__name__}: {error}")
            self._finish(JobStatus.FAILED, error)
            raise error from None
        self.status = JobStatus.RUNNING
        self._supervisor = asyncio.create_task(self._supervise(), name=f"job-{self.id}")

    def preflight(self) -> dict[str, str]:
        """Connect to Ray and refuse what cannot run (``cluster.py``), before any actor
        exists; returns the configuration the actors get (a checkpoint folder made
        absolute: a worker's current folder is not this process's). Blocking."""
        ray = connect(RAY_ADDRESS.get(self.config))
        check_cpus(ray, self.plan)
        config = dict(self.config)
        if self.checkpointing:
            directory = CheckpointConfig.from_config(config).directory
            if not is_object_store(directory):
                directory = os.path.abspath(directory)
            config[CHECKPOINTS_DIR.name] = directory
            check_checkpoint_dir(ray, directory, config)
        self._checked = config
        return config

    async def _deploy(self) -> None:
        config = self._checked or await asyncio.to_thread(self.preflight)
        import ray

        plan = self.plan
        width = {n.id: parallelism(n) for n in plan.nodes}
        for node in plan.nodes:
            subs = self._metrics.add_node(NodeInfo(node.id, node.name, node.kind, width[node.id]))
            for j, m in enumerate(subs):
                m.gate = _RemoteFill()
                self._mirrors[(node.id, j)] = m
        restored: dict[SubtaskKey, Any] = {}
        # the crash tests' fault settings reach the actors' processes (none otherwise)
        env = forwarded_env()
        extra: dict[str, Any] = {"runtime_env": {"env_vars": env}} if env else {}
        if self.checkpointing:
            coordinator: Any = ray.remote(CoordinatorActor)
            self._coordinator = coordinator.options(num_cpus=0, max_restarts=0, **extra).remote(
                plan, config, width, self.attempt
            )
            restored = await self._coordinator.prepare_restore.remote()
        actor_class: Any = ray.remote(SubtaskActor)
        actor_class = actor_class.options(
            num_cpus=cpu_share(plan), max_restarts=0, scheduling_strategy="SPREAD", **extra
        )
        resets = []
        for node in plan.nodes:
            for j in range(width[node.id]):
                key = (node.id, j)
                survivor = self._survivors.pop(key, None)
                if survivor is not None:
                    self._actors[key] = survivor
                    reset = survivor.reset.remote
                    resets.append(reset(self.id, config, self._coordinator, restored.get(key), self.attempt))
                    continue
                self._actors[key] = actor_class.remote(
                    plan, self.id, node.id, j, config, self._coordinator, restored.get(key), self.attempt
                )
        self.release()  # none is left over (the same plan), but never leak one
        await asyncio.gather(*resets)
        await asyncio.gather(*(a.connect.remote(self._actors) for a in self._actors.values()))
        if self._coordinator is not None:
            await self._coordinator.connect.remote(self._actors)
        for key, actor in self._actors.items():
            node = plan.node(key[0])
            where = f"{node.name} (subtask {key[1] + 1}/{width[key[0]]})"
            self._runs[asyncio.ensure_future(actor.run.remote())] = where
        if self._coordinator is not None:
            self._runs[asyncio.ensure_future(self._coordinator.run.remote())] = "the checkpoint coordinator"
        self._helpers.append(asyncio.create_task(self._poll_metrics()))
        if self.collects:
            self._pump = asyncio.create_task(self._pump_results())
            self._helpers.append(self._pump)

    async def _supervise(self) -> None:
        pending: set[asyncio.Future[Any]] = set(self._runs)
        stop = asyncio.ensure_future(self._stop.wait())
        error: BaseException | None = None
        while pending and error is None and not self._stop.is_set():
            done, pending = await asyncio.wait(pending | {stop}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(stop)
            for f in done:
                if f is stop or error is not None:
                    continue
                where = self._runs[f]
                # an actor that died (its node was lost, or it was killed) fails its call;
                # Ray may also cancel the call's future
                lost = "cancelled" if f.cancelled() else f.exception()
                if lost is not None:
                    why = lost if isinstance(lost, str) else type(lost).__name__
                    error = JobFailedError(
                        f"{where} was lost: its Ray actor died ({why})",
                        hint="the job restarts from its newest checkpoint when a restart strategy allows",
                    )
                    continue
                result = f.result()
                if isinstance(result, Failure):
                    error = _failure_error(result)
        stop.cancel()
        if error is None and not self._stop.is_set():
            if self._pump is not None:  # the last results reach the reader first
                await asyncio.gather(self._pump, return_exceptions=True)
            await self._refresh_metrics()
            if self._coordinator is not None:
                with contextlib.suppress(Exception):
                    await self._coordinator.finished.remote()
            await self._teardown()
            self._finish(JobStatus.FINISHED, None)
            return
        await self._teardown(graceful=error is None, keep=error is not None and self.checkpointing)
        if error is not None:
            self._finish(JobStatus.FAILED, error)
        else:
            self._finish(JobStatus.CANCELED, None)

    async def _teardown(self, graceful: bool = False, keep: bool = False) -> None:
        """Stop every actor of this attempt (operators close first when ``graceful``);
        with ``keep``, the actors that still answer stop their subtasks (operators close)
        and stay, for the next attempt to ``adopt``."""
        for t in self._helpers:
            t.cancel()
        self.release()  # adopted actors this attempt did not get to use
        kept: dict[SubtaskKey, Any] = {}
        if keep and self._actors:
            kept = await self._stop_survivors()
        elif graceful and self._actors:
            with contextlib.suppress(Exception, TimeoutError):
                async with asyncio.timeout(CANCEL_GRACE_S):
                    await asyncio.gather(
                        *(a.cancel.remote() for a in self._actors.values()), return_exceptions=True
                    )
        with contextlib.suppress(Exception):
            import ray

            for key, actor in [*self._actors.items(), (None, self._coordinator)]:
                if actor is not None and key not in kept:
                    ray.kill(actor, no_restart=True)
        for f in self._runs:
            f.cancel()
        self._survivors = kept

    async def _stop_survivors(self) -> dict[SubtaskKey, Any]:
        """The actors that stopped their subtask when asked, within ``PING_S``: alive, on
        a node that is still there."""
        keys = list(self._actors)

        async def stop(actor: Any) -> None:
            async with asyncio.timeout(PING_S):
                await actor.cancel.remote()

        answers = await asyncio.gather(*(stop(self._actors[k]) for k in keys), return_exceptions=True)
        return {k: self._actors[k] for k, a in zip(keys, answers) if not isinstance(a, BaseException)}

    def cancel(self) -> None:
        if self.status_is_final():
            return
        self._cancel_requested = True
        self._stop.set()

    # ---- results and metrics -------------------------------------------------------------
    async def _pump_results(self) -> None:
        collect = next(n for n in self.plan.nodes if isinstance(n.spec, CollectSpec))
        actor = self._actors[(collect.id, 0)]
        assert self._results is not None
        while True:
            batches: list[pa.RecordBatch] | None = await actor.take_results.remote()
            if batches is None:
                return
            for b in batches:
                await self._results.put(b)

    async def _poll_metrics(self) -> None:
        while True:
            await asyncio.sleep(METRICS_EVERY_S)
            with contextlib.suppress(Exception):
                await self._refresh_metrics()

    async def _refresh_metrics(self) -> None:
        keys = list(self._actors)
        answers = await asyncio.gather(
            *(self._actors[k].metrics_fields.remote() for k in keys), return_exceptions=True
        )
        for key, fields in zip(keys, answers):
            if isinstance(fields, BaseException):
                continue
            mirror = self._mirrors[key]
            for name, value in fields.items():
                if name == "queue_fill" and isinstance(mirror.gate, _RemoteFill):
                    mirror.gate.value = value
                elif name == "finished":
                    if value and mirror.finished is None:
                        mirror.finished = time.monotonic()
                else:
                    setattr(mirror, name, value)
        if self._coordinator is not None:
            with contextlib.suppress(Exception):
                self._summary = await self._coordinator.summary.remote()

    def metrics(self) -> dict[str, Any]:
        out = self._metrics.snapshot(self.status.value)
        out["target"] = "ray"
        if self.checkpointing:
            empty = {"completed": 0, "failed": 0, "in_progress": 0, "last": None}
            out["checkpoints"] = self._summary or empty
        return out

    async def stop_with_savepoint(self) -> str:
        if not self.checkpointing or self._coordinator is None or self.status != JobStatus.RUNNING:
            raise SqlStreamError(
                f"job {self.id} cannot take a savepoint: "
                + ("it is not running" if self.checkpointing else "checkpointing is off"),
                hint="SET 'execution.checkpointing.interval' before starting the job",
            )
        try:
            path: str = await self._coordinator.savepoint.remote()
        except Exception as e:
            cause = _cause(e)
            if isinstance(cause, SqlStreamError):
                raise cause from None
            raise
        self.cancel()
        await asyncio.gather(asyncio.shield(self._supervisor), return_exceptions=True)  # type: ignore[arg-type]
        return path


__all__ = ["RayError", "RayJob"]
