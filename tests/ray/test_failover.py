"""A lost node fails a Ray job over, exactly once: Kafka -> tumbling window -> Kafka with
``'sink.delivery-guarantee' = 'exactly-once'`` at parallelism 2, checkpoints to a folder
every node shares. While it runs, a worker node of the cluster is removed (its actors die
with it), and later one subtask actor of the restarted job is killed; each time the job
fails over to its newest complete checkpoint on the nodes left, creating again only the
actors that died (the others reset in place). A ``read_committed``
consumer of the output topic then sees each window of DuckDB's batch answer exactly once.

The input and the job are those of ``tests/crash/test_kafka_exactly_once.py``; the
driver is this test process, so the restart strategy (``runtime/restart.py``) runs here.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster

import sqlstream
from sqlstream.jobs import JobHandle
from tests.crash.test_kafka_exactly_once import (
    Feeder,
    bootstrap,
    create_topics,
    expected,
    read_committed,
    script,
    window_row,
)
from tests.ray.conftest import NODE

pytestmark = [pytest.mark.ray, pytest.mark.kafka]

ROWS = 12000


def wait_for(what: str, condition: Callable[[], bool], handle: JobHandle, limit_s: float = 240) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if handle.done:
            raise AssertionError(f"the job ended ({handle.status}: {handle.error}) before {what}")
        assert time.monotonic() < deadline, f"no {what} after {limit_s} s: {handle.metrics()}"
        time.sleep(0.2)


def completed(handle: JobHandle) -> int:
    return int((handle.metrics().get("checkpoints") or {}).get("completed", 0))


def test_lost_node_and_killed_actor_fail_over_exactly_once(
    tmp_path: Path, ray_cluster: Cluster, ray_address: str
) -> None:
    servers = bootstrap()
    tag = uuid.uuid4().hex[:8]
    src, dst, name = f"ray-src-{tag}", f"ray-dst-{tag}", f"ray-failover-{tag}"
    asyncio.run(create_topics(servers, src, dst))
    # a third of the input, then the rest once the job has failed over twice
    feeder = Feeder(servers, src, ROWS, rate=3000, hold_at=ROWS // 3).start()
    sql = script(tmp_path, servers, src, dst, "EXACTLY_ONCE", name, ROWS).read_text()
    config = {
        "execution.target": "ray",
        "ray.address": ray_address,
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": "4",
        "restart-strategy.fixed-delay.delay": "500 ms",
    }
    rng = random.Random(16)
    with sqlstream.connect(config=config) as session:
        handle = session.execute(sql).job
        assert handle is not None
        wait_for("first checkpoint", lambda: completed(handle) >= 1, handle)

        # a node goes: every actor on it dies
        victim = rng.choice(ray_cluster.worker_nodes and list(ray_cluster.worker_nodes))
        ray_cluster.remove_node(victim, allow_graceful=False)
        wait_for("restart after the node loss", lambda: len(handle.restarts) >= 1, handle)
        wait_for("a checkpoint after the restart", lambda: completed(handle) >= 1, handle)
        ray_cluster.add_node(**NODE)  # the cluster is shared by the other tests

        # one actor of the new attempt is killed (a crashed worker process)
        attempt = handle.job
        actors: dict[Any, Any] = dict(attempt._actors)  # type: ignore[attr-defined]
        killed = rng.choice(sorted(actors))
        ray.kill(actors[killed], no_restart=True)
        wait_for("restart after the killed actor", lambda: len(handle.restarts) >= 2, handle)
        def next_running() -> bool:
            return handle.job is not attempt and handle.job.status == "RUNNING"

        wait_for("the next attempt running", next_running, handle)
        # only the killed actor's process was started again: the others were reset in place
        now: dict[Any, Any] = handle.job._actors  # type: ignore[attr-defined]
        assert {k for k in actors if now[k]._actor_id != actors[k]._actor_id} == {killed}

        feeder.release()
        feeder.join()
        assert handle.wait(timeout=300), f"the job did not finish: {handle.metrics()}"
        assert handle.error is None and handle.status == "FINISHED", (
            handle._future, handle.status, handle.error, handle.restarts
        )

        # the last attempt's metrics, fetched from its actors (SHOW JOBS and the dashboard)
        metrics = handle.metrics()
        assert metrics["target"] == "ray" and metrics["rows_written"] > 0, metrics
        assert [op["parallelism"] for op in metrics["operators"] if op["kind"] == "sink"] == [2]

    got = [window_row(r.value) for r in asyncio.run(read_committed(servers, dst))]
    assert sorted(got) == sorted(expected(ROWS)), (
        f"{len(got)} rows read, {len(set(got))} distinct; {len(expected(ROWS))} expected"
    )
