"""The job's side of checkpointing: the coordinator, barrier injection at the sources,
acknowledgements, sink commits, the final checkpoint of a bounded job, and restore.

``CheckpointControl`` is created by ``runtime.job.Job`` when
``execution.checkpointing.interval`` is set (never for an interactive SELECT: a collect
node has nothing to commit and nothing to resume). Each subtask gets a
``SubtaskCheckpoints`` (its narrow view: acknowledge, decline, the folder of checkpoint
n, what to restore), so tasks talk to the coordinator only through messages.

Restore: the checkpoint is the one named by ``execution.savepoint.path`` (the CLI's
``--from-savepoint`` / ``--from-checkpoint``), else, when
``sqlstream.checkpoint.resume`` = ``latest`` (what ``sqlstream run`` sets unless
``--fresh``), the newest complete checkpoint of the job under ``state.checkpoints.dir``.
A checkpoint of another query (its plan fingerprint differs) is refused unless
``execution.savepoint.ignore-unclaimed-state`` = ``true``; then only the nodes whose
own fingerprint matches get their state. At another parallelism, keyed state is
redistributed (each new subtask loads every old file and keeps its keys), sink handles
go to subtask ``old % new`` and sources reassign their splits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.table import redact
from planner.physical import Node, Partitioning, PhysicalPlan, SinkSpec, SourceSpec, _encode
from runtime.checkpoint.coordinator import Ack, CheckpointConfig, CheckpointCoordinator
from runtime.checkpoint.storage import CheckpointError, CheckpointMetadata, CheckpointStorage, load
from runtime.faults import crash_point
from runtime.messages import Barrier

log = logging.getLogger(__name__)

RESUME_KEY = "sqlstream.checkpoint.resume"  # "latest" | "none"
SAVEPOINT_PATH_KEY = "execution.savepoint.path"
IGNORE_UNCLAIMED_KEY = "execution.savepoint.ignore-unclaimed-state"
FINAL_ATTEMPTS = 3


def node_fingerprint(node: Node) -> str:
    """What a node's state depends on: its kind, its inputs and, for stateful nodes, the
    spec (keys, aggregates, window). Parallelism, the partitioning of edges (which
    follows from it) and connector options are left out, so a job can be rescaled or
    pointed at another broker and still restore."""
    spec: Any = _encode(node.spec)
    if isinstance(node.spec, SourceSpec | SinkSpec):
        spec = {"table": node.spec.table, "connector": node.spec.connector}
    elif not node.stateful:
        spec = {"kind": node.kind}
    doc = {
        "id": node.id,
        "spec": spec,
        "inputs": [e.source for e in node.inputs],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def plan_fingerprint(plan: PhysicalPlan) -> str:
    """The fingerprint of the plan's operator structure (stored in every checkpoint)."""
    parts = [node_fingerprint(n) for n in plan.nodes]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def key_filter(node: Node, parallelism: int, subtask: int) -> str | None:
    """SQL over a state table: the rows whose keys the exchange sends to ``subtask``
    (the same DuckDB ``hash(keys) % p`` as ``runtime/graph.py``)."""
    keys: tuple[str, ...] = ()
    for e in node.inputs:
        if e.partitioning == Partitioning.HASH and e.keys:
            keys = e.keys
    if not keys:
        keys = tuple(getattr(node.spec, "keys", ()))
    if not keys:
        return "true" if subtask == 0 else "false"
    cols = ", ".join('"' + k.replace('"', '""') + '"' for k in keys)
    return f"(hash({cols}) % {parallelism})::INTEGER = {subtask}"


def redacted(plan: PhysicalPlan) -> PhysicalPlan:
    """The plan as a checkpoint keeps it: passwords in connector options masked."""
    nodes = []
    for n in plan.nodes:
        spec: Any = n.spec
        if isinstance(getattr(spec, "options", None), dict):
            n = dataclasses.replace(n, spec=dataclasses.replace(spec, options=redact(spec.options)))
        nodes.append(n)
    return dataclasses.replace(plan, nodes=tuple(nodes), config=redact(plan.config))


@dataclass
class Restored:
    """What one subtask gets back from a checkpoint."""

    checkpoint_id: int
    positions: list[dict[str, Any]] = field(default_factory=list)  # sources
    rescaled: bool = False
    states: list[Any] = field(default_factory=list)  # operators: small state per old subtask
    files: list[Path] = field(default_factory=list)  # operators: state files to load
    key_filter: str | None = None
    handles: list[tuple[int, Any]] = field(default_factory=list)  # sinks: to commit


