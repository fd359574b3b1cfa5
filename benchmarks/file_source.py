"""The filesystem JSON (or CSV) source alone (issue #14): ``FileSystemSource`` reading
``compare.py``'s bids file to the end, no job around it, in CPU seconds.

    .venv/bin/python benchmarks/file_source.py                 # narrow bids, 2M rows
    .venv/bin/python benchmarks/file_source.py --wide          # Nexmark-wide, 1M rows
    .venv/bin/python benchmarks/file_source.py --tree /tmp/before   # another source tree
    .venv/bin/python benchmarks/file_source.py --format csv [--quote-all]

The file is ``compare.py``'s (generated there, ``.cache/compare/``). Each run opens the
source and polls it to the end, as a job's source task does (``poll`` in an event loop);
it prints rows, wall and process CPU seconds (all threads) and the load average.
``--tree DIR`` imports sqlstream from another tree (a ``git archive`` of an older commit)
for before/after figures taken back to back. ``--format csv`` reads the file as CSV
(``compare.py``'s, written by DuckDB, which quotes only the strings that need it);
``--quote-all`` one where every string is quoted.
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


def run_once(data: Path, wide: bool, fmt: str) -> tuple[int, float, float]:
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
    p.add_argument("--format", choices=["json", "csv"], default="json")
    p.add_argument("--quote-all", action="store_true", help="csv: every string quoted")
    p.add_argument("--once", type=Path, help=argparse.SUPPRESS)  # one run of this file, in a child
    args = p.parse_args()
    rows = args.rows or (1_000_000 if args.wide else 2_000_000)
    data = ROOT / ".cache" / "compare" / f"bids-{'wide-' if args.wide else ''}{rows}.json"
    if args.once:
        n, wall, cpu = run_once(args.once, args.wide, args.format)
        print(n, wall, cpu)
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from compare import convert, generate

    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        generate(data, rows, wide=args.wide)
    if args.format == "csv":
        data = convert(data, "csv") if not args.quote_all else quote_all(data)
    env = dict(os.environ, PYTHONPATH=str(args.tree or ROOT))
    command = [sys.executable, __file__, "--once", str(data), "--format", args.format]
    command += ["--wide"] if args.wide else []
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


def quote_all(json_file: Path) -> Path:
    """The bids file as CSV with every string quoted (made once, beside it)."""
    import duckdb

    path = json_file.with_suffix(".quoted.csv")
    if not path.exists():
        con = duckdb.connect()
        strings = "channel" + (", url, extra" if "wide" in json_file.name else "")
        con.execute(
            f"COPY (SELECT * FROM read_json('{json_file}', format = 'newline_delimited')) "
            f"TO '{path}' (FORMAT csv, HEADER false, FORCE_QUOTE ({strings}))"
        )
        con.close()
    return path


if __name__ == "__main__":
    main()
