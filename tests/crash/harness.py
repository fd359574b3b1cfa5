"""The crash harness: run a job as a subprocess, SIGKILL it at random moments, restart it,
and compare what its sinks hold with the no-crash answer.

The logic is the product's own (``sqlstream/verify/chaos.py``, which ``sqlstream verify``
runs on a user's script); the tests run it from the repository's root.
"""

from __future__ import annotations

import json
import os
import random
import signal
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sqlstream.verify import chaos
from sqlstream.verify.chaos import CRASH_POINTS, CrashReport, compare

ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "CRASH_POINTS",
    "ROOT",
    "CrashReport",
    "compare",
    "crash_until_done",
    "kill_at_each",
    "long_run",
    "missed",
    "published",
    "run_job",
]


_F = TypeVar("_F", bound=Callable[..., Any])


def long_run(test: _F) -> _F:
    """A long crash run (>= 50 kills): a documented command, not CI. It runs only when
    SQLSTREAM_CRASH_KILLS is set, under ``-m slow``, and may take far longer than pytest's
    default timeout (10 s of input a kill, plus restarts)."""
    needs_kills = pytest.mark.skipif(
        not os.environ.get("SQLSTREAM_CRASH_KILLS"),
        reason="the long run: set SQLSTREAM_CRASH_KILLS (e.g. 50)",
    )
    return pytest.mark.slow(needs_kills(pytest.mark.timeout(3600)(test)))  # type: ignore[no-any-return]


def run_job(
    script: Path, env: dict[str, str] | None = None, timeout: float = 120.0, kill_after: float | None = None
) -> tuple[int, str]:
    return chaos.run_job(script, env, timeout, kill_after, cwd=ROOT)


def crash_until_done(
    script: Path,
    read_sink: Callable[[], Sequence[Hashable]],
    expected: Sequence[Hashable],
    kills: int,
    seed: int,
    max_kill_delay: float = 2.0,
    timeout: float = 120.0,
    finished: Callable[[], bool] | None = None,
    points: tuple[str, ...] = chaos.RANDOM_POINTS,
) -> CrashReport:
    return chaos.crash_until_done(
        script, read_sink, expected, kills, seed, max_kill_delay, timeout, finished, cwd=ROOT, points=points
    )


def kill_at_each(
    script: Path,
    read_sink: Callable[[], Sequence[Hashable]],
    expected: Sequence[Hashable],
    points: Sequence[str],
    finished: Callable[[], bool],
    seed: int,
    timeout: float = 300.0,
) -> CrashReport:
    """The short runs' schedule: one kill at each of ``points`` in turn, then a run to the
    end. A crash point fires at its first call in the run (the first pre-commit, the first
    commit, ...), "timer" SIGKILLs after 0.3-1.5 s. Unlike the random schedule of
    ``crash_until_done`` (the long runs), every point is sure to be hit even in a job of a
    few seconds; a point the job finished before counts as "missed:<point>". The timer
    comes first, while the job has all its work ahead: last, after six restores had
    read most of the input, a fast job finished its rest within the timer's 0.86 s."""
    rng = random.Random(seed)
    report = CrashReport()
    todo = sorted(points, key=lambda p: p != "timer")  # a stable sort: the others keep their order
    while True:
        point = todo[0] if todo else "none"
        env = {"SQLSTREAM_CRASH_SEED": str(rng.random())}
        kill_after = rng.uniform(0.3, 1.5) if point == "timer" else None
        if point not in ("timer", "none"):
            env["SQLSTREAM_CRASH_AT"] = f"{point}:1.0"
        code, err = run_job(script, env, timeout=timeout, kill_after=kill_after)
        report.runs += 1
        if code == -signal.SIGKILL:
            report.kills += 1
            report.kills_by_point[todo.pop(0)] += 1
            if ") finished:" in err or finished():
                break  # killed while exiting, after the job had finished
            continue
        if code != 0:
            raise AssertionError(f"the job failed (exit {code}) instead of recovering:\n{err[-3000:]}")
        break
    for point in todo:
        report.kills_by_point[f"missed:{point}"] += 1
    compare(expected, read_sink(), report)
    return report


def missed(report: CrashReport) -> list[str]:
    """The crash points ``kill_at_each`` did not kill at (the job finished first)."""
    return [p for p in report.kills_by_point if p.startswith("missed")]


def published(folder: Path) -> list[dict[str, Any]]:
    """The rows of a filesystem sink's published JSON part files: the hidden ones (``.`` or
    ``_`` first, in progress) are invisible to readers, so they are not read."""
    if not folder.exists():
        return []
    return [
        json.loads(line)
        for f in sorted(folder.iterdir())
        if not f.name.startswith((".", "_"))
        for line in f.read_text().splitlines()
    ]
