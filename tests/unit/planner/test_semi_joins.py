"""Planning IN, EXISTS, NOT IN and NOT EXISTS subqueries as Flink's semi and anti joins
(their results are checked against DuckDB in ``tests/unit/runtime/test_semi_join_oracle.py``),
scalar subqueries of a query that aggregates (``test_cross_join_oracle.py``), and the
subqueries still refused by name and position."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.connectors import ChangelogMode
from catalog.errors import SqlStreamError
from planner.physical import JoinSpec, WindowJoinSpec


@pytest.mark.parametrize(
    ("where", "join_type", "keys", "updating"),
    [
        ("k IN (SELECT k FROM plain)", "semi", 1, False),
        ("EXISTS (SELECT 1 FROM plain b WHERE b.v = a.v AND b.k > a.k)", "semi", 1, False),
        ("NOT EXISTS (SELECT 1 FROM plain b WHERE b.v = a.v)", "anti", 1, True),
        ("k NOT IN (SELECT k FROM plain)", "anti", 0, True),  # nullable: NULL-aware, one subtask
        ("k IN (SELECT COUNT(*) FROM plain GROUP BY v)", "semi", 1, True),
        # no equality: a join without keys, every pair compared on one subtask, as Flink's
        ("EXISTS (SELECT 1 FROM plain b WHERE b.v > a.v)", "semi", 0, False),
        ("NOT EXISTS (SELECT 1 FROM plain WHERE v > 100)", "anti", 0, True),
    ],
)
def test_subqueries_are_planned_as_flinks_semi_and_anti_joins(
    catalog: Catalog, where: str, join_type: str, keys: int, updating: bool
) -> None:
    plan = planner.plan(f"SELECT * FROM plain a WHERE {where}", catalog, {"parallelism.default": "2"})
    node = next(n for n in plan.nodes if isinstance(n.spec, JoinSpec))
    assert isinstance(node.spec, JoinSpec)
    assert node.spec.join_type == join_type and len(node.spec.left_keys) == keys
    assert [f.name for f in node.schema] == ["k", "v", "ts"]
    assert (node.changelog != ChangelogMode.INSERT_ONLY) == updating
    assert node.parallelism == (2 if keys else 1)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("a.v > 1 OR NOT (a.v > 2 OR k IN (SELECT k FROM plain b WHERE b.v > a.v))", "by equalities only"),
        ("a.v > ALL (SELECT v FROM plain b WHERE b.v < a.v)", "ANY / SOME / ALL subqueries here"),
        ("k IN (SELECT k, v FROM plain)", "selects 2 columns"),
        ("k IN (SELECT a.v + b.v FROM plain b)", "compares a column with a column"),
    ],
)
def test_other_subqueries_are_refused_by_name_and_position(
    catalog: Catalog, where: str, message: str
) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(f"SELECT * FROM plain a\nWHERE {where}", catalog)
    assert message in e.value.message
    assert e.value.line == 2


def _upstream(plan: planner.PhysicalPlan, node_id: int) -> list[str]:
    """The kinds of the nodes a join's outer rows come from: its first input, that one's
    first input, and so on."""
    by_id = {n.id: n for n in plan.nodes}
    kinds: list[str] = []
    node = by_id[node_id]
    while node.inputs:
        node = by_id[node.inputs[0].source]
        kinds.append(node.kind)
    return kinds


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("SELECT k, k IN (SELECT k FROM plain) AS f, COUNT(*) FROM plain GROUP BY k", ["k", "f", "EXPR$2"]),
        ("SELECT k, COUNT(*) AS n FROM plain a GROUP BY k\n"
         "HAVING EXISTS (SELECT 1 FROM plain b WHERE b.k = a.k)", ["k", "n"]),
        ("SELECT k, MAX(v) FROM plain GROUP BY k HAVING MAX(v) > ALL (SELECT v FROM plain)", ["k", "EXPR$1"]),
        ("SELECT k, COUNT(*) AS n FROM plain a GROUP BY k\n"
         "HAVING COUNT(*) > (SELECT COUNT(*) FROM plain b WHERE b.k = a.k)", ["k", "n"]),
    ],
)  # fmt: skip
def test_subqueries_of_a_query_that_aggregates_read_its_rows_outside_its_aggregate_calls(
    catalog: Catalog, query: str, names: list[str]
) -> None:
    """Outside its aggregate calls an IN, EXISTS, quantified or correlated scalar subquery
    reads the aggregate's rows: Flink aggregates first and joins the subquery to them."""
    plan = planner.plan(query, catalog)
    joins = [n for n in plan.nodes if isinstance(n.spec, JoinSpec)]
    assert joins and all("group_aggregate" in _upstream(plan, n.id) for n in joins[:1])
    assert [f.name for f in plan.nodes[-1].schema] == names


