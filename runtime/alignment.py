"""Barrier alignment of one subtask: which inputs delivered barrier n, which inputs to
stop reading, and when checkpoint n is aligned.

In EXACTLY_ONCE mode an input that delivered barrier n is blocked (nothing more is read
from it) until barrier n has arrived on every input that has not ended; then the
checkpoint is aligned, the inputs are unblocked (except those already at a later
barrier) and the subtask snapshots. AT_LEAST_ONCE counts the same way but never blocks,
so a snapshot may hold rows after the barrier, which a restore then replays.
An ended input no longer holds a checkpoint back.

>>> a = Alignment(inputs=2, exactly_once=True)
>>> a.on_barrier(0, Barrier(1))
[]
>>> a.blocked
{0}
>>> [x.barrier.checkpoint_id for x in a.on_barrier(1, Barrier(1))], a.blocked
([1], set())
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.messages import Barrier


@dataclass(frozen=True)
class Aligned:
    """Checkpoint ``barrier.checkpoint_id`` is aligned: snapshot, then forward the barrier."""

    barrier: Barrier
    alignment_ms: float


@dataclass
class _Waiting:
    barrier: Barrier
    started: float
    arrived: set[int] = field(default_factory=set)


class Alignment:
    """The alignment state of one subtask with ``inputs`` input channels."""

    def __init__(
        self, inputs: int, exactly_once: bool, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.inputs = inputs
        self.exactly_once = exactly_once
        self.clock = clock
        self.blocked: set[int] = set()  # the input gate skips these channels
        self.ended: set[int] = set()
        self._waiting: dict[int, _Waiting] = {}

    @property
    def in_progress(self) -> bool:
        """Some barrier has arrived on some but not all live inputs."""
        return bool(self._waiting)

    def on_barrier(self, channel: int, barrier: Barrier) -> list[Aligned]:
        """Barrier arrived on ``channel``; returns the checkpoints now aligned, in order."""
        n = barrier.checkpoint_id
        waiting = self._waiting.get(n)
        if waiting is None:
            waiting = self._waiting[n] = _Waiting(barrier, self.clock())
        waiting.arrived.add(channel)
        if self.exactly_once:
            self.blocked.add(channel)
        return self._release()

    def on_end_of_input(self, channel: int) -> list[Aligned]:
        """``channel`` ended: checkpoints that waited only for it are now aligned."""
        self.ended.add(channel)
        self.blocked.discard(channel)
        return self._release()

    def _release(self) -> list[Aligned]:
        live = set(range(self.inputs)) - self.ended
        out: list[Aligned] = []
        for n in sorted(self._waiting):
            waiting = self._waiting[n]
            if not live <= waiting.arrived:
                continue
            del self._waiting[n]
            self.blocked -= waiting.arrived
            out.append(Aligned(waiting.barrier, (self.clock() - waiting.started) * 1000))
        if self.exactly_once:
            for later in self._waiting.values():  # inputs already at a later barrier
                self.blocked |= later.arrived
        return out
