"""The oracle queries give the same answers on a multi-node Ray cluster as on the local
runtime: the shapes the DuckDB oracles of ``tests/unit/runtime`` check, written as SQL over
bounded datagen tables, each run at parallelism 2 on both. Every exchange then moves
batches between actors, most of them on other nodes (actors spread), and the local
runtime's answer (which those oracles hold to DuckDB's) is what Ray must give.

Each query is one job of 11-21 actors: a Ray job costs a process per actor, so every shape
is here once (``tests/unit/runtime`` varies them), and the queries compose several where
one operator feeds another (Top-N over a window aggregate, a GROUP BY over a left join).
A lookup join reads a PostgreSQL table from the actors (the real server of the tests).

The inputs have no ties in event time within a key and are out of order by less than the
watermark delay, so no row is late and every answer is one the timing of a run cannot
change; session gaps are odd and timestamps even (no row lands on a fired session's end).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import sqlstream
from tests.integration.conftest import _required

pytestmark = pytest.mark.ray

TABLES = """
CREATE TABLE events (v BIGINT, k AS v * 7 % 5, x AS v * 37 % 201 - 100,
  ts AS TO_TIMESTAMP_LTZ(v * 10 + 1000 - (v * 7919 % 100) * 2, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'fields.v.kind' = 'sequence', 'fields.v.start' = '1',
  'fields.v.end' = '3000');
CREATE TABLE clicks (c BIGINT, ck AS c * 3 % 5, w AS c * 13 % 7,
  cts AS TO_TIMESTAMP_LTZ(c * 25 + 1000 - (c * 131 % 50) * 2, 3),
  WATERMARK FOR cts AS cts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'fields.c.kind' = 'sequence', 'fields.c.start' = '1',
  'fields.c.end' = '1200');
CREATE TABLE orders (id BIGINT, cust AS id % 40, amount AS id * 13 % 97)
WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
  'fields.id.end' = '2000');
CREATE TABLE customers (cid BIGINT, region AS cid % 3)
WITH ('connector' = 'datagen', 'fields.cid.kind' = 'sequence', 'fields.cid.start' = '0',
  'fields.cid.end' = '29');
"""


def _windowed(tvf: str, aggs: str = "COUNT(*) AS c, SUM(x) AS s, MAX(x) AS mx") -> str:
    keys = "k, window_start, window_end"
    return f"SELECT {keys}, {aggs} FROM TABLE({tvf}) GROUP BY {keys}"


QUERIES = {
    # window aggregates (test_oracle.py, test_sql_oracle.py)
    "tumble": _windowed("TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND)"),
    "hop, distinct": _windowed(
        "HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)",
        "COUNT(DISTINCT v % 17) AS d, SUM(x) AS s",
    ),
    "cumulate": _windowed("CUMULATE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '4' SECOND)"),
    "session": _windowed("SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts), INTERVAL '51' MILLISECOND)"),
    # GROUP BY over an updating result: retractions cross a hash exchange (test_retract_agg_oracle.py)
    "retractions": "SELECT c, COUNT(*) AS n FROM "
    "(SELECT v % 37 AS g, COUNT(*) AS c FROM events WHERE v % 3 <> 0 GROUP BY v % 37) GROUP BY c",
    # joins (test_join_oracle.py, test_interval_join_oracle.py, test_window_join_oracle.py)
    "regular left join, null-padded rows retracted": "SELECT region, COUNT(*) AS n, SUM(amount) AS total "
    "FROM orders LEFT JOIN customers ON cust = cid AND cid % 4 <> 1 GROUP BY region",
    "interval join": "SELECT v, c FROM events, clicks WHERE k = ck "
    "AND cts BETWEEN ts - INTERVAL '40' MILLISECOND AND ts + INTERVAL '25' MILLISECOND",
    "window join": "SELECT L.k, L.window_start, L.v, R.c FROM "
    "(SELECT * FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) WHERE v % 9 = 0) L "
    "LEFT JOIN (SELECT * FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(cts), INTERVAL '1' SECOND)) "
    "WHERE w = 0) R ON L.k = R.ck AND L.window_start = R.window_start AND L.window_end = R.window_end",
    # ranking (test_rank_oracle.py, test_window_rank_oracle.py), deduplication, OVER (test_over_oracle.py)
    "top-n": "SELECT * FROM (SELECT k, v, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x DESC, v) "
    "AS rn FROM events) WHERE rn <= 3",
    "deduplicate": "SELECT v, k, x FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY v % 50 ORDER BY ts) "
    "AS rn FROM events) WHERE rn = 1",
    "window top-n": "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end "
    "ORDER BY c DESC, k) AS rn FROM ("
    + _windowed("TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)", "COUNT(*) AS c")
    + ")) WHERE rn <= 2",
    "over": "SELECT k, v, SUM(x) OVER w AS s, COUNT(*) OVER w AS n FROM events WINDOW w AS "
    "(PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '200' MILLISECOND PRECEDING AND CURRENT ROW)",
}


def answer(query: str, config: dict[str, str]) -> list[tuple[Any, ...]]:
    with sqlstream.connect(config={"parallelism.default": "2", **config}) as session:
        session.execute(TABLES)
        return sorted(session.sql(query).fetchall(), key=repr)


@pytest.mark.parametrize("name", list(QUERIES))
def test_same_answer_on_ray_as_locally(name: str, ray_address: str) -> None:
    query = QUERIES[name]
    local = answer(query, {})
    on_ray = answer(query, {"execution.target": "ray", "ray.address": ray_address})
    assert local, "the query must produce rows for the comparison to mean something"
    assert on_ray == local


@pytest.fixture
def countries() -> Iterator[tuple[str, str]]:
    """A PostgreSQL table of customers' countries (not every customer has one): its name,
    and the JDBC URL of the database."""
    dsn = _required("SQLSTREAM_PG_DSN", "PostgreSQL server")
    url = _required("SQLSTREAM_PG_URL", "PostgreSQL server")
    name = f"countries_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, country TEXT)")
        con.execute(f"INSERT INTO {name} SELECT i, 'c' || (i % 4) FROM generate_series(0, 34) i")
    yield name, url
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"DROP TABLE {name}")


@pytest.mark.postgres
def test_a_lookup_join_gives_the_same_answer_on_ray_as_locally(
    countries: tuple[str, str], ray_address: str
) -> None:
    name, url = countries
    lookup = (
        "CREATE TABLE buyers (id BIGINT, cust AS id % 40, amount AS id * 13 % 97, proc AS PROCTIME()) "
        "WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', "
        "'fields.id.end' = '2000');"
        "CREATE TABLE countries (id INT, country STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ("
        f"'connector' = 'jdbc', 'url' = '{url}', 'table-name' = '{name}', 'username' = 'sqlstream', "
        "'password' = 'sqlstream', 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100')"
    )
    query = (
        "SELECT c.country, COUNT(*) AS n, SUM(amount) AS total FROM buyers AS b LEFT JOIN countries "
        "FOR SYSTEM_TIME AS OF b.proc AS c ON b.cust = c.id GROUP BY c.country"
    )

    def run(config: dict[str, str]) -> list[tuple[Any, ...]]:
        with sqlstream.connect(config={"parallelism.default": "2", **config}) as session:
            session.execute(lookup)
            return sorted(session.sql(query).fetchall(), key=repr)

    local = run({})
    # customers 35-39 have no country: their orders pad with NULL
    assert [(r[0], r[1]) for r in local] == [("c0", 450), ("c1", 450), ("c2", 450), ("c3", 400), (None, 250)]
    assert run({"execution.target": "ray", "ray.address": ray_address}) == local
