"""The filesystem JSON source alone (issue #14): ``FileSystemSource`` reading
``compare.py``'s bids file to the end, no job around it, in CPU seconds.

    .venv/bin/python benchmarks/file_source.py                 # narrow bids, 2M rows
    .venv/bin/python benchmarks/file_source.py --wide          # Nexmark-wide, 1M rows
    .venv/bin/python benchmarks/file_source.py --tree /tmp/before   # another source tree
    .venv/bin/python benchmarks/file_source.py --csv quoted         # the same bids as CSV

``--csv plain|quoted|multiline`` reads the bids as a CSV file written from the JSON one by
DuckDB: ``plain`` has no quote; ``quoted`` quotes every string (channel, and with
``--wide`` url and extra: each line has quote characters, all of them paired);
``multiline`` also puts a line break into the channel of one row in a hundred, so that
those records span two lines.

The file is ``compare.py``'s (generated there, ``.cache/compare/``). Each run opens the
source and polls it to the end, as a job's source task does (``poll`` in an event loop);
it prints rows, wall and process CPU seconds (all threads) and the load average.
``--tree DIR`` imports sqlstream from another tree (a ``git archive`` of an older commit)
for before/after figures taken back to back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COLUMNS = ("auction BIGINT", "bidder BIGINT", "price BIGINT", "channel STRING", "ts TIMESTAMP(3)")
WIDE = ("url STRING", "extra STRING")


def csv_file(data: Path, kind: str, wide: bool) -> Path:
    """The bids of ``data`` as CSV (see the module doc), written once next to it."""
    out = data.with_name(f"{data.stem}-{kind}.csv")
    if out.exists():
        return out
    import duckdb

    names = [c.split()[0] for c in COLUMNS + (WIDE if wide else ())]
    types = ", ".join(f"'{n}': 'VARCHAR'" for n in names)  # each value's text as it is
    if kind == "multiline":
        names[names.index("channel")] = (
            "CASE WHEN hash(auction, bidder) % 100 = 0 THEN channel || chr(10) || 'x' "
            "ELSE channel END AS channel"
        )
    quote = "" if kind == "plain" else f", FORCE_QUOTE (channel{', url, extra' if wide else ''})"
    read = f"read_json('{data}', columns = {{{types}}}, format = 'newline_delimited')"
    duckdb.sql(
        f"COPY (SELECT {', '.join(names)} FROM {read}) TO '{out}.tmp' (FORMAT csv, HEADER false{quote})"
    )
    os.rename(f"{out}.tmp", out)
    return out


def run_once(data: Path, wide: bool, fmt: str = "json") -> tuple[int, float, float]:
    """Rows read, wall and CPU seconds of reading ``data`` to the end."""
    import asyncio

    from planner.physical import Field, SourceSpec
    from runtime.connectors.base import SubtaskContext
    from runtime.connectors.filesystem.source import FileSystemSource

    cols = tuple(Field(c.split()[0], c.split(maxsplit=1)[1]) for c in COLUMNS + (WIDE if wide else ()))
    spec = SourceSpec("bids", "filesystem", {"path": str(data), "format": fmt}, cols, bounded=True)

    async def read() -> int:
        src = FileSystemSource(spec, SubtaskContext("bench", 1, "source", 0, 1))
        await src.open()
        rows = 0
        while not src.finished:
            batch = await src.poll(1 << 16)
            if batch is not None:
                rows += batch.num_rows
        await src.close()
        return rows

    cpu, wall = time.process_time(), time.perf_counter()
    rows = asyncio.run(read())
    return rows, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, help="the file's rows (default: 2M, or 1M with --wide)")
    p.add_argument("--wide", action="store_true", help="bids with Nexmark's url and extra strings")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tree", type=Path, help="read with the sqlstream of this source tree")
    p.add_argument("--csv", choices=["plain", "quoted", "multiline"], help="read the bids as CSV")
    p.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # one run, in a child
    args = p.parse_args()
    rows = args.rows or (1_000_000 if args.wide else 2_000_000)
    data = ROOT / ".cache" / "compare" / f"bids-{'wide-' if args.wide else ''}{rows}.json"
    if args.once:
        path = data if args.csv is None else csv_file(data, args.csv, args.wide)
        n, wall, cpu = run_once(path, args.wide, "json" if args.csv is None else "csv")
        print(n, wall, cpu)
        return
    if not data.exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from compare import generate

        data.parent.mkdir(parents=True, exist_ok=True)
        generate(data, rows, wide=args.wide)
    if args.csv is not None:
        csv_file(data, args.csv, args.wide)
    env = dict(os.environ, PYTHONPATH=str(args.tree or ROOT))
    command = [sys.executable, __file__, "--once", "--rows", str(rows), *(["--wide"] if args.wide else [])]
    command += ["--csv", args.csv] if args.csv else []
    walls, cpus = [], []
    for _ in range(args.repeat):  # a fresh process each run: no warm caches between runs
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.split()
        n, wall, cpu = int(out[0]), float(out[1]), float(out[2])
        walls.append(wall)
        cpus.append(cpu)
        print(f"{n:,} rows  wall {wall:.2f} s  cpu {cpu:.2f} s  ({n / cpu:,.0f} rows per CPU second)")
    load = os.getloadavg()
    print(
        f"median: wall {statistics.median(walls):.2f} s, cpu {statistics.median(cpus):.2f} s; "
        f"load average {load[0]:.1f} {load[1]:.1f}"
    )


if __name__ == "__main__":
    main()
