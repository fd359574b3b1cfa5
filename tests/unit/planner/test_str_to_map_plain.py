"""STR_TO_MAP with delimiters of plain text splits at the text instead of a regular
expression, and its lists are computed once (planner/strings.py, planner/arrays.py map_of):
on random strings it answers as the regex form does, and as Java's split does."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import parse_one

from catalog.types import STRING
from planner import strings
from planner.codegen import to_duckdb
from planner.dialect import Flink
from tests.conftest import examples

DELIMITERS = [",", ";", "=", "=>", ",,", "&"]


def _maps(pairs: str, kv: str, texts: list[str | None]) -> list[Any]:
    sql = to_duckdb(parse_one(f"STR_TO_MAP(s, '{pairs}', '{kv}')", read=Flink), lambda name: STRING)
    rows = duckdb.connect().execute(f"SELECT {sql} FROM unnest(?::VARCHAR[]) AS t(s)", [texts]).fetchall()
    return [None if m is None else dict(m) for (m,) in rows]


def _java(pairs: str, kv: str, text: str | None) -> dict[str, str | None] | None:
    """Flink's answer: text.split(pairs) (trailing empty parts dropped), each part split
    once at kv, the last of a repeated key kept."""
    if text is None:
        return None
    parts = text.split(pairs) if text else []
    while parts and parts[-1] == "":
        parts.pop()
    out: dict[str, str | None] = {}
    for part in parts:
        key, sep, value = part.partition(kv)
        out.pop(key, None)
        out[key] = value if sep else None
    return out


@settings(max_examples=examples(40), deadline=None)
@given(
    st.sampled_from(DELIMITERS),
    st.sampled_from(DELIMITERS),
    st.lists(st.one_of(st.none(), st.text("a=b,;&>", max_size=12)), min_size=1, max_size=12),
)
def test_plain_delimiters_answer_as_the_regex_form_and_java(
    pairs: str, kv: str, texts: list[str | None]
) -> None:
    fast = _maps(pairs, kv, texts)
    assert fast == [_java(pairs, kv, t) for t in texts]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(strings, "plain_text", lambda e: False)
        assert _maps(pairs, kv, texts) == fast
