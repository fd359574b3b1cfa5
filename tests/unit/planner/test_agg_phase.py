"""Two-phase window aggregation (``table.optimizer.agg-phase-strategy``): where it applies,
the exchange into a window aggregate carries the local phase's partial rows, and EXPLAIN
names the phases as Flink does; everything else stays one phase."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from planner.physical import Edge, PhysicalPlan

P2 = {"parallelism.default": "2"}
TUMBLE = "TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))"


def window_edge(plan: PhysicalPlan) -> Edge:
    return next(n for n in plan.nodes if n.kind == "window_aggregate").inputs[0]


def sql(select: str, source: str = TUMBLE) -> str:
    return f"SELECT item, {select} FROM {source} GROUP BY item, window_start, window_end"


def test_mergeable_aggregates_run_in_two_phases_at_parallelism_two(catalog: Catalog) -> None:
    query = sql("COUNT(*), SUM(price), MIN(price), MAX(supplier_id), AVG(price), COUNT(supplier_id)")
    assert window_edge(planner.plan(query, catalog, P2)).local_aggregate
    text = planner.explain(query, catalog, P2)
    lines = [line.strip(" +-") for line in text.splitlines()]
    at = next(i for i, line in enumerate(lines) if line.startswith("GlobalWindowAggregate(groupBy=[item]"))
    assert lines[at + 1] == "Exchange(distribution=[hash[item]])"
    assert lines[at + 2].startswith("LocalWindowAggregate(groupBy=[item], window=[TUMBLE(")
    assert lines[at + 3].startswith("WatermarkAssigner(")


def test_no_exchange_no_local_phase(catalog: Catalog) -> None:
    plan = planner.plan(sql("COUNT(*)"), catalog)
    assert not window_edge(plan).local_aggregate
    assert "LocalWindowAggregate" not in planner.explain(sql("COUNT(*)"), catalog)


@pytest.mark.parametrize(
    "query",
    [
        sql("COUNT(DISTINCT supplier_id)"),  # DISTINCT: the values, not partial counts
        sql("VAR_POP(price)"),  # kept as values, not mergeable sums
        sql(
            "COUNT(*)",
            "TABLE(SESSION(TABLE Bid PARTITION BY item, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE))",
        ),
        "SELECT url, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(proc), INTERVAL '1' MINUTE)) "
        "GROUP BY url, window_start, window_end",  # processing time: cut where it is processed
    ],
)
def test_what_cannot_merge_stays_one_phase(catalog: Catalog, query: str) -> None:
    assert not window_edge(planner.plan(query, catalog, P2)).local_aggregate


def test_one_phase_strategy_turns_it_off(catalog: Catalog) -> None:
    config = {**P2, "table.optimizer.agg-phase-strategy": "ONE_PHASE"}
    assert not window_edge(planner.plan(sql("COUNT(*)"), catalog, config)).local_aggregate
    config["table.optimizer.agg-phase-strategy"] = "TWO_PHASE"
    assert window_edge(planner.plan(sql("COUNT(*)"), catalog, config)).local_aggregate


def test_late_rows_kept_in_a_table_stay_one_phase(catalog: Catalog) -> None:
    """The global phase sees partial rows, not the rows a late-rows table records."""
    config = {**P2, "table.exec.late-rows.sink": "late"}
    assert not window_edge(planner.plan(sql("COUNT(*)"), catalog, config)).local_aggregate


def test_the_two_phases_restore_the_same_operators_as_one(catalog: Catalog) -> None:
    """The local phase is no node of its own: a checkpoint of the one-phase plan (parallelism
    1) fits the two-phase plan (parallelism 2), node for node."""
    one = planner.plan(f"INSERT INTO out_print {sql('COUNT(*)')}", catalog)
    two = planner.plan(f"INSERT INTO out_print {sql('COUNT(*)')}", catalog, P2)
    assert [(n.kind, n.spec) for n in one.nodes] == [(n.kind, n.spec) for n in two.nodes]
