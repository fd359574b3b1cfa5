"""Planning regular and interval joins: what EXPLAIN shows, which changelog a join
produces, and the joins Flink has that we do not plan yet, refused by name and position."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.connectors import ChangelogMode
from catalog.errors import SqlStreamError
from planner.physical import IntervalJoinSpec, JoinSpec, Partitioning, TemporalJoinSpec, WindowJoinSpec

P2 = {"parallelism.default": "2"}


def join_node(sql: str, catalog: Catalog, config: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    plan = planner.plan(sql, catalog, config or P2)
    return plan, next(n for n in plan.nodes if isinstance(n.spec, JoinSpec))


def test_inner_join_of_append_only_inputs_is_append_only_and_hash_partitioned(catalog: Catalog) -> None:
    _, node = join_node(
        "SELECT b.item, c.user_id FROM Bid b JOIN clicks c ON b.item = c.url AND b.price > 1",
        catalog,
    )
    assert node.changelog == ChangelogMode.INSERT_ONLY
    assert [e.partitioning for e in node.inputs] == [Partitioning.HASH, Partitioning.HASH]
    assert node.inputs[0].keys == ("item",)


@pytest.mark.parametrize(
    ("sql", "join_type", "residual"),
    [
        ("SELECT * FROM plain a, plain b", "inner", None),
        ("SELECT * FROM plain a CROSS JOIN plain b", "inner", None),
        ("SELECT * FROM plain a, plain b WHERE a.k < b.k", "inner", "<"),
        ("SELECT * FROM plain a LEFT JOIN plain b ON a.k < b.v OR a.v = b.k", "left", "OR"),
        ("SELECT * FROM plain a FULL JOIN plain b ON a.k <> b.k", "full", "<>"),
    ],
)
def test_a_join_without_an_equality_runs_every_pair_on_one_subtask(
    catalog: Catalog, sql: str, join_type: str, residual: str | None
) -> None:
    """Refused before: Flink runs a join without an equi-key (a cross join, ON a.k < b.k)
    as a regular join whose inputs all go to one subtask, whatever the parallelism."""
    _, node = join_node(sql, catalog)
    assert isinstance(node.spec, JoinSpec) and node.spec.join_type == join_type
    assert node.spec.left_keys == node.spec.right_keys == ()
    assert node.parallelism == 1
    assert (node.spec.residual is None) if residual is None else (residual in (node.spec.residual or ""))


def test_keys_of_different_types_are_compared_in_the_wider_type(catalog: Catalog) -> None:
    plan, node = join_node("SELECT * FROM plain a JOIN plain b ON a.k = b.v", catalog)
    assert isinstance(node.spec, JoinSpec)
    assert node.spec.left_keys == ("__jk0",) and node.spec.right_keys == ("v",)
    cast = plan.node(node.inputs[0].source)
    assert cast.schema[-1].name == "__jk0" and cast.schema[-1].type.startswith("BIGINT")
    assert [f.name for f in node.schema] == ["k", "v", "ts", "k0", "v0", "ts0"]


@pytest.mark.parametrize("kind", ["LEFT", "RIGHT", "FULL OUTER"])
def test_outer_joins_update(catalog: Catalog, kind: str) -> None:
    _, node = join_node(f"SELECT * FROM plain a {kind} JOIN plain b ON a.k = b.k", catalog)
    assert node.changelog == ChangelogMode.ALL


def test_join_of_an_updating_input_updates(catalog: Catalog) -> None:
    _, node = join_node(
        "SELECT * FROM (SELECT k, COUNT(*) AS n FROM plain GROUP BY k) g JOIN plain p ON g.k = p.k", catalog
    )
    assert node.changelog == ChangelogMode.ALL


def test_three_way_join_of_a_view_and_a_subquery(catalog: Catalog) -> None:
    catalog_sql = "CREATE VIEW big AS SELECT k, v FROM plain WHERE v > 10"
    catalog.create(planner.create_view(planner.parse(catalog_sql)[0], catalog))  # type: ignore[attr-defined]
    plan = planner.plan(
        "SELECT a.k, b.v, c.n FROM plain a JOIN big b ON a.k = b.k "
        "LEFT JOIN (SELECT k, COUNT(*) AS n FROM plain GROUP BY k) c ON b.k = c.k",
        catalog,
        P2,
    )
    joins = [n for n in plan.nodes if isinstance(n.spec, JoinSpec)]
    assert [j.spec.join_type for j in joins] == ["inner", "left"]  # type: ignore[union-attr]


def test_explain_shows_kind_keys_residual_and_the_unbounded_state(catalog: Catalog) -> None:
    text = planner.explain("SELECT * FROM plain a LEFT JOIN plain b ON a.k = b.k AND a.v < b.v", catalog, P2)
    assert 'Join(joinType=[LeftOuterJoin], equi=[k=k], where=["v" < "v0"]' in text
    assert "Exchange(distribution=[hash[k]])" in text
    assert "== Warnings ==" in text
    assert "unbounded state: Join LeftOuterJoin" in text and "kept forever" in text


def test_updating_join_into_an_append_only_sink_is_refused_with_the_fix(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(
            "INSERT INTO out_file SELECT CAST(a.k AS STRING), b.v "
            "FROM plain a LEFT JOIN plain b ON a.k = b.k",
            catalog,
        )
    assert "doesn't support consuming update changes" in e.value.message
    assert "Join(joinType=[LeftOuterJoin])" in e.value.message
    assert "PRIMARY KEY" in (e.value.hint or "")
    # an inner join of append-only inputs can go there
    planner.plan(
        "INSERT INTO out_file SELECT CAST(a.k AS STRING), b.v FROM plain a JOIN plain b ON a.k = b.k", catalog
    )


@pytest.mark.parametrize(
    ("sql", "message", "line"),
    [
        (
            "SELECT * FROM Bid a\nJOIN Bid b ON a.bidtime = b.bidtime",
            "an interval join needs at least one equality",
            2,
        ),
        (
            "SELECT * FROM clicks a\nJOIN clicks b ON a.url = b.url AND a.proc BETWEEN b.proc AND b.proc",
            "processing-time interval joins",
            2,
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE)) a\n"
            "JOIN TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTE)) b\n"
            "ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.item = b.item",
            "a window join joins two window TVFs of the same window",
            2,
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE)) a\n"
            "JOIN (SELECT bidtime AS window_start, bidtime AS window_end, item FROM Bid) b\n"
            "ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.item = b.item",
            "a window join joins two window TVFs of the same window",
            2,
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(proc), INTERVAL '1' MINUTE)) a\n"
            "JOIN TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(proc), INTERVAL '1' MINUTE)) b\n"
            "ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.url = b.url",
            "window joins of processing-time windows",
            2,
        ),
        ("SELECT * FROM plain a\nJOIN plain b USING (k)", "USING", 2),
        (
            "SELECT * FROM Bid a\nJOIN Bid FOR SYSTEM_TIME AS OF a.bidtime AS b ON a.item = b.item",
            "needs a versioned table, but 'Bid' has no PRIMARY KEY",
            2,
        ),
    ],
)
def test_other_joins_are_refused_by_name_and_position(
    catalog: Catalog, sql: str, message: str, line: int
) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, catalog)
    assert message in e.value.message
    assert e.value.line == line


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a.item, b.price FROM Bid a, Bid b WHERE a.item = b.item AND a.price > b.price",
        "SELECT a.item, b.price FROM Bid a CROSS JOIN Bid b WHERE b.item = a.item AND a.price > b.price",
        "SELECT a.item, b.price FROM Bid a JOIN Bid b ON a.item = b.item AND a.price > b.price",
    ],
)
def test_a_comma_join_takes_its_condition_from_where_as_flink_pushes_it(catalog: Catalog, sql: str) -> None:
    """``FROM a, b WHERE a.k = b.k`` is the inner join ``a JOIN b ON a.k = b.k`` (Nexmark's
    q4 and q9 are written so): the same join, keys and residual as the ON form."""
    _, node = join_node(sql, catalog)
    assert isinstance(node.spec, JoinSpec) and node.spec.join_type == "inner"
    assert (node.spec.left_keys, node.spec.right_keys) == (("item",), ("item",))
    assert node.spec.residual == '"price" > "price0"'


def test_a_comma_join_of_three_takes_each_conjunct_where_its_relations_are_joined(catalog: Catalog) -> None:
    plan = planner.plan(
        "SELECT a.k FROM plain a, plain b, plain c WHERE c.k = b.k AND a.v = b.v AND a.k > 1", catalog, P2
    )
    first, second = (n.spec for n in plan.nodes if isinstance(n.spec, JoinSpec))
    assert isinstance(first, JoinSpec) and isinstance(second, JoinSpec)
    assert (first.left_keys, first.right_keys) == (("v",), ("v",))  # a, b: the a.v = b.v
    assert (second.left_keys, second.right_keys) == (("k0",), ("k",))  # (a, b), c: c.k = b.k
    assert first.residual is None and second.residual is None  # a.k > 1 filters a below


@pytest.mark.parametrize(
    "condition",
    [
        "a.bidtime > b.bidtime",  # one bound only
        "(a.bidtime < b.bidtime OR a.price > 1)",  # not a comparison of the times
        "b.bidtime BETWEEN a.bidtime AND a.expires",  # Nexmark q4/q9: the upper bound is no time attribute
    ],
)
def test_a_time_condition_that_bounds_no_interval_makes_a_regular_join(
    catalog: Catalog, condition: str
) -> None:
    """As Flink's IntervalJoinUtil: without one equality or a lower and an upper bound
    between the two time attributes, the join is a regular one that compares the times
    as plain timestamps (its state is kept, and EXPLAIN says so)."""
    sql = (
        "SELECT a.item, b.price FROM (SELECT *, bidtime + INTERVAL '1' MINUTE AS expires FROM Bid) a "
        f"JOIN Bid b ON a.item = b.item AND {condition}"
    )
    _, node = join_node(sql, catalog)
    assert type(node.spec) is JoinSpec
    assert "bidtime" in (node.spec.residual or "")
    assert "unbounded state: Join" in planner.explain(sql, catalog, P2)


def test_join_of_an_upsert_stream_reads_it_normalized(catalog: Catalog) -> None:
    """An upsert source's +U replaces a row by key without retracting it; as Flink does,
    the join reads it through a ChangelogNormalize keyed by the primary key, which sends
    the -U the join needs to retract the rows it joined."""
    for statement in planner.parse(
        "CREATE TABLE up (a STRING, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH ("
        "'connector' = 'upsert-kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'localhost:9092', "
        "'key.format' = 'json', 'value.format' = 'json')"
    ):
        catalog.create(planner.create_table(statement, catalog))
    plan = planner.plan("SELECT * FROM plain p JOIN up u ON p.v = u.b", catalog, P2)
    join = next(n for n in plan.nodes if isinstance(n.spec, JoinSpec))
    right = plan.node(join.inputs[1].source)
    assert right.name == "ChangelogNormalize(key=[a])" and right.changelog == ChangelogMode.ALL
    assert right.inputs[0].keys == ("a",)


def test_filters_of_one_side_are_pushed_below_the_join_where_that_side_is_not_padded(
    catalog: Catalog,
) -> None:
    """As Flink's FlinkFilterJoinRule: the join then keeps only rows that can be in the
    result. A filter on the padded side of an outer join stays above it."""
    plan = planner.plan(
        "SELECT * FROM plain a LEFT JOIN plain b ON a.k = b.k AND b.v > 5 AND a.v > 6 "
        "WHERE a.v < 100 AND b.v < 50",
        catalog,
    )
    join = next(n for n in plan.nodes if isinstance(n.spec, JoinSpec))
    assert isinstance(join.spec, JoinSpec)
    left, right = (plan.node(e.source).spec for e in join.inputs)
    assert getattr(left, "condition", None) == '"v" < 100'  # WHERE on the preserved side
    assert getattr(right, "condition", None) == '"v" > 5'  # ON of the padded side
    assert join.spec.residual == '"v" > 6'  # ON of the preserved side pads, not filters
    above = plan.consumers(join.id)[0].spec
    assert getattr(above, "condition", None) == '"v0" < 50'
    assert "push_filters_into_joins" in plan.rules


@pytest.mark.parametrize(
    ("condition", "lower", "upper"),
    [
        (
            "a.bidtime BETWEEN b.bidtime - INTERVAL '1' MINUTE AND b.bidtime + INTERVAL '2' SECOND",
            -60000,
            2000,
        ),
        ("a.bidtime > b.bidtime - INTERVAL '5' SECOND AND a.bidtime < b.bidtime", -4999, -1),
        ("b.bidtime >= a.bidtime AND b.bidtime <= a.bidtime + INTERVAL '1' HOUR", -3_600_000, 0),
        ("a.bidtime = b.bidtime", 0, 0),
        (
            "INTERVAL '1' SECOND + b.bidtime <= a.bidtime AND a.bidtime <= (b.bidtime + INTERVAL '3' SECOND)",
            1000,
            3000,
        ),
    ],
)
def test_interval_join_bounds_as_flink_derives_them(
    catalog: Catalog, condition: str, lower: int, upper: int
) -> None:
    """leftLowerBound <= a.bidtime - b.bidtime <= leftUpperBound; a strict comparison moves
    its bound by a millisecond, as in Flink's IntervalJoinUtil."""
    sql = f"SELECT a.item, b.price FROM Bid a JOIN Bid b ON a.item = b.item AND {condition}"
    plan = planner.plan(sql, catalog, P2)
    node = next(n for n in plan.nodes if isinstance(n.spec, IntervalJoinSpec))
    assert isinstance(node.spec, IntervalJoinSpec)
    assert (node.spec.lower_ms, node.spec.upper_ms) == (lower, upper)
    assert (node.spec.left_time, node.spec.right_time) == ("bidtime", "bidtime0")
    assert node.changelog == ChangelogMode.INSERT_ONLY
    assert [e.partitioning for e in node.inputs] == [Partitioning.HASH, Partitioning.HASH]


