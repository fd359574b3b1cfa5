"""Runs one SQL script on Apache Flink (PyFlink's TableEnvironment, streaming mode,
parallelism 1) and prints how long each run of its INSERT took. Run inside Flink's own
environment by ``benchmarks/compare.py`` and ``benchmarks/nexmark.py``
(``scripts/flink-python benchmarks/flink_job.py SCRIPT.sql``); imports nothing of the project.

A script is the one ``sqlstream run`` reads: ``SET 'key' = 'value'`` lines go into the table
configuration (PyFlink's ``executeSql`` takes no SET), other statements run once, and its one
INSERT runs ``--runs`` times, as new jobs in the same JVM (the first run of the first script
includes the JVM's warm-up; later ones run warm). Each run prints a JSON line:
``{"script", "run", "wall": s, "cpu": s}``, where ``cpu`` is the CPU time of this process and
all its descendants (the JVM PyFlink starts) over the run, read from ``/proc``; a script Flink
fails on prints ``{"script", "error"}`` instead, and the next one runs. The last line is
``{"total_cpu": s}``, the same since the process started.

>>> statements("SET 'a' = '1';\\nCREATE TABLE t (x INT);\\nINSERT INTO s SELECT x FROM t;\\n")
[('set', 'a', '1'), ('ddl', 'CREATE TABLE t (x INT)'), ('insert', 'INSERT INTO s SELECT x FROM t')]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

_SET = re.compile(r"SET\s+'([^']+)'\s*=\s*'([^']*)'\s*$", re.IGNORECASE | re.DOTALL)


def statements(text: str) -> list[tuple[str, ...]]:
    """The script's statements in order: ``("set", key, value)``, ``("insert", sql)`` or
    ``("ddl", sql)``. Statements end with a ``;`` at the end of a line; ``--`` lines are
    comments."""
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("--")]
    out: list[tuple[str, ...]] = []
    for part in re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE):
        sql = part.strip()
        if not sql:
            continue
        if m := _SET.match(sql):
            out.append(("set", m.group(1), m.group(2)))
        elif sql.upper().startswith(("INSERT ", "EXECUTE ")):
            out.append(("insert", sql))
        else:
            out.append(("ddl", sql))
    return out


def tree_cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float:
    """User + system CPU seconds of ``pid`` and every live descendant (plus what they
    reaped), from ``/proc/*/stat`` (this kernel has no ``/proc/<pid>/task/*/children``)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
        p = int(stat.parent.name)
        parent[p] = int(fields[1])
        ticks[p] = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    tree = {pid}
    grew = True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scripts", type=Path, nargs="+", help="each in a TableEnvironment of its own")
    p.add_argument("--runs", type=int, default=2, help="jobs per script, one after the other")
    args = p.parse_args()
    from pyflink.table import EnvironmentSettings, TableEnvironment

    me = os.getpid()
    for script in args.scripts:
        env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        config = env.get_config()
        config.set("parallelism.default", "1")
        config.set("table.exec.resource.default-parallelism", "1")
        try:
            inserts = []
            for kind, *rest in statements(script.read_text()):
                if kind == "set":
                    config.set(rest[0], rest[1])
                elif kind == "insert":
                    inserts.append(rest[0])
                else:
                    env.execute_sql(rest[0])
            if len(inserts) != 1:
                raise ValueError(f"{len(inserts)} INSERT statements, expected one")
            for run in range(args.runs):
                cpu = tree_cpu_seconds(me)
                started = time.perf_counter()
                env.execute_sql(inserts[0]).wait()
                wall = time.perf_counter() - started
                line = {"script": script.name, "run": run, "wall": wall, "cpu": tree_cpu_seconds(me) - cpu}
                print(json.dumps(line), flush=True)
        except Exception as e:  # the next script still runs; the caller reports this one's error
            print(
                json.dumps({"script": script.name, "error": str(e).strip().splitlines()[0][:300]}), flush=True
            )
    print(json.dumps({"total_cpu": tree_cpu_seconds(me)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
