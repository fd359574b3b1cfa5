"""The Kafka tumble of ``benchmarks/kafka.py`` (exactly-once, 1 s checkpoints) on Ray at
parallelism 1, 2 and 4, against the local runtime at the same parallelism.

    source <(scripts/services up kafka)
    .venv/bin/python benchmarks/on_ray.py --rows 1000000 --parallelism 1,2,4

Ray runs as a local cluster of three nodes (two logical CPUs each, separate raylets and
object stores: ``ray.cluster_utils.Cluster``), so batches cross node boundaries as on a
real cluster but all on this machine's cores. Per run: ``start`` (the statement until
every actor runs; for the local runtime, until its tasks run), ``run`` (from there to the
end of the bounded input), rows/s over ``run``, the last checkpoint's duration, and the
machine's 1-minute load average when the run ended (the machine is shared: compare rows
only at a similar load).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import config, create_topics, ddl, end_offsets, plan, write_rows  # benchmarks/kafka.py

from runtime.launch import create_job


def load(servers: str, rows: int) -> str:
    src = f"bench-ray-src-{uuid.uuid4().hex[:8]}"
    asyncio.run(write_rows(servers, src, rows))
    return src


async def run_once(p: Any, extra: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    job = create_job(p, config=extra)
    t0 = time.perf_counter()
    await job.start()
    started = time.perf_counter()
    await job.wait()
    return started - t0, time.perf_counter() - started, job.metrics()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--parallelism", default="1,2,4")
    args = ap.parse_args()
    servers = os.environ.get("SQLSTREAM_KAFKA_BOOTSTRAP", "localhost:19092")
    import ray
    from ray.cluster_utils import Cluster

    node: dict[str, Any] = {"num_cpus": 2, "object_store_memory": 100 * 1024 * 1024}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(**node)
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    src = load(servers, args.rows)
    offsets = end_offsets(args.rows)
    bounded = f"'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = '{offsets}'"
    print(f"## {args.rows:,} rows, Kafka -> 1 s tumble -> Kafka, exactly-once, 1 s checkpoints")
    print("| target | parallelism | start s | run s | rows/s | last checkpoint ms | load avg |")
    print("|---|---|---|---|---|---|---|")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for par in [int(x) for x in args.parallelism.split(",")]:
                for target in ("local", "ray"):
                    name = f"bench-ray-{target}-{par}-{uuid.uuid4().hex[:6]}"
                    dst = f"{name}-out"
                    asyncio.run(create_topics(servers, dst))
                    cfg = {**config("exactly-once", name, Path(tmp)), "parallelism.default": str(par)}
                    p = plan(ddl(servers, src, dst, "exactly-once", name, bounded), cfg)
                    extra = {"execution.target": target, "ray.address": cluster.address}
                    start_s, run_s, m = asyncio.run(run_once(p, extra))
                    last = ((m.get("checkpoints") or {}).get("last") or {}).get("duration_ms")
                    ck = f"{last:,.0f}" if last is not None else "-"
                    rate = args.rows / run_s
                    la = os.getloadavg()[0]
                    row = f"| {target} | {par} | {start_s:.1f} | {run_s:.1f} | {rate:,.0f} | {ck} "
                    row += f"| {la:.1f} |"
                    print(row, flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
