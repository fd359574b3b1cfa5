"""Apache Flink 2.3's side of the benchmarks: runs SQL scripts through ``flink_job.py`` in
Flink's own environment (``scripts/flink-python`` installs it under ``.cache/flink-oracle`` on
first use, never into the project's ``.venv``) and reads back what each run took.

Two figures per script, from one fresh process that runs its job twice:

- whole process: the process from its start to its exit (Python, the JVM, the MiniCluster,
  planning, the first job, shutdown), minus the second run; its CPU seconds likewise, JVM
  included;
- warm JVM: the second run alone, in the JVM the first one warmed up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOB = Path(__file__).resolve().with_name("flink_job.py")


@dataclass(frozen=True)
class Run:
    script: str
    run: int
    wall: float
    cpu: float


@dataclass(frozen=True)
class Process:
    """One ``flink_job.py`` process: its runs, its CPU seconds and wall seconds in all."""

    runs: list[Run]
    cpu: float
    wall: float
    errors: dict[str, str]  # script: Flink's error

    def warm(self, script: str) -> Run | None:
        """The script's last run (the JVM warmed up by the runs before it); None if Flink
        failed on it."""
        runs = [r for r in self.runs if r.script == script]
        return runs[-1] if runs and script not in self.errors else None

    def whole(self) -> tuple[float, float]:
        """Wall and CPU seconds of the process without the runs after its first."""
        later = self.runs[1:]
        return self.wall - sum(r.wall for r in later), self.cpu - sum(r.cpu for r in later)


def parse(stdout: str, wall: float) -> Process:
    """``flink_job.py``'s output: a JSON line per run, then ``{"total_cpu": s}``.

    >>> p = parse('{"script": "a.sql", "run": 0, "wall": 9.0, "cpu": 12.0}\\n'
    ...           '{"script": "a.sql", "run": 1, "wall": 2.0, "cpu": 3.0}\\n{"total_cpu": 30.0}\\n', 20.0)
    >>> p.warm("a.sql").wall, p.whole()
    (2.0, (18.0, 27.0))
    """
    runs: list[Run] = []
    errors: dict[str, str] = {}
    cpu = None
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue  # PyFlink's own chatter
        item = json.loads(line)
        if "total_cpu" in item:
            cpu = float(item["total_cpu"])
        elif "error" in item:
            errors[item["script"]] = item["error"]
        else:
            runs.append(Run(item["script"], int(item["run"]), float(item["wall"]), float(item["cpu"])))
    if cpu is None or not (runs or errors):
        raise ValueError(f"flink_job.py printed no runs or no total:\n{stdout}")
    return Process(runs, cpu, wall, errors)


@cache
def environment() -> tuple[str, dict[str, str]]:
    """Flink's python and the environment to run it with (JAVA_HOME set): installs it on the
    first call of a fresh checkout (about 800 MB)."""
    where = "import os, sys; print(sys.executable, os.environ['JAVA_HOME'])"
    done = subprocess.run(
        [str(ROOT / "scripts" / "flink-python"), "-c", where],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"scripts/flink-python failed:\n{done.stderr}")
    python, java_home = done.stdout.split()
    return python, {**os.environ, "JAVA_HOME": java_home}


def run(scripts: list[Path], runs: int = 2) -> Process:
    """Runs ``scripts`` (each in a TableEnvironment of its own, its job ``runs`` times) in one
    fresh Flink process, timed from its start to its exit; each run is echoed to stderr as it
    ends (a long run shows its progress)."""
    python, env = environment()
    command = [python, str(JOB), "--runs", str(runs), *map(str, scripts)]
    lines = []
    with tempfile.TemporaryFile("w+") as errors:
        started = time.perf_counter()
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env) as job:
            assert job.stdout is not None
            for line in job.stdout:
                lines.append(line)
                if line.startswith('{"script"'):
                    print(f"flink: {line.strip()}", file=sys.stderr, flush=True)
        wall = time.perf_counter() - started
        if job.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"Flink failed on {', '.join(map(str, scripts))}:\n{errors.read()[-3000:]}")
    return parse("".join(lines), wall)
