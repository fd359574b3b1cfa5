"""The checkpoint coordinator as a Ray actor.

It hosts the local runtime's own ``CheckpointControl`` (trigger, acknowledgements,
atomic completion, commit notices, the final checkpoint of a bounded job, restore), with
one difference: its side of each subtask's port (``RemotePort``) delivers messages to the
subtask's actor by calling its ``post``, in order, and the subtasks' messages come in
through ``deliver``. Nothing else passes between them.
"""

from __future__ import annotations

from typing import Any

from planner.physical import PhysicalPlan
from runtime.checkpoint.control import CheckpointControl, Restored, SubtaskCheckpoints
from runtime.checkpoint.messages import ToCoordinator, ToSubtask
from runtime.checkpoint.storage import CheckpointError
from runtime.ray.channel import OrderedCalls
from runtime.ray.subtask import Failure, SubtaskKey


class RemotePort(SubtaskCheckpoints):
    """The coordinator's side of one subtask's port: ``post`` calls the subtask's actor."""

    calls: OrderedCalls | None = None

    def post(self, message: ToSubtask) -> None:
        if self.calls is not None:
            self.calls.post(message)


class CoordinatorActor:
    def __init__(
        self, plan: PhysicalPlan, config: dict[str, str], parallelism: dict[int, int], attempt: int = 0
    ) -> None:
        self.control = CheckpointControl(plan, config, parallelism, port=RemotePort)
        self.attempt = attempt

    def prepare_restore(self) -> dict[SubtaskKey, Restored | None]:
        """What every subtask restores (raises ``CheckpointError`` for a foreign checkpoint)."""
        self.control.prepare_restore()
        return {key: sub.restored for key, sub in self.control.subtasks.items()}

    def connect(self, actors: dict[SubtaskKey, Any]) -> None:
        for key, sub in self.control.subtasks.items():
            if isinstance(sub, RemotePort):
                sub.calls = OrderedCalls(actors[key].post, f"coordinator -> {key}", self.attempt)

    def deliver(self, message: ToCoordinator) -> None:
        self.control.send(message)

    async def run(self) -> Failure | None:
        """Checkpoints until the sources finished and the final one is committed."""
        try:
            await self.control.run()
        except CheckpointError as e:
            return Failure(f"checkpointing failed: {e.message}", e.hint)
        except Exception as e:
            return Failure(f"checkpointing failed: {type(e).__name__}: {e}")
        return None

    async def savepoint(self) -> str:
        """Take a savepoint (no checkpoint after it); returns its folder."""
        metadata = await self.control.savepoint()
        return str(metadata.stats.get("path", ""))

    def summary(self) -> dict[str, Any]:
        return self.control.summary()

    def finished(self) -> None:
        self.control.finished()
