"""An upsert stream (upsert-kafka: +U rows without the -U of the row they replace, -D rows
with only the key) reaches as it is only operators that read it correctly so; every other
reader gets it through a ChangelogNormalize, as in Flink, and what even that cannot make
right (a sink that writes by another key, or drops the -U a filter leaves) is refused by
name, never planned to give a wrong answer."""

import pytest

import planner
from catalog import Catalog
from catalog.connectors import ChangelogMode
from planner.errors import SqlStreamError
from planner.physical import ChangelogNormalizeSpec, PhysicalPlan, SinkSpec, SourceSpec, TemporalJoinSpec

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


def refusal(sql: str, catalog: Catalog, **config: str) -> str:
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, catalog, {"parallelism.default": "2", **config})
    assert "upsert stream (node TableSourceScan(u))" in e.value.message
    assert e.value.hint is not None and "PRIMARY KEY is (" in e.value.hint
    return e.value.message


def normalizers(plan: PhysicalPlan) -> list[str]:
    return [n.name for n in plan.nodes if isinstance(n.spec, ChangelogNormalizeSpec)]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (
            "INSERT INTO out_upsert SELECT name, v FROM u",
            "the sink 'out_upsert' writes by key and drops -U rows",
        ),
        ("INSERT INTO u2 SELECT * FROM u UNION ALL SELECT * FROM u2", "the sink 'u2' writes by key"),
        ("INSERT INTO by_name SELECT name, id FROM u", "the sink 'by_name', keyed otherwise than by (id)"),
        ("INSERT INTO pg SELECT name, id FROM u", "the sink 'pg', keyed otherwise than by (label)"),
        ("INSERT INTO by_name SELECT name, id FROM u WHERE v > 1", "the sink 'by_name' writes by key"),
    ],
)
def test_an_upsert_stream_a_sink_by_key_would_write_wrongly_is_refused_by_name(
    upsert_catalog: Catalog, sql: str, named: str
) -> None:
    """With 'table.exec.sink.upsert-materialize' = 'NONE' (no SinkUpsertMaterializer), a
    sink that writes by another key than the stream's would leave an updated row under its
    old key: refused by name, never planned to answer wrongly."""
    assert refusal(sql, upsert_catalog, **{"table.exec.sink.upsert-materialize": "NONE"}).startswith(named)


def test_an_upsert_stream_filtered_into_a_sink_by_its_key_is_normalized(upsert_catalog: Catalog) -> None:
    """As Flink plans it: ChangelogNormalize, then the filter, then the sink; the -U of a
    row updated out of the filter reaches the sink alone, and the sink deletes its key
    (nothing overwrites it). No materializer: the sink is keyed as the stream."""
    plan = planner.plan(
        "INSERT INTO u2 SELECT * FROM u WHERE v > 1", upsert_catalog, {"parallelism.default": "2"}
    )
    assert [n.kind for n in plan.nodes] == ["source", "watermark", "changelog_normalize", "calc", "sink"]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO out_upsert SELECT name, v FROM u",
        "INSERT INTO u2 SELECT * FROM u UNION ALL SELECT * FROM u2",
        "INSERT INTO by_name SELECT name, id FROM u",
        "INSERT INTO pg SELECT name, id FROM u",
    ],
)
def test_an_upsert_stream_keyed_otherwise_than_the_sink_is_normalized_and_materialized(
    upsert_catalog: Catalog, sql: str
) -> None:
    """Keyed by another column (or by none, after a projection or a UNION ALL), an update
    would leave the row under its old key: as Flink, the planner refuses it unless
    'table.exec.sink.require-on-conflict' is false, and then normalizes the stream (the -U
    rows) and materializes it by the sink's key (planner.sink_materialize)."""
    with pytest.raises(SqlStreamError, match="upsert key that differs from the primary key"):
        planner.plan(sql, upsert_catalog, {"parallelism.default": "2"})
    config = {"parallelism.default": "2", "table.exec.sink.require-on-conflict": "false"}
    plan = planner.plan(sql, upsert_catalog, config)
    kinds = [n.kind for n in plan.nodes]
    assert kinds.index("changelog_normalize") < kinds.index("sink_materializer") == len(kinds) - 2


