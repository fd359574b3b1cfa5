"""An upsert stream (upsert-kafka: +U rows without the -U of the row they replace, -D rows
with only the key) reaches only operators that read it correctly as it is; any other plan
is refused by name, never planned to give a wrong answer."""

import pytest

import planner
from catalog import Catalog
from planner.errors import SqlStreamError
from planner.physical import SinkSpec, TemporalJoinSpec

from .conftest import BID_DDL, catalog_of

UPSERT_DDL = """
CREATE TABLE u (id STRING, name STRING, v INT, ts TIMESTAMP(3), PRIMARY KEY (id) NOT ENFORCED,
  WATERMARK FOR ts AS ts) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'b:9092',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE u2 (id STRING, name STRING, v INT, ts TIMESTAMP(3), PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'u2', 'properties.bootstrap.servers' = 'b:9092',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE by_name (name STRING, id STRING, PRIMARY KEY (name) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'n', 'properties.bootstrap.servers' = 'b:9092',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE pg (id STRING, label STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/db', 'table-name' = 'pg');
CREATE TABLE priced (item STRING, price DECIMAL(10, 2), v INT) WITH (
  'connector' = 'filesystem', 'path' = '/tmp/priced', 'format' = 'json');
"""


@pytest.fixture
def upsert_catalog() -> Catalog:
    return catalog_of(BID_DDL + UPSERT_DDL)


def refusal(sql: str, catalog: Catalog, config: dict[str, str] | None = None) -> str:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, catalog, config or {})
    assert "reading an upsert stream (node TableSourceScan(u))" in e.value.message
    assert "+U rows replace a row by key without retracting it" in e.value.message
    assert e.value.hint is not None and "PRIMARY KEY is (" in e.value.hint
    return e.value.message


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT * FROM u", "a query result (SELECT)"),
        ("SELECT name, SUM(v), COUNT(*) FROM u GROUP BY name", "GroupAggregate(groupBy=[name])"),
        ("SELECT COUNT(*) FROM u", "GroupAggregate(groupBy=[no keys])"),
        ("INSERT INTO u2 SELECT * FROM u WHERE v > 1", "a filter (WHERE)"),
        ("INSERT INTO by_name SELECT name, id FROM u", "the sink 'by_name', keyed otherwise than by (id)"),
        ("INSERT INTO pg SELECT name, id FROM u", "the sink 'pg', keyed otherwise than by (label)"),
        (
            "INSERT INTO out_print SELECT id, v FROM u",
            "the sink 'out_print' (connector 'print'), which does not write by key",
        ),
        ("INSERT INTO out_upsert SELECT name, v FROM u", "a projection that drops the key (id)"),
        (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY name ORDER BY v DESC) AS r FROM u) "
            "WHERE r <= 2",
            "Rank(rankType=[ROW_NUMBER]",
        ),
        ("SELECT * FROM u ORDER BY v DESC LIMIT 2", "SortLimit"),
        ("INSERT INTO u2 SELECT * FROM u UNION ALL SELECT * FROM u2", "Union"),
        ("SELECT id, s FROM u, UNNEST(ARRAY[name]) AS t(s)", "Correlate"),
    ],
)
def test_a_plan_that_would_take_an_upsert_stream_for_a_full_changelog_is_refused_by_name(
    upsert_catalog: Catalog, sql: str, named: str
) -> None:
    """SELECT * gave every version of a key as its own row, GROUP BY counted each update
    again, a filter kept the row an update made fail it: the user gets the operator that
    cannot read the stream, not a wrong answer."""
    assert refusal(sql, upsert_catalog).startswith(named)


def test_a_batch_query_of_a_bounded_upsert_stream_is_refused() -> None:
    """Batch mode's final rows are kept by every column: a +U would add a row, not
    replace one."""
    bounded = UPSERT_DDL.replace("'topic' = 'u',", "'topic' = 'u', 'scan.bounded.mode' = 'latest-offset',")
    refusal("SELECT * FROM u", catalog_of(bounded), {"execution.runtime-mode": "batch"})


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO u2 SELECT * FROM u",
        "INSERT INTO u2 SELECT id, UPPER(name), v + 1, ts FROM u",
        "INSERT INTO u2 (id, v) SELECT id, v FROM u",
        "INSERT INTO pg SELECT id, name FROM u",
        "INSERT INTO pg SELECT id, label FROM (SELECT id, name || '!' AS label FROM u)",
        "INSERT INTO by_name SELECT id, name FROM u",  # u's key into by_name's key column
    ],
)
def test_an_upsert_stream_written_unfiltered_into_a_sink_keyed_by_its_key_is_planned(
    upsert_catalog: Catalog, sql: str
) -> None:
    """A +U overwrites the key's row and a -D deletes it by key: the sink needs no -U."""
    plan = planner.plan(sql, upsert_catalog, {"parallelism.default": "2"})
    sink = next(n for n in plan.nodes if isinstance(n.spec, SinkSpec))
    assert sink.changelog == "upsert"


def test_an_upsert_stream_is_the_versioned_side_of_a_temporal_join_by_its_key(
    upsert_catalog: Catalog,
) -> None:
    """Each row is its key's new version and a -D the key's deletion: the join keeps
    versions by the key itself."""
    plan = planner.plan(
        "INSERT INTO priced SELECT b.item, b.price, u.v FROM Bid b "
        "JOIN u FOR SYSTEM_TIME AS OF b.bidtime ON b.item = u.id",
        upsert_catalog,
    )
    join = next(n for n in plan.nodes if isinstance(n.spec, TemporalJoinSpec))
    assert plan.node(join.inputs[1].source).changelog == "upsert"


def test_a_condition_on_the_versioned_side_stays_in_the_temporal_join(upsert_catalog: Catalog) -> None:
    """Pushed below the join as a filter, a condition would drop an update that fails it
    and leave the key's older version valid (an upsert stream has no -U of it); in the
    join, a version that fails it is no version, as in Flink."""
    plan = planner.plan(
        "INSERT INTO priced SELECT b.item, b.price, u.v FROM Bid b "
        "JOIN u FOR SYSTEM_TIME AS OF b.bidtime ON b.item = u.id AND u.v > 0",
        upsert_catalog,
    )
    join = next(n for n in plan.nodes if isinstance(n.spec, TemporalJoinSpec))
    assert isinstance(join.spec, TemporalJoinSpec) and join.spec.residual is not None
    assert '"v0" > 0' in join.spec.residual or '"v" > 0' in join.spec.residual
    assert plan.node(join.inputs[1].source).changelog == "upsert"
