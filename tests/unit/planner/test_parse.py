"""planner.parse: every statement form, positions in the script, and the errors a user sees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs
from sqlglot import exp

from catalog.errors import CatalogError
from catalog.schema import Column, ColumnKind, Watermark
from catalog.types import DataType, parse_type
from planner import statements as st
from planner.dialect import Flink
from planner.errors import ParseError, UnsupportedError
from planner.expressions import WindowTVF
from planner.parse import parse, parse_expression, split_statements


def one(sql: str) -> st.Statement:
    statements = parse(sql)
    assert len(statements) == 1
    return statements[0]


# ---- CREATE TABLE ------------------------------------------------------------------------

KAFKA_DDL = """
CREATE TEMPORARY TABLE IF NOT EXISTS orders (
  order_id BIGINT NOT NULL,
  price DECIMAL(10, 2),
  buyer ROW<name STRING, age INT NOT NULL> COMMENT 'who bought',
  tags ARRAY<STRING NOT NULL>,
  attrs MAP<STRING, BIGINT>,
  payload BYTES,
  ltz TIMESTAMP(3) WITH LOCAL TIME ZONE,
  ts TIMESTAMP(3),
  total AS price * 2,
  proc AS PROCTIME(),
  kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
  PRIMARY KEY (order_id) NOT ENFORCED
) COMMENT 'all orders' WITH (
  'connector' = 'kafka',
  'topic' = 'orders',
  'properties.bootstrap.servers' = 'localhost:9092',
  'format' = 'json'
)
"""


def test_create_table_reads_every_column_kind() -> None:
    t = one(KAFKA_DDL)
    assert isinstance(t, st.CreateTable)
    assert (t.name, t.temporary, t.if_not_exists, t.comment) == ("orders", True, True, "all orders")
    assert t.options == {
        "connector": "kafka",
        "topic": "orders",
        "properties.bootstrap.servers": "localhost:9092",
        "format": "json",
    }
    s = t.schema
    assert s.column("order_id").type == parse_type("BIGINT NOT NULL")
    assert s.column("price").type == parse_type("DECIMAL(10, 2)")
    assert s.column("buyer").type == parse_type("ROW<name STRING, age INT NOT NULL>")
    assert s.column("buyer").comment == "who bought"
    assert s.column("tags").type == parse_type("ARRAY<STRING NOT NULL>")
    assert s.column("attrs").type == parse_type("MAP<STRING, BIGINT>")
    assert s.column("payload").type == parse_type("BYTES")
    assert s.column("ltz").type == parse_type("TIMESTAMP_LTZ(3)")
    assert s.column("ts").type == parse_type("TIMESTAMP(3)")
    total = s.column("total")
    assert (total.kind, total.expr) == (ColumnKind.COMPUTED, "price * 2")
    assert s.proctime == "proc"
    kafka_ts = s.column("kafka_ts")
    assert (kafka_ts.kind, kafka_ts.metadata_key, kafka_ts.virtual) == (
        ColumnKind.METADATA,
        "timestamp",
        True,
    )
    assert (s.column("partition").metadata_key, s.column("partition").virtual) == (None, True)
    assert (s.column("offset").kind, s.column("offset").virtual) == (ColumnKind.METADATA, False)
    assert s.watermark is not None
    assert (s.watermark.column, s.watermark.expr) == ("ts", "ts - INTERVAL '5' SECOND")
    assert s.primary_key == ("order_id",)
    assert [c.name for c in s.columns][:3] == ["order_id", "price", "buyer"]


@pytest.mark.parametrize(
    ("written", "flink"),
    [
        ("INTEGER", "INT"),
        ("REAL", "FLOAT"),
        ("DOUBLE PRECISION", "DOUBLE"),
        ("DECIMAL", "DECIMAL(10, 0)"),
        ("NUMERIC(20, 3)", "DECIMAL(20, 3)"),
        ("CHAR(3)", "CHAR(3)"),
        ("VARCHAR(10)", "VARCHAR(10)"),
        ("BINARY(4)", "BINARY(4)"),
        ("VARBINARY(8)", "VARBINARY(8)"),
        ("TIME(3)", "TIME(3)"),
        ("TIMESTAMP", "TIMESTAMP(6)"),
        ("TIMESTAMP(9) WITHOUT TIME ZONE", "TIMESTAMP(9)"),
        ("TIMESTAMP WITH LOCAL TIME ZONE", "TIMESTAMP_LTZ(6)"),
        ("ROW(a INT, b STRING)", "ROW<`a` INT, `b` STRING>"),
        ("ARRAY<ROW<a INT, b ARRAY<STRING>>>", "ARRAY<ROW<`a` INT, `b` ARRAY<STRING>>>"),
        ("MAP<STRING, ROW<x DOUBLE NOT NULL>> NOT NULL", "MAP<STRING, ROW<`x` DOUBLE NOT NULL>> NOT NULL"),
        ("ROW<`a b` INT>", "ROW<`a b` INT>"),
        ("MULTISET<INT>", "MULTISET<INT>"),
        ("INT MULTISET", "MULTISET<INT>"),
    ],
)
def test_column_types_read_as_flink_types(written: str, flink: str) -> None:
    t = one(f"CREATE TABLE t (a {written}) WITH ('connector' = 'x')")
    assert isinstance(t, st.CreateTable)
    assert t.schema.columns[0].type.sql() == flink


def test_inline_primary_key_makes_the_column_not_null_like_flink() -> None:
    t = one("CREATE TABLE t (id INT PRIMARY KEY NOT ENFORCED, v STRING) WITH ('connector' = 'x')")
    assert isinstance(t, st.CreateTable)
    assert t.schema.primary_key == ("id",)
    assert t.schema.column("id").type == parse_type("INT NOT NULL")


def test_named_primary_key_constraint_is_accepted() -> None:
    t = one(
        "CREATE TABLE t (a INT, b INT, CONSTRAINT pk PRIMARY KEY (a, b) NOT ENFORCED)"
        " WITH ('connector' = 'x')"
    )
    assert isinstance(t, st.CreateTable)
    assert t.schema.primary_key == ("a", "b")


def test_primary_key_without_not_enforced_is_refused_where_it_is_written() -> None:
    sql = "CREATE TABLE t (\n  a INT,\n  PRIMARY KEY (a)\n) WITH ('connector' = 'x')"
    with pytest.raises(ParseError) as info:
        parse(sql)
    assert "NOT ENFORCED" in info.value.message
    assert (info.value.line, info.value.col) == (3, 3)
    assert info.value.hint is not None and "NOT ENFORCED" in info.value.hint


def test_inline_primary_key_without_not_enforced_is_refused() -> None:
    with pytest.raises(ParseError) as info:
        parse("CREATE TABLE t (\n  a INT PRIMARY KEY,\n  b INT\n) WITH ('connector' = 'x')")
    assert "NOT ENFORCED" in info.value.message
    assert (info.value.line, info.value.col) == (2, 9)


def test_option_keys_must_be_quoted() -> None:
    with pytest.raises(ParseError) as info:
        parse("CREATE TABLE t (a INT) WITH (connector = 'x')")
    assert "'key' = 'value'" in info.value.message


def test_option_values_keep_quotes_and_backslashes() -> None:
    t = one(r"CREATE TABLE t (a INT) WITH ('connector' = 'x', 'csv.field-delimiter' = '\t', 'q' = 'it''s')")
    assert isinstance(t, st.CreateTable)
    assert t.options["csv.field-delimiter"] == "\\t"
    assert t.options["q"] == "it's"


def test_watermark_on_a_missing_column_names_it() -> None:
    with pytest.raises(CatalogError) as info:
        parse("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR tss AS tss) WITH ('connector' = 'x')")
    assert "tss" in info.value.message
    assert info.value.line == 1


def test_misspelt_type_is_an_error_with_a_hint() -> None:
    with pytest.raises(ParseError) as info:
        parse("CREATE TABLE t (\n  a STRNG\n) WITH ('connector' = 'x')")
    assert (info.value.line, info.value.col) == (2, 5)
    assert info.value.hint is not None and "STRING" in info.value.hint


# ---- views, drop, alter, insert ----------------------------------------------------------


def test_create_view_keeps_the_query_text_as_written() -> None:
    v = one("CREATE TEMPORARY VIEW IF NOT EXISTS v (x, y) AS\n  SELECT a,  b FROM t WHERE a > 1")
    assert isinstance(v, st.CreateView)
    assert (v.name, v.columns, v.temporary, v.if_not_exists) == ("v", ("x", "y"), True, True)
    assert v.query_sql == "SELECT a,  b FROM t WHERE a > 1"
    assert isinstance(v.query, exp.Select)


def test_create_view_without_columns() -> None:
    v = one("CREATE VIEW v AS SELECT * FROM (SELECT 1 AS one) AS s")
    assert isinstance(v, st.CreateView)
    assert (v.columns, v.temporary, v.query_sql) == ((), False, "SELECT * FROM (SELECT 1 AS one) AS s")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP TABLE t", st.DropTable(name="t")),
        (
            "DROP TEMPORARY TABLE IF EXISTS default_database.t",
            st.DropTable(name="t", if_exists=True, temporary=True),
        ),
        ("DROP VIEW v", st.DropView(name="v")),
        ("DROP TEMPORARY VIEW IF EXISTS v", st.DropView(name="v", if_exists=True, temporary=True)),
        (
            "ALTER TABLE t SET ('a' = '1', 'b.c' = 'x')",
            st.AlterTableSet(name="t", options={"a": "1", "b.c": "x"}),
        ),
        ("ALTER TABLE t RESET ('a', 'b.c')", st.AlterTableReset(name="t", keys=("a", "b.c"))),
        ("ALTER TABLE t RENAME TO u", st.AlterTableRename(name="t", new_name="u")),
        ("ALTER TABLE IF EXISTS t RENAME TO u", st.AlterTableRename(name="t", new_name="u", if_exists=True)),
        (
            "ALTER TABLE t ADD (x INT FIRST, y AS x + 1 COMMENT 'c' AFTER a, WATERMARK FOR ts AS ts)",
            st.AlterTableSchema(
                name="t",
                action="ADD",
                columns=(
                    st.AlterColumn(Column("x", DataType("INT")), st.Spot(1, 20), first=True),
                    st.AlterColumn(
                        Column("y", DataType("NULL"), ColumnKind.COMPUTED, expr="x + 1", comment="c"),
                        st.Spot(1, 33),
                        after="a",
                    ),
                ),
                watermark=Watermark("ts", "ts"),
                watermark_at=st.Spot(1, 65),
            ),
        ),
        (
            "ALTER TABLE t MODIFY PRIMARY KEY (a, b) NOT ENFORCED",
            st.AlterTableSchema(
                name="t", action="MODIFY", primary_key=("a", "b"), primary_key_at=st.Spot(1, 22)
            ),
        ),
        (
            "ALTER TABLE t DROP (a,\n b)",
            st.AlterTableDrop(name="t", columns=(("a", st.Spot(1, 21)), ("b", st.Spot(2, 2)))),
        ),
        ("ALTER TABLE t DROP WATERMARK", st.AlterTableDrop(name="t", watermark=True, at=st.Spot(1, 20))),
        (
            "ALTER TABLE IF EXISTS t RENAME a TO b",
            st.AlterTableRenameColumn(name="t", old="a", new="b", at=st.Spot(1, 32), if_exists=True),
        ),
        ("SET 'pipeline.name' = 'my job'", st.Set(key="pipeline.name", value="my job")),
        ("SET execution.runtime-mode = batch", st.Set(key="execution.runtime-mode", value="batch")),
        ("SET", st.Set()),
        ("RESET 'parallelism.default'", st.Reset(key="parallelism.default")),
        ("RESET", st.Reset()),
        ("SHOW TABLES", st.Show(what="tables")),
        ("show views", st.Show(what="views")),
        ("SHOW FUNCTIONS", st.Show(what="functions")),
        ("SHOW JOBS", st.Show(what="jobs")),
        ("SHOW CATALOGS", st.Show(what="catalogs")),
        ("SHOW DATABASES", st.Show(what="databases")),
        ("SHOW CREATE TABLE t", st.Show(what="create_table", name="t")),
        ("SHOW CREATE VIEW default_catalog.default_database.v", st.Show(what="create_view", name="v")),
        ("SHOW CURRENT DATABASE", st.Show(what="current_database")),
        ("USE CATALOG default_catalog", st.Use(catalog="default_catalog")),
        ("USE c.db", st.Use(catalog="c", database="db")),
        ("SHOW COLUMNS FROM t", st.Show(what="columns", name="t")),
        ("DESCRIBE t", st.Describe(name="t")),
        ("DESC `my table`", st.Describe(name="my table")),
        ("STOP JOB 'a1b2'", st.StopJob(job_id="a1b2")),
        ("STOP JOB 'a1b2' WITH SAVEPOINT", st.StopJob(job_id="a1b2", savepoint=True)),
        ("STOP JOB 'a1b2' WITH SAVEPOINT WITH DRAIN", st.StopJob(job_id="a1b2", savepoint=True, drain=True)),
    ],
)
def test_statement(sql: str, expected: st.Statement) -> None:
    got = one(sql)
    assert got == expected.__class__(**{**expected.__dict__, "sql": sql, "line": 1, "col": 1})


def test_insert_into_and_overwrite() -> None:
    i = one("INSERT INTO default_catalog.default_database.sink (a, b) SELECT x, y FROM src")
    assert isinstance(i, st.Insert)
    assert (i.table, i.columns, i.overwrite) == ("sink", ("a", "b"), False)
    assert i.query.sql(dialect=Flink) == "SELECT x, y FROM src"
    o = one("INSERT OVERWRITE sink SELECT * FROM src")
    assert isinstance(o, st.Insert)
    assert (o.table, o.overwrite) == ("sink", True)


def test_insert_values_becomes_a_query() -> None:
    i = one("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    assert isinstance(i, st.Insert)
    assert isinstance(i.query, exp.Query)
    assert i.query.find(exp.Values) is not None


# ---- statement sets ------------------------------------------------------------------------

BEGIN_SET = """BEGIN STATEMENT SET;
INSERT INTO a SELECT CASE WHEN x > 1 THEN 'big' ELSE 'small' END FROM t;
INSERT INTO b SELECT y FROM t;
END;
SELECT 1;"""


def test_begin_statement_set_spans_several_semicolons() -> None:
    statements = parse(BEGIN_SET)
    assert [type(s) for s in statements] == [st.StatementSet, st.Query]
    stmt_set = statements[0]
    assert isinstance(stmt_set, st.StatementSet)
    assert [i.table for i in stmt_set.inserts] == ["a", "b"]
    assert [(i.line, i.col) for i in stmt_set.inserts] == [(2, 1), (3, 1)]
    assert (statements[1].line, statements[1].col) == (5, 1)


def test_execute_statement_set() -> None:
    sql = "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END;"
    s = one(sql)
    assert isinstance(s, st.StatementSet)
    assert [i.table for i in s.inserts] == ["a", "b"]
    assert s.inserts[1].col == sql.index("INSERT INTO b") + 1


def test_statement_set_only_holds_inserts() -> None:
    with pytest.raises(ParseError) as info:
        parse("BEGIN STATEMENT SET;\nINSERT INTO a SELECT 1;\nSELECT 2;\nEND;")
    assert "INSERT" in info.value.message
    assert (info.value.line, info.value.col) == (3, 1)


def test_statement_set_without_end_is_an_error() -> None:
    with pytest.raises(ParseError) as info:
        parse("BEGIN STATEMENT SET;\nINSERT INTO a SELECT 1;")
    assert "END" in info.value.message


# ---- EXPLAIN -----------------------------------------------------------------------------------


def test_explain_forms() -> None:
    e = one("EXPLAIN PLAN FOR SELECT * FROM t")
    assert isinstance(e, st.Explain) and isinstance(e.statement, st.Query)
    assert e.details == ()
    assert (e.statement.sql, e.statement.col) == ("SELECT * FROM t", 18)
    d = one("EXPLAIN CHANGELOG_MODE, JSON_EXECUTION_PLAN INSERT INTO s SELECT * FROM t")
    assert isinstance(d, st.Explain) and isinstance(d.statement, st.Insert)
    assert d.details == ("changelog_mode", "json_execution_plan")
    s = one("EXPLAIN STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END")
    assert isinstance(s, st.Explain) and isinstance(s.statement, st.StatementSet)
    assert len(s.statement.inserts) == 2


def test_explain_of_ddl_is_refused() -> None:
    with pytest.raises(UnsupportedError):
        parse("EXPLAIN DROP TABLE t")


# ---- queries ---------------------------------------------------------------------------------


def test_query_is_kept_as_a_flink_expression() -> None:
    q = one(
        "WITH big AS (SELECT * FROM t WHERE price > 10)\n"
        "SELECT item, COUNT(*) AS n, COUNT(DISTINCT buyer) AS buyers,\n"
        "  SUM(price) FILTER (WHERE price > 100) AS big_sum, AVG(price), MIN(ts), MAX(ts)\n"
        "FROM big GROUP BY item HAVING COUNT(*) > 1\n"
        "UNION ALL SELECT 'none', 0, 0, 0, 0, NULL, NULL FROM (SELECT 1 AS x) AS s"
    )
    assert isinstance(q, st.Query)
    assert isinstance(q.query, exp.Union)
    assert q.query.find(exp.Filter) is not None
    assert q.query.find(exp.Count) is not None


def test_window_tvf_in_from() -> None:
    q = one(
        "SELECT * FROM TABLE(HOP(TABLE Bid, DESCRIPTOR(bidtime),"
        " INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)) AS w"
    )
    assert isinstance(q, st.Query)
    tvf = q.query.args["from_"].this
    assert isinstance(tvf, WindowTVF)
    assert (tvf.kind, tvf.this.name, tvf.args["time_column"].name, tvf.alias) == (
        "HOP",
        "Bid",
        "bidtime",
        "w",
    )
    assert tvf.args["slide"].sql(dialect=Flink) == "INTERVAL '5' MINUTES"
    assert tvf.args["size"].sql(dialect=Flink) == "INTERVAL '10' MINUTES"


# ---- positions ---------------------------------------------------------------------------------


def test_each_statement_knows_its_text_and_position() -> None:
    script = "-- setup\nSET 'a' = 'b';\n\n  SELECT 1 ;SHOW TABLES\n"
    statements = parse(script)
    assert [(s.sql, s.line, s.col) for s in statements] == [
        ("SET 'a' = 'b'", 2, 1),
        ("SELECT 1", 4, 3),
        ("SHOW TABLES", 4, 13),
    ]


def test_split_statements_ignores_semicolons_in_quotes_and_comments() -> None:
    script = "SELECT 'a;b' AS `x;y`; -- c;d\nSELECT 2 /* ; */ ;\n\nSELECT 3"
    assert split_statements(script) == [
        ("SELECT 'a;b' AS `x;y`", 1, 1),
        ("SELECT 2", 2, 1),  # a comment after the last token is not part of it
        ("SELECT 3", 4, 1),
    ]


def test_split_keeps_statement_sets_together_even_with_case_end() -> None:
    pieces = split_statements(BEGIN_SET)
    assert len(pieces) == 2
    assert pieces[0][0].startswith("BEGIN STATEMENT SET;") and pieces[0][0].endswith("END")
    assert pieces[1] == ("SELECT 1", 5, 1)


def test_empty_script_and_comment_only_script_have_no_statements() -> None:
    assert parse("") == []
    assert split_statements("  -- nothing here\n /* really */ ;") == []


@given(hs.lists(hs.text(alphabet="ab;'-/*\n ", max_size=8), min_size=1, max_size=5))
def test_split_statements_keeps_any_string_literal_whole(values: list[str]) -> None:
    literals = ["'" + v.replace("'", "''") + "'" for v in values]
    script = ";\n".join(f"SELECT {lit}" for lit in literals)
    pieces = split_statements(script)
    assert [text for text, _, _ in pieces] == [f"SELECT {lit}" for lit in literals]


# ---- errors ------------------------------------------------------------------------------------


def test_typo_on_line_3_of_a_script_is_reported_on_line_3() -> None:
    script = "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nSELECT a\nFORM t;"
    with pytest.raises(ParseError) as info:
        parse(script)
    e = info.value
    assert (e.line, e.col) == (3, 6)
    assert e.hint == "did you mean FROM instead of 'FORM'?"
    assert "\x1b" not in str(e)  # no ANSI underline from sqlglot


def test_misspelt_statement_word() -> None:
    with pytest.raises(ParseError) as info:
        parse("SELECT 1;\n\nSELEC a FROM t")
    assert "SELEC" in info.value.message
    assert (info.value.line, info.value.col) == (3, 1)
    assert info.value.hint == "did you mean SELECT?"


def test_missing_parenthesis() -> None:
    with pytest.raises(ParseError) as info:
        parse("SELECT 1;\nSELECT (a + 1 FROM t")
    assert info.value.message == "expected ) but found 'FROM'"
    assert (info.value.line, info.value.col) == (2, 15)


def test_unterminated_string_points_at_its_quote() -> None:
    with pytest.raises(ParseError) as info:
        parse("SELECT 1;\nSELECT 'abc FROM t")
    assert info.value.message == "unterminated string"
    assert (info.value.line, info.value.col) == (2, 8)
    with pytest.raises(ParseError) as info2:
        split_statements("SELECT /* no end")
    assert info2.value.message == "unterminated comment"


def test_double_quoted_string_gets_a_hint() -> None:
    with pytest.raises(ParseError) as info:
        parse('SELECT "abc" FROM t')
    assert info.value.hint == "Flink quotes strings with ' and names with `"


def test_misspelt_show_kind() -> None:
    with pytest.raises(ParseError) as info:
        parse("SHOW TABELS")
    assert info.value.hint == "did you mean SHOW TABLES?"
    assert info.value.col == 6


@pytest.mark.parametrize(
    ("sql", "construct", "position"),
    [
        ("CREATE FUNCTION f AS 'com.example.F'", "CREATE FUNCTION", (1, 1)),
        ("CREATE TEMPORARY SYSTEM FUNCTION f AS 'com.example.F'", "CREATE FUNCTION", (1, 1)),
        ("SELECT 1;\nALTER CATALOG c SET ('k' = 'v')", "ALTER CATALOG", (2, 7)),
        ("ANALYZE TABLE t COMPUTE STATISTICS", "ANALYZE", (1, 1)),
        ("LOAD MODULE hive", "LOAD MODULE", (1, 1)),
        ("USE MODULES core", "USE MODULES", (1, 5)),
        ("ADD JAR '/tmp/x.jar'", "ADD JAR", (1, 1)),
        (
            "CREATE TABLE t2 WITH ('connector' = 'blackhole') LIKE t AS SELECT 1",
            "AS SELECT with LIKE",
            (1, 1),
        ),
        ("ALTER TABLE t DROP CONSTRAINT pk", "ALTER TABLE ... DROP CONSTRAINT", (1, 20)),
        ("ALTER VIEW v AS SELECT 1", "ALTER VIEW", (1, 1)),
    ],
)
def test_unsupported_constructs_are_named_with_their_position(
    sql: str, construct: str, position: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(UnsupportedError) as info:
        parse(sql)
    assert caplog.records == []  # sqlglot's "falling back to Command" warning is not shown
    assert construct in info.value.message
    assert "not supported" in info.value.message
    assert (info.value.line, info.value.col) == position


# ---- parse_expression ------------------------------------------------------------------------


def test_parse_expression() -> None:
    e = parse_expression("CAST(price AS DECIMAL(10, 2)) * 2")
    assert isinstance(e, exp.Mul)
    assert isinstance(parse_expression("PROCTIME()"), exp.Anonymous)
    assert parse_expression("ts - INTERVAL '5' SECOND").sql(dialect=Flink) == "ts - INTERVAL '5' SECOND"


def test_parse_expression_errors_are_parse_errors() -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("a + ")
    assert info.value.line == 1
    with pytest.raises(ParseError):
        parse_expression("a b c")
    with pytest.raises(ParseError):
        parse_expression("   ")


def test_identifiers_carry_the_line_and_column_where_they_start() -> None:
    q = parse("SELECT 1;\nSELECT item,\n       prce FROM Bid")[1]
    assert isinstance(q, st.Query)
    column = next(c for c in q.query.find_all(exp.Column) if c.name == "prce")
    assert (column.this.meta["line"], column.this.meta["col"]) == (3, 8)


@pytest.mark.parametrize(
    ("sql", "message", "col"),
    [
        ("ALTER TABLE t SET (k = 'v')", "'key' = 'value'", 20),
        ("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts) WITH ('connector' = 'x')", "WATERMARK FOR", 50),
        ("CREATE TABLE t (a INT METADATA FROM) WITH ('connector' = 'x')", "metadata key", 36),
        (
            "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts, WATERMARK FOR ts AS ts)",
            "only one WATERMARK",
            58,
        ),
        (
            "CREATE TABLE t (a INT PRIMARY KEY NOT ENFORCED, PRIMARY KEY (a) NOT ENFORCED)",
            "only one PRIMARY KEY",
            49,
        ),
    ],
)
def test_malformed_ddl(sql: str, message: str, col: int) -> None:
    with pytest.raises(ParseError) as info:
        parse(sql)
    assert message in info.value.message
    assert (info.value.line, info.value.col) == (1, col)


_WORDS = (
    "SELECT", "FROM", "t", "a", "(", ")", ",", ";", "'x'", "`q`", "WHERE", "CREATE", "TABLE", "AS",
    "INT", "ROW<", ">", "WITH", "=", "INSERT", "INTO", "TABLE(", "TUMBLE(", "DESCRIPTOR(", "INTERVAL",
    "PRIMARY", "KEY", "WATERMARK", "FOR", "METADATA", "SET", "RESET", "SHOW", "EXPLAIN", "BEGIN",
    "STATEMENT", "END", "EXECUTE", "DROP", "ALTER", "JOIN", "SYSTEM_TIME", "CASE", "DESC", "STOP",
    "JOB", "=>", "'", "/*", "\"", "\\", " ",
)  # fmt: skip


@given(hs.lists(hs.sampled_from(_WORDS), max_size=14).map(" ".join))
def test_any_text_parses_or_raises_an_error_the_user_can_read(sql: str) -> None:
    from catalog.errors import SqlStreamError

    for read in (parse, split_statements, parse_expression):
        try:
            read(sql)
        except SqlStreamError as e:
            assert e.line is not None and e.col is not None


def test_error_position_is_found_past_empty_strings_and_similar_names() -> None:
    sql = "CREATE TABLE t (primary_id INT COMMENT '', PRIMARY KEY (primary_id)) WITH ('k' = '')"
    with pytest.raises(ParseError) as info:
        parse(sql)
    assert info.value.col == sql.index("PRIMARY KEY") + 1


@pytest.mark.parametrize(
    ("sql", "message", "col"),
    [
        ("SELECT a FROM t WHERE", "the statement ends too early, after 'WHERE'", 17),
        ("SELECT a FROM t WHERE;\nSELECT 1", "the statement ends too early, after 'WHERE'", 17),
        ("SELECT (1 + 2", "the statement ends too early, after '2': expected )", 13),
        ("SELECT a FROM t GROUP BY", "GROUP BY needs at least one expression", 17),
    ],
)
def test_statements_that_end_too_early(sql: str, message: str, col: int) -> None:
    with pytest.raises(ParseError) as info:
        parse(sql)
    assert info.value.message == message
    assert (info.value.line, info.value.col) == (1, col)


@pytest.mark.parametrize(
    ("sql", "col", "fix"),
    [
        ("CREATE TABLE my-table (a INT) WITH ('connector' = 'datagen')", 16, "`my-table`"),
        (
            "CREATE TEMPORARY VIEW IF NOT EXISTS default_database.my-view AS SELECT 1",
            56,
            "default_database.`my-view`",
        ),
        ("DROP TABLE IF EXISTS x-y", 23, "`x-y`"),
    ],
)
def test_an_unquoted_name_with_an_operator_is_a_syntax_error_with_its_fix(
    sql: str, col: int, fix: str
) -> None:
    """It was refused as 'CREATE TABLE is not supported', which sent users the wrong way."""
    with pytest.raises(ParseError) as info:
        parse(sql)
    assert "unexpected '-'" in info.value.message and (info.value.line, info.value.col) == (1, col)
    assert fix in (info.value.hint or "")
    assert parse(sql.replace(fix.replace("`", ""), fix))  # quoted, it is read
