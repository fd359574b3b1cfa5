"""The job's side of checkpointing: the coordinator, barrier injection at the sources,
acknowledgements, sink commits, the final checkpoint of a bounded job, and restore.

``CheckpointControl`` is created by ``runtime.job.Job`` when
``execution.checkpointing.interval`` is set (never for an interactive SELECT: a collect
node has nothing to commit and nothing to resume). Each subtask gets a
``SubtaskCheckpoints``, its port: a mailbox that the coordinator posts into
(``TriggerBarrier``, ``CheckpointComplete``, ``Release``; the subtask handles them in its
own loop) and the messages it posts back (``Acknowledge``, ``Decline``, ``Committed``,
``SourceFinished``), which one task serves in order (``runtime/checkpoint/messages.py``).
Neither side holds the other's objects, so a subtask could be a Ray actor.

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
from dataclasses import dataclass, field
from typing import Any, Protocol

from catalog.config import CHECKPOINT_RESUME, IGNORE_UNCLAIMED_STATE, SAVEPOINT_PATH
from catalog.table import redact
from planner.physical import (
    ROW_STATE_KINDS,
    IntervalJoinSpec,
    JoinSpec,
    LookupJoinSpec,
    Node,
    Partitioning,
    PhysicalPlan,
    SinkSpec,
    SourceSpec,
    TemporalJoinSpec,
    WindowJoinSpec,
    to_json_value,
)
from runtime.channels import InputGate
from runtime.checkpoint.coordinator import CheckpointConfig, CheckpointCoordinator
from runtime.checkpoint.messages import (
    Ack,
    Acknowledge,
    CheckpointComplete,
    Committed,
    Decline,
    Release,
    SourceFinished,
    ToCoordinator,
    ToSubtask,
    TriggerBarrier,
)
from runtime.checkpoint.storage import CheckpointError, CheckpointMetadata, load_from
from runtime.checkpoint.store import Store, is_object_store, local_path, open_store
from runtime.faults import crash_point
from runtime.partition import PARTITIONING, key_filter_sql

log = logging.getLogger(__name__)

FINAL_ATTEMPTS = 3


def node_fingerprint(node: Node) -> str:
    """What a node's state depends on: its kind, its inputs and, for stateful nodes, the
    spec (keys, aggregates, window). Parallelism, the partitioning of edges (which
    follows from it) and connector options are left out, so a job can be rescaled or
    pointed at another broker and still restore."""
    spec: Any = to_json_value(node.spec)
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


def saved_plan(meta: CheckpointMetadata) -> PhysicalPlan | None:
    """The plan a checkpoint was written by; None when it has none, or one this version
    cannot read (then only the fingerprints are compared, as before plans were kept)."""
    if not meta.plan:
        return None
    try:
        return PhysicalPlan.from_json(meta.plan)
    except (KeyError, TypeError, ValueError):
        return None


def first_difference(old: PhysicalPlan | None, plan: PhysicalPlan) -> str:
    """For the refusal of a checkpoint written by another plan: the first stateful operator
    of the checkpoint that this query lacks (compared by kind and spec, not by node id, as
    one operator more or less shifts the ids), with the one it has instead. A new version
    can plan a query differently (Nexmark q5's max over windows became a window
    aggregation). '' when the checkpoint has no plan, or no stateful operator differs."""
    if old is None:
        return ""

    def kept(p: PhysicalPlan) -> dict[str, Node]:
        return {json.dumps([n.kind, to_json_value(n.spec)], sort_keys=True): n for n in p.nodes if n.stateful}

    before, now = kept(old), kept(plan)
    gone = [n for k, n in before.items() if k not in now]
    if not gone:
        return ""
    added = [n for k, n in now.items() if k not in before]
    instead = f", which has {added[0].name} (node {added[0].id}) instead" if added else ""
    return f": its {gone[0].name} (node {gone[0].id}) is not in this query{instead}"


def row_state_changes(old: PhysicalPlan | None, plan: PhysicalPlan) -> dict[int, str]:
    """The operators of ``plan`` that keep their input's rows and whose inputs' columns
    differ from the same operator's in ``old`` (the plan a checkpoint was written by),
    each with what changed. Their fingerprints can agree (a query that now selects fewer
    columns, or a version of sqlstream that prunes more of them below joins and ranks),
    but the rows in the checkpoint would not fit their state."""
    if old is None:
        return {}
    before = {n.id: n for n in old.nodes}
    out: dict[int, str] = {}
    for node in plan.nodes:
        was = before.get(node.id)
        if node.kind not in ROW_STATE_KINDS or was is None or node_fingerprint(was) != node_fingerprint(node):
            continue
        for e, f in zip(node.inputs, was.inputs):
            now, then = plan.node(e.source).schema, old.node(f.source).schema
            if [(c.name, c.type) for c in now] != [(c.name, c.type) for c in then]:
                out[node.id] = (
                    f"it keeps rows of [{', '.join(c.name for c in now)}], the checkpoint has rows of "
                    f"[{', '.join(c.name for c in then)}]"
                )
                break
    return out


def state_keys(node: Node) -> tuple[str, ...]:
    """The columns by which ``node``'s state is split between its subtasks (none: its
    state is not split by key)."""
    # both sides' state tables of a join hold the key as __k<i>
    if isinstance(node.spec, JoinSpec | IntervalJoinSpec | WindowJoinSpec | TemporalJoinSpec):
        return tuple(node.spec.state_keys)
    for e in node.inputs:
        if e.partitioning == Partitioning.HASH and e.keys:
            return tuple(e.keys)
    return tuple(getattr(node.spec, "keys", ()))


def key_filter(node: Node, parallelism: int, subtask: int) -> str | None:
    """SQL over a state table: the rows whose keys the exchange sends to ``subtask``
    (``runtime/partition.py``'s function, as in ``runtime/graph.py``; the connection that
    runs it needs ``runtime.partition.install``)."""
    keys = state_keys(node)
    if not keys:
        return "true" if subtask == 0 else "false"
    return key_filter_sql(['"' + k.replace('"', '""') + '"' for k in keys], parallelism, subtask)


def redacted(plan: PhysicalPlan) -> PhysicalPlan:
    """The plan as a checkpoint keeps it: passwords in connector options masked."""
    nodes = []
    for n in plan.nodes:
        spec = n.spec
        if isinstance(spec, SourceSpec | SinkSpec | LookupJoinSpec):
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
    files: list[str] = field(default_factory=list)  # operators: state files to load
    key_filter: str | None = None
    handles: list[tuple[int, Any]] = field(default_factory=list)  # sinks: to commit
    store: Store | None = field(default=None, repr=False)  # where ``files`` are (None: local)


class CoordinatorLink(Protocol):
    """What a subtask's port sees of the coordinator: its settings, and a way to post a
    message to it (in process: ``CheckpointControl``; on Ray: a call to its actor)."""

    config: CheckpointConfig

    def send(self, message: ToCoordinator) -> None: ...


class SubtaskCheckpoints:
    """One subtask's port to checkpointing: its mailbox of control messages (handled in
    the subtask's own loop) and the messages it posts to the coordinator."""

    def __init__(self, control: CoordinatorLink, node_id: int, subtask: int) -> None:
        self.control = control
        self.node_id = node_id
        self.subtask = subtask
        self.exactly_once = control.config.exactly_once
        self.restored: Restored | None = None
        self.mailbox: deque[ToSubtask] = deque()
        self.wake = asyncio.Event()
        self._gate: InputGate | None = None

    @property
    def store(self) -> Store:
        """Where this subtask writes its state files (the checkpoint folder's store)."""
        return self.control.config.store

    def attach(self, gate: InputGate | None) -> None:
        """The subtask's input gate, interrupted when a message arrives (a subtask waiting
        for data must still see a commit)."""
        self._gate = gate

    def post(self, message: ToSubtask) -> None:
        self.mailbox.append(message)
        self.wake.set()
        if self._gate is not None:
            self._gate.interrupt()

    # ---- to the coordinator ---------------------------------------------------------
    def ack(self, checkpoint_id: int, ack: Ack) -> None:
        self.control.send(Acknowledge(checkpoint_id, ack))

    def decline(self, checkpoint_id: int, reason: str) -> None:
        self.control.send(Decline(checkpoint_id, reason))

    def committed(self, checkpoint_id: int) -> None:
        self.control.send(Committed(checkpoint_id, self.node_id, self.subtask))

    def finished(self) -> None:
        """A source has emitted its last data and final watermark."""
        self.control.send(SourceFinished(self.node_id, self.subtask))


