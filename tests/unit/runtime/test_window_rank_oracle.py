"""Correctness oracle for Window Top-N and window deduplication over TUMBLE, HOP and
CUMULATE: random rows (ties in value and time, NULL keys) run through SQL by the Session
in small batches at parallelism 1 and 2 equal DuckDB's ranking of the same windows; the
result is insert-only and ties go to the row that arrived first."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS
from tests.unit.runtime.test_over_oracle import changelog

# (window TVF, DuckDB rows of (id, ws, we) for every window a row at second t falls in)
WINDOWS = {
    "TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '4' SECOND)": (
        "SELECT id, t // 4 * 4 AS ws, t // 4 * 4 + 4 AS we FROM r"
    ),
    "HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)": (
        "SELECT id, t // 2 * 2 - j * 2 AS ws, t // 2 * 2 - j * 2 + 6 AS we FROM r, range(3) x(j)"
    ),
    "CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)": (
        "SELECT id, t // 6 * 6 AS ws, t // 6 * 6 + m * 2 AS we FROM r, range(1, 4) x(m) "
        "WHERE t < t // 6 * 6 + m * 2"
    ),
}
rows_st = st.lists(
    st.tuples(st.one_of(st.integers(0, 2), st.none()), st.integers(0, 5), st.integers(0, 2)), max_size=30
)


def run(rows: list[tuple[Any, ...]], tvf: str, order: str, n: int, parallelism: int, batch: int) -> None:
    data, t = [], 0
    for i, (k, v, step) in enumerate(rows):
        t += step  # time never goes back, and often stays (ties)
        data.append({"id": i, "k": k, "v": v, "t": t, "ts": f"2024-01-01 00:{t // 60:02d}:{t % 60:02d}"})
    query = (
        f"SELECT id, k, v, window_start, rn FROM (SELECT id, k, v, window_start, ROW_NUMBER() OVER "
        f"(PARTITION BY window_start, window_end, k ORDER BY {order}) AS rn FROM TABLE({tvf})) "
        f"WHERE rn <= {n}"
    )
    log = changelog(data, "id INT, k INT, v INT", "ts", query, parallelism, batch)
    assert {kind for kind, _ in log} <= {0}
    midnight = datetime(2024, 1, 1)
    got = Counter((r[0], r[1], r[2], int((r[3] - midnight).total_seconds()), r[4]) for _, r in log)
    con = duckdb.connect()
    con.execute("CREATE TABLE r (id INT, k INT, v INT, t INT)")
    for d in data:
        con.execute("INSERT INTO r VALUES (?, ?, ?, ?)", [d["id"], d["k"], d["v"], d["t"]])
    duck_order = order.replace("ts", "t") + ", id"
    expected = con.sql(
        f"SELECT id, k, v, ws, rn FROM (SELECT w.id, k, v, t, ws, row_number() OVER "
        f"(PARTITION BY ws, we, k ORDER BY {duck_order}) AS rn FROM ({WINDOWS[tvf]}) w JOIN r USING (id)) "
        f"WHERE rn <= {n}"
    ).fetchall()
    assert got == Counter(tuple(r) for r in expected)


@settings(SETTINGS, max_examples=3)
@pytest.mark.parametrize("tvf", list(WINDOWS))
@pytest.mark.parametrize(("order", "n"), [("v DESC", 2), ("v", 1)])
@given(rows=rows_st, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 7))
def test_window_top_n_equals_duckdb(
    tvf: str, order: str, n: int, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    run(rows, tvf, order, n, parallelism, batch)
