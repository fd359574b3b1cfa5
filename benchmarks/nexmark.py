"""Nexmark (issue #14): every Nexmark query sqlstream runs, on sqlstream and on Apache Flink
2.3, over the same JSON files of Nexmark events.

    .venv/bin/python benchmarks/nexmark.py --events 3000000              # every query
    .venv/bin/python benchmarks/nexmark.py --events 1000000 q0 q5 q16    # some of them

The events follow Nexmark's model (``tests/oracle/nexmark.py``, the generator the oracle uses
too: persons, auctions and bids 1:3:46, Nexmark's fields with their long strings), written
once as ``person.json``, ``auction.json`` and ``bid.json`` under ``.cache/nexmark/``. Each
query is the public Nexmark text (the joins and q18/q19 read from the oracle's
``tests/oracle/corpus/nexmark.sql``) into a blackhole sink, with the oracle's DDL (filesystem
source, ``json`` format, ``WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND``),
parallelism 1. sqlstream runs each as ``sqlstream run`` (whole process, start-up included);
Flink runs all of them in one PyFlink process, each job twice, and the second run is timed
(a warm JVM); ``--flink-process`` also times a fresh Flink process per query (start-up and
first job). Printed: events/s over all events (whichever tables a query reads), the CPU
seconds of each process (Flink's with its JVM), the ratio, and the load average.

Not run: q6 (Flink cannot run it either), q10 (a partitioned file sink), q13 (a side input
file), q14 (a Java UDF of Nexmark's jar); q12 (a processing-time window) is not tried yet.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

import flink  # benchmarks/flink.py (this folder is on sys.path)
from compare import run_script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.oracle import corpus as oc  # noqa: E402
from tests.oracle import nexmark as model  # noqa: E402

B, S, T = "BIGINT", "STRING", "TIMESTAMP(3)"
BID = f"auction {B}, bidder {B}, price {B}, channel {S}, url {S}, `dateTime` {T}, extra {S}"
RANKS = ", ".join(
    f"{r}_{k} {B}" for k in ("bids", "bidders", "auctions") for r in ("total", "rank1", "rank2", "rank3")
)
STATS = """count(*) AS total_bids,
  count(*) filter (where price < 10000) AS rank1_bids,
  count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
  count(*) filter (where price >= 1000000) AS rank3_bids"""
DISTINCT = ",\n".join(
    f"""  count(distinct {c}) AS total_{c}s,
  count(distinct {c}) filter (where price < 10000) AS rank1_{c}s,
  count(distinct {c}) filter (where price >= 10000 and price < 1000000) AS rank2_{c}s,
  count(distinct {c}) filter (where price >= 1000000) AS rank3_{c}s"""
    for c in ("bidder", "auction")
)

# name: the sink's columns, and the SELECT (None: the oracle corpus's text of that query)
QUERIES: dict[str, tuple[str, str | None]] = {
    "q0": (f"auction {B}, bidder {B}, price {B}, `dateTime` {T}, extra {S}",
           "SELECT auction, bidder, price, `dateTime`, extra FROM bid"),
    "q1": (f"auction {B}, bidder {B}, price DECIMAL(23, 3), `dateTime` {T}, extra {S}",
           "SELECT auction, bidder, 0.908 * price as price, `dateTime`, extra FROM bid"),
    "q2": (f"auction {B}, price {B}", "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0"),
    "q3": (f"name {S}, city {S}, state {S}, id {B}", None),
    "q4": (f"id {B}, final {B}", None),
    "q5": (f"auction {B}, num {B}", None),
    "q7": (f"auction {B}, price {B}, bidder {B}, `dateTime` {T}, extra {S}", None),
    "q8": (f"id {B}, name {S}, stime {T}", None),
    "q9": (f"id {B}, itemName {S}, description {S}, initialBid {B}, reserve {B}, `dateTime` {T}, "
           f"expires {T}, seller {B}, category {B}, extra {S}, auction {B}, bidder {B}, price {B}, "
           f"bid_dateTime {T}, bid_extra {S}", None),
    "q11": (f"bidder {B}, bid_count {B}, starttime {T}, endtime {T}",
            "SELECT B.bidder, count(*) as bid_count, SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) as "
            "starttime, SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) as endtime FROM bid B "
            "GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND)"),
    "q15": (f"`day` {S}, {RANKS}",
            f"SELECT DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') as `day`, {STATS},\n{DISTINCT}\n"
            "FROM bid GROUP BY DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')"),
    "q16": (f"channel {S}, `day` {S}, `minute` {S}, {RANKS}",
            "SELECT channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') as `day`, "
            f"max(DATE_FORMAT(`dateTime`, 'HH:mm')) as `minute`, {STATS},\n{DISTINCT}\n"
            "FROM bid GROUP BY channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')"),
    "q17": (f"auction {B}, `day` {S}, total_bids {B}, rank1_bids {B}, rank2_bids {B}, rank3_bids {B}, "
            f"min_price {B}, max_price {B}, avg_price {B}, sum_price {B}",
            f"SELECT auction, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') as `day`, {STATS}, "
            "min(price) AS min_price, max(price) AS max_price, avg(price) AS avg_price, "
            "sum(price) AS sum_price "
            "FROM bid GROUP BY auction, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')"),
    "q18": (BID, None),
    "q19": (f"{BID}, rank_number {B}", None),
    "q20": (f"{BID}, itemName {S}, description {S}, initialBid {B}, reserve {B}, a_dateTime {T}, "
            f"expires {T}, seller {B}, category {B}, a_extra {S}", None),
    "q21": (f"auction {B}, bidder {B}, price {B}, channel {S}, channel_id {S}",
            "SELECT auction, bidder, price, channel, CASE WHEN lower(channel) = 'apple' THEN '0' "
            "WHEN lower(channel) = 'google' THEN '1' WHEN lower(channel) = 'facebook' THEN '2' "
            "WHEN lower(channel) = 'baidu' THEN '3' "
            "ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END "
            "AS channel_id FROM bid where REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) is not null or "
            "lower(channel) in ('apple', 'google', 'facebook', 'baidu')"),
    "q22": (f"auction {B}, bidder {B}, price {B}, channel {S}, dir1 {S}, dir2 {S}, dir3 {S}",
            "SELECT auction, bidder, price, channel, SPLIT_INDEX(url, '/', 3) as dir1, "
            "SPLIT_INDEX(url, '/', 4) as dir2, SPLIT_INDEX(url, '/', 5) as dir3 FROM bid"),
    "q23": (f"bidder {B}, price {B}, channel {S}, url {S}, bid_extra {S}, person_id {B}, name {S}, "
            f"emailAddress {S}, creditCard {S}, city {S}, state {S}, person_extra {S}, itemName {S}, "
            f"description {S}, initialBid {B}, reserve {B}, auction_dateTime {T}, expires {T}, seller {B}, "
            f"category {B}, auction_extra {S}", None),
}  # fmt: skip


def corpus_queries(text: str) -> dict[str, str]:
    """The oracle corpus's Nexmark queries by name: a ``-- qN: title`` line, then its SELECT.

    >>> corpus_queries("-- q3: Local Item Suggestion\\nSELECT 1\\n-- other\\nSELECT 2\\n")
    {'q3': 'SELECT 1'}
    """
    lines = text.splitlines()
    return {
        m.group(1): lines[k + 1].strip()
        for k, line in enumerate(lines[:-1])
        if (m := re.match(r"--\s*(q\d+):", line)) and lines[k + 1].upper().startswith("SELECT")
    }


def script(query: str, files: dict[str, Path]) -> str:
    """The SQL both engines run for ``query``: the three tables, a blackhole sink, the INSERT."""
    columns, select = QUERIES[query]
    if select is None:
        select = corpus_queries((oc.CORPUS_DIR / "nexmark.sql").read_text())[query]
    tables = {name: {"columns": model.COLUMNS[name], "watermark": model.WATERMARK} for name in files}
    ddl = "".join(oc.create_table_sql(name, tables[name], path) + ";\n" for name, path in files.items())
    return (
        "SET 'parallelism.default' = '1';\n"
        f"{ddl}"
        f"CREATE TABLE sink ({columns}) WITH ('connector' = 'blackhole');\n"
        f"INSERT INTO sink {select};\n"
    )


def events_files(events: int) -> dict[str, Path]:
    """The event files of ``events`` events, generated the first time."""
    directory = ROOT / ".cache" / "nexmark" / f"{events}-seed{model.NEXMARK_SEED}"
    files = {name: directory / f"{name}.json" for name in ("person", "auction", "bid")}
    if not all(f.exists() for f in files.values()):
        print(f"generating {directory} ...", file=sys.stderr, flush=True)
        directory.mkdir(parents=True, exist_ok=True)
        model.write_files(directory, events)
    return files


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("queries", nargs="*", metavar="QUERY", help=f"some of {', '.join(QUERIES)} (default: all)")
    p.add_argument("--events", type=int, default=3_000_000)
    p.add_argument("--repeat", type=int, default=1, help="runs per engine and query; medians are printed")
    p.add_argument("--no-flink", action="store_true", help="run sqlstream only")
    p.add_argument("--flink-process", action="store_true", help="also time a fresh Flink process per query")
    p.add_argument("--tree", type=Path, help="run the sqlstream of this source tree (before/after figures)")
    args = p.parse_args()
    queries = args.queries or list(QUERIES)
    if unknown := [q for q in queries if q not in QUERIES]:
        p.error(f"unknown queries {unknown}; choose from {list(QUERIES)}")
    files = events_files(args.events)
    size = sum(f.stat().st_size for f in files.values())
    print(
        f"{args.events:,} events, {size / 1e6:.0f} MB of JSON; parallelism 1; events/s, "
        f"medians of {args.repeat}"
    )
    head = f"{'query':<6} {'sqlstream':>10} {'cpu s':>6}"
    if not args.no_flink:
        head += f" {'flink warm':>10} {'cpu s':>6} {'x warm':>6}"
    if args.flink_process:
        head += f" {'flink proc':>10} {'cpu s':>6} {'x proc':>6}"
    print(head + f" {'load':>5}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {q: Path(tmp) / f"{q}.sql" for q in queries}
        for q, path in scripts.items():
            path.write_text(script(q, files))
        warm: dict[str, list[tuple[float, float]]] = {q: [] for q in queries}
        errors: dict[str, str] = {}
        if not args.no_flink:  # one JVM for every query; each job's second run is the warm one
            for _ in range(args.repeat):
                process = flink.run(list(scripts.values()))
                errors.update({name.removesuffix(".sql"): e for name, e in process.errors.items()})
                for q, path in scripts.items():
                    if run := process.warm(path.name):
                        warm[q].append((run.wall, run.cpu))
        for q, path in scripts.items():
            ours = [run_script(path, args.tree) for _ in range(args.repeat)]
            r_ours = args.events / statistics.median(w for w, _ in ours)
            line = f"{q:<6} {r_ours:>10,.0f} {statistics.median(c for _, c in ours):>6.2f}"
            figures = [] if args.no_flink else [warm[q]]
            if args.flink_process and q not in errors:
                figures.append([flink.run([path]).whole() for _ in range(args.repeat)])
            for runs in figures:
                if not runs:
                    line += f" {'failed':>10} {'-':>6} {'-':>6}"
                    continue
                r_flink = args.events / statistics.median(w for w, _ in runs)
                cpu = statistics.median(c for _, c in runs)
                line += f" {r_flink:>10,.0f} {cpu:>6.2f} {r_ours / r_flink:>5.1f}x"
            print(line + f" {os.getloadavg()[0]:>5.1f}", flush=True)
    for q, error in errors.items():
        print(f"Flink failed on {q}: {error}")


if __name__ == "__main__":
    main()
