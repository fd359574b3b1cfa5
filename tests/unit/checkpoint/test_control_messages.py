"""The coordinator reaches a subtask only through its mailbox: a commit is handled in the
subtask's own loop, before the data that follows, and answered with a message."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pyarrow as pa

from runtime.checkpoint.messages import CheckpointComplete
from runtime.messages import EndOfInput, Message
from runtime.operator import Operator
from tests.unit.checkpoint.test_runtime_checkpoints import FakeCheckpoints, two_input_task

ROOT = Path(__file__).resolve().parents[3]


class Committing(Operator):
    """Records the order in which the task calls it."""

    calls: list[str]

    async def open(self) -> None:
        self.calls = []

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        self.calls.append(f"batch {batch.num_rows}")
        return []

    async def on_checkpoint_complete(self, checkpoint_id: int) -> None:
        self.calls.append(f"commit {checkpoint_id}")

    async def on_end_of_input(self) -> list[Message]:
        self.calls.append("end")
        return []


class Port(FakeCheckpoints):
    """A port whose ``post`` interrupts the gate, as the real one does."""

    def attach(self, gate: object) -> None:
        self.gate = gate

    def post(self, message: object) -> None:
        self.mailbox.append(message)
        self.gate.interrupt()  # type: ignore[attr-defined]


def test_a_commit_reaches_an_idle_subtask_and_is_answered() -> None:
    async def go() -> tuple[list[str], list[int]]:
        task, (a, b), _ = two_input_task(Committing)
        port = Port(True)
        task.checkpoints = port  # type: ignore[assignment]
        runner = asyncio.create_task(task.run())
        await a.send(pa.record_batch({"x": pa.array([1, 2], pa.int32())}))
        await asyncio.sleep(0.02)  # the subtask now waits for data that does not come
        port.post(CheckpointComplete(4))
        await asyncio.sleep(0.02)
        committed_while_idle = list(port.committed_ids)
        await a.send(EndOfInput())
        await b.send(EndOfInput())
        await asyncio.wait_for(runner, 2)
        assert committed_while_idle == [4]
        return task.op.calls, port.committed_ids  # type: ignore[attr-defined]

    calls, committed = asyncio.run(go())
    assert calls == ["batch 2", "commit 4", "end"]
    assert committed == [4]


def test_a_commit_posted_before_the_end_is_handled_before_it() -> None:
    """The final checkpoint's commit is posted before the sources let end of input go:
    the mailbox comes before the next data message, so a sink never ends uncommitted."""

    async def go() -> list[str]:
        task, (a, b), _ = two_input_task(Committing)
        port = Port(True)
        task.checkpoints = port  # type: ignore[assignment]
        await a.send(EndOfInput())
        await b.send(EndOfInput())
        runner = asyncio.create_task(task.run())
        port.mailbox.append(CheckpointComplete(9))
        await asyncio.wait_for(runner, 2)
        return task.op.calls  # type: ignore[attr-defined]

    assert asyncio.run(go()) == ["commit 9", "end"]


def test_the_runtime_finds_no_hook_by_name() -> None:
    """Hooks are declared on ``Operator``; the task, job, graph and checkpoint code never
    look one up with getattr/hasattr."""
    found = []
    files = [ROOT / "runtime" / n for n in ("task.py", "job.py", "graph.py", "operator.py", "alignment.py")]
    files += sorted((ROOT / "runtime" / "checkpoint").glob("*.py"))
    for path in files:
        for m in re.finditer(r"\b(getattr|hasattr)\((?!node\.spec)", path.read_text()):
            found.append(f"{path.name}: {m.group(0)}")
    assert found == []
