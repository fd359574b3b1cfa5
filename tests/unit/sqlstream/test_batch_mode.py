"""``SET 'execution.runtime-mode' = 'batch'``: a bounded job gives its final table, as
Flink's batch mode does, so an updating query can go into an append-only sink, which holds
each final row once; the same INSERT on a stream is refused for that sink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError


def _session(tmp_path: Path, mode: str) -> sqlstream.Session:
    s = sqlstream.connect(config={"parallelism.default": "2"})
    s.execute(f"SET 'execution.runtime-mode' = '{mode}'")
    s.execute("""CREATE TABLE nums (v BIGINT, k AS v % 3) WITH ('connector' = 'datagen',
        'number-of-rows' = '30', 'fields.v.kind' = 'sequence',
        'fields.v.start' = '1', 'fields.v.end' = '30')""")
    s.execute(
        f"CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'filesystem', "
        f"'path' = '{tmp_path / 'out'}', 'format' = 'json')"
    )
    return s


def test_an_updating_query_writes_only_its_final_rows_into_an_append_only_sink(tmp_path: Path) -> None:
    s = _session(tmp_path, "batch")
    try:
        job = s.execute("INSERT INTO out SELECT k, COUNT(*) FROM nums GROUP BY k").job
        assert job is not None
        job.wait(60)
        assert job.error is None, job.error
    finally:
        s.close()
    rows = [
        json.loads(line) for f in sorted((tmp_path / "out").iterdir()) for line in f.read_text().splitlines()
    ]
    assert sorted((r["k"], r["n"]) for r in rows) == [(0, 10), (1, 10), (2, 10)]


def test_the_same_insert_on_a_stream_is_refused_for_that_sink(tmp_path: Path) -> None:
    s = _session(tmp_path, "streaming")
    try:
        with pytest.raises(SqlStreamError, match="doesn't support consuming update changes"):
            s.execute("INSERT INTO out SELECT k, COUNT(*) FROM nums GROUP BY k")
    finally:
        s.close()