@pytest.mark.parametrize("kind", ["", "LEFT", "RIGHT", "FULL"])
def test_interval_joins_are_append_only_and_keep_both_time_attributes(catalog: Catalog, kind: str) -> None:
    """Flink's interval join emits no retraction (an outer row is padded once its interval
    closes), so its result goes into an append-only sink, and a window can follow it."""
    condition = "a.bidtime BETWEEN b.bidtime - INTERVAL '5' SECOND AND b.bidtime"
    plan = planner.plan(
        f"SELECT * FROM Bid a {kind} JOIN Bid b ON a.item = b.item AND {condition}", catalog, P2
    )
    node = next(n for n in plan.nodes if isinstance(n.spec, IntervalJoinSpec))
    assert node.changelog == ChangelogMode.INSERT_ONLY
    assert [f.name for f in node.schema if f.time_attribute == "rowtime"] == ["bidtime", "bidtime0"]
    planner.plan(
        f"INSERT INTO out_file SELECT a.item, CAST(b.price AS BIGINT) FROM Bid a {kind} JOIN Bid b "
        f"ON a.item = b.item AND {condition}",
        catalog,
    )
    planner.plan(
        "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE j, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE)) "
        "GROUP BY window_start, window_end",
        _with_view(catalog, f"CREATE VIEW j AS SELECT a.item, a.bidtime FROM Bid a {kind} JOIN Bid b "
                            f"ON a.item = b.item AND {condition}"),
    )  # fmt: skip


