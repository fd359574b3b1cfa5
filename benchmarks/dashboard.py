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
import statistics
import subprocess
import sys
import time
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


CLIENT = """
import sys, time, urllib.request
base, paths, polls, every_s = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), float(sys.argv[4])
n = 0
while n < polls or polls < 0:
    for p in paths:
        urllib.request.urlopen(base + p.lstrip("/"), timeout=10).read()
    n += 1
    time.sleep(every_s)
"""


def page(dashboard: Dashboard, job_id: str, polls: int, every_s: float) -> subprocess.Popen[bytes]:
    """The page's requests from another process, as a browser would send them: ``polls``
    times (or until killed when negative), ``every_s`` apart."""
    paths = ",".join(p.format(id=job_id) for p in PAGE_POLL)
    return subprocess.Popen([sys.executable, "-c", CLIENT, dashboard.url, paths, str(polls), str(every_s)])


def cpu_per_poll_ms(dashboard: Dashboard, job_id: str, polls: int = 200) -> float:
    """This process's CPU time for answering one page poll over HTTP (sockets, threads,
    documents, JSON); the asking is another process's."""
    start = time.process_time()
    if page(dashboard, job_id, polls, 0.0).wait() != 0:
        raise RuntimeError("the polling process failed")
    return (time.process_time() - start) / polls * 1000


def run_once(args: argparse.Namespace, web: bool) -> tuple[float, float]:
    """(rows/s over the job's own time, this process's CPU seconds per million rows)."""
    config = {"parallelism.default": str(args.parallelism)}
    if web:
        config["rest.port"] = "0"
    with sqlstream.connect(config=config) as session:
        session.execute(source_ddl(args, None))
        session.execute(SINK)
        cpu = time.process_time()
        handle = session.execute(f"INSERT INTO out {QUERIES[args.query][0]}").job
        assert handle is not None
        poller = page(session.dashboard, handle.id, -1, 1.0) if session.dashboard is not None else None
        handle.wait()
        cpu = time.process_time() - cpu
        if poller is not None:
            poller.kill()
            poller.wait()
        if handle.error is not None:
            raise handle.error
        m = handle.metrics()
        if session.dashboard is not None and not CPU:
            CPU.append(cpu_per_poll_ms(session.dashboard, handle.id))
        return m["rows_read"] / m["elapsed_s"], cpu / m["rows_read"] * 1e6


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("query", nargs="?", default="tumble", choices=["projection", "tumble", "hop", "session"])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--rows-per-ms", type=int, default=1000)
    ap.add_argument("--parallelism", "-p", type=int, default=1)
    ap.add_argument("--runs", type=int, default=8, help="pairs of runs, alternating which goes first")
    args = ap.parse_args(argv)
    without: list[tuple[float, float]] = []
    polled: list[tuple[float, float]] = []
    for i in range(args.runs):  # a pair of runs, in turn first and second
        for web in (False, True) if i % 2 == 0 else (True, False):
            rate, cpu = run_once(args, web)
            (polled if web else without).append((rate, cpu))
            print(f"run {i + 1} {'dashboard polled' if web else 'no dashboard   '}: {rate:,.0f} rows/s, "
                  f"{cpu:.3f} CPU s per 1M rows", flush=True)  # fmt: skip
    a, b = statistics.median(r for r, _ in without), statistics.median(r for r, _ in polled)
    ca, cb = statistics.median(c for _, c in without), statistics.median(c for _, c in polled)
    pairs = statistics.median(p[0] / w[0] for p, w in zip(polled, without))
    print(f"median without dashboard: {a:,.0f} rows/s, {ca:.3f} CPU s per 1M rows")
    print(f"median with dashboard polled every second: {b:,.0f} rows/s ({b / a:.1%} of without), "
          f"{cb:.3f} CPU s per 1M rows ({cb / ca:.1%} of without)")  # fmt: skip
    print(f"median of the pairs' ratios (polled / without): {pairs:.1%}")
    print(f"CPU to answer one page poll ({len(PAGE_POLL)} requests over HTTP): {CPU[0]:.2f} ms")
    return {"without": a, "polled": b, "ratio": b / a, "pair_ratio": pairs, "cpu_ratio": cb / ca,
            "cpu_ms_per_poll": CPU[0]}  # fmt: skip


if __name__ == "__main__":
    main()
