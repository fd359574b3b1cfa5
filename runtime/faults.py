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

``SQLSTREAM_CRASH_ONCE`` names a folder: then only the first process to reach a point
dies there (it leaves a file of the point's name), so that the restarted job runs past it
although every process of a Ray job, restarted ones too, has the same settings (a Ray
job forwards them to its actors, ``forwarded_env``).

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
    if chance and _RNG.random() < chance and _first(name):
        os.kill(os.getpid(), signal.SIGKILL)


def _first(name: str) -> bool:
    """False when ``SQLSTREAM_CRASH_ONCE`` is set and a process already died at ``name``."""
    folder = os.environ.get("SQLSTREAM_CRASH_ONCE")
    if not folder:
        return True
    try:
        os.close(os.open(os.path.join(folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


FORWARDED = (
    "SQLSTREAM_CRASH_AT",
    "SQLSTREAM_CRASH_SEED",
    "SQLSTREAM_CRASH_ONCE",
    "SQLSTREAM_TEST_BROKEN_SINK",
)


def forwarded_env() -> dict[str, str]:
    """This process's fault settings, for the processes it starts elsewhere (Ray actors);
    empty (nothing to forward) outside tests."""
    return {k: os.environ[k] for k in FORWARDED if os.environ.get(k)}
