"""Correctness oracle for window joins: two TUMBLE (or HOP) TVFs joined on window_start,
window_end and a key, inner and outer, over random streams shuffled within the watermark
delay, at parallelism 1 and 2; the output is append-only and equals DuckDB's batch join
of the same rows bucketed into the same windows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_interval_join_oracle import SETTINGS, arrival, duckdb_answer, event, run

JOIN_TYPES = ("JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL OUTER JOIN")
TVF = {
    "tumble": (
        "TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND)",
        "time_bucket(INTERVAL 5 SECOND, ts)",
        5,
    ),
    "hop": (
        "HOP(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)",
        "time_bucket(INTERVAL 5 SECOND, ts) - INTERVAL (5 * h.i) SECOND",
        10,
    ),
}


def duckdb_windows(kind: str, table: str) -> str:
    """``table`` with the window columns of the TVF, one row per window it falls in."""
    _, start, size = TVF[kind]
    hops = ", range(2) h(i)" if kind == "hop" else ""
    return (
        f"(SELECT {table}.*, {start} AS window_start, {start} + INTERVAL {size} SECOND AS window_end "
        f"FROM {table}{hops})"
    )


@settings(SETTINGS)
@given(
    left=st.lists(event, max_size=25),
    right=st.lists(event, max_size=25),
    join=st.sampled_from(JOIN_TYPES),
    kind=st.sampled_from(sorted(TVF)),
    residual=st.sampled_from(["", " AND l.v <= r.w"]),
    parallelism=st.sampled_from([1, 2]),
    batch=st.integers(2, 6),
)
def test_window_join_equals_duckdb(
    left: list[tuple[Any, ...]],
    right: list[tuple[Any, ...]],
    join: str,
    kind: str,
    residual: str,
    parallelism: int,
    batch: int,
) -> None:
    lrows, rrows = arrival(left), arrival(right)
    select = "SELECT l.k, l.v, l.window_start, r.k AS rk, r.w, r.window_end AS rend FROM "
    on = f" ON l.window_start = r.window_start AND l.window_end = r.window_end AND l.k = r.k{residual}"
    tvf = TVF[kind][0]
    ours = f"{select}TABLE({tvf.format(t='l')}) l {join} TABLE({tvf.format(t='r')}) r{on}"
    theirs = f"{select}{duckdb_windows(kind, 'l')} l {join} {duckdb_windows(kind, 'r')} r{on}"
    log = run(lrows, rrows, ours, parallelism, batch)
    assert {k for k, _ in log} <= {0}, "a window join is append-only"
    assert Counter(row for _, row in log) == duckdb_answer(lrows, rrows, theirs)


SUBQUERIES = {
    "IN": "l.k IN (SELECT r.k FROM {r} r WHERE {on})",
    "NOT IN": "l.k NOT IN (SELECT r.k FROM {r} r WHERE {on})",
    "EXISTS": "EXISTS (SELECT * FROM {r} r WHERE r.k = l.k AND {on})",
    "NOT EXISTS": "NOT EXISTS (SELECT * FROM {r} r WHERE r.k = l.k AND {on})",
}


@settings(SETTINGS)
@given(
    left=st.lists(event, max_size=25),
    right=st.lists(event, max_size=25),
    form=st.sampled_from(sorted(SUBQUERIES)),
    kind=st.sampled_from(sorted(TVF)),
    residual=st.sampled_from(["", " AND r.w >= l.v"]),
    parallelism=st.sampled_from([1, 2]),
    batch=st.integers(2, 6),
)
def test_window_semi_and_anti_joins_equal_duckdb(
    left: list[tuple[Any, ...]],
    right: list[tuple[Any, ...]],
    form: str,
    kind: str,
    residual: str,
    parallelism: int,
    batch: int,
) -> None:
    """``IN``/``EXISTS``/``NOT IN``/``NOT EXISTS`` between two window TVFs correlated on
    window_start and window_end (Flink's window semi/anti join): each window's left rows
    with (without) a match, duplicates kept, NOT IN with SQL's NULL logic, append-only."""
    lrows, rrows = arrival(left), arrival(right)
    on = f"l.window_start = r.window_start AND l.window_end = r.window_end{residual}"
    tvf = TVF[kind][0]
    where = SUBQUERIES[form]
    select = "SELECT l.k, l.v, l.window_start, l.window_end FROM "
    ours_r, theirs_r = f"TABLE({tvf.format(t='r')})", duckdb_windows(kind, "r")
    ours = f"{select}TABLE({tvf.format(t='l')}) l WHERE " + where.format(r=ours_r, on=on)
    theirs = f"{select}{duckdb_windows(kind, 'l')} l WHERE " + where.format(r=theirs_r, on=on)
    log = run(lrows, rrows, ours, parallelism, batch)
    assert {k for k, _ in log} <= {0}, "a window semi/anti join is append-only"
    assert Counter(row for _, row in log) == duckdb_answer(lrows, rrows, theirs)
