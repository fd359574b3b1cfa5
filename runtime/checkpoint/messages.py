"""Messages between the checkpoint coordinator and the subtasks: the only way they talk.

Coordinator -> subtask (posted into the subtask's mailbox, handled in its own loop,
between two data messages): ``TriggerBarrier`` (sources only), ``CheckpointComplete``
(every subtask: a sink commits there) and ``Release`` (sources: the final checkpoint of
a bounded job is committed, end of input may go out).

Subtask -> coordinator (posted into the coordinator's inbox): ``Acknowledge`` (its part of the
snapshot), ``Decline`` (it could not snapshot), ``Committed`` (a sink has committed a
complete checkpoint) and ``SourceFinished``.

Nothing here holds a reference to an operator or a task, so the same messages can cross
a process boundary (a Ray actor call) unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["source", "operator", "sink"]


@dataclass(frozen=True)
class TriggerBarrier:
    """Record your position and send barrier ``checkpoint_id`` downstream."""

    checkpoint_id: int
    savepoint: bool = False
    location: str = ""  # the checkpoint's folder, carried by the barrier


@dataclass(frozen=True)
class CheckpointComplete:
    """Checkpoint ``checkpoint_id`` is complete (its metadata is written): commit."""

    checkpoint_id: int


@dataclass(frozen=True)
class Release:
    """The job's final checkpoint is complete and committed: a finished source may end."""


ToSubtask = TriggerBarrier | CheckpointComplete | Release


@dataclass
class Ack:
    """A subtask's acknowledgement: its part of the snapshot and how long it took."""

    node_id: int
    subtask: int
    kind: Role
    state: Any = None
    sync_ms: float = 0.0
    async_ms: float = 0.0
    alignment_ms: float = 0.0
    bytes: int = 0


@dataclass(frozen=True)
class Acknowledge:
    """``ack`` is the subtask's part of checkpoint ``checkpoint_id``."""

    checkpoint_id: int
    ack: Ack


@dataclass(frozen=True)
class Decline:
    """A subtask could not take its part of checkpoint ``checkpoint_id``."""

    checkpoint_id: int
    reason: str


@dataclass(frozen=True)
class Committed:
    """A sink subtask has committed everything up to checkpoint ``checkpoint_id``."""

    checkpoint_id: int
    node_id: int
    subtask: int


@dataclass(frozen=True)
class SourceFinished:
    """A source subtask has emitted its last data and final watermark."""

    node_id: int
    subtask: int


ToCoordinator = Acknowledge | Decline | Committed | SourceFinished
