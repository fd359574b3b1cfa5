"""SinkUpsertMaterializer's state (every live row of each sink key, in arrival order) is in
every checkpoint: restored mid-stream, at the same or another parallelism, the operator
sends after the restore exactly what an uninterrupted one sends (a retraction of a row kept
before the restore finds it, and the row sent then is the one that arrived last)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.checkpoint.control import Restored, key_filter
from runtime.partition import partition
from runtime.state.duckdb_state import write_snapshot
from tests.unit.runtime.test_sink_materializer import Change, batch, changelogs, feed, materializer_op


@settings(max_examples=25, deadline=None)
@given(changelogs(), st.integers(0, 50), st.sampled_from([1, 2]))
def test_a_restored_materializer_sends_what_an_uninterrupted_one_sends(
    tmp_path_factory: Any, rows: list[Change], cut: int, parallelism: int
) -> None:
    first, then = rows[:cut], rows[cut:]
    path: Path = tmp_path_factory.mktemp("chk") / "s.duckdb"
    whole = materializer_op()
    asyncio.run(whole.open())
    if first:
        feed(whole, first)
    saved = asyncio.run(whole.snapshot(1))
    write_snapshot(whole.state.snapshot_cursor(), list(whole.state.tables), path)
    expected = feed(whole, then) if then else []
    asyncio.run(whole.close())
    # after the restore each subtask gets its keys' rows, as the hash exchange sends them
    owner = partition([batch(then).column("k")], parallelism) if then else []
    got: list[tuple[Any, ...]] = []
    for subtask in range(parallelism):
        resumed = materializer_op()
        where = key_filter(resumed.node, parallelism, subtask)
        restored = Restored(1, states=[saved.state], files=[str(path)], key_filter=where)
        asyncio.run(resumed.restore(restored))
        asyncio.run(resumed.open())
        mine = [row for row, o in zip(then, owner) if o == subtask]
        got += feed(resumed, mine) if mine else []
        asyncio.run(resumed.close())
    # a key's changes keep their order; keys of different subtasks interleave differently
    assert sorted(got, key=lambda c: c[1]) == sorted(expected, key=lambda c: c[1])
