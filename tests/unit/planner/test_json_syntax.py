"""Flink's SQL/JSON clauses: JSON_VALUE's RETURNING and ON EMPTY / ON ERROR, JSON_QUERY's
wrappers, JSON_EXISTS's ON ERROR and JSON_ARRAY's NULL handling read and print back as
written (views and EXPLAIN show them); what DuckDB cannot follow is refused by name at
plan time, never left to fail inside a running job."""

from __future__ import annotations

import pytest
import sqlglot

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError
from planner.dialect import Flink
from tests.unit.planner.conftest import catalog_of


@pytest.mark.parametrize(
    "call",
    [
        "JSON_VALUE(j, '$.a' RETURNING INT DEFAULT -1 ON ERROR)",
        "JSON_VALUE(j, 'lax $.a' NULL ON EMPTY ERROR ON ERROR)",
        "JSON_VALUE(j, '$.a' DEFAULT 'x' ON EMPTY DEFAULT 'y' ON ERROR)",
        "JSON_QUERY(j, '$.a' WITH CONDITIONAL ARRAY WRAPPER EMPTY ARRAY ON EMPTY EMPTY OBJECT ON ERROR)",
        "JSON_QUERY(j, '$.a' WITH UNCONDITIONAL ARRAY WRAPPER)",
        "JSON_QUERY(j, '$.a' RETURNING ARRAY<STRING> WITH CONDITIONAL ARRAY WRAPPER EMPTY ARRAY ON EMPTY)",
        "JSON_QUERY(j, '$.a' WITHOUT ARRAY WRAPPER ERROR ON ERROR)",
        "JSON_EXISTS(j, 'strict $.m' UNKNOWN ON ERROR)",
        "JSON_ARRAY(j, 1 NULL ON NULL)",
        "JSON_ARRAY()",
    ],
)
def test_json_clauses_read_and_print_back(call: str) -> None:
    tree = sqlglot.parse_one(call, read=Flink)
    assert tree.sql(dialect=Flink) == call
    assert sqlglot.parse_one(tree.sql(dialect=Flink), read=Flink) == tree


def test_with_wrapper_alone_is_the_unconditional_array_wrapper() -> None:
    tree = sqlglot.parse_one("JSON_QUERY(j, '$.a' WITH WRAPPER)", read=Flink)
    assert tree.sql(dialect=Flink) == "JSON_QUERY(j, '$.a' WITH UNCONDITIONAL ARRAY WRAPPER)"


@pytest.fixture
def catalog() -> Catalog:
    return catalog_of("CREATE TABLE t (id INT, j STRING) WITH ('connector' = 'datagen')")


@pytest.mark.parametrize(
    ("expr", "refused"),
    [
        ("JSON_VALUE(j, '$.a[?(@.b)]')", "JSON_VALUE with the path '$.a[?(@.b)]'"),
        ("JSON_QUERY(j, 'lax $.*')", "JSON_QUERY with the path 'lax $.*'"),
        ("JSON_EXISTS(j, '$.*')", "JSON_EXISTS with the path '$.*'"),
        ("JSON_QUERY(j, '$..a')", "JSON_QUERY with the path '$..a'"),
        ("JSON_EXISTS(j, '$.a[?(@.b)]')", "JSON_EXISTS with the path '$.a[?(@.b)]'"),
        ("JSON_VALUE(j, j)", "JSON_VALUE with a path that is not a constant"),
        ("JSON_VALUE(j, '$.a' RETURNING BIGINT)", "RETURNING BIGINT"),
        ("JSON_VALUE(j, '$.a' RETURNING DECIMAL(10, 2))", "RETURNING DECIMAL(10, 2)"),
    ],
)
def test_what_we_cannot_follow_is_refused_by_name(catalog: Catalog, expr: str, refused: str) -> None:
    sql = f"SELECT {expr} AS v FROM t"
    with pytest.raises(SqlStreamError) as error:
        planner.plan(sql, catalog)
    assert refused in error.value.message
    assert error.value.line == 1


def test_json_value_returning_is_typed_by_its_type(catalog: Catalog) -> None:
    plan = planner.plan("SELECT JSON_VALUE(j, '$.n' RETURNING DOUBLE) AS v, j IS JSON AS b FROM t", catalog)
    assert [(f.name, f.type) for f in plan.sinks[0].schema] == [("v", "DOUBLE"), ("b", "BOOLEAN NOT NULL")]
