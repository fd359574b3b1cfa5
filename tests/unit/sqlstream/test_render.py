"""Values as Flink's SQL client prints them, in the CLI's tables, the shell's views and
changelog rows alike; nested ones too (they printed as Python's reprs, None and quotes)."""

from __future__ import annotations

import datetime as dt

import pytest

import sqlstream
from sqlstream.render import format_value, render_changelog_row


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "<NULL>"),
        ([1, None, 2], "[1, NULL, 2]"),
        (["a", "b"], "[a, b]"),
        ([("k", 1), ("l", None)], "{k=1, l=NULL}"),
        ({"id": 1, "name": "x"}, "(1, x)"),
        ([[1], None], "[[1], NULL]"),
        ([dt.datetime(2024, 1, 5, 7, 8, 9)], "[2024-01-05 07:08:09.000]"),
        ([True], "[TRUE]"),
    ],
)
def test_a_value_prints_as_in_flinks_sql_client(value: object, text: str) -> None:
    assert format_value(value) == text


def test_a_query_shows_nested_values_flinks_way() -> None:
    with sqlstream.connect() as s:
        row = s.sql("SELECT ARRAY[1, NULL] AS a, MAP['k', 1] AS m, ROW(1, 'x') AS r").fetchall()[0]
    assert render_changelog_row(0, row) == "+I[[1, NULL], {k=1}, (1, x)]"
