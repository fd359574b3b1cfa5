"""Planning state TTL: ``table.exec.state.ttl`` and the STATE_TTL hint give each side of a
regular join its idle state retention, by Flink's rules for which input a hint key names;
keys naming no input are refused with Flink's message."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.config import STATE_TTL
from catalog.errors import OptionError, SqlStreamError
from planner.physical import GroupAggregateSpec, JoinSpec

DAY = 86_400_000
HOUR = 3_600_000


def ttls(sql: str, catalog: Catalog, config: dict[str, str] | None = None) -> list[tuple[int, int]]:
    """(left, right) TTL of each regular join, bottom-up."""
    plan = planner.plan(sql, catalog, config or {})
    return [(n.spec.left_ttl_ms, n.spec.right_ttl_ms) for n in plan.nodes if isinstance(n.spec, JoinSpec)]


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1 d", DAY), ("1d", DAY), ("12h", 12 * HOUR), ("2 days", 2 * DAY), ("90 min", 90 * 60_000),
     ("360000s", 360_000_000), ("500", 500), ("0", 0)],
)  # fmt: skip
def test_the_config_key_takes_flinks_durations(text: str, ms: int) -> None:
    assert STATE_TTL.get({"table.exec.state.ttl": text}) == ms


def test_a_bad_duration_names_the_key() -> None:
    with pytest.raises(OptionError, match=r"table\.exec\.state\.ttl"):
        STATE_TTL.get({"table.exec.state.ttl": "1 fortnight"})


def test_the_config_bounds_both_sides_and_the_hint_overrides_one(catalog: Catalog) -> None:
    sql = "SELECT * FROM plain a JOIN plain b ON a.k = b.k"
    assert ttls(sql, catalog) == [(0, 0)]
    assert ttls(sql, catalog, {"table.exec.state.ttl": "1 d"}) == [(DAY, DAY)]
    hinted = sql.replace("SELECT", "SELECT /*+ STATE_TTL('b' = '12h') */")
    assert ttls(hinted, catalog, {"table.exec.state.ttl": "1 d"}) == [(DAY, 12 * HOUR)]
    # the batch runtime mode keeps no state past the end of its input: no TTL
    assert ttls(hinted, catalog, {"execution.runtime-mode": "batch"}) == [(0, 0)]


def test_a_key_is_the_alias_or_else_the_table_name(catalog: Catalog) -> None:
    sql = (
        "SELECT /*+ STATE_TTL('plain' = '1d', 'c' = '2d') */ * "
        "FROM plain JOIN clicks c ON plain.v = c.user_id"
    )
    assert ttls(sql, catalog) == [(DAY, 2 * DAY)]
    with pytest.raises(SqlStreamError, match="cannot match the name of input tables or views: \n`clicks` in"):
        planner.plan(sql.replace("'c' = '2d'", "'clicks' = '2d'"), catalog, {})


def test_a_cascade_names_the_first_joins_inputs_and_the_later_right_ones(catalog: Catalog) -> None:
    """Flink: the second join's left input is the first join, which takes the config."""
    sql = (
        "SELECT /*+ STATE_TTL('b' = '2d', 'a' = '1d', 'c' = '3d') */ * FROM plain a "
        "JOIN plain b ON a.k = b.k JOIN plain c ON b.k = c.k"
    )
    assert ttls(sql, catalog, {"table.exec.state.ttl": "1 h"}) == [(DAY, 2 * DAY), (HOUR, 3 * DAY)]


def test_a_subquerys_inputs_are_not_the_outer_blocks(catalog: Catalog) -> None:
    sql = (
        "SELECT /*+ STATE_TTL('x' = '1d', 'b' = '2d') */ * FROM plain x JOIN "
        "(SELECT a.* FROM plain a JOIN plain b ON a.k = b.k) t ON x.k = t.k"
    )
    with pytest.raises(SqlStreamError, match="`b` in `STATE_TTL`"):
        planner.plan(sql, catalog, {})
    inner = (
        "SELECT * FROM plain x JOIN (SELECT /*+ STATE_TTL('b' = '2d') */ a.* "
        "FROM plain a JOIN plain b ON a.k = b.k) t ON x.k = t.k"
    )
    assert ttls(inner, catalog) == [(0, 2 * DAY), (0, 0)]