def _with_view(catalog: Catalog, sql: str) -> Catalog:
    catalog.create(planner.create_view(planner.parse(sql)[0], catalog))  # type: ignore[attr-defined]
    return catalog


def test_explain_shows_the_interval_join_its_bounds_and_its_bounded_state(catalog: Catalog) -> None:
    text = planner.explain(
        "SELECT * FROM Bid a LEFT JOIN Bid b ON a.item = b.item "
        "AND a.bidtime BETWEEN b.bidtime - INTERVAL '1' MINUTE AND b.bidtime + INTERVAL '2' SECOND",
        catalog,
        P2,
    )
    assert (
        "IntervalJoin(joinType=[LeftOuterJoin], windowBounds=[isRowTime=true, leftLowerBound=-60000, "
        "leftUpperBound=2000, leftTime=bidtime, rightTime=bidtime0], equi=[item=item]"
    ) in text
    assert "dropped as the watermark passes their interval" in text
    assert "watermarkDelay=[60000 ms]" in text
    assert "unbounded state" not in text


def test_interval_join_of_an_updating_input_is_refused_with_flinks_message(catalog: Catalog) -> None:
    for statement in planner.parse(
        "CREATE TABLE up (a STRING, ts TIMESTAMP(3), PRIMARY KEY (a) NOT ENFORCED, "
        "WATERMARK FOR ts AS ts) WITH ('connector' = 'upsert-kafka', 'topic' = 't', "
        "'properties.bootstrap.servers' = 'localhost:9092', 'key.format' = 'json', 'value.format' = 'json')"
    ):
        catalog.create(planner.create_table(statement, catalog))
    with pytest.raises(SqlStreamError) as e:
        planner.plan(
            "SELECT * FROM Bid b JOIN up u ON b.item = u.a AND b.bidtime BETWEEN u.ts AND u.ts", catalog
        )
    assert "IntervalJoin doesn't support consuming update and delete changes" in e.value.message
    assert "TableSourceScan(up)" in e.value.message


