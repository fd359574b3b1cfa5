"""Checkpoints in an S3-compatible object store (SeaweedFS from ``scripts/services up s3``):
``state.checkpoints.dir`` = ``s3://bucket/path`` with Flink's ``s3.*`` keys.

A checkpoint there is complete only once its ``_metadata`` object is written, after every
state file: a folder of state files without one is never restored from. A Kafka ->
window -> Kafka exactly-once job checkpointing there is killed at the protocol's crash
points and restarted from what the store holds (no local folder exists) and its output,
read with read_committed, is DuckDB's batch answer exactly once. A store that cannot be
used fails the job before it starts, saying which setting to check.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from runtime.checkpoint.coordinator import Ack, CheckpointConfig, CheckpointCoordinator
from runtime.checkpoint.storage import METADATA, CheckpointError, load_from
from tests.crash.harness import kill_at_each, missed
from tests.crash.test_kafka_exactly_once import (
    Feeder,
    bootstrap,
    create_topics,
    expected,
    read_committed,
    script,
    window_row,
)
from tests.integration.s3 import checkpoints_on_s3, s3_options, s3_root, s3_sets, s3_store

pytestmark = pytest.mark.s3

SUBTASKS = {(1, 0), (2, 0)}


def test_a_checkpoint_in_s3_is_complete_only_with_its_metadata_written_last() -> None:
    root = s3_root()
    store = s3_store(root)
    config = CheckpointConfig.from_config({"state.checkpoints.dir": root, **s3_options()})
    storage = config.storage("billing")
    committed: list[int] = []

    async def inject(n: int, savepoint: bool, folder: str) -> None:
        pass

    async def commit(n: int, metadata: object) -> None:
        committed.append(n)

    async def scenario() -> None:
        c = CheckpointCoordinator(config, storage, SUBTASKS, inject, commit, "plan-s3", {1: 1, 2: 1})
        for n in (1, 2):
            done = await c.trigger()
            folder = storage.checkpoint_dir(n)
            # the operator's state file is uploaded; the checkpoint is not complete yet
            local = store.staging(storage.state_file(folder, 2, 0))
            local.write_bytes(b"state of checkpoint %d" % n)
            store.publish(local, storage.state_file(folder, 2, 0))
            await c.acknowledge(n, Ack(1, 0, "source", state={"offset": n * 10}))
            assert not store.is_file(store.join(folder, METADATA)) and storage.latest() == (
                storage.checkpoint_dir(1) if n == 2 else None
            )
            await c.acknowledge(n, Ack(2, 0, "operator", state={"file": "op-2-0.duckdb"}))
            await done
        # a crash left checkpoint 3 with a state file and no metadata: garbage, not restored
        crashed = storage.prepare(3)
        local = store.staging(storage.state_file(crashed, 2, 0))
        local.write_bytes(b"half a checkpoint")
        store.publish(local, storage.state_file(crashed, 2, 0))
        assert storage.latest() == storage.checkpoint_dir(2)
        with pytest.raises(CheckpointError, match="not a complete checkpoint"):
            load_from(store, crashed)

    asyncio.run(scenario())
    assert committed == [1, 2]
    meta, folder = load_from(store, storage.latest() or "")
    assert (meta.checkpoint_id, meta.sources) == (2, {"1": {"0": {"offset": 20}}})
    with store.reading(storage.state_file(folder, 2, 0)) as path:
        assert path.read_bytes() == b"state of checkpoint 2"
    # one checkpoint retained (state.checkpoints.num-retained = 1): chk-1 went, chk-3 stays
    # until a newer one completes; ids go on after the newest folder
    assert sorted(store.children(storage.job_dir)) == ["chk-2", "chk-3"]
    assert storage.next_id() == 4
    storage.discard_checkpoints()
    assert store.children(storage.job_dir) == ["_finished"]
    store.delete_tree(root)


def test_a_store_that_cannot_be_used_fails_the_job_before_it_starts(tmp_path: Path) -> None:
    root = s3_root()
    sql = f"""
SET 'execution.checkpointing.interval' = '1 s';
{s3_sets(root)}
SET 's3.secret-key' = 'not-the-secret';
CREATE TABLE g (v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE o (v BIGINT) WITH ('connector' = 'filesystem', 'path' = '{tmp_path / "out"}', 'format' = 'json');
"""
    with sqlstream.connect() as s:
        s.execute(sql)
        with pytest.raises(SqlStreamError) as caught:
            s.execute("INSERT INTO o SELECT v FROM g")
        rows = s.execute("SET").rows
    message = f"{caught.value.message} {caught.value.hint}"
    assert root in message and "SIGNATURE" in message and "s3.secret-key" in message, message
    assert dict(rows)["s3.secret-key"] == "******"  # SET lists it without its value
    assert not (tmp_path / "out").exists()


def test_kafka_job_killed_at_crash_points_restores_from_s3_exactly_once(tmp_path: Path) -> None:
    servers = bootstrap()
    tag = uuid.uuid4().hex[:8]
    src, dst, name = f"s3-src-{tag}", f"s3-dst-{tag}", f"s3-ckpt-{tag}"
    rows = 12000
    asyncio.run(create_topics(servers, src, dst))
    feeder = Feeder(servers, src, rows, rate=3000).start()
    root = s3_root()
    store = s3_store(root)
    path = script(tmp_path, servers, src, dst, "EXACTLY_ONCE", name, rows)
    path.write_text(checkpoints_on_s3(path.read_text(), tmp_path / "checkpoints", root))
    finished = store.join(root, name, "_finished")
    got: list[tuple[int, int, int, int]] = []

    def read_sink() -> list[object]:
        got.extend(window_row(r.value) for r in asyncio.run(read_committed(servers, dst)))
        return list(got)

    points = ("async_snapshot", "pre_commit", "before_commit", "timer")
    try:
        report = kill_at_each(
            path, read_sink, expected(rows), points, lambda: store.is_file(finished), seed=16
        )
    finally:
        feeder.join()
    assert not missed(report) and report.kills == len(points), report.summary()
    assert report.exact, report.summary()
    # every restore read the store: there never was a local checkpoint folder
    assert not (tmp_path / "checkpoints").exists()
    assert not list(Path("checkpoints").glob(f"{name}*"))
    # a finished job keeps no checkpoint, only its marker
    assert [n for n in store.children(store.join(root, name)) if n.startswith("chk-")] == []
    store.delete_tree(root)
