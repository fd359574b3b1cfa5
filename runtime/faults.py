"""Crash points for the exactly-once tests: the process kills itself (SIGKILL) at a named
moment of the checkpoint protocol, so a test can prove recovery from exactly there.

Off unless ``SQLSTREAM_CRASH_AT`` is set, e.g. ``pre_commit:0.3,async_snapshot:0.1``: at
each call of ``crash_point(name)`` the process dies with that probability. A seed in
``SQLSTREAM_CRASH_SEED`` makes the sequence repeatable. The names:

- ``processing``: between two batches of a subtask;
- ``alignment``: a subtask has some but not all barriers of a checkpoint;
- ``async_snapshot``: while state files are being written;
- ``pre_commit``: a sink has pre-committed, the checkpoint is not complete yet;
- ``before_commit``: the checkpoint is complete, its sinks have not committed;
- ``after_commit``: some sinks have committed, maybe not all.

``SQLSTREAM_TEST_BROKEN_SINK`` breaks sinks on purpose, to prove that ``sqlstream verify``
catches a sink that does not keep its promise (never set outside such tests):
``skip-recovery``: on restart a sink does not commit the transactions the restored
checkpoint recorded, and aborts them with the other leftovers (their rows are lost).
"""

from __future__ import annotations

import os
import random
import signal

_SPEC = os.environ.get("SQLSTREAM_CRASH_AT", "")
_POINTS: dict[str, float] = {}
for part in filter(None, (p.strip() for p in _SPEC.split(","))):
    name, _, chance = part.partition(":")
    _POINTS[name] = float(chance or 1.0)
_RNG = random.Random(os.environ.get("SQLSTREAM_CRASH_SEED"))


_BROKEN = set(filter(None, os.environ.get("SQLSTREAM_TEST_BROKEN_SINK", "").split(",")))


def broken_sink(behaviour: str) -> bool:
    """Whether sinks are broken on purpose this way (tests of ``sqlstream verify`` only)."""
    return behaviour in _BROKEN


def enabled() -> bool:
    return bool(_POINTS)


def crash_point(name: str) -> None:
    """Die here, with the configured probability (never when not configured)."""
    chance = _POINTS.get(name)
    if chance and _RNG.random() < chance:
        os.kill(os.getpid(), signal.SIGKILL)
