"""CPU seconds of two source trees' ``sqlstream run``, alternated run by run on the same SQL.

    git archive main | tar -x -C /tmp/before
    .venv/bin/python benchmarks/before_after.py --tree /tmp/before --repeat 4 tumble hop group
    .venv/bin/python benchmarks/before_after.py --tree /tmp/before --repeat 3 q11 q15 q16 q17

On a machine shared with other work the load swings from minute to minute; running "before"
and "after" one after the other, in alternating order, puts both under the same load, so
their medians compare where two separate ``compare.py`` runs a minute apart do not. A query
is one of ``compare.py``'s (2M bids) or ``nexmark.py``'s (``--events`` Nexmark events).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import compare  # benchmarks/compare.py (this folder is on sys.path)
import nexmark


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("queries", nargs="+", metavar="QUERY")
    p.add_argument("--tree", type=Path, required=True, help="the 'before' source tree")
    p.add_argument("--repeat", type=int, default=3, help="runs of each tree per query")
    p.add_argument("--events", type=int, default=1_000_000, help="Nexmark events")
    args = p.parse_args()
    print("query    before  after  change  (CPU s of the whole process, medians; 1-minute load)")
    with tempfile.TemporaryDirectory() as tmp:
        for query in args.queries:
            script = Path(tmp) / f"{query}.sql"
            if query in compare.QUERIES:
                data = compare.ROOT / ".cache" / "compare" / "bids-2000000.json"
                if not data.exists():
                    compare.generate(data, 2_000_000)
                script.write_text(compare.sqlstream_script(data, query))
            else:
                script.write_text(nexmark.script(query, nexmark.events_files(args.events)))
            cpu: dict[str, list[float]] = {"before": [], "after": []}
            loads = []
            for i in range(args.repeat):
                for which in ("before", "after") if i % 2 == 0 else ("after", "before"):
                    cpu[which].append(compare.run_script(script, args.tree if which == "before" else None)[1])
                    loads.append(os.getloadavg()[0])
            before, after = statistics.median(cpu["before"]), statistics.median(cpu["after"])
            print(
                f"{query:<8} {before:>6.2f} {after:>6.2f} {(after - before) / before:>+7.0%}"
                f"  load {min(loads):.0f}-{max(loads):.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
