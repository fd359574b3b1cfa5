"""Time from a lost Ray node to output again: the Kafka tumble of ``benchmarks/kafka.py``
(exactly-once, 1 s checkpoints, parallelism 2) on a local Ray cluster of three nodes, fed
at a steady rate with rows stamped by the wall clock, loses a worker node (every actor on
it dies) once the output flows; the restart strategy brings the job back from its newest
complete checkpoint on the nodes left. Repeated ``--losses`` times (the node is added back
after each), then the input ends and the job finishes.

    source <(scripts/services up kafka)
    .venv/bin/python benchmarks/ray_failover.py --rate 2000 --losses 2

Per loss, seconds after ``remove_node``: ``failed`` (the job noticed: its attempt failed),
``restarted`` (the new attempt is deployed and its actors run), ``output`` (the first record
a ``read_committed`` consumer of the output topic sees after the restart: the new attempt's
first committed checkpoint). Checkpoints go to a folder (the cluster is one machine).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import Arrivals, config, create_topics, ddl, end_offsets, feed, plan  # benchmarks/kafka.py

from runtime.job import Job, JobStatus
from runtime.launch import create_job
from runtime.restart import RestartStrategy, run_with_restarts

TXN_TIMEOUT = "'properties.transaction.timeout.ms' = '600000'"
NODE: dict[str, Any] = {"num_cpus": 2, "object_store_memory": 80 * 1024 * 1024}


async def wait_until(what: str, condition: Any, limit_s: float = 600) -> float:
    """Poll ``condition`` every 20 ms; the wall clock (time.time) when it held."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {limit_s:g} s")
        await asyncio.sleep(0.02)
    return time.time()


def busy_worker(cluster: Any) -> Any:
    """A worker node that hosts actors of the job (a node added back after a loss may
    host none: losing it would not touch the job)."""
    import ray

    alive = ray._private.state.actors(actor_state_name="ALIVE").values()
    hosts = {a["Address"]["NodeID"] for a in alive}
    return next(n for n in cluster.worker_nodes if n.node_id in hosts)


async def lose_a_node(
    cluster: Any, current: Job, attempts: list[tuple[Job, float]], arrivals: Arrivals
) -> tuple[Job, tuple[float, float, float]]:
    """Remove a worker node once the output flows; the new attempt and the figures."""
    seen = len(arrivals.seen)
    await wait_until("output", lambda: len(arrivals.seen) > seen + 10)
    seen = len(arrivals.seen)
    victim = busy_worker(cluster)
    lost = time.time()
    await asyncio.to_thread(cluster.remove_node, victim, False)
    before = len(attempts)
    failed = await wait_until("failure", lambda: current.status == JobStatus.FAILED)
    await wait_until("restart", lambda: len(attempts) > before)
    new, made = attempts[-1]
    running = await wait_until("running", lambda: new.status == JobStatus.RUNNING)
    output = await wait_until("output", lambda: any(a / 1000 > made for _, a in arrivals.seen[seen:]))
    return new, (failed - lost, running - lost, output - lost)


async def measure(cluster: Any, p: Any, losses: int, arrivals: Arrivals) -> list[tuple[float, float, float]]:
    current = create_job(p, preflight=True)
    attempts: list[tuple[Job, float]] = []  # each new attempt and when the strategy made it

    def restarted(new: Job, error: BaseException, attempt: int) -> None:
        attempts.append((new, time.time()))

    strategy = RestartStrategy(attempts=losses + 2, delay_s=0.5)
    running = asyncio.ensure_future(run_with_restarts(current, strategy, restarted))
    out = []
    for i in range(losses):
        current, figures = await lose_a_node(cluster, current, attempts, arrivals)
        out.append(figures)
        print(f"| {i + 1} | " + " | ".join(f"{f:.1f}" for f in figures) + " |", flush=True)
        cluster.add_node(**NODE)  # on this thread: Ray's node start sets a signal handler
    await running
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=2000, help="input rows per second")
    ap.add_argument("--losses", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0, help="input length (default: 150 s per loss)")
    args = ap.parse_args()
    servers = os.environ.get("SQLSTREAM_KAFKA_BOOTSTRAP", "localhost:19092")
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(**NODE)
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    tag = uuid.uuid4().hex[:8]
    src, dst, name = f"bench-fo-src-{tag}", f"bench-fo-dst-{tag}", f"bench-fo-{tag}"
    rows = int(args.rate * (args.seconds or 150 * args.losses))
    asyncio.run(create_topics(servers, src, dst))
    offsets = end_offsets(rows)
    bounded = f"'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = '{offsets}'"
    print(f"## lost node -> output again: {args.rate:,} rows/s, 1 s tumble, exactly-once, parallelism 2")
    print("| loss | failed s | restarted s | output again s |")
    print("|---|---|---|---|")
    arrivals = Arrivals(servers, dst)
    arrivals.thread.start()
    fed: dict[str, int] = {}
    feeding = feed(servers, src, rows, args.rate, fed)
    feeder = threading.Thread(target=asyncio.run, args=(feeding,), daemon=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = {
                **config("exactly-once", name, Path(tmp)),
                "execution.target": "ray",
                "ray.address": cluster.address,
            }
            # a Kafka transaction must outlive the restart (over a minute on a loaded machine)
            text = ddl(servers, src, dst, "exactly-once", name, bounded)
            text = text.replace("'properties.transaction.timeout.ms' = '60000'", TXN_TIMEOUT)
            p = plan(text, cfg)
            feeder.start()
            asyncio.run(measure(cluster, p, args.losses, arrivals))
    finally:
        arrivals.stop.set()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
