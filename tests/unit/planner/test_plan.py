"""Planning: SQL text + catalog -> physical plan, as Flink would plan it."""

import json
import subprocess
import sys

import pytest

import planner
from catalog import Catalog
from catalog.connectors import ChangelogMode, Guarantee
from catalog.errors import SqlStreamError
from planner.physical import (
    CalcSpec,
    GroupAggregateSpec,
    Partitioning,
    PhysicalPlan,
    SinkSpec,
    WindowAggregateSpec,
)


def kinds(plan: PhysicalPlan) -> list[str]:
    return [n.kind for n in plan.nodes]


def test_projection_and_filter_become_one_calc(catalog: Catalog) -> None:
    plan = planner.plan("SELECT k + 1 AS k1, v FROM plain WHERE v > 10 AND k < 3", catalog)
    assert kinds(plan) == ["source", "calc", "collect"]
    calc = plan.nodes[1].spec
    assert isinstance(calc, CalcSpec)
    assert [p[0] for p in calc.projections] == ["k1", "v"]
    assert calc.condition is not None and '"v" > 10' in calc.condition
    assert plan.bounded


def test_chained_subqueries_are_merged_into_one_calc(catalog: Catalog) -> None:
    plan = planner.plan(
        "SELECT x * 2 AS y FROM (SELECT k + 1 AS x FROM plain WHERE v > 0) WHERE x > 1", catalog
    )
    assert kinds(plan) == ["source", "calc", "collect"]
    assert "merge_calcs" in plan.rules


def test_tumble_tvf_is_an_append_only_window_aggregate_hashed_by_key(catalog: Catalog) -> None:
    sql = """
    INSERT INTO out_file
    SELECT item, COUNT(*) FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))
    GROUP BY window_start, window_end, item
    """
    plan = planner.plan(sql, catalog, {"parallelism.default": "2"})
    agg = next(n for n in plan.nodes if n.kind == "window_aggregate")
    assert isinstance(agg.spec, WindowAggregateSpec)
    assert agg.spec.window.type == "tumble" and agg.spec.window.size_ms == 600_000
    assert agg.spec.keys == ("item",)
    assert agg.changelog == ChangelogMode.INSERT_ONLY
    assert agg.inputs[0].partitioning == Partitioning.HASH and agg.inputs[0].keys == ("item",)
    assert [f.name for f in agg.schema][:4] == ["item", "window_start", "window_end", "window_time"]
    assert agg.spec.aggs[0].func == "count_star"


def test_legacy_group_window_plans_like_the_tvf(catalog: Catalog) -> None:
    sql = """
    SELECT item, TUMBLE_START(bidtime, INTERVAL '10' MINUTE) AS ws, SUM(price) AS total
    FROM Bid GROUP BY TUMBLE(bidtime, INTERVAL '10' MINUTE), item
    """
    plan = planner.plan(sql, catalog)
    agg = next(n for n in plan.nodes if n.kind == "window_aggregate")
    assert isinstance(agg.spec, WindowAggregateSpec)
    assert agg.spec.window.size_ms == 600_000
    final = plan.nodes[-2].spec
    assert isinstance(final, CalcSpec)
    assert [p[0] for p in final.projections] == ["item", "ws", "total"]
    assert final.projections[1][1] == '"window_start"'


@pytest.mark.parametrize(
    ("tvf", "window"),
    [
        (
            "HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)",
            ("hop", 600_000),
        ),
        (
            "CUMULATE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES)",
            ("cumulate", 600_000),
        ),
        ("SESSION(TABLE Bid PARTITION BY item, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES)", ("session", 0)),
    ],
)
def test_other_window_kinds(catalog: Catalog, tvf: str, window: tuple[str, int]) -> None:
    plan = planner.plan(
        f"SELECT window_start, window_end, item, SUM(price) FROM TABLE({tvf}) "
        "GROUP BY window_start, window_end, item",
        catalog,
    )
    agg = next(n for n in plan.nodes if n.kind == "window_aggregate")
    assert isinstance(agg.spec, WindowAggregateSpec)
    assert (agg.spec.window.type, agg.spec.window.size_ms) == window
    if window[0] == "session":
        assert agg.spec.window.gap_ms == 300_000


