"""Databases and catalogs as Flink has them: the scripts users paste (``CREATE DATABASE IF
NOT EXISTS db; USE db; CREATE TABLE ...``, ``CREATE CATALOG c WITH ('type' =
'generic_in_memory'); USE CATALOG c``) run, a name resolves against the current catalog and
database, the same name in two databases is two tables, and what cannot be done is refused
with Flink's reason, where the statement says it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError

BATCH = {"execution.runtime-mode": "batch"}


def rows_table(n: int) -> str:
    return f"(a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '{n}')"


def names(s: sqlstream.Session, sql: str) -> list[str]:
    return [r[0] for r in s.execute(sql).rows or []]


def test_a_script_that_creates_and_uses_a_database_runs_and_its_tables_are_its_own() -> None:
    with sqlstream.connect(config=BATCH) as s:
        s.execute_script(
            f"""CREATE TABLE t {rows_table(1)};
            CREATE DATABASE IF NOT EXISTS shop COMMENT 'orders' WITH ('owner' = 'me');
            CREATE DATABASE IF NOT EXISTS shop;
            USE shop;
            CREATE TABLE t (b INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
            CREATE VIEW v AS SELECT b FROM t WHERE b IS NOT NULL"""
        )
        assert names(s, "SHOW CURRENT DATABASE") == ["shop"]
        assert names(s, "SHOW DATABASES") == ["default_database", "shop"]
        assert names(s, "SHOW TABLES") == ["t"] and names(s, "SHOW VIEWS") == ["v"]
        assert s.sql("SELECT COUNT(*) FROM t").fetchall() == [(5,)]
        assert s.sql("SELECT COUNT(*) FROM default_database.t").fetchall() == [(1,)]
        s.execute("USE default_database")
        assert names(s, "SHOW TABLES") == ["t"] and names(s, "SHOW VIEWS") == []
        assert names(s, "SHOW TABLES FROM shop") == ["t"] and names(s, "SHOW VIEWS IN shop") == ["v"]
        assert s.sql("SELECT COUNT(*) FROM t").fetchall() == [(1,)]
        # a view's names mean what they meant where it was created: shop.t, not this t
        assert s.sql("SELECT COUNT(*) FROM shop.v").fetchall() == [(5,)]
        joined = "SELECT COUNT(*) FROM default_catalog.shop.t x JOIN t y ON TRUE"
        assert s.sql(joined).fetchall() == [(5,)]
        assert "CREATE TABLE `shop`.`t` (\n  `b` INT" in (s.execute("SHOW CREATE TABLE shop.t").message or "")
        assert [r[0] for r in s.execute("DESCRIBE shop.v").rows or []] == ["b"]


def test_insert_alter_and_drop_take_qualified_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with sqlstream.connect(config={**BATCH, "table.dml-sync": "true"}) as s:
        s.execute("CREATE DATABASE db")
        s.execute(f"CREATE TABLE db.src {rows_table(4)}")
        s.execute(
            "CREATE TABLE db.sink (a INT) WITH "
            f"('connector' = 'filesystem', 'path' = '{out}', 'format' = 'csv')"
        )
        result = s.execute("INSERT INTO db.sink SELECT a FROM db.src")
        assert result.job is not None and result.job.name == "insert-into_db.sink"
        assert sum(len(f.read_text().splitlines()) for f in out.rglob("*") if f.is_file()) == 4
        s.execute("ALTER TABLE db.src SET ('number-of-rows' = '2')")
        assert s.sql("SELECT COUNT(*) FROM db.src").fetchall() == [(2,)]
        s.execute("ALTER TABLE db.src RENAME TO src2")
        assert names(s, "SHOW TABLES FROM db") == ["sink", "src2"]
        s.execute("DROP TABLE db.src2")
        assert names(s, "SHOW TABLES IN default_catalog.db") == ["sink"]
        s.execute("ALTER DATABASE db SET ('k' = 'v')")
        for statement in (
            "ALTER TABLE IF EXISTS nowhere.t SET ('k' = 'v')",
            "DROP TABLE IF EXISTS nowhere.t",
        ):
            assert s.execute(statement).message == "Table 'nowhere.t' does not exist."


def test_drop_database_refuses_the_current_one_and_a_non_empty_one_unless_cascade() -> None:
    with sqlstream.connect() as s:
        s.execute("CREATE DATABASE db")
        s.execute(f"CREATE TABLE db.t {rows_table(1)}")
        with pytest.raises(SqlStreamError) as e:
            s.execute("SHOW TABLES;\nDROP DATABASE db")
        assert "database 'db' in catalog 'default_catalog' is not empty" in e.value.message
        assert (e.value.line, e.value.col) == (2, 1) and "CASCADE" in (e.value.hint or "")
        with pytest.raises(SqlStreamError, match="is not empty"):
            s.execute("DROP DATABASE db RESTRICT")
        s.execute("USE db")
        with pytest.raises(SqlStreamError, match="Cannot drop a database which is currently in use"):
            s.execute("DROP DATABASE db CASCADE")
        s.execute("USE default_database")
        assert s.execute("DROP DATABASE db CASCADE").message == "Database 'db' dropped."
        assert names(s, "SHOW DATABASES") == ["default_database"]
        assert s.execute("DROP DATABASE IF EXISTS db").message == "Database 'db' does not exist."
        s.execute("CREATE DATABASE db")  # its old table went with it
        assert names(s, "SHOW TABLES FROM db") == []


@pytest.mark.parametrize(
    ("statement", "message", "col"),
    [
        ("USE nowhere", "database 'nowhere' does not exist in catalog 'default_catalog'", 1),
        ("SELECT * FROM nowhere.t", "database 'nowhere' does not exist", 15),
        ("INSERT INTO nowhere.t SELECT 1", "database 'nowhere' does not exist", 13),
        ("SELECT * FROM a.b.c.d", "'a.b.c.d' names more than catalog, database and table", 15),
        (f"CREATE TABLE nowhere.t {rows_table(1)}", "database 'nowhere' does not exist", 14),
        ("CREATE DATABASE db", "database 'db' already exists in catalog 'default_catalog'", 1),
        ("DROP DATABASE nowhere", "database 'nowhere' does not exist", 1),
        ("USE CATALOG hive", "catalog 'hive' does not exist", 1),
        ("CREATE DATABASE hive.db", "catalog 'hive' does not exist", 1),
        ("CREATE CATALOG h WITH ('type' = 'hive')", "catalog type 'hive' is not supported", 1),
        ("CREATE CATALOG h WITH ('default-database' = 'x')", "needs the option 'type'", 1),
        ("DROP CATALOG default_catalog", "Cannot drop a catalog which is currently in use", 1),
        ("DROP CATALOG nowhere", "catalog 'nowhere' does not exist", 1),
    ],
)
def test_bad_names_are_refused_with_a_reason_and_a_position(statement: str, message: str, col: int) -> None:
    with sqlstream.connect() as s:
        s.execute("CREATE DATABASE db")
        with pytest.raises(SqlStreamError) as e:
            s.execute(statement)
    assert message in e.value.message
    assert (e.value.line, e.value.col) == (1, col)


def test_an_in_memory_catalog_has_its_own_databases_and_tables() -> None:
    with sqlstream.connect(config=BATCH) as s:
        s.execute(f"CREATE TABLE t {rows_table(1)}")
        s.execute("CREATE CATALOG my_cat WITH ('type' = 'generic_in_memory')")
        assert s.execute("CREATE CATALOG IF NOT EXISTS my_cat WITH ('type' = 'generic_in_memory')").message
        assert names(s, "SHOW CATALOGS") == ["default_catalog", "my_cat"]
        s.execute("USE CATALOG my_cat")
        assert names(s, "SHOW CURRENT CATALOG") == ["my_cat"]
        assert names(s, "SHOW CURRENT DATABASE") == ["default"]  # Flink's generic_in_memory default
        assert names(s, "SHOW TABLES") == []
        s.execute(f"CREATE TABLE t {rows_table(3)}")
        s.execute("CREATE DATABASE db2")
        s.execute(f"CREATE TABLE db2.u {rows_table(2)}")
        assert names(s, "SHOW DATABASES") == ["db2", "default"]
        for name, count in (("t", 3), ("default_catalog.default_database.t", 1), ("db2.u", 2)):
            assert s.sql(f"SELECT COUNT(*) FROM {name}").fetchall() == [(count,)]
        with pytest.raises(SqlStreamError, match="Cannot drop a catalog which is currently in use"):
            s.execute("DROP CATALOG my_cat")
        s.execute("USE CATALOG default_catalog")
        assert names(s, "SHOW CURRENT DATABASE") == ["default_database"]
        assert s.sql("SELECT COUNT(*) FROM my_cat.`default`.t").fetchall() == [(3,)]
        assert names(s, "SHOW DATABASES FROM my_cat") == ["db2", "default"]
        s.execute("DROP CATALOG my_cat")
        assert names(s, "SHOW CATALOGS") == ["default_catalog"]
        assert s.execute("DROP CATALOG IF EXISTS my_cat").message == "Catalog 'my_cat' does not exist."


def test_a_file_catalog_keeps_its_databases_and_an_in_memory_catalog_does_not(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    with sqlstream.connect(path, config=BATCH) as s:
        s.execute_script(
            f"""CREATE TABLE t {rows_table(1)};
            CREATE DATABASE shop COMMENT 'orders';
            USE shop;
            CREATE TABLE t {rows_table(6)};
            CREATE VIEW v AS SELECT a FROM t;
            CREATE CATALOG mem WITH ('type' = 'generic_in_memory');
            CREATE TABLE mem.`default`.m {rows_table(1)}"""
        )
    with sqlstream.connect(path, config=BATCH) as s:
        assert names(s, "SHOW CURRENT DATABASE") == ["default_database"]  # a new session starts there
        assert names(s, "SHOW DATABASES") == ["default_database", "shop"]
        assert names(s, "SHOW CATALOGS") == ["default_catalog"]
        assert names(s, "SHOW TABLES") == ["t"] and names(s, "SHOW TABLES FROM shop") == ["t"]
        assert s.sql("SELECT COUNT(*) FROM shop.v").fetchall() == [(6,)]
        assert s.sql("SELECT COUNT(*) FROM t").fetchall() == [(1,)]
        s.execute("DROP DATABASE shop CASCADE")
    with sqlstream.connect(path) as s:
        assert names(s, "SHOW DATABASES") == ["default_database"]
        assert names(s, "SHOW TABLES") == ["t"]


def test_a_catalog_file_from_before_databases_loads_its_tables_by_their_names(tmp_path: Path) -> None:
    """The layout the file had with one database: a row per object, keyed by its name."""
    import duckdb

    from catalog import Catalog
    from catalog.serde import table_to_json
    from catalog.table import TableDef
    from planner import create_table

    path = tmp_path / "old.duckdb"
    table = create_table(f"CREATE TABLE Old_T {rows_table(2)}", Catalog())
    assert isinstance(table, TableDef)
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE sqlstream_catalog (name VARCHAR PRIMARY KEY, definition JSON)")
        db.execute("INSERT INTO sqlstream_catalog VALUES ('old_t', ?)", [json.dumps(table_to_json(table))])
    with sqlstream.connect(path, config=BATCH) as s:
        assert names(s, "SHOW TABLES") == ["Old_T"]
        assert s.sql("SELECT COUNT(*) FROM default_database.old_t").fetchall() == [(2,)]
        s.execute("CREATE DATABASE d")
        s.execute("USE d")
        assert s.sql("SELECT COUNT(*) FROM default_database.Old_T").fetchall() == [(2,)]


def test_describe_and_show_create_catalog_print_what_create_catalog_said_as_flink_does() -> None:
    """Flink's DescribeCatalogOperation and ShowCreateUtil: name, type and comment, EXTENDED
    adds the other options; the DDL lists the options by key. The default catalog, which no
    CREATE CATALOG made, has none of it, in Flink too."""
    with sqlstream.connect() as s:
        s.execute(
            "CREATE CATALOG c1 COMMENT 'it''s mine'\n"
            "WITH ('type' = 'generic_in_memory', 'default-database' = 'db0')"
        )
        assert s.execute("DESCRIBE CATALOG c1").rows == [
            ("name", "c1"),
            ("type", "generic_in_memory"),
            ("comment", "it's mine"),
        ]
        assert s.execute("DESC CATALOG EXTENDED c1").rows[-1] == ("option:default-database", "db0")
        ddl = s.execute("SHOW CREATE CATALOG c1").message
        assert ddl == (
            "CREATE CATALOG `c1`\nCOMMENT 'it''s mine'\nWITH (\n"
            "  'default-database' = 'db0',\n  'type' = 'generic_in_memory'\n)\n"
        )
        described = s.execute("DESC CATALOG EXTENDED c1").rows
        s.execute("DROP CATALOG c1")
        with pytest.raises(SqlStreamError) as e:
            s.execute("SHOW CREATE CATALOG c1")
        assert "catalog 'c1' does not exist" in e.value.message
        s.execute(ddl)  # the DDL makes the same catalog again
        assert s.execute("DESC CATALOG EXTENDED c1").rows == described
        with pytest.raises(SqlStreamError) as e:
            s.execute("DESCRIBE CATALOG default_catalog")
        assert e.value.message == "Cannot obtain metadata information from Catalog default_catalog."


def test_show_functions_columns_and_modules_filter_by_like_as_flink_does() -> None:
    """Flink's grammar: SHOW [USER] FUNCTIONS and SHOW COLUMNS FROM t take [NOT] [I]LIKE too;
    SHOW [FULL] MODULES lists the one module whose functions every query can call."""
    with sqlstream.connect() as s:
        s.execute("CREATE TABLE person (id INT, name STRING, city STRING) WITH ('connector' = 'blackhole')")
        assert names(s, "SHOW FUNCTIONS LIKE 'UPP%'") == ["UPPER"]
        assert names(s, "SHOW FUNCTIONS ILIKE 'upper'") == ["UPPER"]
        everything = names(s, "SHOW FUNCTIONS")
        assert names(s, "SHOW FUNCTIONS NOT LIKE 'UPP%'") == [f for f in everything if f != "UPPER"]
        assert names(s, "SHOW USER FUNCTIONS LIKE '%'") == []
        assert names(s, "SHOW COLUMNS FROM person LIKE '%i%'") == ["id", "city"]
        assert names(s, "SHOW COLUMNS IN default_database.person NOT LIKE '%i%'") == ["name"]
        assert s.execute("SHOW MODULES").rows == [("core",)]
        assert s.execute("SHOW FULL MODULES").rows == [("core", True)]
        with pytest.raises(SqlStreamError) as e:
            s.execute("SHOW COLUMNS FROM person LIKE")
        assert "LIKE needs a pattern in quotes" in e.value.message


def test_show_lists_filter_by_like_as_flink_does() -> None:
    """Flink's sql-client catalog_database.q: [NOT] LIKE is case-sensitive, ILIKE is not."""
    with sqlstream.connect() as s:
        s.execute_script(
            f"""CREATE CATALOG catalog1 WITH ('type' = 'generic_in_memory');
            CREATE DATABASE catalog1.db1;
            CREATE DATABASE catalog1.db2;
            CREATE TABLE catalog1.db1.person {rows_table(1)};
            CREATE TABLE catalog1.db1.dim {rows_table(1)};
            CREATE TABLE catalog1.db1.address {rows_table(1)}"""
        )
        assert names(s, "SHOW DATABASES FROM catalog1 LIKE 'db%'") == ["db1", "db2"]
        assert names(s, "SHOW DATABASES FROM catalog1 NOT LIKE 'db1%'") == ["db2", "default"]
        assert names(s, "SHOW DATABASES IN catalog1 LIKE 'DB%'") == []
        assert names(s, "SHOW DATABASES IN catalog1 ILIKE 'DB%'") == ["db1", "db2"]
        assert names(s, "SHOW TABLES FROM catalog1.db1 LIKE '%person%'") == ["person"]
        assert names(s, "SHOW TABLES IN catalog1.db1 NOT LIKE '%person%'") == ["address", "dim"]
        assert names(s, "SHOW CATALOGS LIKE 'cat%'") == ["catalog1"]
        s.execute("USE CATALOG catalog1")
        assert names(s, "SHOW TABLES FROM db1 LIKE 'p_r%'") == ["person"]
        with pytest.raises(SqlStreamError) as e:
            s.execute("SHOW DATABASES IN catalog1.db1")
        assert "needs a catalog name" in e.value.message and (e.value.line, e.value.col) == (1, 19)
