"""The operator interface: one per plan node kind, one instance per subtask.

Only ``process_batch`` is required; every other hook defaults to a no-op (Arroyo's
habit). Hooks return the messages to send downstream, in order: result batches and, for
an operator that makes its own watermarks (``forwards_watermarks = False``), watermarks.
The task (``runtime/task.py``) calls the hooks one at a time, never concurrently:

- ``open`` once, before anything else;
- ``process_batch(batch, input_index)`` for each data batch (``input_index`` is the
  index of the plan edge the batch came in on);
- ``on_watermark(ts_ms)`` when the minimum watermark over the inputs advances; the task
  forwards the watermark itself after the returned messages when ``forwards_watermarks``;
- ``on_timer(now_ms)`` once the wall clock passes ``next_timer_ms()`` (processing-time
  windows, periodic watermarks, idleness);
- ``on_end_of_input`` once every input has ended (after the final MAX watermark);
- ``restore_state(restored)`` once after ``open`` when the job resumes from a checkpoint
  (``runtime.checkpoint.control.Restored``: the small states and state files of the old
  subtasks whose keys are now ours, with the SQL filter that keeps exactly those keys);
- ``snapshot()`` at a checkpoint barrier, once aligned: a small JSON-able state (watermark,
  timers); ``checkpoint_state()`` names the ``DuckDBState`` whose tables the checkpoint
  copies (the task pins a read transaction there and writes the file in the background);
- ``close`` last, also after a failure or cancellation.

Heavy work (DuckDB) goes through ``ctx.run(fn, ...)``, which runs it on the job's thread
pool so the event loop stays free and both cores work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from catalog.connectors import ChangelogMode
from planner.physical import Node, PhysicalPlan
from runtime.connectors.base import SubtaskContext
from runtime.messages import Message
from runtime.metrics import OperatorMetrics

if TYPE_CHECKING:
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

    def input_updating(self, index: int = 0) -> bool:
        return self.input_nodes[index].changelog != ChangelogMode.INSERT_ONLY

    @property
    def updating(self) -> bool:
        return self.node.changelog != ChangelogMode.INSERT_ONLY


def now_ms() -> int:
    return int(time.time() * 1000)


class Operator(ABC):
    """Base class of every operator (see the module docstring for the call order)."""

    forwards_watermarks = True

    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx
        self.node = ctx.node
        self.metrics = ctx.metrics

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare (state database, connector); called once before any other hook."""

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

    async def on_end_of_input(self) -> list[Message]:
        return []

    def snapshot(self) -> Any:
        """Small JSON-able state for the checkpoint, taken at the barrier (None = nothing)."""
        return None

    def checkpoint_state(self) -> DuckDBState | None:
        """The DuckDB state whose ``tables`` a checkpoint copies (None: no keyed state)."""
        return None

    async def restore_state(self, restored: Restored) -> None:  # noqa: B027 - optional hook
        """Resume from a checkpoint; called once after ``open``, before any data."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; called once, also after failure or cancellation."""


class SourceOperator(Operator):
    """An operator without inputs that produces its own stream."""

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        raise TypeError(f"{type(self).__name__} has no inputs")

    async def poll(self) -> tuple[list[Message], bool]:
        """The next messages, and whether the source has finished."""
        raise NotImplementedError

    def position(self) -> Any:
        """JSON-able position at a barrier: everything before it was emitted, nothing after."""
        return None