@pytest.mark.parametrize(
    ("sql", "reader"),
    [
        ("SELECT * FROM u", "Collect"),
        ("SELECT name, SUM(v), COUNT(*) FROM u GROUP BY name", "GroupAggregate"),
        ("SELECT COUNT(*) FROM u", "GroupAggregate"),
        ("SELECT id, v FROM u WHERE v > 1", "Calc"),
        ("SELECT name, v FROM u", "Calc"),
        ("INSERT INTO out_print SELECT name, v FROM u", "Calc"),
        (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY name ORDER BY v DESC) AS r FROM u) "
            "WHERE r <= 2",
            "Rank",
        ),
        ("SELECT * FROM u ORDER BY v DESC LIMIT 2", "SortLimit"),
        ("SELECT * FROM u UNION ALL SELECT * FROM u2", "Union"),
        ("SELECT id, s FROM u, UNNEST(ARRAY[name]) AS t(s)", "Correlate"),
        ("SELECT * FROM u JOIN u2 ON u.name = u2.name", "Join"),
    ],
)
def test_a_reader_that_needs_a_full_changelog_reads_an_upsert_stream_normalized(
    upsert_catalog: Catalog, sql: str, reader: str
) -> None:
    """As Flink plans it: ChangelogNormalize keyed by the primary key, hash-partitioned by
    it, right before the first reader that needs -U rows; a full changelog after it."""
    plan = planner.plan(sql, upsert_catalog, {"parallelism.default": "2"})
    normalize = next(n for n in plan.nodes if isinstance(n.spec, ChangelogNormalizeSpec))
    assert normalize.name == "ChangelogNormalize(key=[id])" and normalize.changelog == ChangelogMode.ALL
    assert normalize.inputs[0].keys == ("id",) and normalize.parallelism == 2
    assert plan.node(normalize.inputs[0].source).changelog == ChangelogMode.UPSERT
    readers = plan.consumers(normalize.id)
    assert readers and all(r.name.startswith(reader) for r in readers)
    assert not any(
        plan.node(e.source).changelog == ChangelogMode.UPSERT
        for n in plan.nodes
        if n.id > normalize.id and not isinstance(n.spec, ChangelogNormalizeSpec)
        for e in n.inputs
    )


def test_explain_shows_changelog_normalize_as_flink_does(upsert_catalog: Catalog) -> None:
    text = planner.explain(
        "SELECT name, COUNT(*) FROM u GROUP BY name", upsert_catalog, {"table.exec.state.ttl": "1 h"}
    )
    assert "ChangelogNormalize(key=[id], state=[the last row by key, bounded by TTL 1 h]" in text
    plan = planner.plan(
        "SELECT name, COUNT(*) FROM u GROUP BY name", upsert_catalog, {"table.exec.state.ttl": "1 h"}
    )
    spec = next(n.spec for n in plan.nodes if isinstance(n.spec, ChangelogNormalizeSpec))
    assert isinstance(spec, ChangelogNormalizeSpec) and spec.ttl_ms == 3_600_000


def test_an_upsert_scan_keeps_its_key_whatever_the_query_reads(upsert_catalog: Catalog) -> None:
    """ChangelogNormalize keeps rows by the key: the scan reads it even when the query
    selects none of its columns."""
    plan = planner.plan("SELECT name, COUNT(*) FROM u GROUP BY name", upsert_catalog)
    scan = next(n for n in plan.nodes if isinstance(n.spec, SourceSpec))
    assert "id" in [f.name for f in scan.schema]


def test_a_batch_query_of_a_bounded_upsert_stream_reads_it_normalized() -> None:
    """Batch mode's final rows are kept by every column: a +U would add a row, not
    replace one, without the -U that ChangelogNormalize sends."""
    bounded = UPSERT_DDL.replace("'topic' = 'u',", "'topic' = 'u', 'scan.bounded.mode' = 'latest-offset',")
    plan = planner.plan("SELECT * FROM u", catalog_of(bounded), {"execution.runtime-mode": "batch"})
    assert normalizers(plan) == ["ChangelogNormalize(key=[id])"]


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
    assert sink.changelog == ChangelogMode.UPSERT and not normalizers(plan)


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
    assert plan.node(join.inputs[1].source).changelog == ChangelogMode.UPSERT and not normalizers(plan)


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
    assert plan.node(join.inputs[1].source).changelog == ChangelogMode.UPSERT and not normalizers(plan)


@pytest.mark.parametrize(
    ("sql", "kind", "producer"),
    [
        (
            "SELECT id, SUM(v) OVER (PARTITION BY name ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) "
            "FROM u",
            "OverAggregate",
            "node TableSourceScan(u)",
        ),
        (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end "
            "ORDER BY v DESC) AS rn FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) "
            "WHERE rn <= 2",
            "WindowRank",
            "node TableSourceScan(u)",
        ),
        (
            "SELECT item, COUNT(*) OVER (PARTITION BY item ORDER BY bidtime ROWS BETWEEN 1 PRECEDING AND "
            "CURRENT ROW) FROM (SELECT item, bidtime, COUNT(*) AS c FROM Bid GROUP BY item, bidtime)",
            "OverAggregate",
            "node GroupAggregate(groupBy=[item, bidtime])",
        ),
    ],
)
def test_an_operator_that_takes_every_row_for_an_insert_refuses_an_updating_input(
    upsert_catalog: Catalog, sql: str, kind: str, producer: str
) -> None:
    """A streaming OVER aggregation and a window Top-N keep no row to retract: normalized
    or not, an updating input would count its -U/-D rows as new ones. Flink refuses both."""
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, upsert_catalog)
    assert e.value.message == (
        f"{kind} doesn't support consuming update and delete changes which is produced by {producer}"
    )
