"""Columns pruned below joins, ranks, sorts and unions: the state of a join, a Top-N or a
deduplication keeps only the columns the query above reads plus what the operator needs
itself (keys, order, condition, time columns), as Flink's plans do; a source that reads
every column gets a Calc below the operator instead. Window and temporal joins keep
their inputs. The answers stay DuckDB's: ``tests/unit/runtime/test_pruned_columns_oracle.py``."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from planner.physical import Node, PhysicalPlan, SourceSpec
from tests.unit.planner.conftest import catalog_of
from tests.unit.planner.test_projection_pushdown import DDL as PUSHDOWN_DDL

DDL = (
    PUSHDOWN_DDL
    + """
CREATE TABLE auctions (
    id BIGINT, item STRING, seller BIGINT, category BIGINT, ts TIMESTAMP(3), expires TIMESTAMP(3),
    extra STRING,
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '/tmp/a.json', 'format' = 'json');
"""
)


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return catalog_of(DDL)


def names(node: Node) -> list[str]:
    return [f.name for f in node.schema]


def only(plan: PhysicalPlan, kind: str) -> Node:
    (node,) = [n for n in plan.nodes if n.kind == kind]
    return node


def inputs(plan: PhysicalPlan, node: Node) -> list[list[str]]:
    """The columns each input of ``node`` sends it: what its state keeps."""
    return [names(plan.node(e.source)) for e in node.inputs]


def read(plan: PhysicalPlan) -> dict[str, list[str]]:
    return {
        n.spec.table: [c.name for c in n.spec.produced] for n in plan.nodes if isinstance(n.spec, SourceSpec)
    }


def test_a_join_keeps_the_selected_key_and_condition_columns(cat: Catalog) -> None:
    # Nexmark q4's join: the bid's url, channel, extra and bidder never reach its state
    sql = (
        "SELECT a.category, MAX(b.price) FROM auctions a JOIN bids b ON a.id = b.auction "
        "AND b.ts BETWEEN a.ts AND a.expires GROUP BY a.id, a.category"
    )
    plan = planner.plan(sql, cat)
    join = only(plan, "join")
    assert inputs(plan, join) == [["id", "category", "ts", "expires"], ["auction", "price", "ts"]]
    assert read(plan) == {"auctions": ["id", "category", "ts", "expires"], "bids": ["auction", "price", "ts"]}
    assert "select=[id, category, ts, expires, auction, price, ts0]" in planner.explain(sql, cat)


def test_a_filter_pushed_below_a_join_reads_its_column_but_the_join_does_not_keep_it(cat: Catalog) -> None:
    plan = planner.plan(
        "SELECT b.url FROM bids b JOIN auctions a ON a.id = b.auction WHERE a.category = 10", cat
    )
    assert inputs(plan, only(plan, "join")) == [["auction", "url"], ["id"]]
    assert read(plan)["auctions"] == ["id", "category"]  # not ts: nothing reads time


def test_a_semi_join_keeps_only_the_key_of_its_right_side(cat: Catalog) -> None:
    plan = planner.plan(
        "SELECT price FROM bids WHERE auction IN (SELECT id FROM auctions WHERE category = 3)", cat
    )
    assert inputs(plan, only(plan, "join")) == [["auction", "price"], ["id"]]


def test_an_interval_join_keeps_both_time_columns(cat: Catalog) -> None:
    sql = (
        "SELECT b.price FROM bids b JOIN auctions a ON a.id = b.auction "
        "AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts"
    )
    plan = planner.plan(sql, cat)
    assert inputs(plan, only(plan, "interval_join")) == [["auction", "price", "ts"], ["id", "ts"]]


def test_a_top_n_keeps_its_partition_order_and_selected_columns(cat: Catalog) -> None:
    sql = (
        "SELECT auction, bidder FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction "
        "ORDER BY price DESC) AS rn FROM bids) WHERE rn <= 3"
    )
    plan = planner.plan(sql, cat)
    rank = only(plan, "rank")
    assert inputs(plan, rank) == [["auction", "bidder", "price"]] and names(rank) == [
        "auction",
        "bidder",
        "price",
    ]


def test_a_deduplication_keeps_its_key_time_and_selected_columns(cat: Catalog) -> None:
    sql = (
        "SELECT auction, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction "
        "ORDER BY ts DESC) AS rn FROM bids) WHERE rn = 1"
    )
    plan = planner.plan(sql, cat)
    assert inputs(plan, only(plan, "rank")) == [["auction", "bidder", "price", "ts"]]
    assert "Deduplicate(keep=[LastRow]" in planner.explain(sql, cat)


def test_every_input_of_a_union_sends_the_same_positions(cat: Catalog) -> None:
    sql = (
        "SELECT auction, COUNT(*) FROM (SELECT auction, price, url FROM bids "
        "UNION ALL SELECT id, seller, item FROM auctions) GROUP BY auction"
    )
    plan = planner.plan(sql, cat)
    assert inputs(plan, only(plan, "union")) == [["auction"], ["auction"]]  # id, under the union's name
    assert read(plan) == {"bids": ["auction"], "auctions": ["id"]}  # not ts: nothing reads time


def test_a_source_that_reads_every_column_gets_a_calc_below_the_join(cat: Catalog) -> None:
    plan = planner.plan("SELECT b.url FROM bids b JOIN gen g ON g.a = b.auction", cat)
    join = only(plan, "join")
    assert inputs(plan, join) == [["auction", "url"], ["a"]]
    assert plan.node(join.inputs[1].source).kind == "calc"
    assert read(plan)["gen"] == ["a", "b", "c"]


def test_a_query_that_selects_everything_keeps_everything(cat: Catalog) -> None:
    plan = planner.plan("SELECT * FROM bids b JOIN auctions a ON a.id = b.auction", cat)
    assert [len(i) for i in inputs(plan, only(plan, "join"))] == [7, 7]


def test_a_window_join_keeps_its_inputs(cat: Catalog) -> None:
    def tumble(t: str) -> str:
        return f"(SELECT * FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '10' SECOND)))"

    sql = (
        f"SELECT l.price FROM {tumble('bids')} l JOIN {tumble('auctions')} r ON l.auction = r.id "
        "AND l.window_start = r.window_start AND l.window_end = r.window_end"
    )
    plan = planner.plan(sql, cat)
    assert [len(i) for i in inputs(plan, only(plan, "window_join"))] == [10, 10]
