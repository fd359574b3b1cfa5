"""No exchange where the rows already sit where it would put them (Flink's distribution
trait): ``GROUP BY k`` feeding an upsert sink keyed on ``k`` at the same parallelism is a
FORWARD edge, and EXPLAIN shows no Exchange there; anything that changes or drops the key on
the way keeps the exchange."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from planner.physical import Partitioning, PhysicalPlan

P2 = {"parallelism.default": "2"}


def sink_edge(plan: PhysicalPlan) -> Partitioning:
    sink = next(n for n in plan.nodes if n.kind == "sink")
    return sink.inputs[0].partitioning


def test_group_by_into_an_upsert_sink_on_its_key_is_forward(catalog: Catalog) -> None:
    sql = "INSERT INTO out_upsert SELECT item, COUNT(*) FROM Bid GROUP BY item"
    assert sink_edge(planner.plan(sql, catalog, P2)) == Partitioning.FORWARD
    text = planner.explain(sql, catalog, P2)
    assert text.count("Exchange(") == 1  # the aggregate's, none above it
    assert text.index("GroupAggregate") < text.index("Exchange(distribution=[hash[item]]")


def test_a_hash_exchange_into_group_by_ships_only_the_columns_it_reads(catalog: Catalog) -> None:
    # clicks is unbounded: its watermark stays, and with it ts, which the aggregate does not read
    sql = "SELECT url, SUM(user_id) FILTER (WHERE url <> 'x') FROM clicks GROUP BY url"
    plan = planner.plan(sql, catalog, P2)
    agg = next(n for n in plan.nodes if n.kind == "group_aggregate")
    assert agg.inputs[0].columns == ("user_id", "url")  # not ts
    assert "Exchange(distribution=[hash[url]], fields=[user_id, url])" in planner.explain(sql, catalog, P2)
    every = "SELECT url, COUNT(*), MAX(ts), SUM(user_id) FROM clicks GROUP BY url"
    assert (
        next(n for n in planner.plan(every, catalog, P2).nodes if n.kind == "group_aggregate")
        .inputs[0]
        .columns
        == ()
    )


@pytest.mark.parametrize(
    "select",
    [
        "SELECT UPPER(item), COUNT(*) FROM Bid GROUP BY item",  # the key's values change
        "SELECT supplier_id, COUNT(*) FROM Bid GROUP BY supplier_id, item",  # by more than the sink's key
        "SELECT item, n FROM (SELECT supplier_id, item, COUNT(*) AS n FROM Bid GROUP BY supplier_id, item)",
    ],
)
def test_a_key_the_rows_are_not_spread_by_keeps_the_exchange(catalog: Catalog, select: str) -> None:
    """Into the SinkUpsertMaterializer such a query needs (the sink is keyed otherwise than
    its rows), which the sink then reads forward."""
    config = {**P2, "table.exec.sink.require-on-conflict": "false"}
    plan = planner.plan(f"INSERT INTO out_upsert {select}", catalog, config)
    materializer = next(n for n in plan.nodes if n.kind == "sink_materializer")
    assert materializer.inputs[0].partitioning == Partitioning.HASH and materializer.inputs[0].keys == ("a",)
    assert sink_edge(plan) == Partitioning.FORWARD


def test_parallelism_one_has_no_exchange_anyway(catalog: Catalog) -> None:
    plan = planner.plan("INSERT INTO out_upsert SELECT item, COUNT(*) FROM Bid GROUP BY item", catalog)
    assert all(e.partitioning == Partitioning.FORWARD for n in plan.nodes for e in n.inputs)


def test_an_aggregate_over_one_on_the_same_key_reads_it_forward(catalog: Catalog) -> None:
    """A stateful consumer keyed exactly as its input is spread: its state is split by the
    same hash on restore, so no exchange is needed."""
    sql = "SELECT item, MAX(n) FROM (SELECT item, COUNT(*) AS n FROM Bid GROUP BY item) GROUP BY item"
    plan = planner.plan(sql, catalog, P2)
    outer = [n for n in plan.nodes if n.kind == "group_aggregate"][-1]
    assert outer.inputs[0].partitioning == Partitioning.FORWARD


def test_a_stateful_consumer_keyed_by_more_columns_keeps_its_exchange(catalog: Catalog) -> None:
    """Rows spread by ``item`` are together per (item, n) too, but a restore at another
    parallelism splits the outer aggregate's state by the hash of (item, n): it must receive
    its rows by that hash."""
    sql = "SELECT item, n, COUNT(*) FROM (SELECT item, COUNT(*) AS n FROM Bid GROUP BY item) GROUP BY item, n"
    plan = planner.plan(sql, catalog, P2)
    outer = [n for n in plan.nodes if n.kind == "group_aggregate"][-1]
    assert outer.inputs[0].partitioning == Partitioning.HASH
