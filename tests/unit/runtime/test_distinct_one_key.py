"""A batch whose rows all have one GROUP BY key gives every row that key's id without a join
on the key columns (``distinct_values.Rows.sql(one_key=True)``, q15's day): the DISTINCT
aggregates' changelog must be the one the join gives, row for row, and its applied result
DuckDB's answer, for keys that are NULL, runs of one key and batches of several."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.physical import AggCall
from runtime.operators import distinct_values as dv
from tests.unit.runtime.test_join_oracle import SETTINGS, check

QUERIES = (
    "SELECT k, COUNT(DISTINCT v), COUNT(DISTINCT v) FILTER (WHERE v > 3), SUM(DISTINCT v), COUNT(*) "
    "FROM l GROUP BY k",
    "SELECT k % 2 AS p, k, COUNT(DISTINCT v) FILTER (WHERE v < 5), COUNT(DISTINCT k + v) "
    "FROM l GROUP BY k % 2, k",
)
# runs of one key (NULL among them), so that many batches hold a single key
runs = st.lists(
    st.tuples(st.one_of(st.integers(0, 2), st.none()), st.lists(st.integers(0, 9), max_size=8)), max_size=6
)


def _rows(drawn: list[tuple[int | None, list[int]]]) -> list[tuple[Any, ...]]:
    return [(k, v) for k, values in drawn for v in values]


def _join_always(rows: dv.Rows, one_key: bool = False) -> str:
    return ORIGINAL(rows)


ORIGINAL = dv.Rows.sql


@settings(SETTINGS, max_examples=20)
@pytest.mark.parametrize("query", QUERIES)
@given(drawn=runs, batch=st.integers(1, 6))
def test_one_key_batches_give_the_joined_changelog(
    query: str, drawn: list[tuple[int | None, list[int]]], batch: int
) -> None:
    left = _rows(drawn)
    fast = check(left, [], query, 1, batch)
    with mock.patch.object(dv.Rows, "sql", _join_always):
        joined = check(left, [], query, 1, batch)
    assert fast == joined


def test_a_batch_of_one_key_takes_no_join() -> None:
    rows = dv.Rows({0: [(0, AggCall("n", "count", '"v"', "BIGINT NOT NULL", distinct=True))]}, ['"k"'])
    assert " JOIN " in rows.sql()
    assert " JOIN " not in rows.sql(one_key=True)
