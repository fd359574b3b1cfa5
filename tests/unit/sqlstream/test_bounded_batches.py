"""A bounded source (a file, a datagen of so many rows) with an unwindowed GROUP BY or a
Top-N behind it gathers four default batches into one (``runtime/operators/source.py``),
and the operators between keep it one: the GROUP BY then runs its statements once for up
to 262,144 rows and sends one change per key for them."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import duckdb
import pytest

import sqlstream
from runtime.operators import rank
from tests.unit.runtime.test_deduplicate import Q18, bids, changelog, ts
from tests.unit.runtime.test_join_oracle import applied

ROWS = 200_000  # three default batches (65,536), and more than DuckDB's Arrow chunk (131,072)


def count_changelog(source: str, linger: str = "10 s") -> list[tuple[int, tuple[int, ...]]]:
    # a long linger: the batch is cut by its size alone, however busy the machine
    with sqlstream.connect(config={"sqlstream.runtime.linger": linger}) as s:
        s.execute(f"CREATE TABLE src (x BIGINT) WITH ({source})")
        return list(
            s.sql("SELECT COUNT(*) AS n, SUM(y) AS total FROM (SELECT x + 1 AS y FROM src)").changelog()
        )


def test_a_bounded_source_sends_its_rows_as_one_batch_through_a_calc() -> None:
    log = count_changelog(
        f"'connector' = 'datagen', 'number-of-rows' = '{ROWS}', 'rows-per-second' = '1000000000', "
        "'fields.x.kind' = 'sequence', "
        f"'fields.x.start' = '1', 'fields.x.end' = '{ROWS}'"
    )
    assert log == [(0, (ROWS, ROWS * (ROWS + 1) // 2 + ROWS))]  # one +I: no -U/+U per 64k rows


def test_a_file_is_read_a_bounded_batch_at_a_time(tmp_path: Path) -> None:
    """With the default linger (20 ms): it does not cut a bounded batch while the file is
    being read (a 64k read of JSON bids took ~40 ms, and each read went alone)."""
    (tmp_path / "x.csv").write_text("".join(f"{i}\n" for i in range(1, ROWS + 1)))
    log = count_changelog(
        f"'connector' = 'filesystem', 'path' = '{tmp_path / 'x.csv'}', 'format' = 'csv'", "20 ms"
    )
    assert log == [(0, (ROWS, ROWS * (ROWS + 1) // 2 + ROWS))]


def test_a_top1_inserts_many_winners_in_slices_with_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nexmark q18 with a batch of many winners, inserted into the state 7 rows at a time
    (``rank.INSERT_ROWS``): the applied changelog is DuckDB's answer."""
    monkeypatch.setattr(rank, "INSERT_ROWS", 7)
    rnd = random.Random(19)
    seconds = rnd.sample(range(3000), 400)
    rows = [
        {"auction": rnd.randint(1, 12), "bidder": rnd.choice([1, 2, 3, 4, None]), "price": rnd.randint(1, 99),
         "dateTime": ts(s)}
        for s in seconds
    ]  # fmt: skip
    bids(tmp_path / "bid", rows, parts=2)
    log = changelog(tmp_path / "bid", Q18, batch=150)
    assert {kind for kind, _ in log} == {0, 1, 2}
    con = duckdb.connect()
    con.execute("CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP)")
    con.executemany("INSERT INTO bid VALUES (?, ?, ?, ?)", [tuple(r.values()) for r in rows])
    assert applied(iter(log)) == Counter(con.sql(Q18).fetchall())


def test_a_top_n_inserts_its_kept_rows_in_slices_with_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Top-3 per auction whose kept candidates go into the state 2 rows at a time: the
    applied changelog is DuckDB's answer."""
    monkeypatch.setattr(rank, "INSERT_ROWS", 2)
    rnd = random.Random(20)
    seconds = rnd.sample(range(3000), 300)
    rows = [
        {"auction": rnd.randint(1, 8), "bidder": rnd.randint(1, 5), "price": rnd.randint(1, 99),
         "dateTime": ts(s)}
        for s in seconds
    ]  # fmt: skip
    bids(tmp_path / "bid", rows)
    top3 = """SELECT auction, bidder, price, dateTime FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, dateTime) AS rn FROM bid)
        WHERE rn <= 3"""
    log = changelog(tmp_path / "bid", top3, batch=40)
    assert {kind for kind, _ in log} == {0, 3}  # rows pushed out of the three: -D, then +I
    con = duckdb.connect()
    con.execute("CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP)")
    con.executemany("INSERT INTO bid VALUES (?, ?, ?, ?)", [tuple(r.values()) for r in rows])
    assert applied(iter(log)) == Counter(con.sql(top3).fetchall())
