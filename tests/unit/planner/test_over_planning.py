"""Planning what is built on OVER: which of Flink's operators (Rank, Deduplicate,
WindowRank, WindowDeduplicate, OverAggregate) a query becomes, the changelog each sends,
the plan's JSON round trip, and the refusals, by name and position, of what stays out."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.connectors import ChangelogMode
from planner.errors import PlanError, UnsupportedError
from planner.physical import OverAggregateSpec, PhysicalPlan, RankSpec, WindowRankSpec
from tests.unit.planner.conftest import catalog_of

DDL = """
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, ts TIMESTAMP(3), pt AS PROCTIME(),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'datagen');
"""


@pytest.fixture
def catalog() -> Catalog:
    return catalog_of(DDL)


def ranked(select: str, over: str, where: str, source: str = "bid") -> str:
    return f"SELECT {select} FROM (SELECT *, ROW_NUMBER() OVER ({over}) AS rn FROM {source}) WHERE {where}"


def spec_of(plan: PhysicalPlan, kind: type) -> tuple[object, ChangelogMode]:
    node = next(n for n in plan.nodes if isinstance(n.spec, kind))
    assert PhysicalPlan.from_json(plan.to_json()) == plan  # checkpoints keep the plan as JSON
    return node.spec, node.changelog


@pytest.mark.parametrize(
    ("query", "changes", "dedup", "changelog"),
    [
        # Nexmark q18: keep the last row by event time; -U/+U per key
        (ranked("auction, price", "PARTITION BY bidder, auction ORDER BY ts DESC", "rn <= 1"), "update", True,
         ChangelogMode.ALL),
        # keep the first row by processing time: insert-only
        (ranked("auction, price", "PARTITION BY auction ORDER BY pt", "rn = 1"), "insert", True,
         ChangelogMode.INSERT_ONLY),
        # Top-1 by a value (FastTop1)
        (ranked("auction, price", "PARTITION BY auction ORDER BY price DESC", "rn = 1"), "update", False,
         ChangelogMode.ALL),
        # the rank selected: changes per position; not selected: rows leave and enter
        (ranked("*", "PARTITION BY auction ORDER BY price DESC", "rn <= 10"), "position", False,
         ChangelogMode.ALL),
        (ranked("auction, price", "PARTITION BY auction ORDER BY price DESC", "rn < 4"), "rows", False,
         ChangelogMode.ALL),
        (ranked("price", "PARTITION BY auction ORDER BY price", "rn BETWEEN 2 AND 3"), "position", False,
         ChangelogMode.ALL),
    ],
)  # fmt: skip
def test_rank_strategies(
    catalog: Catalog, query: str, changes: str, dedup: bool, changelog: ChangelogMode
) -> None:
    spec, mode = spec_of(planner.plan(query, catalog), RankSpec)
    assert isinstance(spec, RankSpec)
    assert (spec.changes, spec.deduplicate, mode) == (changes, dedup, changelog)


def test_rank_range_and_the_rank_column(catalog: Catalog) -> None:
    spec, _ = spec_of(
        planner.plan(ranked("auction", "ORDER BY price", "rn >= 2 AND rn <= 5 AND price > 0"), catalog),
        RankSpec,
    )
    assert isinstance(spec, RankSpec)
    assert (spec.start, spec.end, spec.rank_column, spec.partition_keys) == (2, 5, None, ())
    spec, _ = spec_of(planner.plan(ranked("auction, rn", "ORDER BY price", "rn <= 5"), catalog), RankSpec)
    assert isinstance(spec, RankSpec) and spec.rank_column is not None


def test_window_top_n_and_deduplication(catalog: Catalog) -> None:
    tvf = "TABLE(HOP(TABLE bid, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))"
    over = "PARTITION BY window_start, window_end, auction ORDER BY price DESC"
    spec, mode = spec_of(planner.plan(ranked("*", over, "rn <= 3", tvf), catalog), WindowRankSpec)
    assert isinstance(spec, WindowRankSpec) and mode == ChangelogMode.INSERT_ONLY
    assert (spec.window.type, spec.deduplicate, spec.end) == ("hop", False, 3)
    over = "PARTITION BY window_start, window_end, auction ORDER BY ts ASC"
    spec, _ = spec_of(planner.plan(ranked("auction, price", over, "rn = 1", tvf), catalog), WindowRankSpec)
    assert isinstance(spec, WindowRankSpec) and spec.deduplicate and not spec.ties_last


def test_over_aggregate(catalog: Catalog) -> None:
    query = (
        "SELECT auction, SUM(price) OVER w AS s, AVG(price) OVER w FROM bid "
        "WINDOW w AS (PARTITION BY auction ORDER BY ts "
        "RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW)"
    )
    spec, mode = spec_of(planner.plan(query, catalog), OverAggregateSpec)
    assert isinstance(spec, OverAggregateSpec) and mode == ChangelogMode.INSERT_ONLY
    assert (spec.rows, spec.preceding, [a.func for a in spec.aggs]) == (False, 60_000, ["sum", "avg"])
    spec, _ = spec_of(planner.plan("SELECT COUNT(*) OVER (ORDER BY ts) FROM bid", catalog), OverAggregateSpec)
    assert isinstance(spec, OverAggregateSpec) and (spec.rows, spec.preceding) == (
        False,
        None,
    )  # Flink's default


@pytest.mark.parametrize(
    ("query", "error", "message", "col"),
    [
        ("SELECT RANK() OVER (ORDER BY price) FROM bid", UnsupportedError, "RANK() on a streaming table", 8),
        ("SELECT DENSE_RANK() OVER (ORDER BY price) AS r FROM bid", UnsupportedError, "DENSE_RANK()", 8),
        ("SELECT auction, ROW_NUMBER() OVER (ORDER BY price) AS rn FROM bid", UnsupportedError,
         "only supported for Top-N", 17),
        (ranked("*", "PARTITION BY auction", "rn = 1"), PlanError, "needs ORDER BY", 26),
        ("SELECT SUM(price) OVER (ORDER BY pt) FROM bid", UnsupportedError, "processing time", 34),
        ("SELECT SUM(price) OVER (ORDER BY price) FROM bid", PlanError, "time attribute", 34),
        ("SELECT SUM(price) OVER (ORDER BY ts), COUNT(*) OVER (PARTITION BY auction ORDER BY ts) FROM bid",
         UnsupportedError, "different windows", 39),
        ("SELECT SUM(price) OVER (ORDER BY ts ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM bid",
         UnsupportedError, "CURRENT ROW", 8),
        ("SELECT COUNT(DISTINCT price) OVER (ORDER BY ts) FROM bid", UnsupportedError, "DISTINCT", 8),
        ("SELECT LEAD(price) OVER (ORDER BY ts) FROM bid", UnsupportedError,
         "LEAD Function is not supported in stream mode.", 8),
        ("SELECT SUM(price) OVER w, LEAD(price) OVER w FROM bid WINDOW w AS (ORDER BY ts)", UnsupportedError,
         "LEAD Function", 27),
        ("SELECT LAG(price) OVER (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM bid", PlanError,
         "ROW/RANGE not allowed", 8),
        ("SELECT LAG(price, auction) OVER (ORDER BY ts) FROM bid", UnsupportedError,
         "offset must be an integer literal", 19),
        ("SELECT LAG(price, -2) OVER (ORDER BY ts) FROM bid", PlanError, "should not be negative", 8),
        ("SELECT LAG(price, 1, 'none') OVER (ORDER BY ts) FROM bid", PlanError,
         "does not have the type of its value", 22),
        ("SELECT LAG(price, 1, NULL) OVER (ORDER BY ts) FROM bid", PlanError, "Illegal use of 'NULL'", 8),
        ("SELECT LAG(price) OVER (ORDER BY price) FROM bid", PlanError, "time attribute", 34),
        ("SELECT LAG(price) IGNORE NULLS OVER (ORDER BY ts) FROM bid", UnsupportedError,
         "LAG(... IGNORE NULLS)", 8),
        ("SELECT price + ROW_NUMBER() OVER (ORDER BY ts) FROM bid", UnsupportedError, "ROW_NUMBER", 16),
    ],
)  # fmt: skip
def test_refused_by_name_and_position(
    catalog: Catalog, query: str, error: type[Exception], message: str, col: int
) -> None:
    with pytest.raises(error) as refused:
        planner.plan(query, catalog)
    assert message in refused.value.message  # type: ignore[attr-defined]
    assert (refused.value.line, refused.value.col) == (1, col)  # type: ignore[attr-defined]


def test_explain_shows_the_operator_its_order_and_its_unbounded_state(catalog: Catalog) -> None:
    text = planner.explain(
        ranked("auction, price", "PARTITION BY bidder, auction ORDER BY ts DESC", "rn = 1"), catalog
    )
    assert "Deduplicate(keep=[LastRow], key=[bidder, auction], order=[ROWTIME], orderBy=[ts DESC]" in text
    assert "unbounded state: Deduplicate (node" in text
    tvf = "TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '5' SECOND))"
    text = planner.explain(
        ranked("*", "PARTITION BY window_start, window_end ORDER BY price", "rn <= 2", tvf), catalog
    )
    assert "WindowRank(rankType=[ROW_NUMBER], rankRange=[rankStart=1, rankEnd=2]" in text
    assert "unbounded state" not in text  # a window's rows go when it fires


def test_lag_is_an_over_aggregate_of_the_default_frame_with_bounded_state(catalog: Catalog) -> None:
    """As Flink plans it: LAG beside the other aggregates of one OverAggregate over RANGE
    UNBOUNDED PRECEDING, keeping the last ``offset`` values of each partition."""
    query = (
        "SELECT auction, price - LAG(price) OVER w AS delta, LAG(price, 3, CAST(0 AS BIGINT)) OVER w AS p3, "
        "COUNT(*) OVER w AS n FROM bid WINDOW w AS (PARTITION BY auction ORDER BY ts)"
    )
    spec, changelog = spec_of(planner.plan(query, catalog), OverAggregateSpec)
    assert isinstance(spec, OverAggregateSpec) and (spec.rows, spec.preceding) == (False, None)
    assert [(a.func, a.args) for a in spec.aggs] == [
        ("lag", ("1",)), ("lag", ("3", "CAST(0 AS BIGINT)")), ("count_star", ()),
    ]  # fmt: skip
    assert changelog == ChangelogMode.INSERT_ONLY
    text = planner.explain(query, catalog)
    assert "window=[RANG BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW]" in text
    assert 'LAG("price", 3, CAST(0 AS BIGINT)) AS w0$o1' in text
    assert "state=[LAG: the last 3 values of each partition]" in text
    assert "unbounded state" not in text
