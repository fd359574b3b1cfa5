"""Ray actors killed at the checkpoint protocol's crash points, with checkpoints in an
S3-compatible object store and no folder the nodes share.

Kafka -> tumbling window -> Kafka exactly-once at parallelism 2 on the 3-node cluster,
``state.checkpoints.dir`` = ``s3://...`` (SeaweedFS). Each crash point of
``runtime/faults.py`` kills the first actor process that reaches it, once: the window's
actor while it writes its state (``async_snapshot``), a sink's once it pre-committed
(``pre_commit``), the coordinator's once a checkpoint is complete and its sinks not yet
told (``before_commit``), a sink's after its commit (``after_commit``). Each time the job
fails over (two kills may fall into one attempt) to its newest complete checkpoint, read
back from the object store by whichever node its actors land on; a ``read_committed``
consumer of the output topic then sees each window of DuckDB's batch answer exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

import sqlstream
from tests.crash.test_kafka_exactly_once import (
    Feeder,
    bootstrap,
    create_topics,
    expected,
    read_committed,
    script,
    window_row,
)
from tests.integration.s3 import checkpoints_on_s3, s3_root, s3_store

pytestmark = [pytest.mark.ray, pytest.mark.kafka, pytest.mark.s3]

ROWS = 8000
POINTS = ("async_snapshot", "pre_commit", "before_commit", "after_commit")


@pytest.mark.timeout(900)  # up to four restarts, each starting the killed actors' processes again
def test_actors_killed_at_crash_points_restore_from_s3_exactly_once(
    tmp_path: Path, ray_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = bootstrap()
    tag = uuid.uuid4().hex[:8]
    src, dst, name = f"ray-crash-src-{tag}", f"ray-crash-dst-{tag}", f"ray-crash-{tag}"
    asyncio.run(create_topics(servers, src, dst))
    root = s3_root()
    sql = script(tmp_path, servers, src, dst, "EXACTLY_ONCE", name, ROWS).read_text()
    sql = checkpoints_on_s3(sql, tmp_path / "checkpoints", root)
    crashed = tmp_path / "crashed"  # a file per crash point, made by the process it killed
    crashed.mkdir()
    monkeypatch.setenv("SQLSTREAM_CRASH_AT", ",".join(f"{p}:1.0" for p in POINTS))
    monkeypatch.setenv("SQLSTREAM_CRASH_ONCE", str(crashed))
    config = {
        "execution.target": "ray",
        "ray.address": ray_address,
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": str(len(POINTS) + 2),
        "restart-strategy.fixed-delay.delay": "500 ms",
    }
    feeder = Feeder(servers, src, ROWS, rate=2000).start()
    with sqlstream.connect(config=config) as session:
        handle = session.execute(sql).job
        assert handle is not None
        feeder.join()
        assert handle.wait(timeout=500), f"the job did not finish: {handle.metrics()} {handle.restarts}"
        assert handle.error is None and handle.status == "FINISHED", (handle.error, handle.restarts)
        restarts = list(handle.restarts)

    # every point killed an actor; two kills may land in one attempt before it is torn down
    assert sorted(p.name for p in crashed.iterdir()) == sorted(POINTS)
    assert 1 <= len(restarts) <= len(POINTS) and all("Ray actor died" in r for r in restarts), restarts
    got = [window_row(r.value) for r in asyncio.run(read_committed(servers, dst))]
    assert sorted(got) == sorted(expected(ROWS)), (
        f"{len(got)} rows read, {len(set(got))} distinct; {len(expected(ROWS))} expected"
    )
    assert not (tmp_path / "checkpoints").exists()  # the object store held every checkpoint
    store = s3_store(root)
    assert store.is_file(store.join(root, name, "_finished"))
    store.delete_tree(root)