def test_unwindowed_group_by_emits_updates_which_print_accepts(catalog: Catalog) -> None:
    plan = planner.plan("INSERT INTO out_print SELECT item, COUNT(*) FROM Bid GROUP BY item", catalog)
    agg = next(n for n in plan.nodes if n.kind == "group_aggregate")
    assert isinstance(agg.spec, GroupAggregateSpec)
    assert agg.changelog == ChangelogMode.ALL
    assert plan.sinks[0].changelog == ChangelogMode.ALL


def test_updating_result_into_append_only_sink_is_refused_with_the_fix(catalog: Catalog) -> None:
    sql = "INSERT INTO out_file\nSELECT item, COUNT(*) FROM Bid GROUP BY item"
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, catalog)
    text = str(e.value)
    assert "out_file" in text and "update changes" in text
    assert "GroupAggregate(groupBy=[item])" in text
    assert "PRIMARY KEY" in text


def test_updating_result_into_upsert_sink_with_primary_key(catalog: Catalog) -> None:
    plan = planner.plan("INSERT INTO out_upsert SELECT item, COUNT(*) FROM Bid GROUP BY item", catalog)
    sink = plan.sinks[0]
    assert isinstance(sink.spec, SinkSpec) and sink.spec.primary_key == ("a",)


def test_delivery_guarantee_follows_checkpointing_mode(catalog: Catalog) -> None:
    sql = "INSERT INTO out_kafka SELECT item, CAST(1 AS BIGINT) FROM Bid"
    every_second = {"execution.checkpointing.interval": "1 s"}
    exactly = planner.plan(sql, catalog, {**every_second, "execution.checkpointing.mode": "EXACTLY_ONCE"})
    at_least = planner.plan(sql, catalog, {**every_second, "execution.checkpointing.mode": "AT_LEAST_ONCE"})
    unchecked = planner.plan(sql, catalog, {"execution.checkpointing.mode": "EXACTLY_ONCE"})
    printing = planner.plan("INSERT INTO out_print SELECT item, CAST(1 AS BIGINT) FROM Bid", catalog)
    assert isinstance(exactly.sinks[0].spec, SinkSpec)
    assert exactly.sinks[0].spec.guarantee == Guarantee.EXACTLY_ONCE
    assert isinstance(at_least.sinks[0].spec, SinkSpec)
    assert at_least.sinks[0].spec.guarantee == Guarantee.AT_LEAST_ONCE
    assert isinstance(unchecked.sinks[0].spec, SinkSpec)
    assert unchecked.sinks[0].spec.guarantee == Guarantee.AT_LEAST_ONCE  # nothing to commit on
    assert isinstance(printing.sinks[0].spec, SinkSpec)
    assert printing.sinks[0].spec.guarantee == Guarantee.AT_LEAST_ONCE


