"""The ARRAY and JSON constructs Flink refuses when it plans a query are refused by the
planner too, saying what and where (the oracle, tests/oracle/corpus/edge_collections.sql,
checks that both refuse; this checks what the user reads)."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError
from tests.unit.planner.conftest import catalog_of

DDL = """
CREATE TABLE coll (id INT, a ARRAY<INT>, flags ARRAY<BOOLEAN>, d DATE) WITH (
  'connector' = 'datagen', 'number-of-rows' = '1');
CREATE TABLE out_print (v STRING) WITH ('connector' = 'print');
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalog_of(DDL)


@pytest.mark.parametrize(
    ("expression", "message", "column"),
    [
        ("a[0]", "an array's elements are numbered from 1: [0] is none of them", 8),
        ("a[-1]", "an array's elements are numbered from 1: [-1] is none of them", 8),
        ("ARRAY_APPEND(a, CAST(id AS BIGINT))", "ARRAY_APPEND cannot add a BIGINT to an ARRAY<INT>", 8),
        ("ARRAY_MAX(flags)", "ARRAY_MAX cannot order an ARRAY<BOOLEAN>", 8),
        ("JSON_ARRAY(id, d)", "JSON_ARRAY cannot write a DATE as JSON", 23),  # at d
        ("JSON_OBJECT('k' VALUE ARRAY[d])", "JSON_OBJECT cannot write a ARRAY<DATE> as JSON", 36),
        ("JSON_STRING(d)", "JSON_STRING cannot write a DATE as JSON", 20),
    ],
)
def test_flinks_plan_time_refusals_name_the_construct_and_its_place(
    catalog: Catalog, expression: str, message: str, column: int
) -> None:
    sql = f"SELECT {expression} FROM coll"
    with pytest.raises(SqlStreamError) as e:
        planner.plan(sql, catalog)
    assert message in e.value.message
    assert (e.value.line, e.value.col) == (1, column)


def test_a_computed_index_and_a_json_string_of_a_timestamp_plan(catalog: Catalog) -> None:
    planner.plan("SELECT a[id - 2], a[1], JSON_STRING(id) FROM coll", catalog)
