"""The window_start and window_end of a window aggregation's rows keep their window, renamed
or not, as in Flink (window properties): a GROUP BY of both is a window aggregation too
(Nexmark q5 takes the max over each HOP window's counts), and a join on both of two window
aggregations' rows is a window join (Nexmark q8 and q5). Each window's rows are emitted
once, when the watermark passes its end: an append-only result, so such a query runs into
an append-only sink (a file), where an updating GROUP BY is refused, and a window join's
state is dropped window by window where a regular join keeps every row forever.

Expected rows worked out by hand from Flink's documented Bid table (``examples/data``).
"""

import json
from decimal import Decimal
from pathlib import Path

import sqlstream
from tests.unit.sqlstream.test_flink_doc_windows import DDL, rows, t
from tests.unit.sqlstream.test_flink_doc_windows import session as session  # the fixture, p 1 and 2

# Nexmark q5's shape: per supplier the bids of each HOP window, and the suppliers with the
# most bids of their window
COUNTS = (
    "SELECT supplier_id, count(*) AS num, window_start AS starttime, window_end AS endtime "
    "FROM TABLE(HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)) "
    "GROUP BY supplier_id, window_start, window_end"
)
HOT_SUPPLIERS = (
    f"SELECT C.supplier_id, C.num, C.starttime FROM ({COUNTS}) AS C JOIN ("
    f"SELECT max(M.num) AS maxn, M.starttime, M.endtime FROM ({COUNTS}) AS M "
    "GROUP BY M.starttime, M.endtime) AS X "
    "ON C.starttime = X.starttime AND C.endtime = X.endtime AND C.num >= X.maxn"
)


def test_nexmark_q5_shape_gives_each_windows_leaders(session: sqlstream.Session) -> None:
    # HOP 10 min every 5: [08:00, 08:10) s1 2 bids, s2 1; [08:05, 08:15) s1 3, s2 2;
    # [08:10, 08:20) s2 2, s1 1; [08:15, 08:25) s2 1
    assert rows(session, HOT_SUPPLIERS) == [
        ("supplier1", 2, t("08:00")),
        ("supplier1", 3, t("08:05")),
        ("supplier2", 1, t("08:15")),
        ("supplier2", 2, t("08:10")),
    ]


def test_it_is_planned_as_a_window_aggregation_with_an_append_only_result(session: sqlstream.Session) -> None:
    plan = session.execute(f"EXPLAIN {HOT_SUPPLIERS}").message
    assert "GroupAggregate" not in plan
    assert "WindowAggregate(groupBy=[starttime, endtime]" in plan  # the max over each window
    assert "WindowJoin(joinType=[InnerJoin], window=[HOP(" in plan and "grows forever" not in plan
    assert "changelogMode=[I,UB,UA,D]" not in plan


def test_the_window_columns_keep_their_names_and_cumulate_windows_too(session: sqlstream.Session) -> None:
    inner = (
        "SELECT supplier_id, window_start, window_end, SUM(price) AS total FROM TABLE(CUMULATE("
        "TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES)) "
        "GROUP BY supplier_id, window_start, window_end"
    )
    got = rows(
        session,
        f"SELECT window_start, window_end, MAX(total) AS top, COUNT(*) AS suppliers FROM ({inner}) "
        "GROUP BY window_start, window_end",
    )
    assert got == [
        (t("08:00"), t("08:06"), Decimal("4.00"), 1),
        (t("08:00"), t("08:08"), Decimal("6.00"), 1),
        (t("08:00"), t("08:10"), Decimal("6.00"), 2),
        (t("08:10"), t("08:12"), Decimal("3.00"), 1),
        (t("08:10"), t("08:14"), Decimal("3.00"), 2),
        (t("08:10"), t("08:16"), Decimal("3.00"), 2),
        (t("08:10"), t("08:18"), Decimal("9.00"), 2),
        (t("08:10"), t("08:20"), Decimal("9.00"), 2),
    ]


def test_only_one_of_the_window_columns_is_an_unwindowed_group_by(session: sqlstream.Session) -> None:
    plan = session.execute(f"EXPLAIN SELECT endtime, max(num) FROM ({COUNTS}) GROUP BY endtime").message
    assert "GroupAggregate(groupBy=[endtime]" in plan


def test_the_q5_shape_runs_into_an_append_only_file_sink(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with sqlstream.connect(config={"parallelism.default": "1"}) as s:
        s.execute(DDL)
        s.execute(
            "CREATE TABLE hot (supplier_id STRING, num BIGINT, starttime TIMESTAMP(3)) WITH ("
            f"'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json')"
        )
        job = s.execute(f"INSERT INTO hot {HOT_SUPPLIERS}").job
        assert job is not None and job.wait(timeout=60)
        assert job.error is None, job.error
    lines = [line for f in sorted(out.glob("part-*")) for line in f.read_text().splitlines()]
    written = sorted(tuple(json.loads(line).values()) for line in lines)
    assert written == [
        ("supplier1", 2, "2020-04-15 08:00:00"),
        ("supplier1", 3, "2020-04-15 08:05:00"),
        ("supplier2", 1, "2020-04-15 08:15:00"),
        ("supplier2", 2, "2020-04-15 08:10:00"),
    ]


def test_nexmark_q8_shape_is_a_window_join_of_two_window_aggregations(session: sqlstream.Session) -> None:
    suppliers = (
        "SELECT supplier_id, window_start AS starttime, window_end AS endtime FROM TABLE(TUMBLE(TABLE Bid, "
        "DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) GROUP BY supplier_id, window_start, window_end"
    )
    tops = (
        "SELECT supplier_id AS s, MAX(price) AS top, window_start AS starttime, window_end AS endtime "
        "FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) "
        "GROUP BY supplier_id, window_start, window_end"
    )
    query = (
        f"SELECT P.supplier_id, P.starttime, A.top FROM ({suppliers}) P JOIN ({tops}) A "
        "ON P.supplier_id = A.s AND P.starttime = A.starttime AND P.endtime = A.endtime"
    )
    plan = session.execute(f"EXPLAIN {query}").message
    assert "WindowJoin(joinType=[InnerJoin], window=[TUMBLE(" in plan and "grows forever" not in plan
    assert rows(session, query) == [
        ("supplier1", t("08:00"), Decimal("4.00")),
        ("supplier1", t("08:10"), Decimal("1.00")),
        ("supplier2", t("08:00"), Decimal("5.00")),
        ("supplier2", t("08:10"), Decimal("6.00")),
    ]


def test_renamed_columns_of_session_windows_still_join_as_a_regular_join(session: sqlstream.Session) -> None:
    sessions = (
        "SELECT supplier_id, COUNT(*) AS n, window_start AS s, window_end AS e FROM TABLE(SESSION("
        "TABLE Bid PARTITION BY supplier_id, DESCRIPTOR(bidtime), INTERVAL '3' MINUTES)) "
        "GROUP BY supplier_id, window_start, window_end"
    )
    query = (
        f"SELECT a.supplier_id, a.n, b.n FROM ({sessions}) a JOIN ({sessions}) b ON a.s = b.s AND a.e = b.e"
    )
    assert "WindowJoin" not in session.execute(f"EXPLAIN {query}").message
    # supplier1: 08:05 and 08:07, then 08:13; supplier2: 08:09 and 08:11, then 08:17
    assert rows(session, query) == [
        ("supplier1", 1, 1),
        ("supplier1", 2, 2),
        ("supplier2", 1, 1),
        ("supplier2", 2, 2),
    ]
