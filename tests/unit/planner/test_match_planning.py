"""Planning MATCH_RECOGNIZE: Flink's Match node in EXPLAIN, the output's columns and types,
the plan's JSON round trip, and the refusals, by clause and position, of what Flink
refuses or sqlstream does not run (the oracle corpus compares the answers with Flink's)."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError
from planner.errors import PlanError, UnsupportedError
from planner.physical import MatchSpec, PhysicalPlan
from tests.unit.planner.conftest import catalog_of

DDL = """
CREATE TABLE ticker (symbol STRING, price BIGINT, tax BIGINT, rowtime TIMESTAMP(3), pt AS PROCTIME(),
    WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND) WITH ('connector' = 'datagen');
"""
V_SHAPE = """SELECT * FROM ticker MATCH_RECOGNIZE (
    PARTITION BY symbol ORDER BY rowtime
    MEASURES START_ROW.rowtime AS start_tstamp, LAST(PRICE_DOWN.rowtime) AS bottom_tstamp,
        AVG(PRICE_DOWN.price) AS avg_down, MATCH_ROWTIME() AS mt
    ONE ROW PER MATCH AFTER MATCH SKIP TO LAST PRICE_UP
    PATTERN (START_ROW PRICE_DOWN+ PRICE_UP) WITHIN INTERVAL '1' HOUR
    DEFINE PRICE_DOWN AS (LAST(PRICE_DOWN.price, 1) IS NULL AND PRICE_DOWN.price < START_ROW.price)
            OR PRICE_DOWN.price < LAST(PRICE_DOWN.price, 1),
        PRICE_UP AS PRICE_UP.price > LAST(PRICE_DOWN.price, 1)) MR"""


@pytest.fixture
def catalog() -> Catalog:
    return catalog_of(DDL)


def match_of(sql: str, catalog: Catalog) -> MatchSpec:
    plan = planner.plan(sql, catalog)
    assert PhysicalPlan.from_json(plan.to_json()) == plan  # checkpoints keep the plan as JSON
    return next(n.spec for n in plan.nodes if isinstance(n.spec, MatchSpec))


def test_explain_shows_flinks_match_node(catalog: Catalog) -> None:
    text = planner.explain(V_SHAPE, catalog)
    assert (
        "Match(partitionBy=[symbol], orderBy=[rowtime ASC], measures=[FINAL(START_ROW.rowtime) AS "
        "start_tstamp, FINAL(LAST(PRICE_DOWN.rowtime)) AS bottom_tstamp, FINAL(AVG(PRICE_DOWN.price)) AS "
        "avg_down, FINAL(MATCH_ROWTIME()) AS mt], rowsPerMatch=[ONE ROW PER MATCH], "
        "after=[SKIP TO LAST PRICE_UP], pattern=[START_ROW PRICE_DOWN+ PRICE_UP], within=[3600000ms]"
    ) in text
    spec = match_of(V_SHAPE, catalog)
    assert (spec.skip, spec.skip_var, spec.within_ms) == ("to_last", "PRICE_UP", 3_600_000)
    assert [(e.var, e.low, e.high, e.greedy) for e in spec.pattern] == [
        ("START_ROW", 1, 1, True), ("PRICE_DOWN", 1, None, True), ("PRICE_UP", 1, 1, True)
    ]  # fmt: skip


def test_the_output_is_the_partition_keys_then_the_measures(catalog: Catalog) -> None:
    """As Flink: rowtime references keep their time attribute, AVG of a BIGINT is a BIGINT."""
    fields = planner.logical_plan(planner.parse(V_SHAPE)[0], catalog)[0].fields
    assert [(f.name, f.type.sql(), f.time_attribute) for f in fields] == [
        ("symbol", "STRING", None),
        ("start_tstamp", "TIMESTAMP(3)", "rowtime"),
        ("bottom_tstamp", "TIMESTAMP(3)", "rowtime"),
        ("avg_down", "BIGINT", None),
        ("mt", "TIMESTAMP(3) NOT NULL", "rowtime"),
    ]


def test_without_after_match_the_next_match_starts_at_the_next_row(catalog: Catalog) -> None:
    """Calcite's default, so Flink's: SKIP TO NEXT ROW (not the standard's SKIP PAST LAST ROW)."""
    sql = "SELECT * FROM ticker MATCH_RECOGNIZE (ORDER BY rowtime MEASURES A.price AS p PATTERN (A B))"
    assert match_of(sql, catalog).skip == "to_next"


@pytest.mark.parametrize(
    ("clause", "error", "message"),
    [
        ("MEASURES A.price AS a ALL ROWS PER MATCH PATTERN (A B)", UnsupportedError, "ALL ROWS PER MATCH"),
        ("MEASURES A.price AS a PATTERN (A | B)", UnsupportedError, "alternation (|)"),
        ("MEASURES A.price AS a PATTERN (PERMUTE(A, B))", UnsupportedError, "PERMUTE"),
        ("MEASURES A.price AS a PATTERN (A (B C)+ D)", UnsupportedError, "a group of variables"),
        ("MEASURES A.price AS a PATTERN (A B*)", UnsupportedError, "greedy quantifier on the last variable"),
        ("MEASURES A.price AS a PATTERN (A? B*?)", UnsupportedError, "can match no row"),
        ("MEASURES A.price AS a PATTERN (A B?? C)", UnsupportedError, "reluctant optional quantifier B??"),
        ("MEASURES A.price AS a PATTERN (A{0,3} B)", UnsupportedError, "from 0 to 3 rows"),
        ("MEASURES A.price AS a PATTERN (A+ B? C)", UnsupportedError, "right after a greedy quantifier (A+)"),
        ("MEASURES A.price AS a PATTERN (A{2,} B* C)", UnsupportedError, "optional variable (B*)"),
        ("MEASURES A.price AS a PATTERN (A B) DEFINE B AS B.price < PREV(B.price)", UnsupportedError, "PREV"),
        ("MEASURES UPPER(A.symbol) AS a PATTERN (A B)", UnsupportedError, "UPPER in the MEASURES"),
        ("MEASURES A.price AS a PATTERN (A B) DEFINE C AS C.price > 1", PlanError, "C is not a variable"),
        ("MEASURES X.price AS a PATTERN (A B)", PlanError, "X is not a variable of the PATTERN"),
        ("MEASURES A.nope AS a PATTERN (A B)", PlanError, "column nope is not in the input"),
        ("MEASURES SUM(A.price + B.price) AS s PATTERN (A B)", PlanError, "more than one variable"),
        ("MEASURES A.price AS a AFTER MATCH SKIP TO FIRST A PATTERN (A B)", PlanError, "SKIP TO FIRST A"),
        ("MEASURES A.price AS a AFTER MATCH SKIP TO LAST Z PATTERN (A B)", PlanError, "Z is not a variable"),
    ],
)
def test_refusals_name_the_clause(catalog: Catalog, clause: str, error: type, message: str) -> None:
    sql = f"SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime {clause})"
    with pytest.raises(error) as info:
        planner.plan(sql, catalog)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("price, rowtime", "must start with a time attribute in ascending order, not price"),
        ("rowtime DESC", "not rowtime DESC"),
        ("pt", "ordered by processing time"),
    ],
)
def test_order_by_must_start_with_the_event_time(catalog: Catalog, order: str, message: str) -> None:
    sql = f"SELECT * FROM ticker MATCH_RECOGNIZE (ORDER BY {order} MEASURES A.price AS a PATTERN (A B))"
    with pytest.raises(SqlStreamError) as info:
        planner.plan(sql, catalog)
    assert message in str(info.value)
    assert info.value.line == 1 and info.value.col is not None


def test_an_aggregates_output_has_no_time_to_order_by(catalog: Catalog) -> None:
    """An updating input (a GROUP BY's) carries no time attribute, so it is refused at
    ORDER BY, as Flink refuses it."""
    sql = """SELECT * FROM (SELECT symbol, MAX(rowtime) AS rowtime FROM ticker GROUP BY symbol)
        MATCH_RECOGNIZE (ORDER BY rowtime MEASURES A.symbol AS s PATTERN (A B))"""
    with pytest.raises(PlanError, match="must start with a time attribute in ascending order, not rowtime"):
        planner.plan(sql, catalog)
