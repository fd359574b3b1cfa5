"""A bounded table's watermark is dropped where nothing reads event time, so that its
rowtime is not read when the query does not select it; everywhere else it stays, and the
answers are those of the plan with it (Flink keeps the assigner in every plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner
import sqlstream
from catalog import Catalog
from catalog.errors import SqlStreamError
from planner.physical import SourceSpec, WatermarkSpec
from tests.unit.planner.conftest import catalog_of

DDL = """
CREATE TABLE bids (auction BIGINT, price BIGINT, channel STRING, ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '/tmp/b.json', 'format' = 'json');
CREATE TABLE bids_live WITH ('source.monitor-interval' = '1 s') LIKE bids;
CREATE TABLE out_counts (channel STRING, n BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE out_parts (channel STRING, n BIGINT, dt STRING) PARTITIONED BY (dt) WITH (
    'connector' = 'filesystem', 'path' = '/tmp/o', 'format' = 'json',
    'sink.partition-commit.trigger' = 'partition-time',
    'partition.time-extractor.timestamp-pattern' = '$dt 00:00:00');
CREATE TABLE out_rows (channel STRING, n BIGINT, dt STRING) PARTITIONED BY (dt) WITH (
    'connector' = 'filesystem', 'path' = '/tmp/o2', 'format' = 'json');
"""


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return catalog_of(DDL)


def plan_of(sql: str, cat: Catalog) -> tuple[bool, list[str]]:
    """Whether the plan assigns watermarks, and what its one scan reads."""
    specs = [n.spec for n in planner.plan(sql, cat).nodes]
    (scan,) = [s for s in specs if isinstance(s, SourceSpec)]
    return any(isinstance(s, WatermarkSpec) for s in specs), [c.name for c in scan.produced]


@pytest.mark.parametrize(
    ("sql", "columns"),
    [
        ("SELECT auction, price FROM bids WHERE MOD(auction, 123) = 0", ["auction", "price"]),
        ("SELECT channel, COUNT(*), MAX(price) FROM bids GROUP BY channel", ["price", "channel"]),
        ("INSERT INTO out_counts SELECT channel, COUNT(*) FROM bids GROUP BY channel", ["channel"]),
        ("INSERT INTO out_rows SELECT channel, price, 'x' FROM bids", ["price", "channel"]),
        ("SELECT auction FROM bids WHERE price > 9 UNION ALL SELECT auction FROM bids", ["auction", "price"]),
    ],
)
def test_a_query_blind_to_time_over_a_bounded_table_reads_no_rowtime(
    cat: Catalog, sql: str, columns: list[str]
) -> None:
    assert plan_of(sql, cat) == (False, columns)


def test_a_query_that_selects_the_rowtime_reads_it_without_a_watermark(cat: Catalog) -> None:
    assert plan_of("SELECT channel, MAX(ts) FROM bids GROUP BY channel", cat) == (False, ["channel", "ts"])


TUMBLE = "TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '10' SECOND))"


@pytest.mark.parametrize(
    "sql",
    [
        # event time read above a blind node: a window over a Calc, a window's rows
        f"SELECT window_start, COUNT(*) FROM {TUMBLE.format(t='bids')} GROUP BY window_start, window_end",
        "SELECT channel, COUNT(*) FROM (SELECT * FROM bids WHERE price > 5) "
        "GROUP BY channel, TUMBLE(ts, INTERVAL '10' SECOND)",
        f"SELECT auction, window_end FROM {TUMBLE.format(t='bids')}",
        "SELECT auction, SUM(price) OVER (PARTITION BY auction ORDER BY ts "
        "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM bids",
        # an interval join keeps rows while the watermark lets a partner still arrive
        "SELECT a.auction FROM bids a JOIN bids b ON a.auction = b.price "
        "AND a.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts",
        # not known to be blind: kept
        "SELECT auction, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction "
        "ORDER BY ts) AS rn FROM bids) WHERE rn = 1",
        # unbounded: the watermark's progress is reported while it runs
        "SELECT channel, COUNT(*) FROM bids_live GROUP BY channel",
        # commits partitions as the watermark passes them
        "INSERT INTO out_parts SELECT channel, price, 'x' FROM bids",
    ],
)
def test_the_watermark_stays_where_it_may_be_read(cat: Catalog, sql: str) -> None:
    specs = [n.spec for n in planner.plan(sql, cat).nodes]
    assert any(isinstance(s, WatermarkSpec) for s in specs)
    assert all("ts" in [c.name for c in s.produced] for s in specs if isinstance(s, SourceSpec))


def test_a_regular_join_reads_no_rowtime_of_either_side(cat: Catalog) -> None:
    """Its output has no time attribute: nothing above can read event time through it."""
    sql = "SELECT a.auction, b.channel FROM bids a JOIN bids_live b ON a.auction = b.price"
    specs = [n.spec for n in planner.plan(sql, cat).nodes]
    reads = sorted([c.name for c in s.produced] for s in specs if isinstance(s, SourceSpec))
    assert reads == [["auction"], ["price", "channel", "ts"]]  # bids_live is unbounded: kept
    assert len([s for s in specs if isinstance(s, WatermarkSpec)]) == 1


def test_explain_names_the_rule(cat: Catalog) -> None:
    text = planner.explain("SELECT channel, COUNT(*) FROM bids GROUP BY channel", cat)
    assert "WatermarkAssigner" not in text
    assert text.rstrip().endswith("drop_unread_watermarks, push_projection_into_scan")


LINES = [
    '{"auction": 1, "price": 10, "channel": "a", "ts": "2024-01-01 00:00:01.000"}',
    '{"auction": 2, "price": 20, "channel": "a", "ts": "not a time"}',
    '{"auction": 3, "price": 30, "channel": "b", "ts": null}',
    '{"auction": 4, "price": 40, "channel": "b", "ts": "2024-01-01 00:00:03.000"}',
]


def test_answers_are_those_with_the_watermark(tmp_path: Path) -> None:
    """Skipping bad records, the row whose rowtime does not parse was kept with a NULL
    rowtime, and is kept; failing on them, a query that does not read the rowtime has no
    bad record to fail on, as for any column it does not read, and one that does fails
    naming the line. A NULL rowtime is a row."""
    path = tmp_path / "bids.json"
    path.write_text("\n".join(LINES) + "\n")
    with sqlstream.connect() as s:
        for table, lenient in (("strict", "false"), ("lenient", "true")):
            s.execute(
                f"CREATE TABLE {table} (auction BIGINT, price BIGINT, channel STRING, ts TIMESTAMP(3), "
                "WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH ('connector' = 'filesystem', "
                f"'path' = '{path}', 'format' = 'json', 'json.ignore-parse-errors' = '{lenient}')"
            )
        group = "SELECT channel, COUNT(*), SUM(price) FROM {t} GROUP BY channel"
        assert sorted(s.sql(group.format(t="lenient")).fetchall()) == [("a", 2, 30), ("b", 2, 70)]
        assert sorted(s.sql(group.format(t="strict")).fetchall()) == [("a", 2, 30), ("b", 2, 70)]
        with_ts = "SELECT channel, COUNT(*), COUNT(ts) FROM {t} GROUP BY channel"
        assert sorted(s.sql(with_ts.format(t="lenient")).fetchall()) == [("a", 2, 1), ("b", 2, 1)]
        with pytest.raises(SqlStreamError, match="line 2"):
            s.sql(with_ts.format(t="strict")).fetchall()
