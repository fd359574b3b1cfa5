"""The window examples of Flink's documentation (the Bid table) give the documented results."""

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import sqlstream

BIDS = Path(__file__).parents[3] / "examples" / "data" / "bids.json"

DDL = f"""
CREATE TABLE Bid (
    bidtime TIMESTAMP(3), price DECIMAL(10, 2), item STRING, supplier_id STRING,
    WATERMARK FOR bidtime AS bidtime - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{BIDS}', 'format' = 'json')
"""


def t(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2020-04-15 {hhmm}")


@pytest.fixture(params=["1", "2"], ids=["parallelism-1", "parallelism-2"])
def session(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    s = sqlstream.connect(config={"parallelism.default": request.param})
    s.execute(DDL)
    yield s
    s.close()


def rows(session: sqlstream.Session, sql: str) -> list[tuple[object, ...]]:
    return sorted(session.sql(sql).fetchall(), key=lambda r: tuple(str(v) for v in r))


def test_tumble(session: sqlstream.Session) -> None:
    assert rows(
        session,
        "SELECT window_start, window_end, SUM(price) AS total_price "
        "FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) "
        "GROUP BY window_start, window_end",
    ) == [
        (t("08:00"), t("08:10"), Decimal("11.00")),
        (t("08:10"), t("08:20"), Decimal("10.00")),
    ]


def test_hop(session: sqlstream.Session) -> None:
    assert rows(
        session,
        "SELECT window_start, window_end, SUM(price) AS total_price "
        "FROM TABLE(HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)) "
        "GROUP BY window_start, window_end",
    ) == [
        (t("08:00"), t("08:10"), Decimal("11.00")),
        (t("08:05"), t("08:15"), Decimal("15.00")),
        (t("08:10"), t("08:20"), Decimal("10.00")),
        (t("08:15"), t("08:25"), Decimal("6.00")),
    ]


def test_cumulate(session: sqlstream.Session) -> None:
    assert rows(
        session,
        "SELECT window_start, window_end, SUM(price) AS total_price "
        "FROM TABLE(CUMULATE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES)) "
        "GROUP BY window_start, window_end",
    ) == [
        (t("08:00"), t("08:06"), Decimal("4.00")),
        (t("08:00"), t("08:08"), Decimal("6.00")),
        (t("08:00"), t("08:10"), Decimal("11.00")),
        (t("08:10"), t("08:12"), Decimal("3.00")),
        (t("08:10"), t("08:14"), Decimal("4.00")),
        (t("08:10"), t("08:16"), Decimal("4.00")),
        (t("08:10"), t("08:18"), Decimal("10.00")),
        (t("08:10"), t("08:20"), Decimal("10.00")),
    ]


def test_session_partitioned_by_item(session: sqlstream.Session) -> None:
    assert rows(
        session,
        "SELECT window_start, window_end, item, SUM(price) AS total_price "
        "FROM TABLE(SESSION(TABLE Bid PARTITION BY item, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES)) "
        "GROUP BY item, window_start, window_end",
    ) == [
        (t("08:05"), t("08:10"), "C", Decimal("4.00")),
        (t("08:07"), t("08:12"), "A", Decimal("2.00")),
        (t("08:09"), t("08:14"), "D", Decimal("5.00")),
        (t("08:11"), t("08:16"), "B", Decimal("3.00")),
        (t("08:13"), t("08:18"), "E", Decimal("1.00")),
        (t("08:17"), t("08:22"), "F", Decimal("6.00")),
    ]


def test_session_over_all_bids(session: sqlstream.Session) -> None:
    assert rows(
        session,
        "SELECT window_start, window_end, SUM(price) AS total_price "
        "FROM TABLE(SESSION(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES)) "
        "GROUP BY window_start, window_end",
    ) == [(t("08:05"), t("08:22"), Decimal("21.00"))]


def test_legacy_tumble(session: sqlstream.Session) -> None:
    assert rows(
        session,
        "SELECT TUMBLE_START(bidtime, INTERVAL '10' MINUTE), TUMBLE_END(bidtime, INTERVAL '10' MINUTE), "
        "COUNT(*), MAX(price) FROM Bid GROUP BY TUMBLE(bidtime, INTERVAL '10' MINUTE)",
    ) == [
        (t("08:00"), t("08:10"), 3, Decimal("5.00")),
        (t("08:10"), t("08:20"), 3, Decimal("6.00")),
    ]


def test_window_tvf_without_aggregation_adds_window_columns(session: sqlstream.Session) -> None:
    result = rows(
        session,
        "SELECT item, window_start, window_end, window_time "
        "FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) WHERE price > 4",
    )
    assert result == [
        ("D", t("08:00"), t("08:10"), datetime.fromisoformat("2020-04-15 08:09:59.999")),
        ("F", t("08:10"), t("08:20"), datetime.fromisoformat("2020-04-15 08:19:59.999")),
    ]


GROUPED_BY_SUPPLIER = [
    (t("08:00"), t("08:10"), None, Decimal("11.00")),
    (t("08:00"), t("08:10"), "supplier1", Decimal("6.00")),
    (t("08:00"), t("08:10"), "supplier2", Decimal("5.00")),
    (t("08:10"), t("08:20"), None, Decimal("10.00")),
    (t("08:10"), t("08:20"), "supplier1", Decimal("1.00")),
    (t("08:10"), t("08:20"), "supplier2", Decimal("9.00")),
]


@pytest.mark.parametrize("grouping", ["GROUPING SETS ((supplier_id), ())", "ROLLUP (supplier_id)"])
def test_grouping_sets_and_rollup(session: sqlstream.Session, grouping: str) -> None:
    assert rows(
        session,
        "SELECT window_start, window_end, supplier_id, SUM(price) AS total_price "
        "FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) "
        f"GROUP BY window_start, window_end, {grouping}",
    ) == GROUPED_BY_SUPPLIER


def test_cube(session: sqlstream.Session) -> None:
    got = rows(
        session,
        "SELECT window_start, supplier_id, item, SUM(price) AS total_price "
        "FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) "
        "GROUP BY window_start, window_end, CUBE (supplier_id, item)",
    )
    first = [(s, i, p) for ws, s, i, p in got if ws == t("08:00")]
    assert sorted(first, key=str) == sorted([
        ("supplier1", "C", Decimal("4.00")), ("supplier1", "A", Decimal("2.00")),
        ("supplier2", "D", Decimal("5.00")), ("supplier1", None, Decimal("6.00")),
        ("supplier2", None, Decimal("5.00")), (None, "C", Decimal("4.00")), (None, "A", Decimal("2.00")),
        (None, "D", Decimal("5.00")), (None, None, Decimal("11.00")),
    ], key=str)  # fmt: skip
    assert len(got) == 18
