"""The Flink dialect: what it reads, what it prints back, and the sqlglot hooks it relies on.

A round trip is parse -> generate -> parse giving the same tree; where the printed text
matters to a user (SHOW CREATE, EXPLAIN, views) it is pinned too.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from planner import statements as st
from planner.dialect import Flink
from planner.expressions import Descriptor, WindowTVF
from planner.parse import parse, parse_expression


def read(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read=Flink)


def roundtrip(sql: str) -> str:
    """Flink SQL printed back; asserts that re-reading it gives the same tree."""
    tree = read(sql)
    text = tree.sql(dialect=Flink)
    assert read(text) == tree, text
    return text


def query(sql: str) -> exp.Query:
    statement = parse(sql)[0]
    assert isinstance(statement, st.Query)
    return statement.query


# ---- Flink's documentation: the Bid table and the window TVF examples --------------------

BID_DDL = """
CREATE TABLE Bid (
  bidtime TIMESTAMP(3),
  price DECIMAL(10, 2),
  item STRING,
  supplier_id STRING,
  WATERMARK FOR bidtime AS bidtime - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen')
"""

TUMBLE_QUERIES = [
    "SELECT * FROM TABLE(\n   TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))",
    "SELECT * FROM TABLE(\n   TUMBLE(\n     DATA => TABLE Bid,\n     TIMECOL => DESCRIPTOR(bidtime),\n"
    "     SIZE => INTERVAL '10' MINUTES))",
    "SELECT window_start, window_end, SUM(price) AS total_price\n  FROM TABLE(\n"
    "    TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))\n"
    "  GROUP BY window_start, window_end",
]
HOP_QUERIES = [
    "SELECT * FROM TABLE(\n    HOP(TABLE Bid, DESCRIPTOR(bidtime),"
    " INTERVAL '5' MINUTES, INTERVAL '10' MINUTES))",
    "SELECT * FROM TABLE(\n    HOP(\n      DATA => TABLE Bid,\n      TIMECOL => DESCRIPTOR(bidtime),\n"
    "      SLIDE => INTERVAL '5' MINUTES,\n      SIZE => INTERVAL '10' MINUTES))",
    "SELECT window_start, window_end, SUM(price) AS total_price\n  FROM TABLE(\n"
    "    HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES))\n"
    "  GROUP BY window_start, window_end",
]
CUMULATE_QUERIES = [
    "SELECT * FROM TABLE(\n    CUMULATE(TABLE Bid, DESCRIPTOR(bidtime),"
    " INTERVAL '2' MINUTES, INTERVAL '10' MINUTES))",
    "SELECT * FROM TABLE(\n    CUMULATE(\n      DATA => TABLE Bid,\n      TIMECOL => DESCRIPTOR(bidtime),\n"
    "      STEP => INTERVAL '2' MINUTES,\n      SIZE => INTERVAL '10' MINUTES))",
    "SELECT window_start, window_end, SUM(price) AS total_price\n  FROM TABLE(\n"
    "    CUMULATE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES))\n"
    "  GROUP BY window_start, window_end",
]
SESSION_QUERIES = [
    "SELECT * FROM TABLE(\n    SESSION(TABLE Bid PARTITION BY item, DESCRIPTOR(bidtime),"
    " INTERVAL '5' MINUTES))",
    "SELECT * FROM TABLE(\n    SESSION(\n      DATA => TABLE Bid PARTITION BY item,\n"
    "      TIMECOL => DESCRIPTOR(bidtime),\n      GAP => INTERVAL '5' MINUTES))",
    "SELECT window_start, window_end, item, SUM(price) AS total_price\n  FROM TABLE(\n"
    "      SESSION(TABLE Bid PARTITION BY item, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES))\n"
    "  GROUP BY item, window_start, window_end",
]


def test_bid_ddl_from_flinks_documentation() -> None:
    t = parse(BID_DDL)[0]
    assert isinstance(t, st.CreateTable)
    assert t.schema.names == ["bidtime", "price", "item", "supplier_id"]
    assert t.schema.rowtime == "bidtime"
    assert t.schema.column("price").type.sql() == "DECIMAL(10, 2)"


def window_of(sql: str) -> WindowTVF:
    tvf = query(sql).find(WindowTVF)
    assert tvf is not None
    return tvf


@pytest.mark.parametrize("sql", TUMBLE_QUERIES)
def test_tumble_examples(sql: str) -> None:
    tvf = window_of(sql)
    assert (tvf.kind, tvf.this.name, tvf.args["time_column"].name) == ("TUMBLE", "Bid", "bidtime")
    assert tvf.args["size"].sql(dialect=Flink) == "INTERVAL '10' MINUTES"
    assert tvf.args.get("slide") is None and tvf.args.get("offset") is None
    assert "TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))" in roundtrip(sql)


@pytest.mark.parametrize("sql", HOP_QUERIES)
def test_hop_examples(sql: str) -> None:
    tvf = window_of(sql)
    assert tvf.kind == "HOP"
    assert tvf.args["slide"].sql(dialect=Flink) == "INTERVAL '5' MINUTES"
    assert tvf.args["size"].sql(dialect=Flink) == "INTERVAL '10' MINUTES"
    assert (
        "TABLE(HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES))"
        in roundtrip(sql)
    )


@pytest.mark.parametrize("sql", CUMULATE_QUERIES)
def test_cumulate_examples(sql: str) -> None:
    tvf = window_of(sql)
    assert tvf.kind == "CUMULATE"
    assert tvf.args["step"].sql(dialect=Flink) == "INTERVAL '2' MINUTES"
    assert tvf.args["size"].sql(dialect=Flink) == "INTERVAL '10' MINUTES"
    assert (
        "TABLE(CUMULATE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES))"
        in roundtrip(sql)
    )


@pytest.mark.parametrize("sql", SESSION_QUERIES)
def test_session_examples(sql: str) -> None:
    tvf = window_of(sql)
    assert tvf.kind == "SESSION"
    assert [c.name for c in tvf.args["partition_by"]] == ["item"]
    assert tvf.args["gap"].sql(dialect=Flink) == "INTERVAL '5' MINUTES"
    assert (
        "TABLE(SESSION(TABLE Bid PARTITION BY item, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES))"
        in roundtrip(sql)
    )


def test_tumble_with_offset_and_alias() -> None:
    sql = (
        "SELECT w.window_start FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), "
        "INTERVAL '10' MINUTES, INTERVAL '1' MINUTES)) AS w"
    )
    tvf = window_of(sql)
    assert tvf.args["offset"].sql(dialect=Flink) == "INTERVAL '1' MINUTES"
    assert tvf.alias == "w"
    assert roundtrip(sql) == sql


def test_named_offset_argument_in_any_order() -> None:
    sql = (
        "SELECT * FROM TABLE(HOP(SIZE => INTERVAL '10' MINUTES, DATA => TABLE Bid, "
        "OFFSET => INTERVAL '1' MINUTE, TIMECOL => DESCRIPTOR(bidtime), SLIDE => INTERVAL '5' MINUTES))"
    )
    assert roundtrip(sql) == (
        "SELECT * FROM TABLE(HOP(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES, "
        "INTERVAL '10' MINUTES, INTERVAL '1' MINUTE))"
    )


def test_session_partitioned_by_several_keys() -> None:
    sql = (
        "SELECT * FROM TABLE(SESSION(TABLE Bid PARTITION BY (item, supplier_id), "
        "DESCRIPTOR(bidtime), INTERVAL '5' MINUTES))"
    )
    assert [c.name for c in window_of(sql).args["partition_by"]] == ["item", "supplier_id"]
    assert roundtrip(sql) == sql


def test_window_over_a_subquery_and_a_qualified_table() -> None:
    sql = (
        "SELECT * FROM TABLE(TUMBLE(TABLE (SELECT * FROM Bid WHERE price > 1), "
        "DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))"
    )
    tvf = window_of(sql)
    assert isinstance(tvf.this, exp.Subquery)
    assert roundtrip(sql) == sql
    qualified = window_of(
        "SELECT * FROM TABLE(TUMBLE(TABLE cat.db.Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE))"
    )
    assert [p.name for p in qualified.this.parts] == ["cat", "db", "Bid"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("TUMBLE(Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE)", "TABLE <name>"),
        ("TUMBLE(TABLE Bid, bidtime, INTERVAL '1' MINUTE)", "DESCRIPTOR"),
        ("TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), SIZ => INTERVAL '1' MINUTE)", "no parameter SIZ"),
        ("TUMBLE(TABLE Bid, DESCRIPTOR(bidtime))", "TUMBLE needs SIZE"),
        ("HOP(DATA => TABLE Bid, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' HOUR)", "HOP needs SLIDE"),
        ("TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE, INTERVAL '0' SECOND, 1)", "too many"),
    ],
)
def test_window_tvf_mistakes(sql: str, message: str) -> None:
    from planner.errors import ParseError

    with pytest.raises(ParseError) as info:
        parse(f"SELECT * FROM TABLE({sql})")
    assert message in info.value.message
    assert info.value.line == 1 and (info.value.col or 0) > 20


def test_descriptor_also_parses_as_an_expression() -> None:
    d = parse_expression("DESCRIPTOR(a, b)")
    assert isinstance(d, Descriptor)
    assert d.sql(dialect=Flink) == "DESCRIPTOR(a, b)"


# ---- legacy group windows and lookup joins ---------------------------------------------------


def test_legacy_group_window_functions_parse_as_functions() -> None:
    sql = (
        "SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), TUMBLE_END(ts, INTERVAL '1' MINUTE), "
        "TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE), HOP_START(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), "
        "SESSION_END(ts, INTERVAL '30' SECOND), k, COUNT(*) FROM t "
        "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), "
        "SESSION(ts, INTERVAL '30' SECOND), k"
    )
    q = query(sql)
    names = [f.name.upper() for f in q.find_all(exp.Anonymous)]
    assert names == [
        "TUMBLE_START", "TUMBLE_END", "TUMBLE_ROWTIME", "HOP_START", "SESSION_END",
        "TUMBLE", "HOP", "SESSION",
    ]  # fmt: skip
    assert q.find(WindowTVF) is None
    assert roundtrip(sql) == sql


def test_lookup_join_keeps_for_system_time_as_of() -> None:
    sql = "SELECT o.id, d.name FROM orders AS o JOIN dim FOR SYSTEM_TIME AS OF o.proc_time AS d ON o.k = d.k"
    q = query(sql)
    join = q.args["joins"][0]
    table = join.this
    assert isinstance(table, exp.Table) and table.name == "dim" and table.alias == "d"
    version = table.args["version"]
    assert isinstance(version, exp.Version)
    assert version.text("kind") == "AS OF"
    assert version.expression.sql(dialect=Flink) == "o.proc_time"
    assert roundtrip(sql) == sql
    assert "FOR SYSTEM_TIME AS OF o.pt ON" in roundtrip(
        "SELECT * FROM o LEFT JOIN dim FOR SYSTEM_TIME AS OF o.pt ON o.k = dim.k"
    )


# ---- expressions -------------------------------------------------------------------------------

SAME_TEXT = [
    "SELECT a + b * 2 - c / 4, a % 3, -a FROM t",
    "SELECT CASE WHEN a > 1 THEN 'x' WHEN a IS NULL THEN 'n' ELSE 'y' END FROM t",
    "SELECT CASE a WHEN 1 THEN 'one' END FROM t",
    "SELECT CAST(a AS INT), TRY_CAST(b AS DOUBLE), CAST(c AS VARCHAR(2)), CAST(d AS STRING) FROM t",
    "SELECT CAST(a AS TIMESTAMP(3)), CAST(b AS TIMESTAMP_LTZ(3)), CAST(c AS DECIMAL(10, 2)) FROM t",
    "SELECT CAST(a AS ROW<x INT, y ARRAY<STRING NOT NULL>>), CAST(b AS MAP<STRING, BIGINT>) FROM t",
    "SELECT CAST(a AS BYTES), CAST(b AS INT NOT NULL), CAST(c AS DATE), CAST(d AS TIME(3)) FROM t",
    "SELECT a FROM t WHERE b LIKE 'x%' AND c IN (1, 2) AND d BETWEEN 1 AND 2 AND e <> 'z'",
    "SELECT r.f, r.g.h, arr[1], m['k'] FROM t",
    "SELECT COUNT(*), COUNT(DISTINCT a), SUM(b), MIN(c), MAX(d), AVG(e) FROM t",
    "SELECT SUM(b) FILTER(WHERE c > 1), COUNT(*) FILTER(WHERE d) FROM t",
    "SELECT a FROM t UNION ALL SELECT a FROM u",
    "SELECT x FROM (SELECT a AS x FROM t) AS s WHERE x > 0",
    "WITH s AS (SELECT a FROM t) SELECT a FROM s",
    "SELECT a, COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > 1",
    "SELECT INTERVAL '10' MINUTES, INTERVAL '1' SECOND, INTERVAL '1:30' MINUTE TO SECOND",
    "SELECT INTERVAL '2' HOURS, INTERVAL '1 10:00:00' DAY TO SECOND, INTERVAL '1-2' YEAR TO MONTH",
    "SELECT ts - INTERVAL '5' SECOND, ts + INTERVAL '1' DAY FROM t",
    "SELECT FLOOR(ts TO MINUTE), CEIL(ts TO HOUR), EXTRACT(HOUR FROM ts), EXTRACT(YEAR FROM ts) FROM t",
    "SELECT PROCTIME(), NOW(), CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIMESTAMP, CURRENT_ROW_TIMESTAMP()",
    "SELECT TO_TIMESTAMP_LTZ(ms, 3), DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss'), FROM_UNIXTIME(s)",
    "SELECT TIMESTAMPADD(HOUR, 1, ts), TIMESTAMPDIFF(SECOND, a, b) FROM t",
    "SELECT UNIX_TIMESTAMP(), UNIX_TIMESTAMP(s, 'yyyy-MM-dd')",
    "SELECT CONCAT(a, b), CONCAT_WS('-', a, b), a || b, UPPER(s), LOWER(s), TRIM(s), CHAR_LENGTH(s)",
    "SELECT REGEXP_EXTRACT(s, '(\\d+)-(\\d+)', 2), REGEXP_REPLACE(s, '\\s+', ' ')",
    "SELECT SPLIT_INDEX(s, ',', 0), HASH_CODE(s), TO_BASE64(s), FROM_BASE64(s), TRUNCATE(x, 2)",
    "SELECT STR_TO_MAP(s, ',', '='), JSON_VALUE(j, '$.a'), JSON_OBJECT(KEY 'a' VALUE 1)",
    "SELECT ROW(1, 'a'), ARRAY[1, 2], MAP['a', 1], CARDINALITY(arr)",
    "SELECT COALESCE(a, b), NULLIF(a, b), IF(a > 1, 'x', 'y'), a IS DISTINCT FROM b",
    "SELECT 'it''s', '\\n is two characters', `weird col` FROM `my table`",
    "SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY ts DESC) AS rn FROM t",
    "SELECT SUM(x) OVER (PARTITION BY a ORDER BY ts ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) FROM t",
]


@pytest.mark.parametrize("sql", SAME_TEXT)
def test_roundtrip_prints_the_same_flink_sql(sql: str) -> None:
    assert roundtrip(sql) == sql


@pytest.mark.parametrize(
    ("sql", "printed"),
    [
        ("SELECT CAST(a AS TIMESTAMP(3) WITH LOCAL TIME ZONE)", "SELECT CAST(a AS TIMESTAMP_LTZ(3))"),
        ("SELECT CAST(a AS ROW(x INT))", "SELECT CAST(a AS ROW<x INT>)"),
        ("SELECT CAST(a AS INTEGER)", "SELECT CAST(a AS INT)"),
        ("SELECT LENGTH(s)", "SELECT CHAR_LENGTH(s)"),
        ("SELECT STR_TO_MAP(s)", "SELECT STR_TO_MAP(s, ',', '=')"),  # Flink's defaults
        ("SELECT a FROM t WHERE a NOT IN (1, 2)", "SELECT a FROM t WHERE NOT a IN (1, 2)"),
        ("SELECT SUBSTRING(s FROM 2 FOR 3)", "SELECT SUBSTRING(s, 2, 3)"),
        ("INSERT OVERWRITE t SELECT 1", "INSERT OVERWRITE t SELECT 1"),
    ],
)
def test_roundtrip_to_equivalent_flink_sql(sql: str, printed: str) -> None:
    assert roundtrip(sql) == printed


def test_ddl_roundtrips_through_the_generator() -> None:
    ddl = (
        "CREATE TEMPORARY TABLE IF NOT EXISTS t (a INT NOT NULL, b ROW<x INT, y STRING NOT NULL>, "
        "c AS a * 2, p AS PROCTIME(), m TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL, "
        "`partition` INT METADATA VIRTUAL, o BIGINT METADATA COMMENT 'offset', "
        "ts TIMESTAMP(3), k STRING PRIMARY KEY NOT ENFORCED, "
        "WATERMARK FOR ts AS ts - INTERVAL '5' SECOND, PRIMARY KEY (a) NOT ENFORCED) "
        "COMMENT 'c' WITH ('connector' = 'kafka', 'topic' = 'x')"
    )
    assert roundtrip(ddl) == ddl
    for statement in (
        "ALTER TABLE t SET ('k' = 'v', 'a.b' = 'c')",
        "ALTER TABLE t RESET ('k', 'j')",
        "ALTER TABLE t RENAME TO u",
        "ALTER TABLE IF EXISTS t ADD d INT COMMENT 'x' AFTER a",
        "ALTER TABLE t ADD (e INT FIRST, f AS b + 1, WATERMARK FOR ts AS ts, PRIMARY KEY (a) NOT ENFORCED)",
        "ALTER TABLE t MODIFY (a BIGINT NOT NULL AFTER b, m STRING METADATA FROM 'k' VIRTUAL)",
        "ALTER TABLE t DROP (a, b)",
        "ALTER TABLE t DROP c",
        "ALTER TABLE t DROP PRIMARY KEY",
        "ALTER TABLE t DROP WATERMARK",
        "ALTER TABLE t RENAME a TO b",
        "CREATE VIEW v (a, b) AS SELECT 1, 2",
        "DROP TEMPORARY VIEW IF EXISTS v",
    ):
        assert roundtrip(statement) == statement


# ---- semantics that differ from Spark, visible when translated to DuckDB ------------------------


@pytest.mark.parametrize(
    ("flink", "duckdb"),
    [
        ("SELECT CAST(a AS INT)", "SELECT CAST(a AS INT)"),  # Flink's CAST fails on bad input
        ("SELECT TRY_CAST(a AS INT)", "SELECT TRY_CAST(a AS INT)"),
        ("SELECT arr[1]", "SELECT arr[1]"),  # arrays count from 1, as in DuckDB
        ("SELECT REGEXP_EXTRACT(s, 'a(b)')", "SELECT REGEXP_EXTRACT(s, 'a(b)')"),  # whole match
        ("SELECT 'a\\b'", "SELECT 'a\\b'"),  # a backslash is not an escape
        ("SELECT CAST(t AS TIMESTAMP(3))", "SELECT CAST(t AS TIMESTAMP(3))"),  # no time zone
    ],
)
def test_flink_semantics_survive_translation_to_duckdb(flink: str, duckdb: str) -> None:
    assert sqlglot.transpile(flink, read=Flink, write="duckdb") == [duckdb]


# ---- pins of the sqlglot hooks the dialect relies on (sqlglot 30) --------------------------------


def test_pin_table_function_alias_lands_on_the_window_node() -> None:
    # WindowTVF subclasses exp.TableFromRows: sqlglot's _parse_table moves TABLE(...)'s
    # alias onto it and returns it in place of the exp.Table.
    q = query("SELECT * FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '1' MINUTE)) w")
    from_ = q.args["from_"].this
    assert isinstance(from_, WindowTVF)
    assert from_.alias == "w"


def test_pin_other_table_functions_stay_generic() -> None:
    q = query("SELECT * FROM TABLE(my_udtf(1, 2)) AS x")
    from_ = q.args["from_"].this
    assert isinstance(from_, exp.TableFromRows) and not isinstance(from_, WindowTVF)
    assert from_.alias == "x"


def test_pin_parse_types_keeps_varchar_length_and_reads_nested_not_null() -> None:
    cast = read("SELECT CAST(a AS VARCHAR(2))").find(exp.Cast)
    assert cast is not None and cast.to.sql(dialect=Flink) == "VARCHAR(2)"
    element = read("SELECT CAST(a AS ARRAY<INT NOT NULL>)").find(exp.Cast)
    assert element is not None
    assert element.to.expressions[0].args.get("nullable") is False


def test_pin_row_constructor_is_still_a_function() -> None:
    e = parse_expression("ROW(a, b)")
    assert not isinstance(e, exp.DataType)
    assert e.sql(dialect=Flink) == "ROW(a, b)"


def test_pin_only_for_system_time_starts_a_version_clause() -> None:
    # Spark reads `t TIMESTAMP AS OF x` as time travel; in Flink that is not SQL.
    with pytest.raises(sqlglot.errors.ParseError):
        read("SELECT * FROM t TIMESTAMP AS OF x")


def test_pin_tokenizer_reads_show_and_execute_as_tokens() -> None:
    tokens = Flink().tokenize("SHOW TABLES; EXECUTE STATEMENT SET BEGIN END")
    assert [t.text.upper() for t in tokens] == [
        "SHOW", "TABLES", ";", "EXECUTE", "STATEMENT", "SET", "BEGIN", "END",
    ]  # fmt: skip


def test_pin_timestamp_is_without_time_zone() -> None:
    cast = read("SELECT CAST(a AS TIMESTAMP)").find(exp.Cast)
    assert cast is not None and cast.to.this == exp.DType.TIMESTAMP


# ---- collection constructors -------------------------------------------------------------


def test_map_constructor_reads_as_a_map_and_prints_back_as_written() -> None:
    """``MAP[k, v, ...]`` builds a map (MAP is reserved in Flink); a backquoted `map` column
    is still indexed, and ARRAY_SORT keeps its third argument."""
    tree = read("SELECT MAP['a', 1, 'b', x]['a'] FROM t")
    built = tree.find(exp.VarMap)
    assert built is not None
    assert [k.name for k in built.args["keys"].expressions] == ["a", "b"]
    assert roundtrip("SELECT MAP['a', 1, 'b', x]['a'] FROM t") == "SELECT MAP['a', 1, 'b', x]['a'] FROM t"
    assert read("SELECT `map`['k'] FROM t").find(exp.VarMap) is None
    assert roundtrip("SELECT ARRAY_SORT(a, FALSE, TRUE) FROM t") == "SELECT ARRAY_SORT(a, FALSE, TRUE) FROM t"


def test_map_constructor_needs_pairs() -> None:
    with pytest.raises(sqlglot.errors.ParseError, match="in pairs"):
        read("SELECT MAP['a', 1, 'b'] FROM t")


def test_a_dollar_sign_continues_an_identifier_as_in_calcite() -> None:
    """``EXPR$0`` is the name Flink gives a ROW(...) field or an unnamed column; it reads
    as one name (it read as EXPR followed by a parameter $0, a syntax error)."""
    item = query("SELECT ROW(id, 'x').EXPR$0, r.EXPR$1 FROM t").expressions
    assert isinstance(item[0], exp.Dot) and item[0].expression.name == "EXPR$0"
    assert [c.name for c in item[1].find_all(exp.Column)] == ["EXPR$1"]
    assert roundtrip("SELECT a$b FROM t") == "SELECT a$b FROM t"


def test_a_json_object_key_is_any_expression() -> None:
    """Flink's KEY takes an expression; sqlglot's hook (_parse_json_key_value) a column."""
    assert roundtrip("SELECT JSON_OBJECTAGG(KEY k || CAST(id AS STRING) VALUE id) FROM t") == (
        "SELECT JSON_OBJECTAGG(KEY k || CAST(id AS STRING) VALUE id) FROM t"
    )
    assert roundtrip("SELECT JSON_OBJECT(KEY 'a' VALUE 1, 'b' VALUE x + 1)") == (
        "SELECT JSON_OBJECT(KEY 'a' VALUE 1, KEY 'b' VALUE x + 1)"
    )
