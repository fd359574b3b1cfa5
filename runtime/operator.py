"""The operator interface: one per plan node kind, one instance per subtask.

Every hook the runtime calls is declared here; only ``process_batch`` is required, every
other hook defaults to a no-op (Arroyo's operator trait). The runtime never looks a hook
up by name. Hooks that produce output return the messages to send downstream, in order:
result batches and, for an operator that makes its own watermarks
(``forwards_watermarks = False``), watermarks. The task (``runtime/task.py``) calls the
hooks one at a time, from the subtask's own loop, never concurrently:

- ``restore(restored)`` first, only when the job resumes from a checkpoint
  (``runtime.checkpoint.control.Restored``: the small states, state files, source
  positions or sink handles of the old subtasks whose part is now ours); the operator
  keeps it and applies it in ``open`` (Flink's ``initializeState`` before ``open``);
- ``open`` once, before any data;
- ``process_batch(batch, input_index)`` for each data batch (``input_index`` is the
  index of the plan edge the batch came in on);
- ``on_watermark(ts_ms)`` when the minimum watermark over the inputs advances; the task
  forwards the watermark itself after the returned messages when ``forwards_watermarks``;
- ``on_timer(now_ms)`` once the wall clock passes ``next_timer_ms()`` (processing-time
  windows, periodic watermarks, idleness);
- ``snapshot(checkpoint_id)`` at a checkpoint barrier, once aligned: the synchronous part
  of the snapshot. It returns a ``Snapshot``: a small JSON-able state (watermark, timers;
  a source's position; a sink's pre-committed transaction handles) and the
  ``DuckDBState`` whose tables the checkpoint copies. The task pins a read transaction
  there before the barrier goes on, and writes the file in the background (the
  asynchronous part) while processing continues;
- ``on_checkpoint_complete(checkpoint_id)`` when the coordinator's ``CheckpointComplete``
  message reaches this subtask's loop: the checkpoint's metadata is written, so a sink
  commits what it pre-committed up to it;
- ``on_input_ended(input_index)`` when every channel of one input has ended (its last
  batch came before), so that an operator can stop keeping what only that input's rows
  would read. It comes only in a job without checkpointing, or after the final
  checkpoint: with checkpointing, a finished source ends its output only once released
  after the final checkpoint, so no checkpoint is taken after an input ended;
- ``on_end_of_input`` once every input has ended (after the final MAX watermark);
- ``close`` last, also after a failure or cancellation (and when ``open`` failed).

A source (``SourceOperator``) has no inputs: the task calls its ``poll`` instead of
reading channels, and its ``snapshot`` is its position at the barrier.

Heavy work (DuckDB) goes through ``ctx.run(fn, ...)``, which runs it on the job's thread
pool so the event loop stays free and both cores work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pyarrow as pa

from catalog.config import LOCAL_TIME_ZONE, python_search_path
from catalog.connectors import ChangelogMode
from planner.physical import Node, PhysicalPlan, to_json_value
from runtime.checkpoint.messages import Role
from runtime.connectors.base import SubtaskContext
from runtime.databases import open_database
from runtime.messages import Message
from runtime.metrics import OperatorMetrics

if TYPE_CHECKING:
    import duckdb

    from runtime.arrow_functions import ArrowFunction
    from runtime.checkpoint.control import Restored
    from runtime.state.duckdb_state import DuckDBState

T = TypeVar("T")


class Worker:
    """Runs one subtask's blocking work on the job's thread pool, one call at a time, and
    remembers the call in flight so that closing can wait for it (a DuckDB connection must
    not be closed under a running query, e.g. when the job is cancelled)."""

    def __init__(self, executor: Executor | None) -> None:
        self.executor = executor
        self._inflight: concurrent.futures.Future[Any] | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self.executor is None:
            return fn(*args)
        cf = self.executor.submit(fn, *args)
        self._inflight = cf
        return await asyncio.wrap_future(cf)

    async def drain(self) -> None:
        cf = self._inflight
        while cf is not None and not cf.done():
            await asyncio.sleep(0.005)


def install_functions(con: duckdb.DuckDBPyConnection, plan: PhysicalPlan, config: Mapping[str, str]) -> None:
    """``OperatorContext.install_functions`` for a connection outside an operator (the
    local phase of a two-phase aggregation, run by the producer's router)."""
    # they import DuckDB: only an operator that computes loads them
    from runtime import udf

    if functions := built_in_functions(plan):
        from runtime import arrow_functions

        arrow_functions.install(con, functions)
    if plan.functions:
        udf.install(con, plan.functions, python_search_path(config))


def built_in_functions(plan: PhysicalPlan) -> list[ArrowFunction]:
    """The built-in functions written in Python (:mod:`runtime.json_text`,
    :mod:`runtime.java_format`, :mod:`runtime.charsets`, :mod:`runtime.digests`,
    :mod:`runtime.java_hash`, :mod:`runtime.java_float`, :mod:`runtime.wide_decimal`) that
    the SQL of ``plan`` can call: those whose name its text holds anywhere (every expression
    the planner wrote is in it), and :mod:`runtime.wide_decimal`'s wherever the plan has a
    DECIMAL, for the one SQL the runtime writes with a built-in in it: AVG of a DECIMAL
    (``runtime.operators.aggs.avg_sql``; a test checks that no other runtime module names
    one). Installing each on every connection cost ~1.5 ms a connection, and importing
    their modules ~4 ms, for plans that call none (most). The answer for the last plan is
    kept: its text takes ~1-2 ms to write, and each of a job's connections asks."""
    global _last_plan
    last = _last_plan
    if last is not None and last[0] is plan:
        return last[1]
    text = json.dumps(to_json_value(plan), default=repr).lower()  # any value a plan may hold
    functions = []
    if "flink_" in text or "decimal" in text:
        from runtime import charsets, digests, java_float, java_format, java_hash, json_text, wide_decimal

        modules = (json_text, java_format, charsets, digests, java_hash, java_float, wide_decimal)
        functions = [
            f
            for m in modules
            for f in m.FUNCTIONS
            if f.name in text or (f.name == wide_decimal.FUNCTION and "decimal" in text)
        ]
    _last_plan = (plan, functions)
    return functions


_last_plan: tuple[PhysicalPlan, list[ArrowFunction]] | None = None


@dataclass
class OperatorContext:
    """What an operator subtask may use: its node, plan, metrics and the thread pool."""

    subtask: SubtaskContext
    node: Node
    plan: PhysicalPlan
    metrics: OperatorMetrics
    executor: Executor | None = None
    input_nodes: tuple[Node, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)
    worker: Worker | None = None

    def __post_init__(self) -> None:
        if self.worker is None:
            self.worker = Worker(self.executor)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (a DuckDB query) on the job's thread pool."""
        assert self.worker is not None
        return await self.worker.run(fn, *args)

    @property
    def config(self) -> dict[str, str]:
        return self.subtask.config

    def install_functions(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make the plan's user functions callable in ``con``'s SQL (every connection an
        operator computes expressions on: its own, and its keyed state's), and the built-in
        functions written in Python that the plan can call (``built_in_functions``)."""
        install_functions(con, self.plan, self.config)

    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """A single-threaded DuckDB connection in the session's ``table.local-time-zone``:
        DuckDB casts, extracts, truncates and formats TIMESTAMP_LTZ (TIMESTAMPTZ) values in
        its TimeZone setting, as Flink does in the local time zone. Open it through
        ``run`` (``await ctx.run(ctx.duckdb)``), as a state database: a database not opened
        ahead (``runtime/databases.py``) costs ~13-25 ms of CPU to open, and on the event
        loop that held the sources' first reads back (every operator opens before its task
        reads)."""
        con = open_database()
        con.execute("SET TimeZone = ?", [LOCAL_TIME_ZONE.get(self.config) or "UTC"])
        self.install_functions(con)
        return con

    def input_updating(self, index: int = 0) -> bool:
        return self.input_nodes[index].changelog != ChangelogMode.INSERT_ONLY

    @property
    def updating(self) -> bool:
        return self.node.changelog != ChangelogMode.INSERT_ONLY


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Snapshot:
    """An operator's part of a checkpoint, taken at the barrier.

    ``state`` is small and JSON-able (it goes into the checkpoint's metadata); ``db`` is
    the DuckDB state whose ``tables`` go into a file of their own (None: no keyed state).
    """

    state: Any = None
    db: DuckDBState | None = None


class Operator(ABC):
    """Base class of every operator (see the module docstring for the call order)."""

    role: ClassVar[Role] = "operator"  # which part of a checkpoint it writes
    forwards_watermarks: ClassVar[bool] = True
    # True when what the operator emits does not depend on where its input is cut into
    # batches (a window aggregate emits when the watermark fires a window): the task may
    # then hand it the batches queued on one input as one (``InputGate.more_batches``).
    # False for the rest: an updating aggregate emits -U/+U per batch, the watermark
    # assigner a watermark per batch, and merging would change what they emit.
    merges_batches: ClassVar[bool] = False

    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx
        self.node = ctx.node
        self.metrics = ctx.metrics

    async def restore(self, restored: Restored) -> None:  # noqa: B027 - optional hook
        """Resuming from a checkpoint: called once, before ``open``; keep what is needed."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare (state database, connector) and apply what ``restore`` kept."""

    @abstractmethod
    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        """The messages that ``batch`` (from input edge ``input_index``) produces now."""

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        return []

    def next_timer_ms(self) -> int | None:
        """Wall-clock epoch ms at which ``on_timer`` wants to be called, or None."""
        return None

    async def on_timer(self, now: int) -> list[Message]:
        return []

    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        """The synchronous part of checkpoint ``checkpoint_id``: called at the aligned
        barrier, before it goes on. Must not block: a big state is only named here."""
        return Snapshot()

    async def on_checkpoint_complete(self, checkpoint_id: int) -> None:  # noqa: B027 - optional hook
        """Checkpoint ``checkpoint_id`` (and every older one) is complete: commit."""

    async def on_input_ended(self, input_index: int) -> None:  # noqa: B027 - optional hook
        """Input ``input_index`` has ended: no batch of it will come in this attempt, and
        no checkpoint either (see the module docstring)."""

    async def on_end_of_input(self) -> list[Message]:
        return []

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; called once, also after failure or cancellation."""


class SourceOperator(Operator):
    """An operator without inputs that produces its own stream."""

    role: ClassVar[Role] = "source"

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        raise TypeError(f"{type(self).__name__} has no inputs")

    @abstractmethod
    async def poll(self) -> tuple[list[Message], bool]:
        """The next messages, and whether the source has finished."""
