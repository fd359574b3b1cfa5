"""A window aggregation of GROUPING SETS stopped with a savepoint and resumed at another
parallelism: the grouping sets' partial aggregates (keyed by the keys and ``$e``) are split
by key on restore, and the exactly-once file sink ends holding DuckDB's answer, each
(window, set, key) once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

import sqlstream
from catalog.errors import SqlStreamError

ROWS = 600


def ddl(out: Path, rate: int | None) -> str:
    limit = f", 'rows-per-second' = '{rate}'" if rate else ""
    return f"""
CREATE TABLE src (v BIGINT, k AS v % 3, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'fields.v.kind' = 'sequence', 'fields.v.start' = '1',
  'fields.v.end' = '{ROWS}', 'scan.parallelism' = '1'{limit});
CREATE TABLE out (ws TIMESTAMP(3), k BIGINT, c BIGINT, s BIGINT, g BIGINT) WITH ('connector' = 'filesystem',
  'path' = '{out}', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once');
"""


INSERT = (
    "INSERT INTO out SELECT window_start, k, COUNT(*), SUM(v), GROUPING(k) "
    "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
    "GROUP BY window_start, window_end, ROLLUP (k)"
)


def config(tmp: Path, parallelism: int, **extra: str) -> dict[str, str]:
    return {
        "execution.checkpointing.interval": "100 ms",
        "state.checkpoints.dir": str(tmp / "checkpoints"),
        "parallelism.default": str(parallelism),
        "sqlstream.checkpoint.resume": "none",
        **extra,
    }


@pytest.mark.parametrize(("before", "after"), [(1, 2), (2, 1)])
def test_grouping_sets_resume_from_a_savepoint_at_another_parallelism(
    tmp_path: Path, before: int, after: int
) -> None:
    out = tmp_path / "out"
    with sqlstream.connect(config=config(tmp_path, before)) as s:
        s.execute_script(ddl(out, 150))
        handle = s.execute(INSERT).job
        assert handle is not None
        deadline = time.monotonic() + 30
        while handle.metrics().get("checkpoints", {}).get("completed", 0) < 1:
            assert time.monotonic() < deadline and not handle.done, handle.error
            time.sleep(0.01)
        try:
            ((path,),) = s.execute(f"STOP JOB '{handle.id}' WITH SAVEPOINT").rows
        except SqlStreamError:
            pytest.fail("the input ended before the savepoint; slow the source down")
    with sqlstream.connect(config=config(tmp_path, after, **{"execution.savepoint.path": path})) as s:
        s.execute_script(ddl(out, None))
        handle = s.execute(INSERT).job
        assert handle is not None
        handle.wait(60)
        assert handle.error is None, handle.error
        assert handle.metrics()["checkpoints"]["restored_from"] == path
    got = sorted(
        (
            (r["ws"][:19], r["k"], r["c"], r["s"], r["g"])
            for f in sorted(out.iterdir())
            if not f.name.startswith((".", "_"))
            for r in map(json.loads, f.read_text().splitlines())
        ),
        key=str,
    )
    expected = duckdb.sql(
        "SELECT strftime(ws, '%Y-%m-%d %H:%M:%S'), k, count(*), sum(v), grouping(k) FROM ("
        "SELECT v, v % 3 AS k, make_timestamp((v * 10 // 1000) * 1000000) AS ws "
        f"FROM range(1, {ROWS + 1}) r(v)"
        ") GROUP BY ws, ROLLUP (k)"
    ).fetchall()
    assert len(got) == len(set(got)) == 26  # seconds 0-5: 3 keys and a total; second 6: v = 600 alone
    assert got == sorted(expected, key=str)
