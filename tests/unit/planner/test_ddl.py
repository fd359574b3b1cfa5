"""SHOW CREATE TABLE / VIEW: Flink-style DDL that reads back to the same definition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as hs

from catalog.schema import Column, ColumnKind, Schema, Watermark
from catalog.table import TableDef, ViewDef
from catalog.types import parse_type
from planner import statements as st
from planner.ddl import show_create_table, show_create_view
from planner.parse import parse


def table_of(sql: str) -> TableDef:
    [statement] = parse(sql)
    assert isinstance(statement, st.CreateTable)
    return TableDef(
        statement.name,
        statement.schema,
        statement.options,
        statement.temporary,
        statement.comment,
    )


def view_of(sql: str) -> ViewDef:
    [statement] = parse(sql)
    assert isinstance(statement, st.CreateView)
    return ViewDef(statement.name, statement.query_sql, statement.temporary, statement.columns)


FULL_DDL = """CREATE TEMPORARY TABLE orders (
  order_id BIGINT,
  price DECIMAL(10, 2) NOT NULL COMMENT 'in EUR',
  buyer ROW<name STRING, `first visit` TIMESTAMP(3)>,
  tags ARRAY<STRING NOT NULL>,
  attrs MAP<STRING, BIGINT>,
  ts TIMESTAMP(3),
  total AS price * 2 COMMENT 'doubled',
  proc AS PROCTIME(),
  kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
  PRIMARY KEY (order_id) NOT ENFORCED
) COMMENT 'the ''orders'' topic' WITH (
  'connector' = 'kafka',
  'topic' = 'orders',
  'format' = 'json'
)"""


def test_show_create_table_prints_flink_ddl() -> None:
    assert show_create_table(table_of(FULL_DDL)) == (
        "CREATE TEMPORARY TABLE `orders` (\n"
        "  `order_id` BIGINT NOT NULL,\n"
        "  `price` DECIMAL(10, 2) NOT NULL COMMENT 'in EUR',\n"
        "  `buyer` ROW<`name` STRING, `first visit` TIMESTAMP(3)>,\n"
        "  `tags` ARRAY<STRING NOT NULL>,\n"
        "  `attrs` MAP<STRING, BIGINT>,\n"
        "  `ts` TIMESTAMP(3),\n"
        "  `total` AS price * 2 COMMENT 'doubled',\n"
        "  `proc` AS PROCTIME(),\n"
        "  `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,\n"
        "  `partition` INT METADATA VIRTUAL,\n"
        "  `offset` BIGINT METADATA,\n"
        "  WATERMARK FOR `ts` AS ts - INTERVAL '5' SECOND,\n"
        "  PRIMARY KEY (`order_id`) NOT ENFORCED\n"
        ") COMMENT 'the ''orders'' topic' WITH (\n"
        "  'connector' = 'kafka',\n"
        "  'topic' = 'orders',\n"
        "  'format' = 'json'\n"
        ")"
    )


def test_show_create_table_reads_back_to_the_same_table() -> None:
    t = table_of(FULL_DDL)
    again = table_of(show_create_table(t))
    assert again == t
    assert show_create_table(again) == show_create_table(t)


def test_secrets_are_redacted() -> None:
    t = table_of(
        "CREATE TABLE pg (id INT) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/x',"
        " 'username' = 'app', 'password' = 's3cr3t',"
        " 'properties.sasl.jaas.config' = 'org.apache.kafka... password=\"hunter2\";')"
    )
    text = show_create_table(t)
    assert "s3cr3t" not in text and "hunter2" not in text
    assert "'password' = '******'" in text
    assert "'username' = 'app'" in text
    assert t.options["password"] == "s3cr3t"  # only the printed form is redacted


def test_table_without_options_and_qualified_name() -> None:
    """A name qualified by the default catalog and database is the table's own, as Flink
    resolves it against its current ones (whether another one exists is the session's to
    say, when the statement runs: tests/unit/sqlstream/test_databases.py)."""
    t = TableDef("default_catalog.default_database.t", Schema((Column("a", parse_type("INT")),)))
    text = show_create_table(t)
    assert text == "CREATE TABLE `default_catalog`.`default_database`.`t` (\n  `a` INT\n)"
    assert parse(text)[0] == st.CreateTable(name="t", schema=t.schema, options={}, sql=text, line=1, col=1)


def test_identifiers_with_backticks_and_keywords_round_trip() -> None:
    schema = Schema(
        (
            Column("select", parse_type("INT")),
            Column("we`ird", parse_type("STRING")),
            Column("ts", parse_type("TIMESTAMP(3)")),
        ),
        watermark=Watermark("ts", "ts"),
    )
    t = TableDef("my table", schema, {"connector": "datagen"})
    assert table_of(show_create_table(t)) == t


def test_show_create_view_reads_back() -> None:
    v = view_of("CREATE TEMPORARY VIEW v (x, y) AS SELECT a, COUNT(*) FROM t GROUP BY a")
    text = show_create_view(v)
    assert text == "CREATE TEMPORARY VIEW `v` (`x`, `y`) AS\nSELECT a, COUNT(*) FROM t GROUP BY a"
    assert view_of(text) == v


_names = hs.text(alphabet="abcXYZ_ `'", min_size=1, max_size=6)
_types = hs.sampled_from(
    ["INT", "BIGINT NOT NULL", "STRING", "DECIMAL(5, 1)", "TIMESTAMP(3)", "ARRAY<INT>", "BOOLEAN"]
)
_values = hs.text(alphabet="ab'=;,() \\", max_size=8)


@given(
    columns=hs.lists(
        hs.tuples(_names, _types, hs.none() | _values),
        min_size=1,
        max_size=4,
        unique_by=lambda c: c[0].lower(),
    ),
    options=hs.dictionaries(hs.sampled_from(["connector", "topic", "format", "x.y"]), _values),
    comment=hs.none() | _values,
)
def test_any_table_round_trips(
    columns: list[tuple[str, str, str | None]], options: dict[str, str], comment: str | None
) -> None:
    schema = Schema(tuple(Column(n, parse_type(ty), comment=c) for n, ty, c in columns))
    t = TableDef("t", schema, options, comment=comment)
    assert table_of(show_create_table(t)) == t


def test_metadata_column_without_key_and_computed_column_kinds_survive() -> None:
    t = table_of(FULL_DDL)
    again = table_of(show_create_table(t))
    kinds = {c.name: (c.kind, c.metadata_key, c.virtual) for c in again.schema.columns}
    assert kinds["partition"] == (ColumnKind.METADATA, None, True)
    assert kinds["offset"] == (ColumnKind.METADATA, None, False)
    assert kinds["total"] == (ColumnKind.COMPUTED, None, False)
