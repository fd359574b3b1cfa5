"""How long a Prometheus scrape of a running job takes (``metrics.reporter.prom.port``).

    .venv/bin/python benchmarks/scrape.py [--scrapes 20] [--parallelism 2]

A datagen -> 1 s TUMBLE -> blackhole job runs at 200k rows/s; once it is warm, the
endpoint is scraped over HTTP and the time per scrape and the size of the page printed.
The values are read from the jobs' counters at scrape time, so this is the whole cost.
"""

from __future__ import annotations

import argparse
import time
import urllib.request

import sqlstream
from catalog.config import PARALLELISM, PROMETHEUS_PORT


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scrapes", type=int, default=20)
    p.add_argument("--parallelism", type=int, default=2)
    args = p.parse_args()
    config = {PROMETHEUS_PORT.name: "0", PARALLELISM.name: str(args.parallelism)}
    with sqlstream.connect(config=config) as s:
        s.execute("""CREATE TABLE src (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
            WITH ('connector' = 'datagen', 'rows-per-second' = '200000', 'fields.k.min' = '1',
                  'fields.k.max' = '1000', 'fields.ts.max-past' = '2 s')""")
        s.execute("CREATE TABLE out (k INT, c BIGINT) WITH ('connector' = 'blackhole')")
        job = s.execute("""INSERT INTO out SELECT k, COUNT(*) FROM
            TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
            GROUP BY k, window_start, window_end""").job
        assert job is not None and s.jobs.metrics_server is not None
        time.sleep(3)
        url = s.jobs.metrics_server.url
        took = []
        body = b""
        for _ in range(args.scrapes):
            start = time.perf_counter()
            body = urllib.request.urlopen(url, timeout=10).read()
            took.append((time.perf_counter() - start) * 1000)
        took.sort()
        print(f"scrapes: {len(took)}, p50 {took[len(took) // 2]:.1f} ms, max {took[-1]:.1f} ms, "
              f"{len(body):,} bytes, {body.count(bytes([10]))} lines")  # fmt: skip
        job.cancel()
        job.wait(10)


if __name__ == "__main__":
    main()
