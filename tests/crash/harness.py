"""The crash harness: run a job as a subprocess, SIGKILL it at random moments, restart it,
and compare what its sinks hold with the no-crash answer.

The logic is the product's own (``sqlstream/verify/chaos.py``, which ``sqlstream verify``
runs on a user's script); the tests run it from the repository's root.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

from sqlstream.verify import chaos
from sqlstream.verify.chaos import CRASH_POINTS, CrashReport, compare

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["CRASH_POINTS", "ROOT", "CrashReport", "compare", "crash_until_done", "run_job"]


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
) -> CrashReport:
    return chaos.crash_until_done(
        script, read_sink, expected, kills, seed, max_kill_delay, timeout, finished, cwd=ROOT
    )
