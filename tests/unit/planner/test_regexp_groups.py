"""REGEXP_EXTRACT of a group that took no part in the match is NULL, as Java's group() is,
and '' only for a group that matched ''; DuckDB's regexp_extract gives '' for both (and for
no match). Both the plain form and the one that skips rows without the pattern's literal
(planner/regex_literal.py) tell them apart."""

from __future__ import annotations

import re

import duckdb
import pytest
from sqlglot import parse_one

from catalog.types import STRING
from planner import regex_literal
from planner.codegen import to_duckdb
from planner.dialect import Flink

STRINGS = ["b", "ab", "xb", "id=", "id=7", "Hello World", "", None, "a😀b", "oxo", "channel=&id=b"]
PATTERNS = [
    ("(x)?([a-z])", 1),
    ("(a)?b", 1),
    ("(a*)?b", 1),  # greedy: the group takes part, matching ''
    ("(a|)b", 1),
    ("()b", 1),
    ("x|(a)?b", 1),
    ("(x)?(y)?b", 2),
    ("(?:(x)|(o))+", 1),
    ("id=(\\d)?", 1),  # a literal every match contains: the other form
    ("id=(\\d*)", 1),
    ("(o)|(l)", 2),
    ("b", 0),
    ("", 0),
    ("z", 0),
]


def _answers(call: str, strings: list[str | None]) -> list[object]:
    sql = to_duckdb(parse_one(call, read=Flink), lambda name: STRING)
    result = duckdb.connect().execute(f"SELECT {sql} FROM unnest(?::VARCHAR[]) AS t(s)", [strings])
    return [r[0] for r in result.fetchall()]


def _java(pattern: str, group: int, s: str | None) -> str | None:
    """Matcher.find() then group(): Python's re picks the same match for these patterns."""
    if s is None:
        return None
    m = re.search(pattern, s)
    return m.group(group) if m else None


@pytest.mark.parametrize(("pattern", "group"), PATTERNS)
@pytest.mark.parametrize("literal", [True, False], ids=["literal", "plain"])
def test_a_group_that_took_no_part_is_null(pattern: str, group: int, literal: bool) -> None:
    with pytest.MonkeyPatch.context() as mp:
        if not literal:
            mp.setattr(regex_literal, "required_literal", lambda p: None)
        ours = _answers(f"REGEXP_EXTRACT(s, '{pattern}', {group})", STRINGS)
    assert ours == [_java(pattern, group, s) for s in STRINGS]