@pytest.mark.parametrize("kind", ["", "LEFT", "FULL"])
def test_window_join_is_append_only_with_its_window_in_explain(catalog: Catalog, kind: str) -> None:
    tvf = "TABLE(HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))"
    sql = (
        f"SELECT a.item, a.price, b.price AS other, a.window_start FROM {tvf} a {kind} JOIN {tvf} b "
        "ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.item = b.item "
        "AND a.price < b.price"
    )
    plan = planner.plan(sql, catalog, P2)
    node = next(n for n in plan.nodes if isinstance(n.spec, WindowJoinSpec))
    assert node.changelog == ChangelogMode.INSERT_ONLY
    assert isinstance(node.spec, WindowJoinSpec) and (node.spec.left_end, node.spec.right_end) == (
        "window_end",
        "window_end0",
    )
    text = planner.explain(sql, catalog, P2)
    assert "WindowJoin(joinType=[" in text and "window=[HOP(size=[300000 ms], slide=[60000 ms])]" in text
    assert "dropped when the window fires" in text and "unbounded state" not in text
    planner.plan(
        f"INSERT INTO out_file SELECT a.item, CAST(b.price AS BIGINT) FROM {tvf} a {kind} JOIN {tvf} b "
        "ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.item = b.item",
        catalog,
    )


