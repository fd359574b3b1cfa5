"""REGEXP_EXTRACT and REGEXP skip the regex on strings without a text every match contains
(planner/regex_literal.py): on random patterns and strings they answer as the plain forms."""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlglot import parse_one

from catalog.types import STRING
from planner import regex_literal
from planner.codegen import to_duckdb
from planner.dialect import Flink
from tests.conftest import examples

TOKENS = ["a", "b", "ab", "=", "_", "-", "&", " ", "(a|b)", "(?:ab)", "[ab]", "[^a]", "*", "+", "?",
          "{1,2}", ".", "^", "$", "(", ")", "\\d", "\\.", "|", "id=", "(&|^)", "([^&]*)", "(?i)"]  # fmt: skip
STRINGS = st.one_of(st.none(), st.text("ab=_-& .1Aid", max_size=12))
SETTINGS = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


def _answers(call: str, strings: list[str | None]) -> list[Any]:
    """The Flink call ``call`` (over the STRING column s) planned and run by DuckDB."""
    sql = to_duckdb(parse_one(call, read=Flink), lambda name: STRING)
    con = duckdb.connect()
    result = con.execute(f"SELECT {sql} FROM unnest(?::VARCHAR[]) AS t(s)", [strings])
    return [r[0] for r in result.fetchall()]


def _plain(call: str, strings: list[str | None]) -> list[Any]:
    with pytest.MonkeyPatch.context() as mp:  # no literal found: the regex on every row
        mp.setattr(regex_literal, "required_literal", lambda pattern: None)
        return _answers(call, strings)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
        duckdb.connect().execute("SELECT regexp_matches('', ?)", [pattern])
    except (re.error, duckdb.Error):
        return False
    return True


_tokens = st.lists(st.sampled_from(TOKENS), max_size=4).map("".join)
# mostly patterns with some plain text among the tokens, so that most have a literal
patterns = st.tuples(_tokens, st.sampled_from(["", "id=", "ab", "a=b", "-_", "b&a"]), _tokens).map("".join)


@SETTINGS
@given(patterns, st.lists(STRINGS, max_size=15))
def test_every_match_contains_the_literal(pattern: str, strings: list[str | None]) -> None:
    literal = regex_literal.required_literal(pattern)
    assume(literal is not None and _compiles(pattern))
    assert literal is not None
    for s in [*strings, f"x{literal}y", literal]:
        m = re.search(pattern, s) if s is not None else None
        assert m is None or literal in m.group(0)


@SETTINGS
@given(patterns, st.lists(STRINGS, max_size=15), st.integers(0, 3))
def test_prefiltered_forms_answer_as_the_plain_ones(
    pattern: str, strings: list[str | None], group: int
) -> None:
    literal = regex_literal.required_literal(pattern)
    assume(literal is not None and _compiles(pattern) and group <= re.compile(pattern).groups)
    assert literal is not None
    strings = [*strings, f"-{literal}-", literal, f"a{literal}ab{literal}"]  # rows that contain it
    quoted = pattern.replace("'", "''")
    for call in (f"REGEXP_EXTRACT(s, '{quoted}', {group})", f"REGEXP(s, '{quoted}')"):
        assert "contains" in to_duckdb(parse_one(call, read=Flink), lambda name: STRING).lower()
        assert _answers(call, strings) == _plain(call, strings)


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [("(&|^)channel_id=([^&]*)", "channel_id="), ("x{2,3}yz", "yz"), ("(?i)abc", None), ("ab|cd", None),
     ("[]a]bc", None), ("a\\x41b", None), ("\\d+ items", " items"), ("a(b", None), ("ab)", None)],
)  # fmt: skip
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert regex_literal.required_literal(pattern) == literal
