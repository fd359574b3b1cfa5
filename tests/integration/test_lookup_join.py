"""Lookup joins against a real PostgreSQL table, through SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

import sqlstream

pytestmark = pytest.mark.postgres


@pytest.fixture
def customers(pg_dsn: str) -> Iterator[str]:
    name = f"customers_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, name TEXT, country TEXT)")
        con.execute(
            f"INSERT INTO {name} VALUES (1, 'ann', 'DE'), (2, 'bob', 'FR'), (3, 'cy', 'DE')"
        )
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"DROP TABLE {name}")


@pytest.fixture
def session(pg_url: str, customers: str) -> Iterator[sqlstream.Session]:
    s = sqlstream.connect()
    s.execute(
        "CREATE TABLE orders (id BIGINT, cust_id INT, proc AS PROCTIME()) WITH ("
        "'connector' = 'datagen', 'number-of-rows' = '8', "
        "'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '8', "
        "'fields.cust_id.kind' = 'sequence', 'fields.cust_id.start' = '0', 'fields.cust_id.end' = '7')"
    )
    s.execute(
        f"CREATE TABLE customers (id INT, name STRING, country STRING, PRIMARY KEY (id) NOT ENFORCED) "
        f"WITH ('connector' = 'jdbc', 'url' = '{pg_url}', 'table-name' = '{customers}', "
        "'username' = 'sqlstream', 'password' = 'sqlstream', "
        "'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100')"
    )
    yield s
    s.close()


def test_inner_lookup_join_enriches_matching_rows(session: sqlstream.Session) -> None:
    rows = session.sql(
        "SELECT o.id, o.cust_id, c.name FROM orders AS o "
        "JOIN customers FOR SYSTEM_TIME AS OF o.proc AS c ON o.cust_id = c.id"
    ).fetchall()
    assert sorted(rows) == [(2, 1, "ann"), (3, 2, "bob"), (4, 3, "cy")]


def test_left_lookup_join_keeps_rows_whose_matches_fail_the_condition(session: sqlstream.Session) -> None:
    rows = session.sql(
        "SELECT o.cust_id, c.id AS cid, c.name FROM orders AS o "
        "LEFT JOIN customers FOR SYSTEM_TIME AS OF o.proc AS c ON o.cust_id = c.id AND c.country = 'DE'"
    ).fetchall()
    assert sorted(rows, key=lambda r: r[0]) == [
        (0, None, None),
        (1, 1, "ann"),
        (2, None, None),  # bob is in FR: the condition is part of ON
        (3, 3, "cy"),
        (4, None, None),
        (5, None, None),
        (6, None, None),
        (7, None, None),
    ]
