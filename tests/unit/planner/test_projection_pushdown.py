"""Projection push-down into the scan: EXPLAIN shows which columns a file table's scan reads
(Flink's ``project=[...]``), and a scan reads every column a query needs: what it selects,
filters, groups and aggregates on, the rowtime and what its watermark reads, the inputs of
the computed columns it uses, its metadata columns."""

from __future__ import annotations

import re

import pytest

import planner
from catalog import Catalog
from planner.physical import SourceSpec
from tests.unit.planner.conftest import catalog_of

DDL = """
CREATE TABLE bids (
    auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
    ts TIMESTAMP(3), extra STRING,
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '/tmp/b.json', 'format' = 'json');

CREATE TABLE events (
    id BIGINT, payload STRING, millis BIGINT, note STRING,
    ts AS TO_TIMESTAMP_LTZ(millis, 3),
    shout AS UPPER(note),
    fname STRING METADATA FROM 'file.name',
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = '/tmp/e', 'format' = 'csv', 'source.monitor-interval' = '1 s');

CREATE TABLE bids_live WITH ('source.monitor-interval' = '1 s') LIKE bids;

CREATE TABLE plain (a BIGINT, b STRING, c DOUBLE)
    WITH ('connector' = 'filesystem', 'path' = '/tmp/p.parquet', 'format' = 'parquet');

CREATE TABLE parts (a BIGINT, b STRING, dt STRING) PARTITIONED BY (dt)
    WITH ('connector' = 'filesystem', 'path' = '/tmp/parts', 'format' = 'json');

CREATE TABLE lines (line STRING, other STRING)
    WITH ('connector' = 'filesystem', 'path' = '/tmp/l', 'format' = 'debezium-json');

CREATE TABLE gen (a BIGINT, b BIGINT, c BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');

CREATE TABLE out_channels (channel STRING, n BIGINT, top BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE out_auctions (auction BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE out_urls (url STRING, n BIGINT) WITH ('connector' = 'blackhole');
"""


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return catalog_of(DDL)


def scans(sql: str, cat: Catalog) -> list[SourceSpec]:
    specs = [n.spec for n in planner.plan(sql, cat).nodes if isinstance(n.spec, SourceSpec)]
    return [s for s in specs if s.connector != "values"]


def read(sql: str, cat: Catalog) -> list[str]:
    (spec,) = scans(sql, cat)
    return [c.name for c in spec.produced]


def test_explain_shows_the_columns_a_group_by_reads(cat: Catalog) -> None:
    text = planner.explain("SELECT channel, COUNT(*) FROM bids GROUP BY channel", cat)
    scan = next(line for line in text.splitlines() if "TableSourceScan" in line)
    # a bounded table's watermark has no reader here: it is dropped, and the rowtime not read
    assert "table=[bids, project=[channel]]" in scan
    assert "fields=[channel]" in scan
    assert re.search(r"== Rules Applied ==\n.*drop_unread_watermarks, push_projection_into_scan", text)
    # an unbounded one keeps its watermark (its progress is reported), so reads the rowtime
    live = planner.explain("SELECT channel, COUNT(*) FROM bids_live GROUP BY channel", cat)
    assert "table=[bids_live, project=[channel, ts]]" in live and "WatermarkAssigner" in live


def test_a_projection_reads_what_it_selects_and_filters_on(cat: Catalog) -> None:
    assert read("SELECT auction, price * 2 FROM bids WHERE MOD(bidder, 7) = 0", cat) == [
        "auction", "bidder", "price"
    ]  # fmt: skip


def test_a_window_aggregate_reads_keys_arguments_filters_and_time(cat: Catalog) -> None:
    sql = (
        "SELECT auction, window_start, COUNT(*), SUM(price) FILTER (WHERE channel = 'x') "
        "FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
        "GROUP BY auction, window_start, window_end"
    )
    assert read(sql, cat) == ["auction", "price", "channel", "ts"]


