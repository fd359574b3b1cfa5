"""Flink's scalar functions, translated to DuckDB, give Flink's answers."""

import datetime as dt
import json
from decimal import Decimal

import pytest

import sqlstream

ROW = {"s": "Hello,World", "n": 7, "ts": "2020-04-15 08:05:30.123", "d": 2.5, "r": {"f": 3}, "z": None}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("fn") / "row.json"
    path.write_text(json.dumps(ROW) + "\n")
    s = sqlstream.connect()
    s.execute(
        "CREATE TABLE t (s STRING, n INT, ts TIMESTAMP(3), d DOUBLE, r ROW<f INT>, z INT) "
        f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
    )
    yield s
    s.close()


CASES = [
    ("UPPER(s)", "HELLO,WORLD"),
    ("LOWER(s)", "hello,world"),
    ("CHAR_LENGTH(s)", 11),
    ("SUBSTRING(s, 1, 5)", "Hello"),
    ("TRIM('  x ')", "x"),
    ("REPLACE(s, 'o', '0')", "Hell0,W0rld"),
    ("CONCAT(s, '!')", "Hello,World!"),
    ("CONCAT_WS('-', 'a', 'b')", "a-b"),
    ("s || '?'", "Hello,World?"),
    ("POSITION('W' IN s)", 7),
    ("LPAD('7', 3, '0')", "007"),
    ("REGEXP_EXTRACT(s, '(\\w+),(\\w+)', 2)", "World"),
    ("SPLIT_INDEX(s, ',', 1)", "World"),
    ("SPLIT_INDEX(s, ',', 5)", None),
    ("IF(n > 5, 'big', 'small')", "big"),
    ("COALESCE(z, n)", 7),
    ("CASE WHEN n BETWEEN 1 AND 9 THEN 'digit' ELSE 'other' END", "digit"),
    ("s LIKE 'Hell%'", True),
    ("n IN (1, 7)", True),
    ("z IS NULL", True),
    ("r.f", 3),
    ("n / 2", 3),  # integer division, as in Flink
    ("-n / 2", -3),  # truncated toward zero, as in Java
    ("d / 2", 1.25),
    ("MOD(n, 4)", 3),
    ("ABS(-n)", 7),
    ("POWER(n, 2)", 49.0),
    ("CAST(n AS STRING)", "7"),
    ("CAST('12' AS INT) + 1", 13),
    ("TRY_CAST(s AS INT)", None),
    ("CAST(d AS DECIMAL(5, 2))", Decimal("2.50")),
    ("DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss')", "2020-04-15 08:05:30"),
    ("EXTRACT(MINUTE FROM ts)", 5),
    ("FLOOR(ts TO HOUR)", dt.datetime(2020, 4, 15, 8, 0)),
    ("CEIL(ts TO HOUR)", dt.datetime(2020, 4, 15, 9, 0)),
    ("TIMESTAMPADD(MINUTE, 2, ts)", dt.datetime(2020, 4, 15, 8, 7, 30, 123000)),
    ("TIMESTAMPDIFF(SECOND, ts, TIMESTAMPADD(MINUTE, 2, ts))", 120),
    ("TO_TIMESTAMP('2020-01-02 03:04:05')", dt.datetime(2020, 1, 2, 3, 4, 5)),
    ("FROM_UNIXTIME(86400)", "1970-01-02 00:00:00"),
    ("UNIX_TIMESTAMP('2020-01-01 00:00:00')", 1577836800),
    # Translations nested inside others (a CAST around a Flink-only function, ...).
    ("CAST(SPLIT_INDEX(s, ',', 1) AS STRING)", "World"),
    ("CAST(n AS BIGINT) / 2", 3),
    ("UPPER(CAST(r.f AS STRING))", "3"),
    ("CAST(TO_TIMESTAMP_LTZ(86400000, 3) AS TIMESTAMP(3))", dt.datetime(1970, 1, 2)),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_function(session: sqlstream.Session, expr: str, expected: object) -> None:
    assert session.sql(f"SELECT {expr} FROM t").fetchall() == [(expected,)]
