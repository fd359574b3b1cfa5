"""The Top-N, Window Top-N and Window Deduplication examples of Flink's documentation (its
Bid table of nine rows) give the documented results, at parallelism 1 and 2."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import sqlstream

ROWS = [  # bidtime, price, item, supplier_id, as the documentation lists them
    ("08:05", "4.00", "A", "supplier1"),
    ("08:06", "4.00", "C", "supplier2"),
    ("08:07", "2.00", "G", "supplier1"),
    ("08:08", "2.00", "B", "supplier3"),
    ("08:09", "5.00", "D", "supplier4"),
    ("08:11", "2.00", "B", "supplier3"),
    ("08:13", "1.00", "E", "supplier1"),
    ("08:15", "3.00", "H", "supplier2"),
    ("08:17", "6.00", "F", "supplier5"),
]


def t(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2020-04-15 {hhmm}")


@pytest.fixture(params=["1", "2"], ids=["parallelism-1", "parallelism-2"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sqlstream.Session]:
    folder = tmp_path / "bid"
    folder.mkdir()
    (folder / "bids.json").write_text(
        "".join(
            json.dumps({"bidtime": f"2020-04-15 {b}:00", "price": float(p), "item": i, "supplier_id": s})
            + "\n"
            for b, p, i, s in ROWS
        )
    )
    s = sqlstream.connect(config={"parallelism.default": request.param})
    s.execute(f"""CREATE TABLE Bid (
        bidtime TIMESTAMP(3), price DECIMAL(10, 2), item STRING, supplier_id STRING,
        WATERMARK FOR bidtime AS bidtime - INTERVAL '1' SECOND
    ) WITH ('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json')""")
    yield s
    s.close()


def test_window_top_n_after_a_window_aggregation(session: sqlstream.Session) -> None:
    query = """SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) as rownum
        FROM (
          SELECT window_start, window_end, supplier_id, SUM(price) as price, COUNT(*) as cnt
          FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))
          GROUP BY window_start, window_end, supplier_id
        )
      ) WHERE rownum <= 3"""
    log = list(session.sql(query).changelog())
    assert {kind for kind, _ in log} == {0}  # insert-only: each window ranked once
    assert sorted(row for _, row in log) == sorted(
        [
            (t("08:00"), t("08:10"), "supplier1", Decimal("6.00"), 2, 1),
            (t("08:00"), t("08:10"), "supplier4", Decimal("5.00"), 1, 2),
            (t("08:00"), t("08:10"), "supplier2", Decimal("4.00"), 1, 3),
            (t("08:10"), t("08:20"), "supplier5", Decimal("6.00"), 1, 1),
            (t("08:10"), t("08:20"), "supplier2", Decimal("3.00"), 1, 2),
            (t("08:10"), t("08:20"), "supplier3", Decimal("2.00"), 1, 3),
        ]
    )


def test_window_top_n_after_a_window_tvf(session: sqlstream.Session) -> None:
    query = """SELECT * FROM (
        SELECT bidtime, price, item, supplier_id, window_start, window_end,
          ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) as rownum
        FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))
      ) WHERE rownum <= 3"""
    got = sorted(session.sql(query).fetchall(), key=lambda r: r[0])
    w1, w2 = (t("08:00"), t("08:10")), (t("08:10"), t("08:20"))
    assert got == [
        (t("08:05"), Decimal("4.00"), "A", "supplier1", *w1, 2),  # a tie with C: the first to arrive
        (t("08:06"), Decimal("4.00"), "C", "supplier2", *w1, 3),
        (t("08:09"), Decimal("5.00"), "D", "supplier4", *w1, 1),
        (t("08:11"), Decimal("2.00"), "B", "supplier3", *w2, 3),
        (t("08:15"), Decimal("3.00"), "H", "supplier2", *w2, 2),
        (t("08:17"), Decimal("6.00"), "F", "supplier5", *w2, 1),
    ]


def test_window_deduplication(session: sqlstream.Session) -> None:
    query = """SELECT * FROM (
        SELECT bidtime, price, item, supplier_id, window_start, window_end,
          ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY bidtime DESC) AS rownum
        FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))
      ) WHERE rownum <= 1"""
    plan = session.execute(f"EXPLAIN {query}").message
    assert "WindowDeduplicate(keep=[LastRow]" in plan
    assert sorted(session.sql(query).fetchall()) == [
        (t("08:09"), Decimal("5.00"), "D", "supplier4", t("08:00"), t("08:10"), 1),
        (t("08:17"), Decimal("6.00"), "F", "supplier5", t("08:10"), t("08:20"), 1),
    ]


def test_top_n_of_the_documentation(session: sqlstream.Session) -> None:
    """Flink's (non-window) Top-N example shape: the best two bids per supplier, updated as
    bids arrive; the final table is each supplier's two highest prices."""
    query = """SELECT supplier_id, price, item FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY supplier_id ORDER BY price DESC) AS row_num
        FROM Bid) WHERE row_num <= 2"""
    log = list(session.sql(query).changelog())
    final: Counter[tuple[object, ...]] = Counter()
    for kind, row in log:
        final[row] += 1 if kind in (0, 2) else -1
        assert final[row] >= 0, f"retraction of a row that is not there: {kind} {row}"
    assert sorted(final.elements()) == [
        ("supplier1", Decimal("2.00"), "G"),
        ("supplier1", Decimal("4.00"), "A"),
        ("supplier2", Decimal("3.00"), "H"),
        ("supplier2", Decimal("4.00"), "C"),
        ("supplier3", Decimal("2.00"), "B"),
        ("supplier3", Decimal("2.00"), "B"),
        ("supplier4", Decimal("5.00"), "D"),
        ("supplier5", Decimal("6.00"), "F"),
    ]
