"""What the dashboard costs a job: ``run.py``'s queries (tumble by default) through the
Session API, with the dashboard served and polled every second the way the page polls it
(``/jobs/overview``, ``/jobs/:jid``, its checkpoints, checkpoint config and exceptions),
against the same job with no dashboard at all. Runs alternate, so drift in the machine's
load hits both alike; printed: each run's rows/s, the medians, the median of the pairs'
ratios, and the CPU time it takes this process to answer one poll of the page over HTTP.

    .venv/bin/python benchmarks/dashboard.py tumble --rows 10000000 --runs 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import QUERIES, source_ddl  # benchmarks/run.py (this folder is on sys.path)

import sqlstream
from sqlstream.web.server import Dashboard

CPU: list[float] = []
PAGE_POLL = (
    "/jobs/overview",
    "/jobs/{id}",
    "/jobs/{id}/checkpoints",
    "/jobs/{id}/checkpoints/config",
    "/jobs/{id}/exceptions",
)  # what the page asks each second; fmt: skip

SINK = (
    "CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), cnt BIGINT, "
    "total BIGINT, top BIGINT, created TIMESTAMP_LTZ(3)) WITH ('connector' = 'blackhole')"
)


def poll(base: str, job_id: str, stop: threading.Event, every_s: float, counter: list[int]) -> None:
    """One page open on the job: its requests, once a second."""
    while not stop.wait(every_s):
        for p in PAGE_POLL:
            with urllib.request.urlopen(base + p.format(id=job_id).lstrip("/"), timeout=10) as r:
                json.loads(r.read())
            counter[0] += 1


CLIENT = """
import sys, urllib.request
base, paths, polls = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
for _ in range(polls):
    for p in paths:
        urllib.request.urlopen(base + p.lstrip("/"), timeout=10).read()
"""


def cpu_per_poll_ms(dashboard: Dashboard, job_id: str, polls: int = 200) -> float:
    """This process's CPU time for answering one page poll over HTTP (sockets, threads,
    documents, JSON), asked by another process so that the asking is not counted."""
    paths = ",".join(p.format(id=job_id) for p in PAGE_POLL)
    start = time.process_time()
    subprocess.run([sys.executable, "-c", CLIENT, dashboard.url, paths, str(polls)], check=True)
    return (time.process_time() - start) / polls * 1000


def run_once(args: argparse.Namespace, web: bool) -> tuple[float, int]:
    """(rows/s over the job's own time, requests answered)."""
    config = {"parallelism.default": str(args.parallelism)}
    if web:
        config["rest.port"] = "0"
    with sqlstream.connect(config=config) as session:
        session.execute(source_ddl(args, None))
        session.execute(SINK)
        handle = session.execute(f"INSERT INTO out {QUERIES[args.query][0]}").job
        assert handle is not None
        stop, counter = threading.Event(), [0]
        poller = None
        if web and session.dashboard is not None:
            base = session.dashboard.url
            poller = threading.Thread(target=poll, args=(base, handle.id, stop, 1.0, counter))
            poller.start()
        handle.wait()
        stop.set()
        if poller is not None:
            poller.join()
        if handle.error is not None:
            raise handle.error
        m = handle.metrics()
        if web and session.dashboard is not None and not CPU:
            CPU.append(cpu_per_poll_ms(session.dashboard, handle.id))
        return m["rows_read"] / m["elapsed_s"], counter[0]


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("query", nargs="?", default="tumble", choices=["projection", "tumble", "hop", "session"])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--rows-per-ms", type=int, default=1000)
    ap.add_argument("--parallelism", "-p", type=int, default=1)
    ap.add_argument("--runs", type=int, default=8, help="pairs of runs, alternating which goes first")
    args = ap.parse_args(argv)
    without: list[float] = []
    polled: list[float] = []
    for i in range(args.runs):  # a pair of runs, in turn first and second
        for web in (False, True) if i % 2 == 0 else (True, False):
            rate, requests = run_once(args, web)
            (polled if web else without).append(rate)
            print(f"run {i + 1} {'dashboard polled' if web else 'no dashboard   '}: {rate:,.0f} rows/s"
                  + (f" ({requests} requests answered)" if web else ""), flush=True)  # fmt: skip
    a, b = statistics.median(without), statistics.median(polled)
    pairs = statistics.median(p / w for p, w in zip(polled, without))
    print(f"median without dashboard: {a:,.0f} rows/s")
    print(f"median with dashboard polled every second: {b:,.0f} rows/s ({b / a:.1%} of without)")
    print(f"median of the pairs' ratios (polled / without): {pairs:.1%}")
    print(f"CPU to answer one page poll ({len(PAGE_POLL)} requests over HTTP): {CPU[0]:.2f} ms")
    return {"without": a, "polled": b, "ratio": b / a, "pair_ratio": pairs, "cpu_ms_per_poll": CPU[0]}


if __name__ == "__main__":
    main()
