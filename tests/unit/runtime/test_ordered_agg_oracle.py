"""Correctness oracle for LISTAGG, ARRAY_AGG, FIRST_VALUE, LAST_VALUE and COLLECT in a
streaming GROUP BY: random bounded inputs with NULL keys and values, run through SQL by the
Session in small batches; the applied changelog must equal DuckDB's batch answer
(string_agg, first and last ordered by arrival, a list with NULLs in arrival order, a
sorted list).

At parallelism 1 one source reads the files in order, so arrival order is known and the
ordered aggregates are compared exactly. Over an updating input (a GROUP BY over a GROUP
BY) a retraction must take its value out: grouped by the inner key, each outer group
holds exactly the inner row that is live, and grouped by a count, the values left are
compared as a multiset (a batch emits its -U/+U rows in no order Flink's row-at-a-time
run would fix), with FIRST_VALUE and LAST_VALUE one of them. OVER windows are compared
with DuckDB's window functions."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS, applied, session, write_table
from tests.unit.runtime.test_over_oracle import FRAMES
from tests.unit.runtime.test_over_oracle import changelog as over_changelog

rows_st = st.lists(
    st.tuples(st.one_of(st.integers(0, 3), st.none()), st.one_of(st.integers(0, 9), st.none())), max_size=25
)


def run(rows: list[tuple[Any, ...]], query: str, parallelism: int, batch: int) -> Counter[tuple[Any, ...]]:
    """The rows the changelog of ``query`` over ``l`` (k, v) leaves, lists as tuples."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_table(root, "l", ("k", "v"), rows)
        (root / "r").mkdir()
        s = session(root, parallelism, batch)
        try:
            log = list(s.sql(query).changelog())
        finally:
            s.close()
    return applied((kind, hashable(row)) for kind, row in log)


def duck(rows: list[tuple[Any, ...]], query: str) -> Counter[tuple[Any, ...]]:
    """DuckDB's answer over ``l`` (k, v, pos): ``pos`` is the arrival order at parallelism
    1 (write_table's part-0 rows, then part-1's)."""
    arrival = rows[0::2] + rows[1::2]
    con = duckdb.connect()
    con.register(
        "l",
        pa.table(
            {"k": [r[0] for r in arrival], "v": [r[1] for r in arrival], "pos": list(range(len(arrival)))},
            schema=pa.schema([("k", pa.int64()), ("v", pa.int64()), ("pos", pa.int64())]),
        ),
    )
    return Counter(hashable(r) for r in con.sql(query).fetchall())


def hashable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(tuple(x) if isinstance(x, list) else x for x in row)


@settings(SETTINGS, max_examples=12)
@given(rows=rows_st, batch=st.integers(1, 6))
def test_ordered_aggregates_over_an_append_only_input_equal_duckdb(
    rows: list[tuple[Any, ...]], batch: int
) -> None:
    ours = run(
        rows,
        "SELECT k, LISTAGG(CAST(v AS STRING)), LISTAGG(CAST(v AS STRING), '') FILTER (WHERE v > 2), "
        "FIRST_VALUE(v), LAST_VALUE(v), COLLECT(v), ARRAY_AGG(v), ARRAY_AGG(v IGNORE NULLS) "
        "FROM l GROUP BY k",
        1,
        batch,
    )
    nn = "FILTER (WHERE v IS NOT NULL)"
    expected = duck(
        rows,
        f"SELECT k, string_agg(CAST(v AS VARCHAR), ',' ORDER BY pos), "
        f"string_agg(CAST(v AS VARCHAR), '' ORDER BY pos) FILTER (WHERE v > 2), "
        f"first(v ORDER BY pos) {nn}, last(v ORDER BY pos) {nn}, "
        f"coalesce(list(v ORDER BY v) {nn}, []), list(v ORDER BY pos), list(v ORDER BY pos) {nn} "
        "FROM l GROUP BY k",
    )
    assert ours == expected


