"""ChangelogNormalize's state (the last row of each key) is in every checkpoint: restored
mid-stream, at the same or another parallelism, the operator sends after the restore
exactly what an uninterrupted one sends: an update of a key kept before is -U of the kept
row then +U, its tombstone a -D of the whole row, and a tombstone of a key it never had
nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.checkpoint.control import Restored, key_filter
from runtime.partition import partition
from runtime.state.duckdb_state import write_snapshot
from tests.unit.runtime.test_changelog_normalize import Change, batch, changes, feed, normalize_op


@settings(max_examples=25, deadline=None)
@given(changes, changes, st.sampled_from([1, 2]))
def test_a_restored_normalize_sends_what_an_uninterrupted_one_sends(
    tmp_path_factory: Any, first: list[Change], then: list[Change], parallelism: int
) -> None:
    path: Path = tmp_path_factory.mktemp("chk") / "s.duckdb"
    whole = normalize_op()
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
        resumed = normalize_op()
        where = key_filter(resumed.node, parallelism, subtask)
        restored = Restored(1, states=[saved.state], files=[str(path)], key_filter=where)
        asyncio.run(resumed.restore(restored))
        asyncio.run(resumed.open())
        mine = [row for row, o in zip(then, owner) if o == subtask]
        got += feed(resumed, mine) if mine else []
        asyncio.run(resumed.close())
    # a key's changes keep their order; keys of different subtasks interleave differently
    assert sorted(got, key=lambda c: c[1]) == sorted(expected, key=lambda c: c[1])