class CheckpointControl:
    def __init__(
        self,
        plan: PhysicalPlan,
        config: dict[str, str],
        parallelism: dict[int, int],
        port: type[SubtaskCheckpoints] = SubtaskCheckpoints,
    ) -> None:
        """``port``: the coordinator's side of each subtask's port; its ``post`` delivers
        a message to the subtask (on Ray, to its actor)."""
        self.plan = plan
        self.config = CheckpointConfig.from_config(config)
        self.raw_config = config
        self.storage = self.config.storage(plan.name)
        self.fingerprint = plan_fingerprint(plan)
        self.node_prints = {str(n.id): node_fingerprint(n) for n in plan.nodes}
        self.parallelism = parallelism
        self.subtasks: dict[tuple[int, int], SubtaskCheckpoints] = {
            (node, j): port(self, node, j) for node, p in parallelism.items() for j in range(p)
        }
        self.sources = [
            s for (node, _), s in self.subtasks.items() if isinstance(plan.node(node).spec, SourceSpec)
        ]
        # the subtasks whose commit must be done before a checkpoint counts as committed
        self.committers = {key for key in self.subtasks if isinstance(plan.node(key[0]).spec, SinkSpec)}
        self.restored_from: CheckpointMetadata | None = None
        self.restored_path: str | None = None
        self.released = asyncio.Event()
        self._periodic: asyncio.Task[None] | None = None  # the periodic trigger, while it runs
        self._serving: asyncio.Task[None] = None  # type: ignore[assignment]  # set by run
        self.all_sources_done = asyncio.Event()
        self._sources_done: set[tuple[int, int]] = set()
        self.inbox: asyncio.Queue[ToCoordinator] = asyncio.Queue()
        self._commits: dict[int, dict[tuple[int, int], asyncio.Future[None]]] = {}
        self.coordinator = CheckpointCoordinator(
            self.config,
            self.storage,
            set(self.subtasks),
            self._inject,
            self._notify_complete,
            self.fingerprint,
            parallelism,
        )
        self.coordinator.node_fingerprints = self.node_prints
        self.coordinator.plan_json = redacted(plan).to_json(None)

    def send(self, message: ToCoordinator) -> None:
        """A subtask's message to the coordinator (handled in order by ``_serve``)."""
        self.inbox.put_nowait(message)

    # ---- restore ---------------------------------------------------------------------
    def resolve(self) -> str | None:
        """The checkpoint to restore from, if any."""
        explicit = SAVEPOINT_PATH.get(self.raw_config)
        if explicit:
            return local_path(explicit)
        if CHECKPOINT_RESUME.get(self.raw_config) == "latest":
            return self.storage.latest()
        return None

    def prepare_restore(self) -> None:
        """Decide what every subtask restores. A sink always gets a ``Restored``: a fresh
        start still aborts the transactions a crashed run of the job left open."""
        if self.config.remote:
            self.storage.check_writable()
        self.storage.clear_finished()  # a new run of the job starts
        self._restore_from(self.resolve())
        for key in self.committers:
            if self.subtasks[key].restored is None:
                self.subtasks[key].restored = Restored(0)

    def _restore_from(self, path: str | None) -> None:
        if path is None:
            return
        same_kind = is_object_store(path) == self.config.remote
        store = self.storage.store if same_kind else open_store(path, self.raw_config)
        meta, folder = load_from(store, path)
        allow = IGNORE_UNCLAIMED_STATE.get(self.raw_config)
        if meta.plan_fingerprint != self.fingerprint and not allow:
            raise CheckpointError(
                f"cannot restore from {folder}: it was written by a different query "
                f"(job '{meta.job_name}', plan {meta.plan_fingerprint}; this query's plan is "
                f"{self.fingerprint}){first_difference(saved_plan(meta), self.plan)}",
                hint="start fresh (sqlstream run --fresh, or another 'pipeline.name'), or SET "
                f"'{IGNORE_UNCLAIMED_STATE.name}' = 'true' to restore only the operators that match",
            )
        changed = row_state_changes(saved_plan(meta), self.plan)
        if changed and not allow:
            node_id, what = next(iter(changed.items()))
            raise CheckpointError(
                f"cannot restore from {folder}: the state of {self.plan.node(node_id).name} (node {node_id}) "
                f"does not fit this query's operator: {what}",
                hint="the query (or the columns sqlstream prunes below joins and ranks) changed: start "
                "fresh (sqlstream run --fresh, or another 'pipeline.name'), or SET "
                f"'{IGNORE_UNCLAIMED_STATE.name}' = 'true' to start that operator empty",
            )
        self.restored_from, self.restored_path = meta, folder
        self.coordinator.next_id = max(self.coordinator.next_id, meta.checkpoint_id + 1)
        for (node_id, j), sub in self.subtasks.items():
            key = str(node_id)
            if allow and (meta.nodes.get(key) != self.node_prints[key] or node_id in changed):
                continue  # a node this checkpoint does not know (ignore-unclaimed-state)
            node = self.plan.node(node_id)
            old_p = int(meta.parallelism.get(key, self.parallelism[node_id]))
            new_p = self.parallelism[node_id]
            r = Restored(meta.checkpoint_id, rescaled=old_p != new_p, store=store)
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
                # state written under another hash partitioning (an older version's) is
                # split again by key, as when the parallelism changes
                moved = meta.partitioning != PARTITIONING and new_p > 1 and bool(state_keys(node))
                if old_p == new_p and not moved:
                    mine = [entries[str(j)]] if str(j) in entries else []
                else:
                    r.rescaled = True
                    mine = [entries[str(i)] for i in range(old_p) if str(i) in entries]
                    r.key_filter = key_filter(node, new_p, j)
                r.states = [e.get("state") for e in mine]
                r.files = [store.join(folder, e["file"]) for e in mine if e.get("file")]
            sub.restored = r

    # ---- protocol --------------------------------------------------------------------
    async def _inject(self, checkpoint_id: int, savepoint: bool, folder: str) -> None:
        for s in self.sources:
            s.post(TriggerBarrier(checkpoint_id, savepoint, folder))

    async def _notify_complete(self, checkpoint_id: int, metadata: CheckpointMetadata) -> None:
        """Checkpoint n's metadata is written: tell every subtask, and wait until every
        sink subtask has committed (a bounded job's end and a stop-with-savepoint wait
        for the commit of their last checkpoint)."""
        crash_point("before_commit")
        loop = asyncio.get_running_loop()
        waiting = {key: loop.create_future() for key in self.committers}
        self._commits[checkpoint_id] = waiting
        for sub in self.subtasks.values():
            sub.post(CheckpointComplete(checkpoint_id))
        try:
            await asyncio.gather(*waiting.values())
        finally:
            del self._commits[checkpoint_id]

    async def _serve(self) -> None:
        """The coordinator's inbox: subtasks' messages, one at a time, in order."""
        while True:
            msg = await self.inbox.get()
            if isinstance(msg, Acknowledge):
                await self.coordinator.acknowledge(msg.checkpoint_id, msg.ack)
            elif isinstance(msg, Decline):
                self.coordinator.decline(msg.checkpoint_id, msg.reason)
            elif isinstance(msg, Committed):
                for n, waiting in self._commits.items():
                    f = waiting.get((msg.node_id, msg.subtask))
                    if n <= msg.checkpoint_id and f is not None and not f.done():
                        f.set_result(None)
            elif isinstance(msg, SourceFinished):
                self._sources_done.add((msg.node_id, msg.subtask))
                if len(self._sources_done) >= len(self.sources):
                    self.all_sources_done.set()

    async def run(self) -> None:
        """Periodic checkpoints until every source finished, then the final checkpoint
        (after the last data and the final watermark, before end of input), then release
        the sources. Raises when checkpoints fail more often than tolerated."""
        self._serving = asyncio.create_task(self._serve(), name="checkpoint-coordinator")
        reason = "the job stopped"
        try:
            await self._run()
            reason = "the job finished: its input ended"
        finally:
            self._serving.cancel()
            with contextlib.suppress(BaseException):
                await self._serving
            self.coordinator.abort_all(reason)

    async def _run(self) -> None:
        self._periodic = asyncio.create_task(self.coordinator.run(), name="checkpoint-trigger")
        try:
            while not self.all_sources_done.is_set():
                self._check_failure()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):  # not wait_for: see runtime/channels.py
                        await self.all_sources_done.wait()
                for task in (self._periodic, self._serving):
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
        finally:
            self._periodic.cancel()
            with contextlib.suppress(BaseException):
                await self._periodic
        for attempt in range(1, FINAL_ATTEMPTS + 1):
            done = await self.coordinator.trigger()
            try:
                waits: set[asyncio.Future[Any]] = {done, self._serving}
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if not done.done():  # the coordinator's inbox failed
                    raise self._serving.exception() or CheckpointError("the coordinator stopped")
                done.result()
                break
            except CheckpointError as e:
                if attempt == FINAL_ATTEMPTS:
                    raise CheckpointError(
                        f"the final checkpoint failed {FINAL_ATTEMPTS} times, so the sinks' last "
                        f"transaction cannot be committed: {e.message}"
                    ) from None
                log.warning("final checkpoint failed (%s); trying again", e.message)
        # a savepoint that completed meanwhile is committed too, while the sinks still run
        await self.coordinator.commits_done()
        self.released.set()
        for s in self.sources:
            s.post(Release())

    def _check_failure(self) -> None:
        if self.coordinator.failure is not None:
            raise self.coordinator.failure

    async def savepoint(self, stop: bool = True) -> CheckpointMetadata:
        """Take a savepoint now and wait for it. With ``stop`` (stop-with-savepoint) no
        checkpoint is triggered after it, so nothing after the savepoint is committed and
        a job resumed from it neither loses nor repeats a row."""
        if self.released.is_set():
            raise CheckpointError(
                "the job's input has ended and its final checkpoint is committed: it is finishing"
            )
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
        out["restored_from"] = self.restored_path
        out["mode"] = "EXACTLY_ONCE" if self.config.exactly_once else "AT_LEAST_ONCE"
        out["interval_ms"] = self.config.interval_ms
        return out

    def finished(self) -> None:
        """The job FINISHED: its checkpoints go (savepoints stay)."""
        self.storage.discard_checkpoints()


def wall_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
