"""ChangelogNormalize's state (the last row of each key) is in every checkpoint: restored
mid-stream, at the same or another parallelism, the operator sends after the restore
exactly what an uninterrupted one sends: an update of a key kept before is -U of the kept
row then +U, its tombstone a -D of the whole row, and a tombstone of a key it never had
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.checkpoint.keyed_restore import sent_after_restore
from tests.unit.runtime.test_changelog_normalize import Change, batch, changes, feed, normalize_op


@settings(max_examples=25, deadline=None)
@given(changes, changes, st.sampled_from([1, 2]))
def test_a_restored_normalize_sends_what_an_uninterrupted_one_sends(
    tmp_path_factory: Any, first: list[Change], then: list[Change], parallelism: int
) -> None:
    path: Path = tmp_path_factory.mktemp("chk") / "s.duckdb"
    expected, got = sent_after_restore(normalize_op, feed, batch, first, then, parallelism, path)
    # a key's changes keep their order; keys of different subtasks interleave differently
    assert sorted(got, key=lambda c: c[1]) == sorted(expected, key=lambda c: c[1])
