"""Completion knows the kind of token at the cursor, then proposes matching names."""

from __future__ import annotations

from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from sqlstream.repl.commands import command_names
from sqlstream.repl.completer import Metadata, SqlCompleter, metadata_from_session
from tests.unit.repl.conftest import drive


@pytest.fixture
def meta(session: Any) -> Metadata:
    session.execute("CREATE VIEW cheap AS SELECT item, price FROM bids WHERE price < 10")
    return metadata_from_session(session, command_names())


def complete(meta: Metadata, before: str, after: str = "", tab: bool = True) -> list[str]:
    """Completions at the end of ``before``: asked for with Tab, or offered while typing."""
    doc = Document(before + after, len(before))
    event = CompleteEvent(completion_requested=tab, text_inserted=not tab)
    return [c.text for c in SqlCompleter(lambda: meta).get_completions(doc, event)]


def test_statement_keywords_at_the_start(meta: Metadata) -> None:
    assert complete(meta, "SEL") == ["SELECT"]
    assert "CREATE TABLE" in complete(meta, "CRE")
    assert complete(meta, "sel") == ["select"]  # follows the user's case
    assert complete(meta, "EXPLAIN INS") == ["INSERT INTO", "INSERT OVERWRITE"]


def test_tables_and_views_after_from_join_into_table_describe(meta: Metadata) -> None:
    for before in ("SELECT * FROM ", "SELECT * FROM bids JOIN ", "INSERT INTO ", "DESCRIBE ",
                   "DROP TABLE ", "SELECT * FROM TABLE(TUMBLE(TABLE ", "SHOW CREATE TABLE ",
                   "SELECT * FROM bids, "):  # fmt: skip
        assert set(complete(meta, before)) == {"bids", "orders", "cheap"}, before
    assert complete(meta, "SELECT * FROM ord") == ["orders"]
    assert complete(meta, "CREATE TABLE ") == []  # a new name: nothing to propose


def test_columns_of_the_tables_in_the_statement(meta: Metadata) -> None:
    cols = complete(meta, "SELECT ", " FROM orders")
    assert cols[:2] == ["order_id", "amount"]
    assert "bidtime" not in cols
    assert complete(meta, "SELECT it", " FROM cheap") == ["item"]  # a view's columns
    assert complete(meta, "SELECT * FROM bids WHERE pr")[0] == "price"


def test_columns_after_an_alias_or_a_table_name_and_a_dot(meta: Metadata) -> None:
    join = " FROM bids b JOIN orders AS o ON b.item = o.order_id"
    assert complete(meta, "SELECT b.", join) == ["bidtime", "price", "item"]
    assert complete(meta, "SELECT o.am", join) == ["amount"]
    assert complete(meta, "SELECT orders.", " FROM orders") == ["order_id", "amount"]


def test_window_columns_and_window_functions(meta: Metadata) -> None:
    assert complete(meta, "SELECT * FROM TABLE(") == ["TUMBLE", "HOP", "CUMULATE", "SESSION"]
    tvf = " FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))"
    assert complete(meta, "SELECT window_", tvf) == ["window_start", "window_end", "window_time"]
    assert complete(meta, "SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(bid") == ["bidtime"]


def test_functions_and_keywords_once_a_letter_is_typed(meta: Metadata) -> None:
    got = complete(meta, "SELECT COU")
    assert got[0] == "COUNT"
    assert "TO_TIMESTAMP_LTZ" in complete(meta, "SELECT TO_TIMESTAMP")
    assert "WATERMARK FOR" in complete(meta, "CREATE TABLE t (ts TIMESTAMP(3), WATER")


def test_connector_names_after_connector_equals(meta: Metadata) -> None:
    opened = complete(meta, "CREATE TABLE t (a INT) WITH ('connector' = '")
    assert {"datagen'", "kafka'", "filesystem'", "print'", "postgres'"} <= set(opened)
    assert complete(meta, "CREATE TABLE t (a INT) WITH ('connector' = 'ka") == ["kafka'", "upsert-kafka'"]
    # without the opening quote, the completion brings both quotes
    assert "'datagen'" in complete(meta, "CREATE TABLE t (a INT) WITH ('connector' = ")


def test_option_keys_of_the_connector_in_this_with_clause(meta: Metadata) -> None:
    kafka = complete(meta, "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', '")
    assert "topic'" in kafka and "properties.bootstrap.servers'" in kafka and "scan.startup.mode'" in kafka
    assert "rows-per-second'" not in kafka  # a datagen option
    assert "connector'" not in kafka  # already given
    datagen = complete(meta, "CREATE TABLE t (id BIGINT, name STRING) WITH (\n 'connector' = 'datagen',\n '")
    assert "rows-per-second'" in datagen and "topic'" not in datagen
    # per-field options name the table's columns
    assert {"fields.id.kind'", "fields.name.kind'", "fields.id.min'"} <= set(datagen)
    # a typed fragment matches anywhere in the key
    assert complete(meta, "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'startup.m")[0] == (
        "scan.startup.mode'"
    )