class SubtaskCheckpoints:
    """One subtask's view of checkpointing."""

    def __init__(self, control: CheckpointControl, node_id: int, subtask: int) -> None:
        self.control = control
        self.node_id = node_id
        self.subtask = subtask
        self.exactly_once = control.config.exactly_once
        self.restored: Restored | None = None
        self.requests: deque[Barrier] = deque()
        self.wake = asyncio.Event()

    def folder(self, checkpoint_id: int) -> Path | None:
        """The folder of a pending checkpoint (None once it was aborted)."""
        pending = self.control.coordinator.pending.get(checkpoint_id)
        return pending.folder if pending is not None else None

    async def ack(self, checkpoint_id: int, ack: Ack) -> None:
        await self.control.coordinator.acknowledge(checkpoint_id, ack)

    def decline(self, checkpoint_id: int, reason: str) -> None:
        self.control.coordinator.decline(checkpoint_id, reason)

    # ---- sources ---------------------------------------------------------------------
    def request(self, barrier: Barrier) -> None:
        self.requests.append(barrier)
        self.wake.set()

    async def finished(self) -> None:
        """A source has emitted its last data and final watermark: tell the job, then
        keep answering barrier requests until the final checkpoint is complete."""
        self.control.source_done()

    @property
    def released(self) -> bool:
        return self.control.released.is_set()


Commit = Callable[[int], Any]


