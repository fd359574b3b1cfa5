"""Correctness oracle for UNION, INTERSECT and EXCEPT (distinct): random bounded inputs with
duplicated and NULL keys, append-only or one side a GROUP BY result (updating), run through
SQL by the Session at parallelism 1 and 2; the applied changelog must equal DuckDB's batch
answer (NULLs equal to each other, as in SQL's set operations)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
import sqlstream
from catalog.errors import SqlStreamError
from tests.unit.runtime.test_join_oracle import SETTINGS, check, left_rows, right_rows

UPDATING = "SELECT k, COUNT(*) AS v FROM l GROUP BY k"


@settings(SETTINGS, max_examples=15)
@pytest.mark.parametrize("op", ["UNION", "INTERSECT", "EXCEPT"])
@pytest.mark.parametrize("updating", [False, True])
@given(left=left_rows, right=right_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_set_operations_equal_duckdb(
    op: str, updating: bool, left: list[tuple[Any, ...]], right: list[tuple[Any, ...]], parallelism: int,
    batch: int,
) -> None:  # fmt: skip
    first = UPDATING if updating else "SELECT k, v FROM l"
    # w % 3 makes rows of both sides meet often
    check(left, right, f"{first} {op} SELECT k, w % 3 FROM r", parallelism, batch)


def test_union_of_append_only_inputs_only_inserts() -> None:
    """Each distinct row is emitted once, when first seen, and never retracted."""
    query = "SELECT k, v FROM l UNION SELECT k, w FROM r"
    log = check([(1, 1), (1, 1), (2, 1)], [(1, 1), (3, 4)], query, 2, 1)
    assert {kind for kind, _ in log} == {0}
    assert len(log) == 3


@pytest.mark.parametrize("op", ["INTERSECT ALL", "EXCEPT ALL"])
def test_intersect_and_except_all_are_refused_by_name_and_position(op: str) -> None:
    s = sqlstream.connect()
    s.execute("CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')")
    with pytest.raises(SqlStreamError) as e:
        planner.plan(f"SELECT a FROM t\n{op} SELECT a FROM t", s.catalog)
    assert f"{op} is not supported" in e.value.message
    assert e.value.line is not None
    s.close()
