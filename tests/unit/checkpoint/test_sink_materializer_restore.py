"""SinkUpsertMaterializer's state (every live row of each sink key, in arrival order) is in
every checkpoint: restored mid-stream, at the same or another parallelism, the operator
sends after the restore exactly what an uninterrupted one sends (a retraction of a row kept
before the restore finds it, and the row sent then is the one that arrived last)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.checkpoint.keyed_restore import sent_after_restore
from tests.unit.runtime.test_sink_materializer import Change, batch, changelogs, feed, materializer_op


@settings(max_examples=25, deadline=None)
@given(changelogs(), st.integers(0, 50), st.sampled_from([1, 2]))
def test_a_restored_materializer_sends_what_an_uninterrupted_one_sends(
    tmp_path_factory: Any, rows: list[Change], cut: int, parallelism: int
) -> None:
    first, then = rows[:cut], rows[cut:]
    path: Path = tmp_path_factory.mktemp("chk") / "s.duckdb"
    expected, got = sent_after_restore(materializer_op, feed, batch, first, then, parallelism, path)
    # a key's changes keep their order; keys of different subtasks interleave differently
    assert sorted(got, key=lambda c: c[1]) == sorted(expected, key=lambda c: c[1])
