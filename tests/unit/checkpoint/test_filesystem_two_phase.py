"""The filesystem sink's two-phase commit: hidden until the checkpoint completes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pyarrow as pa
import pytest

from catalog.connectors import Guarantee
from catalog.errors import SqlStreamError
from planner.physical import Field, SinkSpec
from runtime.connectors.base import SubtaskContext
from runtime.connectors.filesystem.sink import FileSystemSink

COLS = (Field("x", "INT"),)


def sink(
    path: Path, guarantee: Guarantee = Guarantee.EXACTLY_ONCE, subtask: int = 0, p: int = 1
) -> FileSystemSink:
    spec = SinkSpec("t", "filesystem", {"connector": "filesystem", "path": str(path), "format": "json"}, COLS,
                    guarantee=guarantee)  # fmt: skip
    return FileSystemSink(spec, SubtaskContext("job", 1, "Sink", subtask, p))


def rows(n: int) -> pa.RecordBatch:
    return pa.record_batch({"x": pa.array(range(n), pa.int32())})


def visible(path: Path) -> list[str]:
    return sorted(n for n in os.listdir(path) if not n.startswith("."))


def hidden(path: Path) -> list[str]:
    return sorted(n for n in os.listdir(path) if n.startswith("."))


def test_parts_stay_hidden_until_their_checkpoint_commits(tmp_path: Path) -> None:
    async def go() -> None:
        w = sink(tmp_path)
        await w.open()
        await w.recover([])
        await w.write(rows(3))
        handle = await w.pre_commit(1)
        await w.write(rows(2))  # the next transaction
        await w.flush()  # end of input publishes nothing in exactly-once mode
        assert visible(tmp_path) == [] and len(hidden(tmp_path)) == 2
        await w.commit(1, handle)
        await w.commit(1, handle)  # idempotent
        assert len(visible(tmp_path)) == 1
        assert (tmp_path / visible(tmp_path)[0]).read_text().count("\n") == 3
        await w.close()

    asyncio.run(go())


def test_recovery_commits_recorded_parts_and_deletes_the_rest(tmp_path: Path) -> None:
    async def go() -> None:
        crashed = sink(tmp_path)
        await crashed.open()
        await crashed.write(rows(3))
        handle = await crashed.pre_commit(5)  # checkpoint 5 completed, commit never ran
        await crashed.write(rows(4))
        await crashed.pre_commit(6)  # checkpoint 6 never completed
        await crashed.write(rows(1))  # open part
        other = sink(tmp_path, subtask=1, p=2)  # another subtask's leftovers are not ours
        await other.open()
        await other.write(rows(1))
        await other.close()
        fresh = sink(tmp_path, subtask=0, p=2)
        await fresh.open()
        await fresh.recover([(5, handle)])
        assert len(visible(tmp_path)) == 1
        assert [n for n in hidden(tmp_path) if "-0-" in n] == []
        assert len([n for n in hidden(tmp_path) if "-1-" in n]) == 1

    asyncio.run(go())


def test_a_recorded_part_that_vanished_is_data_loss(tmp_path: Path) -> None:
    async def go() -> None:
        w = sink(tmp_path)
        await w.open()
        await w.write(rows(3))
        handle = await w.pre_commit(1)
        for name in hidden(tmp_path):
            os.remove(tmp_path / name)
        with pytest.raises(SqlStreamError, match="lost"):
            await w.commit(1, handle)

    asyncio.run(go())


def test_at_least_once_publishes_at_every_barrier(tmp_path: Path) -> None:
    async def go() -> None:
        w = sink(tmp_path, Guarantee.AT_LEAST_ONCE)
        await w.open()
        await w.write(rows(3))
        assert await w.pre_commit(1) is None
        assert len(visible(tmp_path)) == 1

    asyncio.run(go())
