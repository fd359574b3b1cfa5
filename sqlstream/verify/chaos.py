"""Runs of a script under a chaos schedule: SIGKILLs at random moments and at the crash
points of the checkpoint protocol (``runtime/faults.py``), restarts until it finishes,
and the comparison of what its sinks hold with the answer of a run without kills.

Shared by ``sqlstream verify`` and the crash tests (``tests/crash/harness.py``). A run is
``sqlstream run SCRIPT`` in a subprocess, so a kill is a real SIGKILL of the whole engine;
the script must set ``pipeline.name`` and checkpointing so a restart resumes from the
newest complete checkpoint. Kills come from two sources, both at random: a timer (a kill
while processing, whatever the job is doing) and the runtime's own crash points (during
alignment, during the async snapshot, between pre-commit and commit, between completion
and commit).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CRASH_POINTS = ("processing", "alignment", "async_snapshot", "pre_commit", "before_commit", "after_commit")
#: What a random schedule kills at: a crash point, or a timer (twice as likely as any one point).
RANDOM_POINTS = (*CRASH_POINTS, "timer", "timer")

Progress = Callable[[str], None]


class RecoveryFailed(AssertionError):
    """A run ended with an error instead of recovering from a kill (for tests, a failed
    assertion; ``sqlstream verify`` reports it as a failed verification)."""


@dataclass
class CrashReport:
    runs: int = 0
    kills: int = 0
    kills_by_point: Counter[str] = field(default_factory=Counter)
    restarts: int = 0  # service restarts that landed while the job ran
    missing: list[Hashable] = field(default_factory=list)
    duplicated: list[Hashable] = field(default_factory=list)
    unexpected: list[Hashable] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected)

    def summary(self) -> str:
        points = ", ".join(f"{k}={v}" for k, v in sorted(self.kills_by_point.items()))
        restarts = f", {self.restarts} service restarts" if self.restarts else ""
        return (
            f"{self.runs} runs, {self.kills} kills ({points}){restarts}; missing {len(self.missing)}, "
            f"duplicated {len(self.duplicated)}, unexpected {len(self.unexpected)}"
        )


class RestartFailed(AssertionError):
    """A service restart command failed: the chaos run cannot go on as planned."""


@dataclass(frozen=True)
class ServiceRestart:
    """A shell command that restarts a service the job reads or writes (e.g.
    ``scripts/services restart kafka``), run while the job runs: the job must ride
    through the outage, or fail over by its restart strategy, and lose nothing."""

    command: str
    timeout: float = 600.0

    def __call__(self) -> None:
        try:
            done = subprocess.run(
                self.command, shell=True, capture_output=True, text=True, timeout=self.timeout
            )
        except subprocess.TimeoutExpired:
            raise RestartFailed(f"'{self.command}' did not finish within {self.timeout:.0f} s") from None
        if done.returncode != 0:
            out = (done.stderr or done.stdout).strip()[-2000:]
            raise RestartFailed(f"'{self.command}' failed (exit {done.returncode}):\n{out}")


@dataclass
class _During:
    """Service restarts fired one after another in a run, the first ``delay`` seconds in,
    each next one ``gap`` seconds after the one before is back, on a thread of their own
    (the job goes on while a service is down); once the last is back, a SIGKILL after
    ``then_kill_after`` seconds if given (the run must not end with the restarts, or the
    kills still to come would never land). In one run, so that a resumed run, which may
    have little left to do, need not outlast a restart's random delay."""

    delay: float
    restarts: list[Callable[[], None]]
    then_kill_after: float | None = None
    gap: float = 0.2
    landed: int = 0  # restarts fired while the job ran
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self, proc: subprocess.Popen[str]) -> None:
        def wait(seconds: float) -> bool:
            """Whether the job still runs after ``seconds``."""
            deadline = time.monotonic() + seconds
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            return proc.poll() is None

        def fire() -> None:
            for i, restart in enumerate(self.restarts):
                if not wait(self.delay if i == 0 else self.gap):
                    return  # the run ended first: nothing to ride through
                self.landed += 1
                try:
                    restart()
                except BaseException as e:
                    self.error = e
                    return
            if self.then_kill_after is not None and wait(self.then_kill_after):
                proc.send_signal(signal.SIGKILL)

        self._thread = threading.Thread(target=fire, name="service-restart", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the service to be back (the next run must find it up)."""
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise self.error


def run_job(
    script: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    kill_after: float | None = None,
    cwd: Path | None = None,
    during: _During | None = None,
) -> tuple[int, str]:
    """Run ``sqlstream run script`` once; SIGKILL it after ``kill_after`` seconds if given,
    and restart a service meanwhile if ``during`` says so. Returns (exit code, stderr);
    -9 means it was killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlstream", "run", str(script)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if during is not None:
            during.start(proc)
        deadline = time.monotonic() + (kill_after if kill_after is not None else timeout)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        if during is not None:
            during.join()
    return proc.returncode, err


def compare(expected: Sequence[Hashable], actual: Sequence[Hashable], report: CrashReport) -> None:
    """Fill ``report`` with what ``actual`` lacks, repeats, or has that was not expected
    (both are multisets: order does not matter)."""
    want, got = Counter(expected), Counter(actual)
    report.missing = sorted((want - got).elements(), key=repr)
    extra = got - want
    report.duplicated = sorted((r for r in extra.elements() if r in want), key=repr)
    report.unexpected = sorted((r for r in extra.elements() if r not in want), key=repr)


def kill_until_done(
    script: Path,
    kills: int,
    seed: int,
    max_kill_delay: float = 2.0,
    timeout: float = 120.0,
    finished: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    points: tuple[str, ...] = RANDOM_POINTS,
    chances: tuple[float, ...] = (0.05, 0.2, 0.5),
    restarts: Sequence[Callable[[], None]] = (),
) -> CrashReport:
    """Run the job until it finishes, killing it up to ``kills`` times (each restart
    resumes from the newest complete checkpoint), each time at one of ``points`` chosen
    at random (a crash point, where the process dies at each pass with one of ``chances``,
    or ``timer``: after a random delay). A job that finishes before all kills
    were spent ends the run: the report's ``kills`` says how many landed.

    The ``restarts`` (service restarts) fire one after another in the first run, the first
    at a random moment up to half ``max_kill_delay``; the job rides through each outage
    (or fails over by its restart strategy) and, while kills are left, is killed soon after
    the last service is back. A restart that would come after the run ended is tried again
    in the next run.

    A kill can land after the job FINISHED (its checkpoints deleted) while the process
    exits: then restarting would run the job again from scratch. Such a run counts as
    the last one when its stderr says the job finished or ``finished()`` says so (for
    ``sqlstream run``: the ``_finished`` marker in the job's checkpoint folder)."""
    rng = random.Random(seed)
    report = CrashReport()
    pending = list(restarts)
    while True:
        run_env = {**(env or {}), "SQLSTREAM_CRASH_SEED": str(rng.random())}
        during = None
        kill_after = None
        point = "none"
        if pending:  # a run of their own: the restarts, then (kills to spend) a kill once back
            point = "after_service_restart"
            then_kill = rng.uniform(0.05, 1.0) if report.kills < kills else None
            during = _During(rng.uniform(0.05, max_kill_delay / 2), list(pending), then_kill)
        elif report.kills < kills:
            point = rng.choice(points)
            if point == "timer":
                kill_after = rng.uniform(0.05, max_kill_delay)
            else:
                run_env["SQLSTREAM_CRASH_AT"] = f"{point}:{rng.choice(chances)}"
        if during is not None and progress is not None:
            what = ", then ".join(repr(getattr(r, "command", "a service")) for r in during.restarts)
            progress(f"run {report.runs + 1}: restarting {what} {during.delay:.1f} s in")
        code, err = run_job(script, run_env, timeout, kill_after, cwd, during)
        report.runs += 1
        if during is not None and during.landed:
            del pending[: during.landed]
            for _ in range(during.landed):
                report.restarts += 1
                if progress is not None:
                    progress(f"service restart {report.restarts}/{len(restarts)} done")
        if code == -signal.SIGKILL:
            report.kills += 1
            report.kills_by_point[point] += 1
            if progress is not None:
                where = {"timer": "at random", "after_service_restart": "after the service restart"}.get(
                    point, f"at {point}"
                )
                progress(f"kill {report.kills}/{kills} {where}; restarting from the newest checkpoint")
            if ") finished:" in err or (finished is not None and finished()):
                break  # killed while exiting, after the job had finished
            continue
        if code != 0:
            raise RecoveryFailed(f"the job failed (exit {code}) instead of recovering:\n{err[-3000:]}")
        break
    return report


def crash_until_done(
    script: Path,
    read_sink: Callable[[], Sequence[Hashable]],
    expected: Sequence[Hashable],
    kills: int,
    seed: int,
    max_kill_delay: float = 2.0,
    timeout: float = 120.0,
    finished: Callable[[], bool] | None = None,
    cwd: Path | None = None,
    points: tuple[str, ...] = RANDOM_POINTS,
) -> CrashReport:
    """``kill_until_done``, then compare the sink (``read_sink()``) with ``expected``."""
    report = kill_until_done(script, kills, seed, max_kill_delay, timeout, finished, cwd=cwd, points=points)
    compare(expected, read_sink(), report)
    return report