def test_in_inside_the_aggregate_calls_of_a_query_that_aggregates_reads_the_input_rows(
    catalog: Catalog,
) -> None:
    plan = planner.plan(
        "SELECT k, COUNT(*) FILTER (WHERE v IN (SELECT v FROM plain)) FROM plain GROUP BY k", catalog
    )
    joins = [n for n in plan.nodes if isinstance(n.spec, JoinSpec)]
    assert [n.spec.join_type for n in joins] == ["left", "left"]  # type: ignore[union-attr]
    assert not any("group_aggregate" in _upstream(plan, n.id) for n in joins)


def test_a_subquery_reading_an_outer_column_that_is_not_grouped_is_refused_at_the_column(
    catalog: Catalog,
) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(
            "SELECT k, COUNT(*) FROM plain a GROUP BY k\n"
            "HAVING EXISTS (SELECT 1 FROM plain b WHERE b.v = a.v)",
            catalog,
        )
    assert "column 'v' must appear in GROUP BY" in e.value.message
    assert e.value.line == 2 and 50 <= (e.value.col or 0) <= 52  # at a.v


def test_an_exists_without_equalities_as_a_value_is_a_semi_join_beside_an_anti_join(catalog: Catalog) -> None:
    """Each outer row once: marked where it has a match, unmarked where it has none, the
    outer input read once by both joins."""
    plan = planner.plan("SELECT k, EXISTS (SELECT 1 FROM plain b WHERE b.v < a.v) AS e FROM plain a", catalog)
    joins = [n.spec.join_type for n in plan.nodes if isinstance(n.spec, JoinSpec)]
    assert sorted(joins) == ["anti", "semi"]
    assert [n.kind for n in plan.nodes].count("source") == 1
    assert [f.name for f in plan.nodes[-1].schema] == ["k", "e"]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM plain a\nWHERE k IN (SELECT item FROM Bid)",
        "SELECT k,\nk IN (SELECT item FROM Bid) AS f FROM plain",
        "SELECT * FROM plain\nWHERE v = 1 OR k NOT IN (SELECT item FROM Bid)",
        "SELECT k, COUNT(*) FROM plain GROUP BY k\nHAVING k IN (SELECT item FROM Bid)",
    ],
)
def test_an_in_of_a_number_and_a_string_is_refused_when_planned(catalog: Catalog, query: str) -> None:
    """As Flink's validator refuses it; DuckDB would cast each row's text in the join and
    fail the job at the first that is no number."""
    with pytest.raises(SqlStreamError) as e:
        planner.plan(query, catalog)
    assert "cannot compare INT with STRING" in e.value.message
    assert e.value.line == 2


def test_in_and_exists_as_values_are_mark_joins(catalog: Catalog) -> None:
    """In the SELECT list, an IN over nullable columns joins its marker and whether the
    subquery has rows and a NULL item (two LEFT JOINs); an EXISTS, its marker alone."""
    plan = planner.plan("SELECT k IN (SELECT k FROM plain) AS f FROM plain", catalog)
    assert [n.spec.join_type for n in plan.nodes if isinstance(n.spec, JoinSpec)] == ["left", "left"]
    assert [f.name for f in plan.nodes[-1].schema] == ["f"]
    plan = planner.plan("SELECT EXISTS (SELECT 1 FROM plain b WHERE b.k = a.k) FROM plain a", catalog)
    assert [n.spec.join_type for n in plan.nodes if isinstance(n.spec, JoinSpec)] == ["left"]
    assert [f.name for f in plan.nodes[-1].schema] == ["EXPR$0"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT k, COUNT(*) - (SELECT v FROM plain)\nFROM plain GROUP BY k", "can give more than one row"),
        # named as written, not as the query over the aggregate's rows reads it
        ("SELECT k, COUNT(*)\nFROM plain a GROUP BY k\n"
         "HAVING COUNT(*) > (SELECT COUNT(*) * 2 FROM plain b WHERE b.v > a.k)",
         "(it reads a.k of the outer query) other than one aggregate"),
    ],
)  # fmt: skip
def test_scalar_subqueries_a_query_that_aggregates_cannot_join_are_refused(
    catalog: Catalog, query: str, message: str
) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(query, catalog)
    assert message in e.value.message
    assert e.value.line == query[: query.index("(SELECT")].count("\n") + 1  # the subquery's line


