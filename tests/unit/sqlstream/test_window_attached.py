"""A GROUP BY of the window_start and window_end of a window aggregation's rows (renamed or
not) is a window aggregation too, as in Flink (its window-attached windowing): Nexmark q5
takes the max over each HOP window's counts and joins it back. It emits each window's row
once, when the watermark passes the window's end: an append-only result, so such a query
runs into an append-only sink (a file), where an updating GROUP BY is refused.

Expected rows worked out by hand from Flink's documented Bid table (``examples/data``).
"""

import json
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
