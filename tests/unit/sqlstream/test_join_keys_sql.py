"""Joins on computed keys (``ON o.k = c.c % 50``, ``ON a.v + 1 = b.w * 2``), as Flink runs
them: the key expressions are computed below the join on each side and the rows are
hash-partitioned by them; the answer is DuckDB's join of the same rows, at parallelism 2,
for inner and outer joins."""

from __future__ import annotations

from collections import Counter

import duckdb
import pytest

import sqlstream

ORDERS, CUSTOMERS = 200, 40


@pytest.mark.parametrize(
    ("kind", "on"),
    [
        ("JOIN", "o.v % 10 = c.c % 10 AND o.v > c.c"),
        ("JOIN", "c.c * 5 = o.v + 5"),
        ("LEFT JOIN", "o.v = c.c * 7"),
        ("FULL JOIN", "o.v + 1 = c.c * 3"),
    ],
)
def test_a_join_on_computed_keys_gives_the_batch_answer(kind: str, on: str) -> None:
    with sqlstream.connect(config={"parallelism.default": "2", "sqlstream.runtime.batch-size": "17"}) as s:
        s.execute(
            "CREATE TABLE orders (v BIGINT) WITH ('connector' = 'datagen', 'fields.v.kind' = 'sequence', "
            f"'fields.v.start' = '1', 'fields.v.end' = '{ORDERS}')"
        )
        s.execute(
            "CREATE TABLE customers (c BIGINT) WITH ('connector' = 'datagen', 'fields.c.kind' = 'sequence', "
            f"'fields.c.start' = '0', 'fields.c.end' = '{CUSTOMERS - 1}')"
        )
        query = f"SELECT o.v, c.c FROM orders o {kind} customers c ON {on}"
        plan = s.execute(f"EXPLAIN {query}").message or ""
        handle = s.sql(query)
        got = Counter(handle.fetchall())
        handle.close()
    assert "equi=[$lk0=$rk0" in plan  # a keyed join, not a refusal or a cross product
    con = duckdb.connect()
    con.execute(f"CREATE TABLE orders AS SELECT range AS v FROM range(1, {ORDERS + 1})")
    con.execute(f"CREATE TABLE customers AS SELECT range AS c FROM range(0, {CUSTOMERS})")
    want = Counter(con.sql(query).fetchall())
    assert sum(want.values()) >= 20
    assert got == want
