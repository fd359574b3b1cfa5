import datetime as dt

import duckdb

from planner.physical import Window
from tests.unit.runtime.helpers import rows, run
from tests.unit.runtime.plans import AGG_SQL, table, window_plan


def ts(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)


DATA = [
    (1, 10, 1.0, 1000),
    (2, 20, 2.0, 1500),
    (1, 60, 3.0, 4999),
    (1, 70, None, 5000),
    (2, None, 4.0, 9000),
    (1, 5, 0.5, 12000),
]


def test_tumble_counts() -> None:
    out = run(window_plan(table(DATA), Window("tumble", "ts", size_ms=5000)))
    got = sorted(rows(out))
    assert got == [
        (1, ts(0), ts(5000), ts(4999), 2, 2, 70, 60, 1.0, 2.0, 1),
        (1, ts(5000), ts(10000), ts(9999), 1, 1, 70, 70, None, None, 1),
        (1, ts(10000), ts(15000), ts(14999), 1, 1, 5, 5, 0.5, 0.5, 0),
        (2, ts(0), ts(5000), ts(4999), 1, 1, 20, 20, 2.0, 2.0, 0),
        (2, ts(5000), ts(10000), ts(9999), 1, 0, None, None, 4.0, 4.0, 0),
    ]


def test_tumble_matches_duckdb() -> None:
    data = table(DATA)
    out = run(window_plan(data, Window("tumble", "ts", size_ms=5000)))
    con = duckdb.connect()
    con.register("t", data)
    want = con.sql(
        f"SELECT k, time_bucket(INTERVAL 5 SECOND, ts) AS ws, {AGG_SQL} FROM t GROUP BY ALL"
    ).fetchall()
    got = [(r[0], r[1], *r[4:]) for r in rows(out)]
    assert sorted(got) == sorted(want)
