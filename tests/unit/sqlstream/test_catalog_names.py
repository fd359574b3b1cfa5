"""The one catalog and database a session has, named as Flink names its defaults: a script
that qualifies its tables (``default_catalog.default_database.t``) or says ``USE`` them
runs, and one that names another catalog or database is told so, where it does."""

from __future__ import annotations

import pytest

import sqlstream
from catalog.errors import SqlStreamError

TABLE = "(a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3')"


def test_a_table_created_under_a_qualified_name_is_read_by_any_of_its_names() -> None:
    with sqlstream.connect(config={"execution.runtime-mode": "batch"}) as s:
        s.execute(f"CREATE TABLE default_database.t {TABLE}")
        s.execute(f"CREATE TABLE default_catalog.default_database.u {TABLE}")
        assert [r[0] for r in s.execute("SHOW TABLES").rows] == ["t", "u"]
        for name in ("t", "default_database.t", "default_catalog.default_database.t", "DEFAULT_DATABASE.t"):
            assert s.sql(f"SELECT COUNT(*) FROM {name}").fetchall() == [(3,)]
        s.execute("DROP TABLE default_database.u")
        assert [r[0] for r in s.execute("SHOW TABLES").rows] == ["t"]


def test_use_and_show_current_name_the_one_catalog_and_database() -> None:
    with sqlstream.connect() as s:
        assert s.execute("SHOW CURRENT CATALOG").rows == [("default_catalog",)]
        assert s.execute("SHOW CURRENT DATABASE").rows == [("default_database",)]
        for use in (
            "USE CATALOG default_catalog",
            "USE default_database",
            "USE default_catalog.default_database",
        ):
            assert s.execute(use).message == "Execute statement succeeded."


@pytest.mark.parametrize(
    ("statement", "message", "col"),
    [
        (f"CREATE TABLE hive.db.t {TABLE}", "catalog 'hive' does not exist", 14),
        ("SELECT * FROM sales.t", "database 'sales' does not exist in catalog 'default_catalog'", 15),
        ("DESCRIBE sales.t", "database 'sales' does not exist", 10),
        ("USE CATALOG hive", "catalog 'hive' does not exist", 1),
        ("USE sales", "database 'sales' does not exist", 1),
    ],
)
def test_another_catalog_or_database_is_refused_by_name(statement: str, message: str, col: int) -> None:
    with sqlstream.connect() as s:
        s.execute(f"CREATE TABLE t {TABLE}")
        with pytest.raises(SqlStreamError) as e:
            s.execute(statement)
    assert message in e.value.message
    assert (e.value.line, e.value.col) == (1, col)
