"""The crash harness: run a job as a subprocess, SIGKILL it at random moments, restart it,
and compare what its sinks hold with the no-crash answer.

Reusable by every exactly-once sink: a scenario gives the SQL script (which must set
``pipeline.name`` and checkpointing so that a restart resumes from the newest complete
checkpoint) and a function that reads the sink's final contents (for Kafka, with
read_committed). Kills come from two sources, both at random: a timer (a kill while
processing, whatever the job is doing) and the runtime's own crash points
(``runtime/faults.py``: during alignment, during the async snapshot, between pre-commit
and commit, between completion and commit).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CRASH_POINTS = ("processing", "alignment", "async_snapshot", "pre_commit", "before_commit", "after_commit")


@dataclass
class CrashReport:
    runs: int = 0
    kills: int = 0
    kills_by_point: Counter[str] = field(default_factory=Counter)
    missing: list[Hashable] = field(default_factory=list)
    duplicated: list[Hashable] = field(default_factory=list)
    unexpected: list[Hashable] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected)

    def summary(self) -> str:
        points = ", ".join(f"{k}={v}" for k, v in sorted(self.kills_by_point.items()))
        return (
            f"{self.runs} runs, {self.kills} kills ({points}); missing {len(self.missing)}, "
            f"duplicated {len(self.duplicated)}, unexpected {len(self.unexpected)}"
        )


def run_job(
    script: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    kill_after: float | None = None,
) -> tuple[int, str]:
    """Run ``sqlstream run script`` once; SIGKILL it after ``kill_after`` seconds if given.
    Returns (exit code, stderr); -9 means it was killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlstream", "run", str(script)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + (kill_after if kill_after is not None else timeout)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def compare(expected: Sequence[Hashable], actual: Sequence[Hashable], report: CrashReport) -> None:
    want, got = Counter(expected), Counter(actual)
    report.missing = sorted((want - got).elements(), key=repr)
    extra = got - want
    report.duplicated = sorted((r for r in extra.elements() if r in want), key=repr)
    report.unexpected = sorted((r for r in extra.elements() if r not in want), key=repr)


def crash_until_done(
    script: Path,
    read_sink: Callable[[], Sequence[Hashable]],
    expected: Sequence[Hashable],
    kills: int,
    seed: int,
    max_kill_delay: float = 2.0,
    timeout: float = 120.0,
    finished: Callable[[], bool] | None = None,
) -> CrashReport:
    """Run the job until it finishes, killing it up to ``kills`` times at random moments
    (each restart resumes from the newest complete checkpoint); then compare its sink
    with ``expected``. A job that finishes before all kills were spent ends the run: the
    report's ``kills`` says how many landed, and a test that needs more gives the job more
    rows (or a slower source).

    A kill can land after the job FINISHED (its checkpoints deleted) while the process
    exits: then restarting would run the job again from scratch. Such a run counts as
    the last one when its stderr says the job finished or ``finished()`` says so (for
    ``sqlstream run``: the ``_finished`` marker in the job's checkpoint folder)."""
    rng = random.Random(seed)
    report = CrashReport()
    while True:
        env = {"SQLSTREAM_CRASH_SEED": str(rng.random())}
        kill_after = None
        point = "none"
        if report.kills < kills:
            point = rng.choice((*CRASH_POINTS, "timer", "timer"))
            if point == "timer":
                kill_after = rng.uniform(0.05, max_kill_delay)
            else:
                env["SQLSTREAM_CRASH_AT"] = f"{point}:{rng.choice((0.05, 0.2, 0.5))}"
        code, err = run_job(script, env, timeout, kill_after)
        report.runs += 1
        if code == -signal.SIGKILL:
            report.kills += 1
            report.kills_by_point[point] += 1
            if ") finished:" in err or (finished is not None and finished()):
                break  # killed while exiting, after the job had finished
            continue
        if code != 0:
            raise AssertionError(f"the job failed (exit {code}) instead of recovering:\n{err[-3000:]}")
        break
    compare(expected, read_sink(), report)
    return report


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
    few seconds; a point the job finished before counts as "missed:<point>"."""
    rng = random.Random(seed)
    report = CrashReport()
    todo = list(points)
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
