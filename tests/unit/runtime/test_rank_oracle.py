"""Correctness oracle for Top-N (ROW_NUMBER() OVER ... with a filter on the rank): random
bounded inputs with duplicated and NULL keys, run through SQL by the Session in small
batches at parallelism 1 and 2; the applied changelog must equal DuckDB's batch answer
(every retraction finding its row), over an insert-only input and over a GROUP BY
result whose -U/+U pairs move rows in and out of the range."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS, check, left_rows


def top(select: str, source: str, over: str, where: str) -> str:
    return f"SELECT {select} FROM (SELECT *, ROW_NUMBER() OVER ({over}) AS rn FROM {source}) t WHERE {where}"


UPDATING = "(SELECT k, COUNT(*) AS v FROM l GROUP BY k)"
QUERIES = (
    # the rank selected: changes per rank position
    top("k, v, rn", "l", "PARTITION BY k ORDER BY v DESC", "rn <= 2"),
    # not selected: Flink's smaller changelog of rows leaving and entering
    top("k, v", "l", "PARTITION BY k ORDER BY v", "rn <= 3"),
    # Top-1 (FastTop1), and a range not starting at 1
    top("*", "l", "PARTITION BY k ORDER BY v DESC", "rn = 1"),
    top("v, k", "l", "PARTITION BY k ORDER BY v", "rn BETWEEN 2 AND 3 AND v > 0"),
    # no partition: one ranking of every row
    top("v", "l", "ORDER BY v DESC", "rn < 4"),
    # over an updating input: retractions lift the next row into the range
    top("k, v, rn", UPDATING, "ORDER BY v DESC, k NULLS FIRST", "rn <= 2"),
    top("k, v", UPDATING, "PARTITION BY v % 2 ORDER BY k DESC NULLS LAST", "rn <= 2"),
    top("k, v", UPDATING, "ORDER BY v, k NULLS FIRST", "rn = 1"),
)


@settings(SETTINGS, max_examples=8)
@pytest.mark.parametrize("query", QUERIES)
@given(rows=left_rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_top_n_equals_duckdb(query: str, rows: list[tuple[Any, ...]], parallelism: int, batch: int) -> None:
    check(rows, [], query, parallelism, batch)