def test_format_names_and_format_options(meta: Metadata) -> None:
    base = "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', "
    formats = {"json'", "csv'", "parquet'", "raw'", "avro'", "debezium-json'", "canal-json'", "maxwell-json'"}
    assert set(complete(meta, base + "'format' = '")) == formats
    json_keys = complete(meta, base + "'format' = 'json', 'json.")
    assert "json.ignore-parse-errors'" in json_keys and "json.fail-on-missing-field'" in json_keys
    assert not any(k.startswith("csv.") for k in complete(meta, base + "'format' = 'json', '"))
    value_keys = complete(meta, base + "'value.format' = 'json', 'value.json.")
    assert "value.json.ignore-parse-errors'" in value_keys


def test_choices_of_an_enum_option(meta: Metadata) -> None:
    got = complete(meta, "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'scan.startup.mode' = '")
    assert "earliest-offset'" in got and "latest-offset'" in got


def test_alter_table_set_knows_the_tables_connector(meta: Metadata) -> None:
    got = complete(meta, "ALTER TABLE bids SET ('")
    assert "rows-per-second'" in got and "topic'" not in got


def test_alter_table_actions_and_the_tables_columns(meta: Metadata) -> None:
    assert "MODIFY" in complete(meta, "ALTER TABLE bids MOD")
    assert {"DROP", "DROP PRIMARY KEY", "DROP WATERMARK"} <= set(complete(meta, "ALTER TABLE bids DR"))
    assert "price" in complete(meta, "ALTER TABLE bids DROP ")
    assert "AFTER" in complete(meta, "ALTER TABLE bids ADD x INT AF")


def test_set_and_reset_keys(meta: Metadata) -> None:
    got = complete(meta, "SET '")
    assert "execution.checkpointing.interval'" in got and "sql-client.execution.result-mode'" in got
    assert complete(meta, "SET 'parallel") == ["parallelism.default'"]
    assert "'parallelism.default'" in complete(meta, "SET ")
    assert "pipeline.name'" in complete(meta, "RESET '")


def test_show_kinds_and_meta_commands(meta: Metadata) -> None:
    assert "JOBS" in complete(meta, "SHOW ") and "TABLES" in complete(meta, "SHOW ")
    assert set(complete(meta, "\\d")) >= {"\\dt", "\\d", "\\dv"}
    assert complete(meta, ".mo") == [".mode"]
    assert complete(meta, ".mode ta") == ["table", "tableau"]
    assert complete(meta, "\\d bi") == ["bids"]


def test_while_typing_a_menu_opens_only_where_it_helps(meta: Metadata) -> None:
    assert complete(meta, "SELECT * FROM bids;", tab=False) == []
    assert complete(meta, "SELECT ", " FROM bids", tab=False) == []
    assert complete(meta, "SELECT ", " FROM bids", tab=True)[:3] == ["bidtime", "price", "item"]
    assert complete(meta, "SELECT * FROM ", tab=False) == ["bids", "cheap", "orders"]
    assert "topic'" in complete(meta, "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', '", tab=False)


def test_completion_in_the_next_statement_of_a_line(meta: Metadata) -> None:
    assert complete(meta, "SELECT 1; SELECT * FROM or") == ["orders"]


def test_completion_sees_a_table_created_in_the_shell(session: Any) -> None:
    """Tab after FROM proposes a table created a moment ago (the snapshot is refreshed)."""
    keys = [
        "CREATE TABLE fresh_table (x INT) WITH ('connector' = 'datagen');\rDESCRIBE fresh_t",
        "\t",
        ";\r\\q\r",
    ]
    out, _ = drive(session, keys)
    assert "Table 'fresh_table' created." in out
    assert "| x " in out  # DESCRIBE ran on the completed name


def test_tab_completes_inside_a_with_clause_as_typed(session: Any) -> None:
    keys = [
        "CREATE TABLE t2 (a INT) WITH ('connector' = 'datag",
        "\t",
        ", 'number-of-r",
        "\t",
        " = '3');\r\\q\r",
    ]
    out, _ = drive(session, keys)
    assert "Table 't2' created." in out
    assert session.catalog.table("t2").options == {"connector": "datagen", "number-of-rows": "3"}


def test_user_functions_complete_like_built_in_ones(session: Any) -> None:
    session.execute(
        "CREATE TEMPORARY FUNCTION count_char AS 'tests.unit.sqlstream.udf_module.count_char' LANGUAGE PYTHON"
    )
    meta = metadata_from_session(session, command_names())
    assert complete(meta, "SELECT count_c") == ["count_char"]