def test_a_window_tvf_passes_on_only_the_columns_read(cat: Catalog) -> None:
    hop = "HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)"
    sql = f"SELECT url, window_end FROM TABLE({hop})"
    assert read(sql, cat) == ["url", "ts"]


def test_a_query_that_uses_every_column_is_not_narrowed(cat: Catalog) -> None:
    (spec,) = scans("SELECT * FROM bids", cat)
    assert spec.projection is None and len(spec.produced) == 7
    assert "project=" not in planner.explain("SELECT * FROM bids", cat)


def test_computed_columns_read_their_inputs_and_the_watermark_its(cat: Catalog) -> None:
    # ts is computed from millis and is the rowtime of an unbounded table, whose watermark
    # stays: millis is read though not selected
    assert read("SELECT id FROM events", cat) == ["id", "millis"]
    assert read("SELECT shout FROM events", cat) == ["millis", "note"]
    assert read("SELECT fname, COUNT(*) FROM events GROUP BY fname", cat) == ["millis", "fname"]
    explained = planner.explain("SELECT fname, id FROM events", cat)
    assert "metadata=[fname=file.name]" in explained
    assert "metadata=" not in planner.explain("SELECT id FROM events", cat)


def test_a_count_reads_one_column_the_records_hold(cat: Catalog) -> None:
    assert read("SELECT COUNT(*) FROM plain", cat) == ["a"]
    # a partition column lives in the directory name: the first column of the files comes too
    assert read("SELECT dt, COUNT(*) FROM parts GROUP BY dt", cat) == ["a", "dt"]


def test_joins_read_the_columns_of_their_inputs_projections(cat: Catalog) -> None:
    sql = (
        "SELECT x.a, y.url FROM (SELECT a, b FROM plain) x "
        "JOIN (SELECT channel, url FROM bids) y ON x.b = y.channel"
    )
    got = sorted(tuple(c.name for c in s.produced) for s in scans(sql, cat))
    assert got == [("a", "b"), ("channel", "url")]  # not ts: a regular join reads no time
    # a join straight over the tables reads what the query and the join key use
    (spec, gen) = scans("SELECT x.a FROM plain x JOIN gen y ON x.a = y.a", cat)
    assert spec.projection == ("a",) and gen.projection is None  # datagen makes every column
    # one table on both sides: read once (source reuse), with what either side needs
    sql = "SELECT x.a FROM (SELECT a, b FROM plain) x JOIN (SELECT b FROM plain) y ON x.b = y.b"
    assert [[c.name for c in s.produced] for s in scans(sql, cat)] == [["a", "b"]]


def test_a_statement_set_reads_a_table_once_with_the_union_of_its_columns(cat: Catalog) -> None:
    sql = (
        "EXECUTE STATEMENT SET BEGIN "
        "INSERT INTO out_auctions SELECT auction, COUNT(*) FROM bids GROUP BY auction; "
        "INSERT INTO out_urls SELECT url, COUNT(*) FROM bids GROUP BY url; END"
    )
    (spec,) = scans(sql, cat)
    assert [c.name for c in spec.produced] == ["auction", "url"]
    # where one of them reads time, the shared scan keeps its watermark, and the rowtime
    windowed = sql.replace(
        "FROM bids GROUP BY auction",
        "FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY auction, window_start",
    )
    (spec,) = scans(windowed, cat)
    assert [c.name for c in spec.produced] == ["auction", "url", "ts"]


@pytest.mark.parametrize("table", ["gen", "lines"])
def test_sources_that_cannot_read_fewer_columns_read_them_all(cat: Catalog, table: str) -> None:
    """datagen has nothing to skip; a change-record format reads every column (as Flink's)."""
    (spec,) = scans(f"SELECT COUNT(*) FROM {table}", cat)
    assert spec.projection is None and spec.produced == spec.columns


def test_the_plan_keeps_the_tables_columns_for_positional_formats(cat: Catalog) -> None:
    (spec,) = scans("SELECT id FROM events", cat)
    assert [c.name for c in spec.columns] == ["id", "payload", "millis", "note", "fname"]
    assert spec.projection == ("id", "millis")
    again = planner.PhysicalPlan.from_json(planner.plan("SELECT id FROM events", cat).to_json())
    assert next(n.spec for n in again.nodes if isinstance(n.spec, SourceSpec)).projection == ("id", "millis")


