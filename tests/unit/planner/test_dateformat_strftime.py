"""DATE_FORMAT's fields that one strftime code spells (``yyyy`` as %Y, ``SSS`` as %g, ...)
format every TIMESTAMP of Flink's range as the computed pieces they replace do."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from planner import dateformat
from tests.conftest import examples

TOKENS = [
    "yyyy",
    "uuuu",
    "SSS",
    "SSSSSS",
    "SSSSSSSSS",
    "SS",
    "yy",
    "MM",
    "dd",
    "HH",
    "mm",
    "ss",
    "-",
    " ",
    "'T'",
]
STAMPS = st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999))


def _format(pattern: str, stamps: list[dt.datetime]) -> list[Any]:
    sql = dateformat.date_format(exp.column("x"), pattern).sql("duckdb")
    con = duckdb.connect()
    return [
        r[0] for r in con.execute(f"SELECT {sql} FROM unnest(?::TIMESTAMP[]) AS t(x)", [stamps]).fetchall()
    ]


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6), st.lists(STAMPS, min_size=1, max_size=20))
def test_strftime_fields_format_as_the_computed_ones(tokens: list[str], stamps: list[dt.datetime]) -> None:
    pattern = "".join(tokens)
    fast = _format(pattern, stamps)
    with pytest.MonkeyPatch.context() as mp:  # the general path: every number computed and padded
        mp.setattr(dateformat, "_STRFTIME_FOUR", {})
        mp.setattr(dateformat, "_STRFTIME_FRACTION", {})
        slow = _format(pattern, stamps)
    assert fast == slow


def test_nexmark_day_is_one_strftime_call() -> None:
    sql = dateformat.date_format(exp.column("x"), "yyyy-MM-dd HH:mm:ss.SSS").sql("duckdb")
    assert sql == "STRFTIME((x), '%Y-%m-%d %H:%M:%S.%g')"
    assert _format("yyyy-MM-dd", [dt.datetime(7, 3, 4)]) == ["0007-03-04"]
