"""Correctness oracle for UNION, INTERSECT and EXCEPT, distinct and ALL: random bounded inputs
with duplicated and NULL keys, append-only or one side a GROUP BY result (updating), run
through SQL by the Session at parallelism 1 and 2; the applied changelog must equal DuckDB's
batch answer (NULLs equal to each other, as in SQL's set operations; ALL as multisets)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
import sqlstream
from tests.unit.runtime.test_join_oracle import SETTINGS, applied, check, left_rows, right_rows

UPDATING = "SELECT k, COUNT(*) AS v FROM l GROUP BY k"


@settings(SETTINGS, max_examples=10)
@pytest.mark.parametrize("op", ["UNION", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"])
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


def test_intersect_all_keeps_the_fewer_copies_and_except_all_the_difference() -> None:
    left = [(1, 1), (1, 1), (1, 1), (2, 2), (None, 0), (None, 0)]
    right = [(1, 1), (1, 1), (2, 2), (2, 2), (None, 0)]
    got = applied(iter(check(left, right, "SELECT k, v FROM l INTERSECT ALL SELECT k, w FROM r", 2, 2)))
    assert got == {(1, 1): 2, (2, 2): 1, (None, 0): 1}
    got = applied(iter(check(left, right, "SELECT k, v FROM l EXCEPT ALL SELECT k, w FROM r", 1, 3)))
    assert got == {(1, 1): 1, (None, 0): 1}


def test_a_changed_count_retracts_every_old_copy_and_inserts_every_new_one() -> None:
    """Flink's changelog: the count's -U/+U pair, each replicated by its own count. One row
    a batch, so the common count climbs 1, 2 and the second step retracts the first."""
    query = "SELECT k, v FROM l INTERSECT ALL SELECT k, w FROM r"
    log = check([(1, 1), (1, 1), (1, 1)], [(1, 1), (1, 1)], query, 1, 1)
    assert applied(iter(log)) == {(1, 1): 2}
    assert (1, (1, 1)) in log and log.count((2, (1, 1))) >= 2


def test_explain_shows_the_replicated_rows() -> None:
    s = sqlstream.connect()
    s.execute("CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')")
    text = planner.explain("SELECT a FROM t INTERSECT ALL SELECT a FROM t", s.catalog)
    s.close()
    assert "ReplicateRows(times=[$times]" in text
    assert "LEAST" in text