KAFKA_DDL = """
CREATE TABLE bids_k (
    k_auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, extra STRING,
    ts TIMESTAMP(3), cents AS price * 100,
    off BIGINT METADATA FROM 'offset' VIRTUAL, hdrs MAP<STRING, BYTES> METADATA FROM 'headers',
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:9092',
    'scan.startup.mode' = 'earliest-offset',
    'key.format' = 'json', 'key.fields' = 'k_auction', 'key.fields-prefix' = 'k_',
    'value.format' = '{value}', 'value.fields-include' = 'EXCEPT_KEY');

CREATE TABLE raw_k (line STRING, part INT METADATA FROM 'partition', off BIGINT METADATA FROM 'offset')
    WITH ('connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:9092',
    'scan.startup.mode' = 'earliest-offset',
    'format' = 'raw');

CREATE TABLE changes_k (id BIGINT, name STRING, v BIGINT)
    WITH ('connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:9092',
    'scan.startup.mode' = 'earliest-offset',
    'format' = 'debezium-json');

CREATE TABLE users_u (id BIGINT, name STRING, v BIGINT, note STRING, PRIMARY KEY (id) NOT ENFORCED)
    WITH ('connector' = 'upsert-kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:9092',
    'key.format' = 'json', 'value.format' = '{value}');
"""


@pytest.mark.parametrize("value", ["json", "csv", "avro"])
def test_a_kafka_scan_reads_the_key_value_and_metadata_columns_a_query_uses(value: str) -> None:
    """As Flink's KafkaDynamicSource (SupportsProjectionPushDown): value fields, key fields
    (with their prefix), metadata columns, a computed column's inputs and the watermark's."""
    kcat = catalog_of(KAFKA_DDL.format(value=value))
    assert read("SELECT channel, COUNT(*) FROM bids_k GROUP BY channel", kcat) == ["channel", "ts"]
    assert read("SELECT k_auction, cents FROM bids_k", kcat) == ["k_auction", "price", "ts"]
    assert read("SELECT off, hdrs FROM bids_k", kcat) == ["ts", "off", "hdrs"]
    text = planner.explain("SELECT url, off FROM bids_k", kcat)
    assert "table=[bids_k, project=[url, ts, off]], connector=[kafka]" in text
    assert "metadata=[off=offset]" in text
    (spec,) = scans("SELECT * FROM bids_k", kcat)
    assert spec.projection is None


def test_a_kafka_scan_of_metadata_only_reads_one_column_the_records_hold() -> None:
    kcat = catalog_of(KAFKA_DDL.format(value="json"))
    assert read("SELECT part, off FROM raw_k", kcat) == ["line", "part", "off"]
    assert read("SELECT off FROM raw_k", kcat) == ["line", "off"]


def test_a_change_record_format_reads_every_column() -> None:
    """debezium-json (as for files): its rows have kinds, and its format is not narrowed."""
    kcat = catalog_of(KAFKA_DDL.format(value="json"))
    (spec,) = scans("SELECT name FROM changes_k", kcat)
    assert spec.projection is None and spec.produced == spec.columns


@pytest.mark.parametrize("value", ["json", "csv"])
def test_an_upsert_kafka_scan_keeps_its_primary_key(value: str) -> None:
    """A delete of an upsert stream carries only its key: the key is read whatever the query
    reads (Flink's PushProjectIntoTableSourceScanRule keeps it too)."""
    kcat = catalog_of(KAFKA_DDL.format(value=value))
    assert read("SELECT v FROM users_u", kcat) == ["id", "v"]
    assert read("SELECT note, name FROM users_u", kcat) == ["id", "name", "note"]
    assert "project=[id, v]" in planner.explain("SELECT v FROM users_u", kcat)
    (spec,) = scans("SELECT id, name, v, note FROM users_u", kcat)
    assert spec.projection is None
