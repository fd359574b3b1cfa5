"""Every refusal a connector used to make only when a job started now comes from CREATE
TABLE or from planning (``planner.plan`` and EXPLAIN alike), with a message that names the
table and the option. Rules that need the service (the broker's maximum transaction
timeout, the server's max_prepared_transactions, whether the table exists) stay at start
and are tested against the real services in tests/integration."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError

KAFKA = "'connector' = 'kafka', 'properties.bootstrap.servers' = 'b:9092'"
UPSERT = "'connector' = 'upsert-kafka', 'properties.bootstrap.servers' = 'b:9092', 'topic' = 't'"
JDBC = "'connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/shop', 'table-name' = 't'"
PG = "'connector' = 'postgres', 'dsn' = 'host=db dbname=shop', 'table-name' = 't'"
SRC = "CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '1')"
CHECKPOINTED = {"execution.checkpointing.interval": "10 s"}


def catalog(*ddl: str) -> Catalog:
    cat = Catalog()
    for text in (SRC, *ddl):
        for statement in planner.parse(text):
            cat.create(planner.create_table(statement, cat))
    return cat


def refused_at_create(ddl: str, message: str) -> None:
    with pytest.raises(SqlStreamError) as e:
        catalog(ddl)
    assert message in str(e.value)
    assert "table 't'" in str(e.value)  # says which table


def refused_at_plan(ddl: str, sql: str, message: str, config: Mapping[str, str] | None = None) -> None:
    """CREATE TABLE accepts it; planning and EXPLAIN refuse it with ``message``."""
    cat = catalog(ddl)
    with pytest.raises(SqlStreamError) as planned:
        planner.plan(sql, cat, config or {})
    with pytest.raises(SqlStreamError) as explained:
        planner.explain(sql, cat, config or {})
    assert message in str(planned.value) and str(planned.value) == str(explained.value)


# ---- kafka: rules between options, at CREATE TABLE ---------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("'format' = 'json'", "set exactly one of 'topic' and 'topic-pattern'"),
        ("'topic' = 'a', 'topic-pattern' = 'b.*', 'format' = 'json'", "set exactly one of 'topic'"),
        ("'topic-pattern' = 'logs-(', 'format' = 'json'", "'topic-pattern' is not a regex"),
        (
            "'topic' = 'a', 'format' = 'json', 'scan.startup.mode' = 'timestamp'",
            "scan.startup.mode 'timestamp' needs 'scan.startup.timestamp-millis'",
        ),
        (
            "'topic' = 'a', 'format' = 'json', 'scan.startup.mode' = 'specific-offsets'",
            "scan.startup.mode 'specific-offsets' needs 'scan.startup.specific-offsets'",
        ),
        (
            "'topic' = 'a', 'format' = 'json', 'scan.startup.mode' = 'specific-offsets', "
            "'scan.startup.specific-offsets' = 'partition:0;offset:1'",
            "'scan.startup.specific-offsets' has a malformed entry",
        ),
        (
            "'topic' = 'a', 'format' = 'json', 'scan.bounded.mode' = 'timestamp'",
            "scan.bounded.mode 'timestamp' needs 'scan.bounded.timestamp-millis'",
        ),
        (
            "'topic' = 'a', 'format' = 'json', 'scan.bounded.mode' = 'specific-offsets'",
            "scan.bounded.mode 'specific-offsets' needs 'scan.bounded.specific-offsets'",
        ),
        ("'topic' = 'a'", "the Kafka connector needs a value format"),
        (
            "'topic' = 'a', 'format' = 'json', 'value.format' = 'json'",
            "set either 'format' or 'value.format'",
        ),
        ("'topic' = 'a', 'format' = 'json', 'key.fields' = 'id'", "'key.fields' needs 'key.format'"),
        ("'topic' = 'a', 'format' = 'json', 'key.format' = 'json'", "'key.format' needs 'key.fields'"),
        (
            "'topic' = 'a', 'format' = 'json', 'key.format' = 'json', 'key.fields' = 'nope'",
            "key field 'nope' is not a physical column",
        ),
        (
            "'topic' = 'a', 'format' = 'json', 'key.format' = 'json', 'key.fields' = 'id', "
            "'key.fields-prefix' = 'k_', 'value.fields-include' = 'EXCEPT_KEY'",
            "key field 'id' does not start with 'key.fields-prefix' 'k_'",
        ),
        ("'topic' = 'a', 'format' = 'json', 'sink.partitioner' = 'hash'", "'sink.partitioner' = 'hash'"),
        ("'topic' = 'a', 'format' = 'parquet'", "the parquet format has no per-record form"),
        (
            "'topic' = 'a', 'format' = 'json', 'json.ignore-parse-errors' = 'true', "
            "'json.fail-on-missing-field' = 'true'",
            "cannot both be true",
        ),
        ("'topic' = 'a', 'format' = 'csv', 'csv.field-delimiter' = ';;'", "must be a single character"),
        ("'topic' = 'a', 'format' = 'raw'", "the raw format needs exactly one column"),
        ("'topic' = 'a', 'format' = 'json', 'properties.linger.mss' = '5'", "'properties.linger.mss'"),
        ("'topic' = 'a', 'format' = 'json', 'properties.key.serializer' = 'x'", "cannot be set"),
        ("'topic' = 'a', 'format' = 'json', 'properties.linger.ms' = 'soon'", "is not an integer"),
        ("'topic' = 'a', 'format' = 'json', 'properties.sasl.jaas.config' = 'x'", "names no username"),
        (
            "'topic' = 'a', 'format' = 'json', 'properties.ssl.truststore.location' = '/t.jks', "
            "'properties.ssl.truststore.type' = 'JKS'",
            "only PEM files can be read from Python",
        ),
    ],
)
def test_kafka_option_conflicts_fail_at_create_table(options: str, message: str) -> None:
    refused_at_create(f"CREATE TABLE t (id BIGINT, name STRING) WITH ({KAFKA}, {options})", message)


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        (
            f"CREATE TABLE t (id BIGINT, v STRING) WITH ({UPSERT}, 'key.format' = 'json', "
            "'value.format' = 'json')",
            "connector 'upsert-kafka' requires a PRIMARY KEY",
        ),
        (
            f"CREATE TABLE t (id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ({UPSERT}, "
            "'value.format' = 'json')",
            "connector 'upsert-kafka' needs 'key.format'",
        ),
        (
            f"CREATE TABLE t (id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ({UPSERT}, "
            "'key.format' = 'json', 'value.format' = 'json', 'key.fields' = 'id')",
            "upsert-kafka takes its key from the PRIMARY KEY",
        ),
    ],
)
def test_upsert_kafka_key_rules_fail_at_create_table(ddl: str, message: str) -> None:
    refused_at_create(ddl, message)


# ---- kafka: rules of the role a table plays, at planning ---------------------------------


def test_reading_from_group_offsets_needs_a_group_but_writing_does_not() -> None:
    ddl = f"CREATE TABLE t (id BIGINT, name STRING) WITH ({KAFKA}, 'topic' = 'a', 'format' = 'json')"
    refused_at_plan(ddl, "SELECT * FROM t", "scan.startup.mode 'group-offsets' (the default) needs")
    planner.plan("INSERT INTO t SELECT * FROM src", catalog(ddl))  # a sink needs no group


def test_a_bounded_read_to_group_offsets_needs_a_group() -> None:
    ddl = (
        f"CREATE TABLE t (id BIGINT, name STRING) WITH ({KAFKA}, 'topic' = 'a', 'format' = 'json', "
        "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'group-offsets')"
    )
    refused_at_plan(ddl, "SELECT * FROM t", "scan.bounded.mode 'group-offsets' needs 'properties.group.id'")


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("'topic-pattern' = 'logs-.*'", "a Kafka sink cannot write to a 'topic-pattern'"),
        ("'topic' = 'a;b'", "a Kafka sink writes one topic; 'topic' = 'a;b'"),
    ],
)
def test_a_kafka_sink_writes_one_named_topic(topic: str, message: str) -> None:
    ddl = f"CREATE TABLE t (id BIGINT, name STRING) WITH ({KAFKA}, {topic}, 'format' = 'json')"
    refused_at_plan(ddl, "INSERT INTO t SELECT * FROM src", message)
    readable = ddl.replace("'format' = 'json'", "'format' = 'json', 'properties.group.id' = 'g'")
    planner.plan("SELECT * FROM t", catalog(readable))  # the same table can be read


def test_exactly_once_kafka_sink_needs_a_transactional_id_prefix() -> None:
    ddl = (
        f"CREATE TABLE t (id BIGINT, name STRING) WITH ({KAFKA}, 'topic' = 'a', 'format' = 'json', "
        "'sink.delivery-guarantee' = 'exactly-once')"
    )
    sql = "INSERT INTO t SELECT * FROM src"
    refused_at_plan(ddl, sql, "'exactly-once' needs 'sink.transactional-id-prefix'", CHECKPOINTED)
    # Under AT_LEAST_ONCE checkpointing the sink runs no transactions, so needs no prefix.
    planner.plan(sql, catalog(ddl), {**CHECKPOINTED, "execution.checkpointing.mode": "AT_LEAST_ONCE"})


def test_transaction_timeout_must_outlast_the_checkpoints_set() -> None:
    ddl = (
        f"CREATE TABLE t (id BIGINT, name STRING) WITH ({KAFKA}, 'topic' = 'a', 'format' = 'json', "
        "'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'p', "
        "'properties.transaction.timeout.ms' = '120000')"
    )
    sql = "INSERT INTO t SELECT * FROM src"
    config = {"execution.checkpointing.interval": "60 s", "execution.checkpointing.timeout": "90 s"}
    refused_at_plan(ddl, sql, "is not above the checkpoint interval plus the checkpoint timeout", config)
    planner.plan(sql, catalog(ddl), {**config, "execution.checkpointing.timeout": "30 s"})


def test_transaction_timeout_must_be_a_number() -> None:
    refused_at_create(
        f"CREATE TABLE t (id BIGINT) WITH ({KAFKA}, 'topic' = 'a', 'format' = 'json', "
        "'properties.transaction.timeout.ms' = 'long')",
        "'properties.transaction.timeout.ms' = 'long' is not an integer",
    )


# ---- jdbc / postgres ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "'connector' = 'jdbc', 'url' = 'jdbc:mysql://db/shop', 'table-name' = 't'",
            "is not a PostgreSQL JDBC URL; only PostgreSQL is supported",
        ),
        (
            "'connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/shop?prepareThreshold=0', "
            "'table-name' = 't'",
            "the JDBC URL parameter 'prepareThreshold' is not supported",
        ),
        (f"{JDBC}, 'driver' = 'com.mysql.Driver'", "'driver' = 'com.mysql.Driver' is not supported"),
        (f"{PG}, 'scan.partition.column' = 'id'", "the scan.partition.* options go together"),
        (
            f"{PG}, 'scan.partition.column' = 'nope', 'scan.partition.num' = '2', "
            "'scan.partition.lower-bound' = '0', 'scan.partition.upper-bound' = '9'",
            "'scan.partition.column' = 'nope' is not a column",
        ),
        (
            f"{PG}, 'scan.partition.column' = 'id', 'scan.partition.num' = '0', "
            "'scan.partition.lower-bound' = '0', 'scan.partition.upper-bound' = '9'",
            "scan.partition.num must be >= 1",
        ),
        (f"{PG}, 'sink.transactional-id-prefix' = '{'p' * 190}'", "is longer than 176 bytes"),
        (f"{PG}, 'lookup.cache' = 'PARTIAL'", "'lookup.cache' = 'PARTIAL' needs a bound"),
    ],
)
def test_postgres_option_conflicts_fail_at_create_table(options: str, message: str) -> None:
    refused_at_create(f"CREATE TABLE t (id BIGINT, name STRING) WITH ({options})", message)


def test_three_part_table_name_fails_at_create_table() -> None:
    refused_at_create(
        "CREATE TABLE t (id BIGINT) WITH ('connector' = 'postgres', 'dsn' = 'host=db', "
        "'table-name' = 'db.sch.tbl')",
        "'table-name' = 'db.sch.tbl' is not a table name",
    )


def test_postgres_refuses_column_types_it_cannot_carry_when_planning() -> None:
    ddl = f"CREATE TABLE t (id BIGINT, tags MAP<STRING, STRING>) WITH ({PG})"
    maps = "CREATE TABLE maps (id BIGINT, tags MAP<STRING, STRING>) WITH ('connector' = 'datagen')"
    refused_at_plan(
        f"{ddl}; {maps}",
        "INSERT INTO t SELECT * FROM maps",
        "column 'tags' has type MAP<STRING, STRING>, which the PostgreSQL sink cannot write",
    )
    refused_at_plan(ddl, "SELECT * FROM t", "which the PostgreSQL source cannot read")


def test_updates_into_a_postgres_table_need_its_primary_key() -> None:
    sql = "INSERT INTO t SELECT name, COUNT(*) FROM src GROUP BY name"
    refused_at_plan(
        f"CREATE TABLE t (name STRING, n BIGINT) WITH ({PG})",
        sql,
        "table sink 't' needs a PRIMARY KEY to write the updates produced by node GroupAggregate",
    )
    keyed = f"CREATE TABLE t (name STRING, n BIGINT, PRIMARY KEY (name) NOT ENFORCED) WITH ({PG})"
    planner.plan(sql, catalog(keyed))


def test_lookup_key_must_be_a_scalar_column() -> None:
    cat = catalog(
        "CREATE TABLE probe (k ARRAY<BIGINT>, p AS PROCTIME()) WITH ('connector' = 'datagen')",
        f"CREATE TABLE t (id ARRAY<BIGINT>, name STRING) WITH ({PG})",
    )
    sql = "SELECT * FROM probe JOIN t FOR SYSTEM_TIME AS OF probe.p AS d ON probe.k = d.id"
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, cat)
    assert "the lookup key 'id' must be a scalar column" in str(e.value)


# ---- filesystem and datagen -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "'format' = 'json', 'source.path.regex-pattern' = '*.json'",
            "'source.path.regex-pattern' is not a regex",
        ),
        ("'format' = 'json', 'sink.rolling-policy.file-size' = 'big'", "is not a memory size"),
        (
            "'format' = 'json', 'json.ignore-parse-errors' = 'true', 'json.fail-on-missing-field' = 'true'",
            "'json.fail-on-missing-field' and 'json.ignore-parse-errors' cannot both be true",
        ),
        ("'format' = 'csv', 'csv.quote-character' = 'ab'", "'csv.quote-character' = 'ab' must be a single"),
        # Flink takes the escape character as written ('\' is one backslash) and unescapes
        # only the delimiter, where a lone backslash stands for nothing
        (r"'format' = 'csv', 'csv.escape-character' = '\\'", r"'csv.escape-character' = '\\' must be a"),
        (r"'format' = 'csv', 'csv.field-delimiter' = '\'", r"'csv.field-delimiter' = '\' must be a single"),
        ("'format' = 'csv', 'csv.quote-character' = 'é'", "'csv.quote-character' = 'é' is not supported yet"),
        (r"'format' = 'csv', 'csv.field-delimiter' = '\u00a7'", "one-byte (ASCII) delimiter"),
        (
            "'format' = 'csv', 'csv.quote-character' = '''', 'csv.disable-quote-character' = 'true'",
            "'csv.quote-character' and 'csv.disable-quote-character' = 'true' cannot both be set",
        ),
        ("'format' = 'raw'", "the raw format needs exactly one column"),
        ("'format' = 'raw', 'raw.charset' = 'klingon'", "unknown 'raw.charset' 'klingon'"),
    ],
)
def test_filesystem_and_format_conflicts_fail_at_create_table(options: str, message: str) -> None:
    refused_at_create(
        "CREATE TABLE t (id BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '/x', "
        f"{options})",
        message,
    )


def test_csv_cannot_hold_a_nested_column() -> None:
    refused_at_create(
        "CREATE TABLE t (id BIGINT, r ROW<a INT>) WITH ('connector' = 'filesystem', 'path' = '/x', "
        "'format' = 'csv')",
        "the csv format cannot represent column 'r'",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("'rows-per-second' = '0'", "'rows-per-second' must be positive"),
        ("'number-of-rows' = '-1'", "'number-of-rows' must not be negative"),
        ("'fields.idd.kind' = 'sequence'", "did you mean 'fields.id.kind'"),
        ("'fields.id.kind' = 'sequence'", "'fields.id.start' is required for a sequence"),
        ("'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.min' = '0'", "does not apply"),
        ("'fields.id.end' = '9'", "'fields.id.end' does not apply to kind 'random'"),
        ("'fields.name.min' = '1'", "'fields.name.min' does not apply to column 'name' of type STRING"),
        ("'fields.id.min' = '5', 'fields.id.max' = '1'", "'fields.id.min' (5) is larger than the max (1)"),
        ("'fields.id.max' = '1e30'", "'fields.id.max' is out of range for BIGINT"),
        ("'fields.id.min' = 'low'", "'fields.id.min' = 'low' is not a number"),
        ("'fields.name.length' = '-1'", "'fields.name.length' must not be negative"),
        ("'fields.id.null-rate' = '2'", "'fields.id.null-rate' must be between 0 and 1"),
        ("'fields.id.kind' = 'sequence', 'fields.id.start' = '9', 'fields.id.end' = '1'", "smaller than"),
    ],
)
def test_datagen_option_conflicts_fail_at_create_table(options: str, message: str) -> None:
    refused_at_create(
        f"CREATE TABLE t (id BIGINT, name STRING) WITH ('connector' = 'datagen', {options})", message
    )


def test_metadata_a_connector_lacks_fails_at_create_table() -> None:
    refused_at_create(
        "CREATE TABLE t (id BIGINT, s BIGINT METADATA FROM 'file.size') WITH ("
        "'connector' = 'filesystem', 'path' = '/x', 'format' = 'json')",
        "column 's' asks for metadata 'file.size', which the filesystem connector does not have",
    )
