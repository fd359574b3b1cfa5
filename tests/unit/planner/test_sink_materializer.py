"""When a SinkUpsertMaterializer goes in front of a sink that writes by key, as Flink 2.3
decides it (each case below was planned by Flink 2.3.0 with the same tables, a blackhole
sink standing for the jdbc one): with 'table.exec.sink.upsert-materialize' AUTO, where
the updating rows' upsert keys lie outside the sink's PRIMARY KEY, refused unless
'table.exec.sink.require-on-conflict' is false; FORCE always; NONE never."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.connectors import ChangelogMode
from planner.errors import PlanError, SqlStreamError
from planner.physical import ChangelogNormalizeSpec, Partitioning, PhysicalPlan, SinkMaterializerSpec

from .conftest import catalog_of

DDL = """
CREATE TABLE t (name STRING, id INT) WITH (
  'connector' = 'filesystem', 'path' = '/tmp/t.csv', 'format' = 'csv');
CREATE TABLE tk (name STRING, id INT, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'filesystem', 'path' = '/tmp/t.csv', 'format' = 'csv');
CREATE TABLE seq (v BIGINT) WITH ('connector' = 'datagen', 'fields.v.kind' = 'sequence',
  'fields.v.start' = '1', 'fields.v.end' = '1000');
CREATE TABLE randnum (v BIGINT, w INT) WITH ('connector' = 'datagen');
CREATE TABLE u (id STRING, name STRING, v INT, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'b:9092',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE pg (name STRING, id INT, cnt BIGINT, PRIMARY KEY (name) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pg');
CREATE TABLE pg2 (name STRING, id INT, cnt BIGINT, PRIMARY KEY (name, id) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pg2');
CREATE TABLE pg3 (name STRING, id INT, cnt BIGINT, PRIMARY KEY (name, id, cnt) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pg3');
CREATE TABLE pgid (name STRING, id INT, cnt BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pgid');
CREATE TABLE pgk (a BIGINT, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pgk');
CREATE TABLE pgs (a STRING, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pgs');
CREATE TABLE pgi (a INT, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pgi');
CREATE TABLE out_print (a STRING, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'print');
CREATE TABLE out_file (a STRING, b INT) WITH (
  'connector' = 'filesystem', 'path' = '/tmp/o', 'format' = 'csv');
CREATE TABLE by_name (name STRING, id STRING, PRIMARY KEY (name) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'n', 'properties.bootstrap.servers' = 'b:9092',
  'key.format' = 'json', 'value.format' = 'json');
"""

COUNTS = "SELECT name, id, COUNT(*) AS cnt FROM t GROUP BY name, id"
ALLOW = {"table.exec.sink.require-on-conflict": "false"}

# Flink 2.3: "The query has an upsert key that differs from the primary key of the sink
# table ..." (refused by default; a materializer with require-on-conflict false)
KEYED_OTHERWISE = [
    ("INSERT INTO pg SELECT name, id, COUNT(*) FROM t GROUP BY name, id", "[name], upsert key: [name, id]"),
    (
        "INSERT INTO pg SELECT name, id, COUNT(*) FROM t GROUP BY name, id "
        "UNION ALL SELECT name, id, SUM(id) FROM t GROUP BY name, id",
        "[name], upsert key: .",
    ),
    (
        "INSERT INTO pg2 SELECT name, id, COUNT(*) FROM t GROUP BY name, id "
        "UNION ALL SELECT name, id, SUM(id) FROM t GROUP BY name, id",
        "[name, id], upsert key: .",
    ),
    (
        "INSERT INTO pgid SELECT a.name, b.id, a.c FROM (SELECT name, COUNT(*) AS c FROM t GROUP BY name) a "
        "JOIN (SELECT name, MAX(id) AS id FROM t GROUP BY name) b ON a.name = b.name",
        "[id], upsert key: [name]",
    ),
    (
        "INSERT INTO pg SELECT name, id, cnt FROM (SELECT name, id, cnt, ROW_NUMBER() OVER ("
        f"PARTITION BY id ORDER BY cnt DESC) AS rn FROM ({COUNTS})) WHERE rn = 1",
        "[name], upsert key: [id]",
    ),
    ("INSERT INTO pgid SELECT name, id, COUNT(*) FROM t GROUP BY id, name", "[id], upsert key: [id, name]"),
    (
        "INSERT INTO pg SELECT n, id, c FROM (SELECT UPPER(name) AS n, id, COUNT(*) AS c "
        "FROM t GROUP BY name, id)",
        "[name], upsert key: .",
    ),
    (
        "INSERT INTO pgk SELECT s.v, r.w FROM seq s LEFT JOIN randnum r ON s.v = r.v AND r.w > 0",
        "[a], upsert key: .",
    ),
    ("INSERT INTO pgi SELECT CAST(v AS INT), COUNT(*) FROM seq GROUP BY v", "[a], upsert key: ."),
    ("INSERT INTO by_name SELECT name, id FROM u", "[name], upsert key: [id]"),
]

# Flink 2.3 plans these without a materializer (and without complaint)
KEYED_WITHIN = [
    "INSERT INTO pg SELECT name, id, 1 FROM t",  # append-only
    "INSERT INTO pg SELECT name, id, 1 FROM tk",
    "INSERT INTO pg SELECT name, MAX(id), COUNT(*) FROM t GROUP BY name",
    "INSERT INTO pg SELECT name, MAX(id), COUNT(*) FROM t GROUP BY name HAVING COUNT(*) > 1",
    "INSERT INTO pg2 SELECT name, id, COUNT(*) FROM t GROUP BY name, id",
    "INSERT INTO pg3 SELECT name, id, COUNT(*) FROM t GROUP BY name, id",
    "INSERT INTO pg SELECT 'x', 1, COUNT(*) FROM t",  # one row: the empty key
    "INSERT INTO pg SELECT a.name, b.id, a.c FROM (SELECT name, COUNT(*) AS c FROM t GROUP BY name) a "
    "JOIN (SELECT name, MAX(id) AS id FROM t GROUP BY name) b ON a.name = b.name",
    "INSERT INTO pg SELECT name, id, cnt FROM (SELECT name, id, cnt, ROW_NUMBER() OVER ("
    f"PARTITION BY name ORDER BY cnt DESC) AS rn FROM ({COUNTS})) WHERE rn = 1",
    "INSERT INTO pgk SELECT v % 7, COUNT(*) FROM seq GROUP BY v % 7",  # INT key cast to BIGINT
    "INSERT INTO pgk SELECT id, COUNT(*) FROM t GROUP BY id",
    "INSERT INTO pgs SELECT CAST(id AS STRING), COUNT(*) FROM t GROUP BY id",
]


@pytest.fixture
def cat() -> Catalog:
    return catalog_of(DDL)


def materializers(plan: PhysicalPlan) -> list[SinkMaterializerSpec]:
    return [n.spec for n in plan.nodes if isinstance(n.spec, SinkMaterializerSpec)]


@pytest.mark.parametrize(("sql", "keys"), KEYED_OTHERWISE)
def test_keyed_otherwise_than_the_sink_is_refused_as_flink_refuses_it(
    cat: Catalog, sql: str, keys: str
) -> None:
    with pytest.raises(PlanError) as e:
        planner.plan(sql, cat, {"parallelism.default": "2"})
    assert (
        "The query has an upsert key that differs from the primary key of the sink table" in e.value.message
    )
    assert f"Primary key: {keys}" in e.value.message
    assert e.value.hint is not None and "'table.exec.sink.require-on-conflict' = 'false'" in e.value.hint


@pytest.mark.parametrize(("sql", "keys"), KEYED_OTHERWISE)
def test_keyed_otherwise_gets_a_materializer_keyed_by_the_sinks_key(
    cat: Catalog, sql: str, keys: str
) -> None:
    plan = planner.plan(sql, cat, {"parallelism.default": "2", **ALLOW})
    (node,) = [n for n in plan.nodes if isinstance(n.spec, SinkMaterializerSpec)]
    (sink,) = plan.consumers(node.id)
    assert sink.kind == "sink" and node.changelog == ChangelogMode.UPSERT
    assert node.inputs[0].keys == node.spec.keys  # hash partitioned by the sink's key
    assert sink.inputs[0].partitioning == Partitioning.FORWARD
    assert plan.node(node.inputs[0].source).changelog == ChangelogMode.ALL  # a full changelog in


@pytest.mark.parametrize("sql", KEYED_WITHIN)
def test_keyed_within_the_sinks_key_gets_none(cat: Catalog, sql: str) -> None:
    assert materializers(planner.plan(sql, cat, {"parallelism.default": "2"})) == []


def test_explain_shows_it_as_flink_names_it(cat: Catalog) -> None:
    text = planner.explain(KEYED_OTHERWISE[0][0], cat, {**ALLOW, "table.exec.state.ttl": "1 h"})
    assert (
        "Sink(table=[pg], connector=[jdbc], fields=[name, id, cnt], primaryKey=[name], "
        "upsertMaterialize=[true]" in text
    )
    assert (
        "+- SinkMaterializer(pk=[name], upsertKey=[name, id], state=[every live row by key in arrival order, "
        "bounded by TTL 1 h], changelogMode=[I,UA,D]"
    ) in text


def test_none_never_adds_it_nor_refuses(cat: Catalog) -> None:
    plan = planner.plan(KEYED_OTHERWISE[0][0], cat, {"table.exec.sink.upsert-materialize": "NONE"})
    assert materializers(plan) == []


@pytest.mark.parametrize("sql", KEYED_WITHIN[:4])
def test_force_adds_it_to_every_sink_that_writes_by_key(cat: Catalog, sql: str) -> None:
    """Flink 2.3 with FORCE: upsertMaterialize=[true] even over an append-only input."""
    plan = planner.plan(sql, cat, {"table.exec.sink.upsert-materialize": "FORCE"})
    assert [m.keys for m in materializers(plan)] == [("name",)]


def test_an_upsert_stream_keyed_otherwise_is_normalized_then_materialized(cat: Catalog) -> None:
    """upsert-kafka keyed by id into a sink keyed by name: Flink's ChangelogNormalize (the
    -U rows the materializer needs) then the materializer matching rows by id."""
    plan = planner.plan(
        "INSERT INTO by_name SELECT name, id FROM u", cat, {"parallelism.default": "2", **ALLOW}
    )
    kinds = [n.spec for n in plan.nodes]
    normalize = next(i for i, s in enumerate(kinds) if isinstance(s, ChangelogNormalizeSpec))
    materialize = next(i for i, s in enumerate(kinds) if isinstance(s, SinkMaterializerSpec))
    assert normalize < materialize
    assert materializers(plan)[0] == SinkMaterializerSpec(("name",), ("id",))


def test_a_bad_mode_is_refused_by_name(cat: Catalog) -> None:
    with pytest.raises(Exception, match=r"table\.exec\.sink\.upsert-materialize"):
        planner.plan(KEYED_OTHERWISE[0][0], cat, {"table.exec.sink.upsert-materialize": "SOMETIMES"})


def test_on_conflict_do_deduplicate_gets_the_materializer_without_the_option(cat: Catalog) -> None:
    """Flink 2.3's clause for it: the materializer where AUTO puts one, nothing refused."""
    plan = planner.plan(f"{KEYED_OTHERWISE[0][0]} ON CONFLICT DO DEDUPLICATE", cat, {})
    assert materializers(plan) == [SinkMaterializerSpec(("name",), ("name", "id"))]
    plan = planner.plan(f"{KEYED_WITHIN[2]} ON CONFLICT DO DEDUPLICATE", cat, {})  # keyed within
    assert materializers(plan) == []
    # a sink that takes the whole changelog needs none (Flink's print materializes it)
    plan = planner.plan(
        "INSERT INTO out_print SELECT name, COUNT(*) FROM t GROUP BY name ON CONFLICT DO DEDUPLICATE", cat, {}
    )
    assert materializers(plan) == []


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            f"{KEYED_OTHERWISE[0][0]} ON CONFLICT DO NOTHING",
            "not supported: ON CONFLICT DO NOTHING",
        ),
        (f"{KEYED_OTHERWISE[0][0]} ON CONFLICT DO ERROR", "not supported: ON CONFLICT DO ERROR"),
        (
            f"{KEYED_OTHERWISE[0][0]} ON CONFLICT DO UPDATE SET cnt = 1",
            "ON CONFLICT DO UPDATE is not supported",
        ),
        (  # Flink 2.3: jdbc then only takes inserts
            "INSERT INTO pg SELECT name, id, 1 FROM t ON CONFLICT DO DEDUPLICATE",
            "ON CONFLICT clause is only allowed for upsert sinks. The sink 'pg' is not an upsert sink "
            "because it only accepts INSERT (append-only) changes",
        ),
        (
            "INSERT INTO out_file SELECT name, 1 FROM t ON CONFLICT DO DEDUPLICATE",
            "ON CONFLICT clause is only allowed for upsert sinks. The sink 'out_file' is not an upsert sink "
            "because it only accepts INSERT (append-only) changes",
        ),
    ],
)
def test_on_conflict_strategies_that_are_not_run_are_refused_by_name(
    cat: Catalog, sql: str, message: str
) -> None:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, cat, {})
    assert str(e.value).startswith(message)
