"""The checkpoint coordinator and storage: completion is atomic and all-or-nothing."""

import asyncio
import json
from pathlib import Path

import pytest

from runtime.checkpoint.coordinator import Ack, CheckpointConfig, CheckpointCoordinator
from runtime.checkpoint.storage import METADATA, CheckpointError, CheckpointStorage, load

EXPECTED = {(1, 0), (1, 1), (2, 0), (3, 0)}


def make(tmp_path: Path, **config: object) -> tuple[CheckpointCoordinator, list[tuple[int, bool]], list[int]]:
    injected: list[tuple[int, bool]] = []
    committed: list[int] = []

    async def inject(n: int, savepoint: bool, folder: Path) -> None:
        injected.append((n, savepoint))

    async def commit(n: int, metadata: object) -> None:
        committed.append(n)

    cfg = CheckpointConfig(interval_ms=None, directory=str(tmp_path), **config)  # type: ignore[arg-type]
    storage = CheckpointStorage(tmp_path, "job")
    coordinator = CheckpointCoordinator(
        cfg, storage, EXPECTED, inject, commit, "plan-abc", {1: 2, 2: 1, 3: 1}
    )
    return coordinator, injected, committed


async def ack_all(c: CheckpointCoordinator, n: int, skip: set[tuple[int, int]] = frozenset()) -> None:  # type: ignore[assignment]
    for node, subtask in sorted(EXPECTED - skip):
        kind = {1: "source", 2: "operator", 3: "sink"}[node]
        await c.acknowledge(n, Ack(node, subtask, kind, state={"n": n, "subtask": subtask}, bytes=10))


def test_checkpoint_completes_only_when_every_subtask_acknowledged(tmp_path: Path) -> None:
    async def scenario() -> None:
        c, injected, committed = make(tmp_path)
        done = await c.trigger()
        assert injected == [(1, False)]
        await ack_all(c, 1, skip={(3, 0)})
        folder = tmp_path / "job" / "chk-1"
        assert not (folder / METADATA).exists() and committed == []  # the sink has not acked
        await c.acknowledge(1, Ack(3, 0, "sink", state={"txn": "t-1"}))
        meta = await done
        assert committed == [1]
        assert meta.sinks == {"3": {"0": {"txn": "t-1"}}}
        assert meta.sources["1"]["1"] == {"n": 1, "subtask": 1}
        loaded, path = load(folder)
        assert loaded.checkpoint_id == 1 and loaded.plan_fingerprint == "plan-abc" and path == folder

    asyncio.run(scenario())


def test_timeout_aborts_discards_and_the_job_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        c, _, committed = make(tmp_path, timeout_ms=50, tolerable_failed=1)
        done = await c.trigger()
        await ack_all(c, 1, skip={(2, 0)})
        with pytest.raises(CheckpointError, match="timed out"):
            await done
        assert not (tmp_path / "job" / "chk-1").exists()
        assert committed == [] and c.failure is None  # one failure is tolerated
        done2 = await c.trigger()
        await ack_all(c, 2, skip={(2, 0)})
        with pytest.raises(CheckpointError):
            await done2
        assert c.failure is not None and "tolerable-failed-checkpoints" in str(c.failure)

    asyncio.run(scenario())


def test_late_acknowledgement_of_an_aborted_checkpoint_is_ignored(tmp_path: Path) -> None:
    async def scenario() -> None:
        c, _, committed = make(tmp_path, tolerable_failed=5)
        await c.trigger()
        c.decline(1, "snapshot failed")
        await ack_all(c, 1)
        assert committed == [] and c.latest is None

    asyncio.run(scenario())


def test_retention_keeps_the_newest_and_ids_continue_after_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        c, _, _ = make(tmp_path, num_retained=2)
        for n in (1, 2, 3):
            await c.trigger()
            await ack_all(c, n)
        (tmp_path / "job" / "chk-0").mkdir()  # garbage of a crashed, never completed checkpoint
        await c.trigger()
        await ack_all(c, 4)
        names = sorted(p.name for p in (tmp_path / "job").iterdir())
        assert names == ["chk-3", "chk-4"]
        again, _, _ = make(tmp_path)
        assert again.next_id == 5
        assert CheckpointStorage(tmp_path, "job").latest() == str(tmp_path / "job" / "chk-4")

    asyncio.run(scenario())


def test_metadata_is_never_half_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        c, _, _ = make(tmp_path)
        await c.trigger()
        await ack_all(c, 1)
        folder = tmp_path / "job" / "chk-1"
        assert [p.name for p in folder.iterdir()] == [METADATA]  # no temporary file left over
        json.loads((folder / METADATA).read_text())

    asyncio.run(scenario())


def test_incomplete_checkpoint_cannot_be_loaded(tmp_path: Path) -> None:
    (tmp_path / "chk-9").mkdir()
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        load(tmp_path / "chk-9")


def test_config_from_flink_keys() -> None:
    cfg = CheckpointConfig.from_config(
        {
            "execution.checkpointing.interval": "2 s",
            "execution.checkpointing.mode": "AT_LEAST_ONCE",
            "execution.checkpointing.timeout": "1 min",
            "state.checkpoints.num-retained": "3",
        }
    )
    assert (cfg.interval_ms, cfg.exactly_once, cfg.timeout_ms, cfg.num_retained) == (2000, False, 60000, 3)
    assert CheckpointConfig.from_config({}).interval_ms is None
