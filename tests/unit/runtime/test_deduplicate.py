"""Deduplication as Flink runs it (``ROW_NUMBER() OVER (PARTITION BY k ORDER BY <time>
ASC|DESC)`` with ``rn = 1``, the rank not selected): the changelog each case sends, and
Nexmark q18 over random bids equal to DuckDB's answer at parallelism 1 and 2."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

import sqlstream
from tests.unit.runtime.test_join_oracle import applied

Q18 = """SELECT auction, bidder, price, dateTime FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rank_number
    FROM bid) WHERE rank_number <= 1"""


def bids(folder: Path, rows: list[dict[str, Any]], parts: int = 1) -> None:
    folder.mkdir()
    for p in range(parts):
        (folder / f"part-{p}.json").write_text("".join(json.dumps(r) + "\n" for r in rows[p::parts]))


def changelog(
    folder: Path, query: str, parallelism: int = 1, batch: int = 3
) -> list[tuple[int, tuple[Any, ...]]]:
    config = {
        "parallelism.default": str(parallelism),
        "sqlstream.runtime.batch-size": str(batch),
        "sqlstream.runtime.linger": "0 ms",
    }
    with sqlstream.connect(config=config) as s:
        s.execute(f"""CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3),
            pt AS PROCTIME(), WATERMARK FOR dateTime AS dateTime - INTERVAL '5' SECOND) WITH (
            'connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json')""")
        return list(s.sql(query).changelog())


def ts(second: int) -> str:
    return f"2024-01-01 00:{second // 60:02d}:{second % 60:02d}"


@pytest.mark.parametrize("parallelism", [1, 2])
def test_nexmark_q18_keeps_each_bidders_last_bid_per_auction(tmp_path: Path, parallelism: int) -> None:
    rnd = random.Random(18)
    seconds = rnd.sample(range(3000), 400)  # distinct times: the last bid of a key is unique
    rows = [
        {"auction": rnd.randint(1, 6), "bidder": rnd.choice([1, 2, 3, None]), "price": rnd.randint(1, 99),
         "dateTime": ts(s)}
        for s in seconds
    ]  # fmt: skip
    bids(tmp_path / "bid", rows, parts=2)
    log = changelog(tmp_path / "bid", Q18, parallelism)
    assert {kind for kind, _ in log} == {0, 1, 2}  # +I, then -U/+U: keep-last deduplication
    con = duckdb.connect()
    con.execute("CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP)")
    con.executemany("INSERT INTO bid VALUES (?, ?, ?, ?)", [tuple(r.values()) for r in rows])
    expected = Counter(con.sql(Q18).fetchall())
    assert applied(iter(log)) == expected


def test_keep_first_on_event_time_replaces_the_row_when_an_earlier_one_arrives(tmp_path: Path) -> None:
    """Flink's RowTimeDeduplicateFunction: a later row with an earlier time takes the
    key's place (-U/+U); one with the same or a later time does not."""
    rows = [
        {"auction": 1, "bidder": 7, "price": 10, "dateTime": ts(20)},
        {"auction": 1, "bidder": 7, "price": 11, "dateTime": ts(25)},  # later: ignored
        {"auction": 1, "bidder": 7, "price": 12, "dateTime": ts(15)},  # earlier: replaces
        {"auction": 1, "bidder": 7, "price": 13, "dateTime": ts(15)},  # a tie: the first stays
    ]
    bids(tmp_path / "bid", rows)
    query = Q18.replace("DESC", "ASC")
    got = changelog(tmp_path / "bid", query, batch=1)
    first = (1, 7, 10)
    earlier = (1, 7, 12)
    assert [(kind, row[:3]) for kind, row in got] == [(0, first), (1, first), (2, earlier)]


def test_keep_last_on_event_time_takes_ties_and_later_rows(tmp_path: Path) -> None:
    rows = [
        {"auction": 1, "bidder": 7, "price": 10, "dateTime": ts(20)},
        {"auction": 1, "bidder": 7, "price": 11, "dateTime": ts(15)},  # earlier: ignored
        {"auction": 1, "bidder": 7, "price": 12, "dateTime": ts(20)},  # a tie: the latest wins
    ]
    bids(tmp_path / "bid", rows)
    got = changelog(tmp_path / "bid", Q18, batch=1)
    assert [(kind, row[:3]) for kind, row in got] == [(0, (1, 7, 10)), (1, (1, 7, 10)), (2, (1, 7, 12))]


def test_keep_first_on_processing_time_is_insert_only(tmp_path: Path) -> None:
    rows = [{"auction": i % 3, "bidder": 1, "price": i, "dateTime": ts(100 - i)} for i in range(12)]
    bids(tmp_path / "bid", rows)
    query = (
        "SELECT auction, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY pt) AS rn "
        "FROM bid) WHERE rn = 1"
    )
    with sqlstream.connect() as s:
        s.execute(
            "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), "
            f"pt AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '{tmp_path / 'bid'}', "
            "'format' = 'json')"
        )
        plan = s.execute(f"EXPLAIN {query}").message
    assert "Deduplicate(keep=[FirstRow], key=[auction], order=[PROCTIME]" in plan
    assert "changelogMode=[I,UB,UA,D]" not in plan
    got = changelog(tmp_path / "bid", query, batch=2)
    assert sorted(got) == [(0, (0, 0)), (0, (1, 1)), (0, (2, 2))]  # the first to arrive, once