@settings(SETTINGS, max_examples=12)
@given(rows=rows_st, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_a_retraction_takes_its_value_out(rows: list[tuple[Any, ...]], parallelism: int, batch: int) -> None:
    """Grouped by the inner key: every update of a key retracts its previous sum, so the
    live list has exactly one value, the current sum (NULL while the key has no value)."""
    ours = run(
        rows,
        "SELECT k, FIRST_VALUE(s), LAST_VALUE(s), LISTAGG(CAST(s AS STRING)), COLLECT(s), ARRAY_AGG(s) "
        "FROM (SELECT k, SUM(v) AS s FROM l GROUP BY k) g GROUP BY k",
        parallelism,
        batch,
    )
    expected = duck(  # ARRAY_AGG lists a NULL sum too, and its retraction takes it out
        rows,
        "SELECT k, s, s, CAST(s AS VARCHAR), CASE WHEN s IS NULL THEN [] ELSE [s] END, [s] "
        "FROM (SELECT k, sum(v) AS s FROM l GROUP BY k) g",
    )
    assert ours == expected


@settings(SETTINGS, max_examples=12)
@pytest.mark.parametrize("keyed", [True, False])
@given(rows=rows_st, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_values_left_after_retractions_equal_duckdb(
    keyed: bool, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    """Grouped by a count: the keys whose count it is now, as a multiset."""
    group = " GROUP BY n" if keyed else " HAVING COUNT(*) > 0"
    n = "n, " if keyed else ""
    ours = run(
        rows,
        f"SELECT {n}LISTAGG(CAST(k AS STRING)), FIRST_VALUE(k), LAST_VALUE(k), COLLECT(k), "
        f"ARRAY_AGG(k) FROM (SELECT k, COUNT(*) AS n FROM l GROUP BY k) g{group}",
        parallelism,
        batch,
    )
    got: Counter[tuple[Any, ...]] = Counter()
    for row, times in ours.items():
        *head, listed, first, last, collected, arrayed = row
        parts = sorted(int(p) for p in listed.split(",")) if listed is not None else []
        assert parts == list(collected)
        # ARRAY_AGG: the same keys, and the NULL key too where its group's count is this one
        assert sorted(x for x in arrayed if x is not None) == parts
        nulls = sum(1 for r in rows if r[0] is None)
        assert arrayed.count(None) == int(nulls > 0 and (not keyed or head[0] == nulls))
        assert (first in parts and last in parts) if parts else (first is None and last is None)
        got[(*head, tuple(parts))] += times
    expected = duck(
        rows,
        f"SELECT {n}coalesce(list(k ORDER BY k) FILTER (WHERE k IS NOT NULL), []) "
        f"FROM (SELECT k, count(*) AS n FROM l GROUP BY k) g{group}",
    )
    assert got == expected


def test_listagg_joins_values_in_arrival_order_across_batches() -> None:
    """A key's string grows batch by batch; NULLs leave no empty item."""
    rows = [(1, 5), (1, None), (1, 3), (2, 7), (1, 5)]
    ours = run(
        rows,
        "SELECT k, LISTAGG(CAST(v AS STRING), '|'), FIRST_VALUE(v), LAST_VALUE(v) FROM l GROUP BY k",
        1,
        1,
    )
    # arrival order is part-0 (rows 0, 2, 4) then part-1 (rows 1, 3)
    assert ours == Counter({(1, "5|3|5", 5, 5): 1, (2, "7", 7, 7): 1})


@settings(SETTINGS, max_examples=4)
@pytest.mark.parametrize("frame", FRAMES)
@given(rows=rows_st, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 7))
def test_ordered_aggregates_over_a_window_equal_duckdb(
    frame: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    """OVER, bounded and UNBOUNDED (what earlier firings accumulated, merged with the
    frame's rows): a row's frame in time order, one row a second."""
    data = [{"k": k, "v": v, "ts": f"2024-01-01 00:00:{t:02d}"} for t, (k, v) in enumerate(rows)]
    window = f"WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"
    log = over_changelog(
        data,
        "k INT, v INT",
        "ts - INTERVAL '1' SECOND",
        "SELECT k, v, ts, LISTAGG(CAST(v AS STRING), ';') OVER w, FIRST_VALUE(v) OVER w, "
        f"LAST_VALUE(v) OVER w, COLLECT(v) OVER w FROM t {window}",
        parallelism,
        batch,
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INT, v INT, ts TIMESTAMP)")
    for d in data:
        con.execute("INSERT INTO t VALUES (?, ?, ?)", [d["k"], d["v"], d["ts"]])
    expected = con.sql(
        "SELECT k, v, ts, string_agg(CAST(v AS VARCHAR), ';' ORDER BY ts) OVER w, "
        "first_value(v IGNORE NULLS) OVER w, last_value(v IGNORE NULLS) OVER w, "
        f"coalesce(list(v ORDER BY v) FILTER (WHERE v IS NOT NULL) OVER w, []) FROM t {window}"
    ).fetchall()
    assert Counter(hashable(row) for _, row in log) == Counter(hashable(r) for r in expected)


@settings(SETTINGS, max_examples=12)
@given(rows=rows_st, batch=st.integers(1, 6))
def test_listagg_distinct_and_json_arrayagg_over_an_append_only_input_equal_duckdb(
    rows: list[tuple[Any, ...]], batch: int
) -> None:
    """LISTAGG(DISTINCT) joins each value once, where it first arrived; JSON_ARRAYAGG lists
    every value in arrival order, NULLs left out ([] for none), as Flink's functions do."""
    ours = run(
        rows,
        "SELECT k, LISTAGG(DISTINCT CAST(v AS STRING)), JSON_ARRAYAGG(v), "
        "JSON_ARRAYAGG(v NULL ON NULL) FROM l GROUP BY k",
        1,
        batch,
    )
    expected = duck(
        rows,
        "SELECT k, (SELECT string_agg(CAST(x AS VARCHAR), ',' ORDER BY p) FROM (SELECT v AS x, "
        "min(pos) AS p FROM l i WHERE i.k IS NOT DISTINCT FROM o.k AND v IS NOT NULL GROUP BY v)), "
        "'[' || coalesce(string_agg(CAST(v AS VARCHAR), ',' ORDER BY pos), '') || ']', "
        "'[' || string_agg(coalesce(CAST(v AS VARCHAR), 'null'), ',' ORDER BY pos) || ']' "
        "FROM l o GROUP BY k",
    )
    assert ours == expected


@settings(SETTINGS, max_examples=12)
@given(rows=rows_st, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_distinct_values_left_after_retractions_equal_duckdb(
    rows: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    """Grouped by a count: LISTAGG(DISTINCT) and JSON_OBJECTAGG hold the keys whose count it
    is now, each once (a retraction takes a value out only when its last instance goes)."""
    ours = run(
        rows,
        "SELECT n, LISTAGG(DISTINCT CAST(n AS STRING)), LISTAGG(DISTINCT CAST(k AS STRING)), "
        "JSON_OBJECTAGG(KEY CAST(k AS STRING) VALUE n) "
        "FROM (SELECT k, COUNT(*) AS n FROM l WHERE k IS NOT NULL GROUP BY k) g GROUP BY n",
        parallelism,
        batch,
    )
    got = Counter(
        (n, same, tuple(sorted(listed.split(","))), obj)
        for (n, same, listed, obj), times in ours.items()
        for _ in range(times)
    )
    expected = duck(
        rows,
        "SELECT n, CAST(n AS VARCHAR), list(CAST(k AS VARCHAR) ORDER BY CAST(k AS VARCHAR)), "
        "'{' || string_agg(to_json(CAST(k AS VARCHAR)) || ':' || n, ',' ORDER BY CAST(k AS VARCHAR)) || '}' "
        "FROM (SELECT k, count(*) AS n FROM l WHERE k IS NOT NULL GROUP BY k) g GROUP BY n",
    )
    assert got == expected
