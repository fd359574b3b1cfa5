"""The same queries give the same answers on a multi-node Ray cluster as on the local
runtime: a tumbling window over event time, a GROUP BY over another GROUP BY's updating
result (retractions cross a hash exchange between actors) and a regular join of two
tables (both sides hashed to the join's subtasks). Each runs at parallelism 2, so every
exchange moves batches between actors, most of them on other nodes (actors spread).
"""

from __future__ import annotations

from typing import Any

import pytest

import sqlstream

pytestmark = pytest.mark.ray

EVENTS = """
CREATE TABLE events (v BIGINT, k AS v * 7 % 5, x AS v * 37 % 201 - 100,
  ts AS TO_TIMESTAMP_LTZ(v * 10 + 1000 - (v * 7919 % 100) * 2, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'fields.v.kind' = 'sequence', 'fields.v.start' = '1',
  'fields.v.end' = '3000');
CREATE TABLE orders (id BIGINT, cust AS id % 40, amount AS id * 13 % 97)
WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
  'fields.id.end' = '2000');
CREATE TABLE customers (cid BIGINT, region AS cid % 3)
WITH ('connector' = 'datagen', 'fields.cid.kind' = 'sequence', 'fields.cid.start' = '0',
  'fields.cid.end' = '29');
"""

QUERIES = {
    "tumble": "SELECT k, window_start, COUNT(*) AS c, SUM(x) AS s, MAX(x) AS mx "
    "FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND)) "
    "GROUP BY k, window_start, window_end",
    "retractions": "SELECT c, COUNT(*) AS n FROM "
    "(SELECT v % 37 AS g, COUNT(*) AS c FROM events WHERE v % 3 <> 0 GROUP BY v % 37) GROUP BY c",
    "join": "SELECT region, COUNT(*) AS n, SUM(amount) AS total FROM orders "
    "JOIN customers ON cust = cid GROUP BY region",
}


def answer(query: str, config: dict[str, str]) -> list[tuple[Any, ...]]:
    with sqlstream.connect(config={"parallelism.default": "2", **config}) as session:
        session.execute(EVENTS)
        return sorted(session.sql(query).fetchall())


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_same_answer_on_ray_as_locally(name: str, ray_address: str) -> None:
    query = QUERIES[name]
    local = answer(query, {})
    on_ray = answer(query, {"execution.target": "ray", "ray.address": ray_address})
    assert local, "the query must produce rows for the comparison to mean something"
    assert on_ray == local