def test_unknown_column_names_it_with_position_and_suggestion(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan("SELECT item,\n       prce FROM Bid", catalog)
    assert "column 'prce' not found" in e.value.message
    assert e.value.line == 2 and e.value.col == 8
    assert "did you mean 'price'" in (e.value.hint or "")


def test_unknown_table_is_named(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan("SELECT * FROM Bids", catalog)
    assert "'Bids' not found" in e.value.message and "did you mean 'Bid'" in (e.value.hint or "")


def test_window_over_a_plain_timestamp_is_refused(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(
            "SELECT window_start, COUNT(*) "
            "FROM TABLE(TUMBLE(TABLE plain, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
            "GROUP BY window_start, window_end",
            catalog,
        )
    assert "time attribute" in e.value.message and "WATERMARK" in (e.value.hint or "")


def test_non_grouped_column_is_refused(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan("SELECT item, price FROM Bid GROUP BY item", catalog)
    assert "'price' must appear in GROUP BY" in e.value.message


def test_aggregates_with_filter_and_distinct(catalog: Catalog) -> None:
    plan = planner.plan(
        "SELECT item, COUNT(DISTINCT supplier_id), SUM(price) FILTER (WHERE price > 10), AVG(price), "
        "MAX(price) - MIN(price) FROM Bid GROUP BY item HAVING COUNT(*) > 1",
        catalog,
    )
    agg = next(n for n in plan.nodes if n.kind == "group_aggregate")
    assert isinstance(agg.spec, GroupAggregateSpec)
    funcs = [(a.func, a.distinct, a.filter is not None) for a in agg.spec.aggs]
    assert funcs == [
        ("count", True, False),
        ("sum", False, True),
        ("avg", False, False),
        ("max", False, False),
        ("min", False, False),
        ("count_star", False, False),
    ]
    final = plan.nodes[-2].spec
    assert isinstance(final, CalcSpec) and final.condition is not None


def test_nested_row_field_access(catalog: Catalog) -> None:
    plan = planner.plan("SELECT info.country, c.info.device AS d FROM clicks c", catalog)
    calc = next(n for n in plan.nodes if n.kind == "calc" and "country" in str(n.spec))
    names = [f.name for f in calc.schema]
    assert names[:2] == ["country", "d"]
    assert [f.type for f in calc.schema][:2] == ["STRING", "STRING"]


def test_union_all_views_and_with(catalog: Catalog) -> None:
    for stmt in planner.parse("CREATE VIEW cheap AS SELECT item, price FROM Bid WHERE price < 2"):
        catalog.create(planner.create_view(stmt, catalog))
    plan = planner.plan(
        "WITH dear AS (SELECT item, price FROM Bid WHERE price > 100) "
        "SELECT * FROM cheap UNION ALL SELECT * FROM dear",
        catalog,
    )
    # both branches read Bid the same way: one source feeds both (Flink's source reuse)
    assert kinds(plan).count("source") == 1
    assert "union" in kinds(plan)


def test_a_window_aggregate_written_twice_is_planned_once(catalog: Catalog) -> None:
    # Nexmark q5's shape: the same HOP and COUNT(*) in both sides of a join, at different
    # places of the text; Flink's sub-plan reuse computes it once, and so do we
    hop = "TABLE(HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))"
    plan = planner.plan(
        f"SELECT a.item, a.num FROM (SELECT item, COUNT(*) AS num, window_start AS s FROM {hop} "
        "GROUP BY item, window_start, window_end) a JOIN (SELECT MAX(num) AS m, s FROM ("
        f"SELECT COUNT(*) AS num, window_start AS s FROM {hop} GROUP BY item, window_start, window_end) "
        "GROUP BY s) b ON a.s = b.s AND a.num >= b.m",
        catalog,
    )
    assert kinds(plan).count("window_aggregate") == 1
    assert kinds(plan).count("source") == 1


def test_statement_set_plans_one_sink_per_insert(catalog: Catalog) -> None:
    plan = planner.plan(
        "EXECUTE STATEMENT SET BEGIN "
        "INSERT INTO out_print SELECT item, CAST(1 AS BIGINT) FROM Bid; "
        "INSERT INTO out_file SELECT item, CAST(2 AS BIGINT) FROM Bid; END",
        catalog,
    )
    assert [s.name for s in plan.sinks] == ["Sink(out_print)", "Sink(out_file)"]


def test_insert_casts_to_the_sink_types_and_checks_counts(catalog: Catalog) -> None:
    plan = planner.plan("INSERT INTO out_print SELECT item, 1 FROM Bid", catalog)
    calc = plan.nodes[-2].spec
    assert isinstance(calc, CalcSpec) and "CAST(1 AS BIGINT)" in calc.projections[1][1]
    with pytest.raises(SqlStreamError, match="produces 1 columns but table 'out_print' has 2"):
        planner.plan("INSERT INTO out_print SELECT item FROM Bid", catalog)


def test_plan_json_round_trip(catalog: Catalog) -> None:
    plan = planner.plan(
        "SELECT item, SUM(price) FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE)) "
        "GROUP BY window_start, window_end, item",
        catalog,
    )
    text = plan.to_json()
    assert PhysicalPlan.from_json(text) == plan
    assert json.loads(text)["nodes"][0]["spec"]["kind"] == "source"


def test_explain_shows_operators_windows_watermarks_changelog_and_guarantees(catalog: Catalog) -> None:
    text = planner.explain(
        "INSERT INTO out_print SELECT item, COUNT(*) "
        "FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) "
        "GROUP BY window_start, window_end, item",
        catalog,
        {"parallelism.default": "2"},
    )
    assert "WindowAggregate(groupBy=[item], window=[TUMBLE(time_col=[bidtime], size=[10 min])]" in text
    assert "Exchange(distribution=[hash[item]])" in text
    assert "WatermarkAssigner(rowtime=[bidtime]" in text
    assert "changelogMode=[I]" in text
    assert "out_print (print): at-least-once" in text


def test_explain_never_prints_secrets() -> None:
    cat = Catalog()
    for stmt in planner.parse(
        "CREATE TABLE pg (a INT) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', "
        "'table-name' = 't', 'password' = 'hunter2')"
    ):
        cat.create(planner.create_table(stmt, cat))
    assert "hunter2" not in planner.explain("SELECT a FROM pg", cat)


def test_planner_imports_without_runtime_duckdb_or_pyarrow() -> None:
    code = (
        "import sys, planner; "
        "bad = [m for m in ('runtime', 'sqlstream', 'duckdb', 'pyarrow') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_function_is_refused_at_planning_with_a_suggestion(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan("SELECT item,\n  uper(item) FROM Bid", catalog)
    assert "no function named UPER" in e.value.message
    assert (e.value.line, e.value.col) == (2, 3)
    assert "UPPER" in (e.value.hint or "")


LOOKUP_DDL = """
CREATE TABLE orders (id BIGINT, cust_id INT, amount DOUBLE, ts TIMESTAMP(3), proc AS PROCTIME(),
    WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen');
CREATE TABLE customers (id INT, name STRING, country STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
    'connector' = 'jdbc', 'url' = 'jdbc:postgresql://localhost:5432/db', 'table-name' = 'customers');
"""


def _lookup_catalog(catalog: Catalog) -> Catalog:
    for stmt in planner.parse(LOOKUP_DDL):
        catalog.create(planner.create_table(stmt, catalog))
    return catalog


def test_lookup_join_plans_keys_residual_and_renamed_columns(catalog: Catalog) -> None:
    from planner.physical import LookupJoinSpec

    plan = planner.plan(
        "SELECT o.id, c.id AS cid, c.name FROM orders AS o LEFT JOIN customers FOR SYSTEM_TIME AS OF o.proc "
        "AS c ON o.cust_id = c.id AND c.country <> 'DE'",
        _lookup_catalog(catalog),
    )
    join = next(n for n in plan.nodes if n.kind == "lookup_join")
    assert isinstance(join.spec, LookupJoinSpec)
    assert join.spec.keys == (("cust_id", "id"),)
    assert join.spec.join_type == "left"
    assert join.spec.output_names == ("id0", "name", "country")  # 'id' clashes with the probe side
    assert join.spec.residual == "\"country\" <> 'DE'"
    final = plan.nodes[-2].spec
    assert isinstance(final, CalcSpec)
    assert [p[1] for p in final.projections] == ['"id"', '"id0"', '"name"']


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT * FROM orders o JOIN customers FOR SYSTEM_TIME AS OF o.ts AS c ON o.cust_id = c.id",
            "processing-time attribute",
        ),
        (
            "SELECT * FROM orders o JOIN plain FOR SYSTEM_TIME AS OF o.proc AS p ON o.cust_id = p.k",
            "cannot be looked up",
        ),
        (
            "SELECT * FROM orders o JOIN customers FOR SYSTEM_TIME AS OF o.proc AS c ON c.id > 1",
            "needs an equality",
        ),
    ],
)
def test_lookup_join_mistakes_are_explained(catalog: Catalog, sql: str, message: str) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, _lookup_catalog(catalog))
    assert message in e.value.message
    assert e.value.line == 1 and e.value.col is not None
