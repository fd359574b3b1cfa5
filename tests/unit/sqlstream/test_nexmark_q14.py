"""Nexmark q14 (a projection with a Python UDF, ``count_char``, and a filter on the price)
as a user runs it: CREATE FUNCTION, DDL, the query over bids; every row is the one Python
computes from the same bids."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import sqlstream

Q14 = """
SELECT
    auction,
    bidder,
    0.908 * price AS price,
    CASE
        WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
        WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    dateTime,
    extra,
    count_char(extra, 'c') AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000
"""


def bid_time_type(hour: int) -> str:
    if 8 <= hour <= 18:
        return "dayTime"
    if hour <= 6 or hour >= 20:
        return "nightTime"
    return "otherTime"


def test_nexmark_q14_with_its_count_char_udf(tmp_path: Path) -> None:
    rnd = random.Random(14)
    start = dt.datetime(2024, 1, 1)
    bids = [
        (
            i,
            rnd.randint(1, 500),
            rnd.choice([10, 2_000_000, 30_000_000, 60_000_000, rnd.randint(1, 80_000_000)]),
            start + dt.timedelta(minutes=37 * i),
            "".join(rnd.choice("abcc ") for _ in range(rnd.randint(0, 12))),
        )
        for i in range(400)
    ]
    keys = ("auction", "bidder", "price", "dateTime", "extra")
    path = tmp_path / "bid.json"
    path.write_text(
        "".join(
            json.dumps(dict(zip(keys, (a, b, p, f"{t:%Y-%m-%d %H:%M:%S}", e)))) + "\n"
            for a, b, p, t, e in bids
        )
    )
    with sqlstream.connect() as s:
        s.execute(
            "CREATE FUNCTION count_char AS 'tests.unit.sqlstream.udf_module.count_char' LANGUAGE PYTHON"
        )
        s.execute(
            "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), "
            "extra STRING) "
            f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
        )
        got = s.sql(Q14).fetchall()
    expected = [
        (a, b, Decimal("0.908") * p, bid_time_type(t.hour), t, e, e.count("c"))
        for a, b, p, t, e in bids
        if 1_000_000 < Decimal("0.908") * p < 50_000_000
    ]
    assert len(expected) > 100
    assert sorted(got) == sorted(expected)