class CheckpointControl:
    def __init__(self, plan: PhysicalPlan, config: dict[str, str], parallelism: dict[int, int]) -> None:
        self.plan = plan
        self.config = CheckpointConfig.from_config(config)
        self.raw_config = config
        self.storage = CheckpointStorage(self.config.directory, plan.name)
        self.fingerprint = plan_fingerprint(plan)
        self.node_prints = {str(n.id): node_fingerprint(n) for n in plan.nodes}
        self.parallelism = parallelism
        self.subtasks: dict[tuple[int, int], SubtaskCheckpoints] = {
            (node, j): SubtaskCheckpoints(self, node, j) for node, p in parallelism.items() for j in range(p)
        }
        self.sources = [
            s for (node, _), s in self.subtasks.items() if isinstance(plan.node(node).spec, SourceSpec)
        ]
        self.sinks: list[tuple[tuple[int, int], Any]] = []  # (node, subtask) -> SinkOp
        self.source_readers: list[Any] = []
        self.restored_from: CheckpointMetadata | None = None
        self.restored_path: Path | None = None
        self.released = asyncio.Event()
        self._periodic: asyncio.Task[None] | None = None  # the periodic trigger, while it runs
        self.all_sources_done = asyncio.Event()
        self._sources_done = 0
        self.coordinator = CheckpointCoordinator(
            self.config,
            self.storage,
            set(self.subtasks),
            self._inject,
            self._commit,
            self.fingerprint,
            parallelism,
        )
        self.coordinator.node_fingerprints = self.node_prints
        self.coordinator.plan_json = redacted(plan).to_json(None)

    # ---- restore ---------------------------------------------------------------------
    def resolve(self) -> Path | None:
        """The checkpoint to restore from, if any."""
        explicit = self.raw_config.get(SAVEPOINT_PATH_KEY)
        if explicit:
            return Path(explicit)
        if self.raw_config.get(RESUME_KEY, "none").lower() == "latest":
            return self.storage.latest()
        return None

    def prepare_restore(self) -> None:
        self.storage.clear_finished()  # a new run of the job starts
        path = self.resolve()
        if path is None:
            return
        meta, folder = load(path)
        allow = self.raw_config.get(IGNORE_UNCLAIMED_KEY, "false").lower() == "true"
        if meta.plan_fingerprint != self.fingerprint and not allow:
            raise CheckpointError(
                f"cannot restore from {folder}: it was written by a different query "
                f"(job '{meta.job_name}', plan {meta.plan_fingerprint}; this query's plan is "
                f"{self.fingerprint})",
                hint="start fresh (sqlstream run --fresh, or another 'pipeline.name'), or SET "
                f"'{IGNORE_UNCLAIMED_KEY}' = 'true' to restore only the operators that match",
            )
        self.restored_from, self.restored_path = meta, folder
        self.coordinator.next_id = max(self.coordinator.next_id, meta.checkpoint_id + 1)
        for (node_id, j), sub in self.subtasks.items():
            key = str(node_id)
            if allow and meta.nodes.get(key) != self.node_prints[key]:
                continue  # a node this checkpoint does not know (ignore-unclaimed-state)
            node = self.plan.node(node_id)
            old_p = int(meta.parallelism.get(key, self.parallelism[node_id]))
            new_p = self.parallelism[node_id]
            r = Restored(meta.checkpoint_id, rescaled=old_p != new_p)
            if isinstance(node.spec, SourceSpec):
                positions = meta.sources.get(key, {})
                if old_p == new_p:
                    r.positions = [positions[str(j)]] if str(j) in positions else []
                else:
                    r.positions = [positions[str(i)] for i in range(old_p) if str(i) in positions]
            elif isinstance(node.spec, SinkSpec):
                handles: list[tuple[int, Any]] = []
                for i, entry in sorted(meta.sinks.get(key, {}).items(), key=lambda kv: int(kv[0])):
                    if int(i) % new_p == j and entry:
                        handles += [(int(n), h) for n, h in entry.get("handles", [])]
                r.handles = sorted(handles, key=lambda nh: nh[0])
            else:
                entries = meta.operators.get(key, {})
                if old_p == new_p:
                    mine = [entries[str(j)]] if str(j) in entries else []
                else:
                    mine = [entries[str(i)] for i in range(old_p) if str(i) in entries]
                    r.key_filter = key_filter(node, new_p, j)
                r.states = [e.get("state") for e in mine]
                r.files = [folder / e["file"] for e in mine if e.get("file")]
            sub.restored = r

    # ---- protocol --------------------------------------------------------------------
    async def _inject(self, checkpoint_id: int, savepoint: bool, folder: Path) -> None:
        barrier = Barrier(checkpoint_id, savepoint)
        for s in self.sources:
            s.request(barrier)

    async def _commit(self, checkpoint_id: int, metadata: CheckpointMetadata) -> None:
        crash_point("before_commit")
        for _, sink in sorted(self.sinks, key=lambda kv: kv[0]):
            await sink.commit_upto(checkpoint_id)
            crash_point("after_commit")
        for reader in self.source_readers:
            with contextlib.suppress(Exception):
                await reader.notify_checkpoint_complete(checkpoint_id)

    def source_done(self) -> None:
        self._sources_done += 1
        if self._sources_done >= len(self.sources):
            self.all_sources_done.set()

    async def run(self) -> None:
        """Periodic checkpoints until every source finished, then the final checkpoint
        (after the last data and the final watermark, before end of input), then release
        the sources. Raises when checkpoints fail more often than tolerated."""
        self._periodic = asyncio.create_task(self.coordinator.run(), name="checkpoint-trigger")
        try:
            while not self.all_sources_done.is_set():
                self._check_failure()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.all_sources_done.wait(), 0.1)
                periodic = self._periodic
                if periodic.done() and not periodic.cancelled() and periodic.exception() is not None:
                    raise periodic.exception()  # type: ignore[misc]
        finally:
            self._periodic.cancel()
            with contextlib.suppress(BaseException):
                await self._periodic
        for attempt in range(1, FINAL_ATTEMPTS + 1):
            done = await self.coordinator.trigger()
            try:
                await done
                break
            except CheckpointError as e:
                if attempt == FINAL_ATTEMPTS:
                    raise CheckpointError(
                        f"the final checkpoint failed {FINAL_ATTEMPTS} times, so the sinks' last "
                        f"transaction cannot be committed: {e.message}"
                    ) from None
                log.warning("final checkpoint failed (%s); trying again", e.message)
        self.released.set()
        for s in self.sources:
            s.wake.set()

    def _check_failure(self) -> None:
        if self.coordinator.failure is not None:
            raise self.coordinator.failure

    async def savepoint(self, stop: bool = True) -> CheckpointMetadata:
        """Take a savepoint now and wait for it. With ``stop`` (stop-with-savepoint) no
        checkpoint is triggered after it, so nothing after the savepoint is committed and
        a job resumed from it neither loses nor repeats a row."""
        if stop and self._periodic is not None:
            self._periodic.cancel()
        failures = self.coordinator.failures_in_row
        done = await self.coordinator.trigger(savepoint=True)
        try:
            return await done
        except CheckpointError:
            # a failed savepoint does not fail the job (as in Flink): checkpoints go on
            self.coordinator.failures_in_row = failures
            self.coordinator.failure = None
            if stop and self._periodic is not None and not self.all_sources_done.is_set():
                self._periodic = asyncio.create_task(self.coordinator.run(), name="checkpoint-trigger")
            raise

    def summary(self) -> dict[str, Any]:
        out = self.coordinator.summary()
        out["history"] = [h.__dict__.copy() for h in self.coordinator.history[-20:]]
        out["restored_from"] = str(self.restored_path) if self.restored_path else None
        out["mode"] = "EXACTLY_ONCE" if self.config.exactly_once else "AT_LEAST_ONCE"
        out["interval_ms"] = self.config.interval_ms
        return out

    def finished(self) -> None:
        """The job FINISHED: its checkpoints go (savepoints stay)."""
        self.storage.discard_checkpoints()


def wall_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