VERSIONED = """CREATE TABLE rates (cur STRING, rate BIGINT, ts TIMESTAMP(3), PRIMARY KEY (cur) NOT ENFORCED,
WATERMARK FOR ts AS ts) WITH ('connector' = 'upsert-kafka', 'topic' = 't',
'properties.bootstrap.servers' = 'localhost:9092', 'key.format' = 'json', 'value.format' = 'json')"""


@pytest.mark.parametrize("kind", ["", "LEFT"])
def test_event_time_temporal_join_of_a_versioned_table(catalog: Catalog, kind: str) -> None:
    """Flink's event-time temporal join: the versioned side may update (upsert-kafka),
    the output is append-only, partitioned by the primary key, and keeps the left's rowtime."""
    for statement in planner.parse(VERSIONED):
        catalog.create(planner.create_table(statement, catalog))
    sql = (
        f"SELECT b.item, b.bidtime, r.rate FROM Bid b {kind} JOIN rates FOR SYSTEM_TIME AS OF b.bidtime AS r "
        "ON b.item = r.cur AND r.rate > 0"
    )
    plan = planner.plan(sql, catalog, P2)
    node = next(n for n in plan.nodes if isinstance(n.spec, TemporalJoinSpec))
    assert isinstance(node.spec, TemporalJoinSpec)
    assert node.changelog == ChangelogMode.INSERT_ONLY
    assert node.spec.right_keys == ("cur",) and node.inputs[1].keys == ("cur",)
    assert [f.name for f in node.schema if f.time_attribute == "rowtime"] == ["bidtime"]
    text = planner.explain(sql, catalog, P2)
    assert "TemporalJoin(joinType=[" in text and "asOf=[bidtime], versionTime=[ts]" in text
    planner.plan(f"INSERT INTO out_file SELECT b.item, r.rate FROM Bid b {kind} JOIN rates "
                 "FOR SYSTEM_TIME AS OF b.bidtime AS r ON b.item = r.cur", catalog)  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT * FROM Bid b\nJOIN rates FOR SYSTEM_TIME AS OF b.bidtime AS r ON b.price = r.rate",
            "needs an equality on every column of the PRIMARY KEY of 'rates' (cur)",
        ),
        (
            "SELECT * FROM Bid b\nFULL JOIN rates FOR SYSTEM_TIME AS OF b.bidtime AS r ON b.item = r.cur",
            "FULL temporal joins",
        ),
        (
            "SELECT * FROM (SELECT item, MAX(bidtime) AS t FROM Bid GROUP BY item) b\n"
            "JOIN rates FOR SYSTEM_TIME AS OF b.t AS r ON b.item = r.cur",
            "FOR SYSTEM_TIME AS OF needs a processing-time attribute",
        ),
    ],
)
def test_temporal_joins_flink_cannot_run_are_refused(catalog: Catalog, sql: str, message: str) -> None:
    for statement in planner.parse(VERSIONED):
        catalog.create(planner.create_table(statement, catalog))
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, catalog)
    assert message in e.value.message
    assert e.value.line == 2
