"""Correctness oracle for interval joins: random event streams (duplicated and NULL keys,
times shuffled within the watermark delay, so no row is late), joined through SQL by the
Session in small batches at parallelism 1 and 2; the output must be append-only and equal
DuckDB's batch join of the same rows, inner and outer, for each form of time bound."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.unit.runtime.test_join_oracle import small_batches

SETTINGS = settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPOCH = dt.datetime(2024, 1, 1)
DELAY_S = 3
JOIN_TYPES = ("JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL OUTER JOIN")
BOUNDS = (
    "l.ts BETWEEN r.ts - INTERVAL '5' SECOND AND r.ts + INTERVAL '3' SECOND",
    "l.ts > r.ts - INTERVAL '2' SECOND AND l.ts <= r.ts + INTERVAL '4' SECOND",
    "r.ts >= l.ts AND r.ts < l.ts + INTERVAL '10' SECOND",
    "l.ts BETWEEN r.ts + INTERVAL '1' SECOND AND r.ts + INTERVAL '4' SECOND",
    "l.ts = r.ts",
)

# (key, value, time in seconds, jitter: how much later than its time the row arrives)
event = st.tuples(
    st.one_of(st.integers(0, 3), st.none()), st.integers(0, 9), st.integers(0, 40), st.integers(0, DELAY_S)
)


def arrival(events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows in the order they arrive: by time plus jitter, so a row is never more than the
    watermark delay behind the newest row before it (never late)."""
    ordered = sorted(events, key=lambda e: (e[2] + e[3], e[2]))
    return [(k, v, EPOCH + dt.timedelta(seconds=t)) for k, v, t, _ in ordered]


def write_table(
    root: Path, name: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]], parts: int
) -> None:
    """One JSON file (in arrival order) per source subtask, each read by one of them."""
    folder = root / name
    folder.mkdir()
    for part in range(parts):
        lines = [json.dumps(dict(zip(cols, (*r[:-1], str(r[-1]))))) + "\n" for r in rows[part::parts]]
        (folder / f"part-{part}.json").write_text("".join(lines))


def run(
    left: list[tuple[Any, ...]], right: list[tuple[Any, ...]], query: str, parallelism: int, batch: int
) -> list[tuple[int, tuple[Any, ...]]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_table(root, "l", ("k", "v", "ts"), left, parallelism)
        write_table(root, "r", ("k", "w", "ts"), right, parallelism)
        s = small_batches(parallelism, batch, ("pipeline.auto-watermark-interval", "0 ms"))
        try:
            for name, col in (("l", "v"), ("r", "w")):
                s.execute(
                    f"CREATE TABLE {name} (k INT, {col} INT, ts TIMESTAMP(3), "
                    f"WATERMARK FOR ts AS ts - INTERVAL '{DELAY_S}' SECOND) WITH ("
                    f"'connector' = 'filesystem', 'path' = '{root / name}', 'format' = 'json')"
                )
            return list(s.sql(query).changelog())
        finally:
            s.close()


def duckdb_answer(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]], query: str) -> Counter[Any]:
    con = duckdb.connect()
    for name, col, rows in (("l", "v", left), ("r", "w", right)):
        schema = pa.schema([("k", pa.int32()), (col, pa.int32()), ("ts", pa.timestamp("ms"))])
        con.register(name, pa.table([list(c) for c in zip(*rows)] if rows else [[], [], []], schema=schema))
    return Counter(con.sql(query).fetchall())


@SETTINGS
@given(
    left=st.lists(event, max_size=25),
    right=st.lists(event, max_size=25),
    join=st.sampled_from(JOIN_TYPES),
    bounds=st.sampled_from(BOUNDS),
    residual=st.sampled_from(["", " AND l.v <= r.w"]),
    parallelism=st.sampled_from([1, 2]),
    batch=st.integers(2, 6),
)
def test_interval_join_equals_duckdb(
    left: list[tuple[Any, ...]],
    right: list[tuple[Any, ...]],
    join: str,
    bounds: str,
    residual: str,
    parallelism: int,
    batch: int,
) -> None:
    lrows, rrows = arrival(left), arrival(right)
    query = (
        f"SELECT l.k, v, l.ts, r.k AS rk, w, r.ts AS rts FROM l {join} r ON l.k = r.k AND {bounds}{residual}"
    )
    log = run(lrows, rrows, query, parallelism, batch)
    assert {kind for kind, _ in log} <= {0}, "an interval join is append-only"
    assert Counter(row for _, row in log) == duckdb_answer(lrows, rrows, query)


@pytest.mark.parametrize("join", ["JOIN", "LEFT JOIN"])
def test_window_aggregate_over_an_interval_join(join: str) -> None:
    """Both time attributes survive the join and the watermark is held back by the
    interval, so a TUMBLE window over the joined rows counts every one of them (a window
    fired too early would drop the joined rows as late)."""
    events = [(k % 3, k, 2 * k, k % (DELAY_S + 1)) for k in range(40)]
    right = [(k % 3, k, 2 * k + 7, 0) for k in range(40)]
    lrows, rrows = arrival(events), arrival(right)
    inner = (
        f"SELECT l.k, l.ts, r.w FROM l {join} r ON l.k = r.k "
        "AND l.ts BETWEEN r.ts - INTERVAL '10' SECOND AND r.ts - INTERVAL '5' SECOND"
    )
    query = (
        "SELECT window_start, COUNT(*) AS n, COUNT(w) AS matched FROM TABLE(TUMBLE(TABLE j, "
        "DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end"
    )
    log = run(lrows, rrows, f"WITH j AS ({inner}) {query}", 2, 3)
    got = Counter(row for _, row in log)
    con = duckdb.connect()
    expected = duckdb_answer(
        lrows,
        rrows,
        f"WITH j AS ({inner}) SELECT time_bucket(INTERVAL 10 SECOND, ts) AS window_start, "
        "COUNT(*), COUNT(w) FROM j GROUP BY 1",
    )
    con.close()
    assert got == expected
    assert sum(n for (_, n, _) in got) >= 40