def test_the_last_value_within_a_hint_and_the_first_across_hints_win(catalog: Catalog) -> None:
    sql = (
        "SELECT /*+ STATE_TTL('a' = '1d', 'a' = '2d'), STATE_TTL('a' = '5d', 'b' = '12h') */ * "
        "FROM plain a JOIN plain b ON a.k = b.k"
    )
    assert ttls(sql, catalog) == [(2 * DAY, 12 * HOUR)]


def test_an_empty_hint_and_a_bad_duration_are_refused(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError, match="expecting at least one key-value"):
        planner.plan("SELECT /*+ STATE_TTL() */ * FROM plain a JOIN plain b ON a.k = b.k", catalog, {})
    with pytest.raises(SqlStreamError, match="not a duration"):
        planner.plan(
            "SELECT /*+ STATE_TTL('a' = 'soon') */ * FROM plain a JOIN plain b ON a.k = b.k", catalog, {}
        )


def test_explain_shows_each_sides_bound_and_warns_of_the_unbounded_one(catalog: Catalog) -> None:
    sql = "SELECT /*+ STATE_TTL('a' = '1d') */ * FROM plain a LEFT JOIN plain b ON a.k = b.k"
    text = planner.explain(sql, catalog, {})
    assert (
        "state=[left rows by key, with matches, bounded by TTL 1 d; right rows by key, grows forever]" in text
    )
    assert "the right side's rows are kept forever" in text
    text = planner.explain(sql, catalog, {"table.exec.state.ttl": "90 min"})
    assert "right rows by key, bounded by TTL 90 min" in text and "unbounded state: Join" not in text


def agg_ttls(sql: str, catalog: Catalog, config: dict[str, str] | None = None) -> list[int]:
    plan = planner.plan(sql, catalog, config or {})
    return [n.spec.ttl_ms for n in plan.nodes if isinstance(n.spec, GroupAggregateSpec)]


def test_a_group_by_takes_the_config_or_the_hint_on_its_input(catalog: Catalog) -> None:
    sql = "SELECT k, COUNT(*) FROM plain GROUP BY k"
    assert agg_ttls(sql, catalog) == [0]
    assert agg_ttls(sql, catalog, {"table.exec.state.ttl": "1 d"}) == [DAY]
    hinted = "SELECT /*+ STATE_TTL('plain' = '2d') */ k, COUNT(*) FROM plain GROUP BY k"
    assert agg_ttls(hinted, catalog, {"table.exec.state.ttl": "1 d"}) == [2 * DAY]
    assert "accumulators by key, bounded by TTL 2 d" in planner.explain(hinted, catalog, {})
    # a cascade: each query block's hint names its own input (Flink's testAggStateTtlWithCascadeAgg)
    cascade = (
        "SELECT /*+ STATE_TTL('t' = '2d') */ k, MAX(n) FROM "
        "(SELECT /*+ STATE_TTL('plain' = '4d') */ k, v, COUNT(*) AS n FROM plain GROUP BY k, v) t GROUP BY k"
    )
    assert agg_ttls(cascade, catalog) == [4 * DAY, 2 * DAY]
    with pytest.raises(SqlStreamError, match="`plain` in `STATE_TTL`"):
        planner.plan(
            "SELECT /*+ STATE_TTL('plain' = '2d') */ k, COUNT(*) FROM plain p GROUP BY k", catalog, {}
        )


def test_a_deduplication_takes_the_config_and_a_top_n_still_warns(catalog: Catalog) -> None:
    dedup = (
        "SELECT user_id, url FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY proc DESC) "
        "AS rn FROM clicks) WHERE rn = 1"
    )
    top3 = dedup.replace("ORDER BY proc DESC", "ORDER BY url DESC").replace("rn = 1", "rn <= 3")
    config = {"table.exec.state.ttl": "1 h"}
    assert "bounded by TTL 1 h" in planner.explain(dedup, catalog, config)
    assert "unbounded state: Deduplicate" not in planner.explain(dedup, catalog, config)
    text = planner.explain(top3, catalog, config)
    assert "kept forever" in text and "unbounded state: Rank" in text