@pytest.mark.parametrize(
    "query",
    [
        "SELECT k, SUM(v + (SELECT MAX(v) FROM plain)) AS s FROM plain GROUP BY k",
        "SELECT k, COUNT(*) FILTER (WHERE v > (SELECT AVG(v) FROM plain)) AS s FROM plain GROUP BY k",
        "SELECT k, MAX((SELECT MAX(b.v) FROM plain b WHERE b.k = a.k)) AS s FROM plain a GROUP BY k",
    ],
)
def test_scalar_subqueries_inside_aggregate_calls_are_joined_to_the_input_rows(
    catalog: Catalog, query: str
) -> None:
    plan = planner.plan(query, catalog)
    join = next(n for n in plan.nodes if isinstance(n.spec, JoinSpec))
    assert "group_aggregate" not in _upstream(plan, join.id)
    assert "group_aggregate" in _upstream(plan, plan.nodes[-1].id)
    assert [f.name for f in plan.nodes[-1].schema] == ["k", "s"]


@pytest.mark.parametrize(
    "where",
    ["", "WHERE a.v > 2", "WHERE a.v > (SELECT COUNT(*) FROM Bid b WHERE b.price < a.v)"],
)
def test_a_scalar_subquery_correlated_by_a_comparison_reads_the_outer_input_once(
    catalog: Catalog, where: str
) -> None:
    """Its outer rows' distinct values come from the same scan as the rows themselves, so
    that a random datagen table gives both the same values (a second scan would not)."""
    plan = planner.plan(
        f"SELECT k, (SELECT MAX(b.price) FROM Bid b WHERE b.price < a.v) AS m FROM plain a {where}", catalog
    )
    assert sorted(n.spec.table for n in plan.nodes if n.kind == "source") == ["Bid", "plain"]  # type: ignore[union-attr]
    assert [f.name for f in plan.nodes[-1].schema] == ["k", "m"]


def test_a_scalar_subquery_correlated_by_a_null_tolerant_condition_is_refused(catalog: Catalog) -> None:
    """A NULL outer value is joined back to nothing: only conditions that are unknown for it
    (comparisons of columns, literals and arithmetic) are taken."""
    with pytest.raises(SqlStreamError) as e:
        planner.plan(
            "SELECT k, (SELECT MAX(b.price) FROM Bid b WHERE b.price < COALESCE(a.v, 0)) FROM plain a",
            catalog,
        )
    assert "correlated by comparisons" in e.value.message


def test_a_query_that_aggregates_joins_its_scalar_subqueries_after_aggregating(catalog: Catalog) -> None:
    plan = planner.plan(
        "SELECT k, COUNT(*) * 100 / (SELECT COUNT(*) FROM plain) AS pct FROM plain GROUP BY k", catalog
    )
    join = next(n for n in plan.nodes if isinstance(n.spec, JoinSpec))
    assert isinstance(join.spec, JoinSpec)
    assert join.spec.join_type == "left" and not join.spec.left_keys
    assert [f.name for f in plan.nodes[-1].schema] == ["k", "pct"]


def test_subqueries_between_window_tvfs_are_window_semi_and_anti_joins(catalog: Catalog) -> None:
    """Correlated on window_start and window_end, two TVFs of the same window: Flink's
    WindowJoin (semi/anti), append-only, its state freed as windows fire; NOT IN over
    nullable columns keeps its NULL logic in the condition, the window columns as keys."""
    tvf = "TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))"
    same = "a.window_start = b.window_start AND a.window_end = b.window_end"
    for where, join_type in (
        (f"a.url IN (SELECT b.url FROM {tvf} b WHERE {same})", "semi"),
        (f"NOT EXISTS (SELECT * FROM {tvf} b WHERE b.user_id = a.user_id AND {same})", "anti"),
        (f"a.url NOT IN (SELECT b.url FROM {tvf} b WHERE {same})", "anti"),
    ):
        plan = planner.plan(f"SELECT a.user_id, a.window_end FROM {tvf} a WHERE {where}", catalog, {})
        node = next(n for n in plan.nodes if isinstance(n.spec, WindowJoinSpec))
        assert isinstance(node.spec, WindowJoinSpec) and node.spec.join_type == join_type
        assert node.changelog == ChangelogMode.INSERT_ONLY
        assert {"window_start", "window_end"} <= set(node.spec.left_keys)
        text = planner.explain(f"SELECT a.user_id FROM {tvf} a WHERE {where}", catalog, {})
        assert f"WindowJoin(joinType=[Left{join_type.title()}Join]" in text
    other = "TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '2' MINUTE))"
    with pytest.raises(SqlStreamError, match="same window"):
        sql = f"SELECT * FROM {tvf} a WHERE a.url IN (SELECT b.url FROM {other} b WHERE {same})"
        planner.plan(sql, catalog, {})
