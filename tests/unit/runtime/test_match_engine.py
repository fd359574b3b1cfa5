"""The MATCH_RECOGNIZE pattern engine against a brute-force model: Python's regular
expressions over the rows spelled as letters.

Each row is one letter; variable ``V``'s condition is "the row is the letter V" and every
variable appears once in the pattern, so a row satisfies at most one variable. Then
Flink's NFA keeps one path per start row (greedy or not, no row could go two ways), and
its matches are the regex's: SKIP PAST LAST ROW gives the leftmost match, then the
leftmost after it, ...; SKIP TO NEXT ROW a match at every start row that has one. A
pattern ending in a reluctant quantifier completes only when the next row arrives, so
the rows end with one that satisfies nothing (``x``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from catalog.errors import SqlStreamError
from planner.match_pattern import parse_pattern
from planner.physical import PatternElement
from runtime.operators.match_engine import Engine, PartitionState
from runtime.operators.match_expr import Step

QUANTIFIERS = ["", "*", "+", "?", "{2}", "{1,}", "{2,3}", "{1,3}", "*?", "+?", "{1,2}?", "{2,}?"]


def elements(text: str) -> list[PatternElement]:
    """The pattern as the physical plan carries it (refused as the planner refuses it)."""
    return [PatternElement(e.var, e.low, e.high, e.greedy) for e in parse_pattern(text)]


def is_letter(var: str):
    return lambda steps: steps[-1][2][0] == var


def run(pattern: Sequence[PatternElement], letters: str, skip: str) -> list[tuple[int, int]]:
    """(first, last) positions of the engine's matches."""
    engine = Engine(pattern, {e.var: is_letter(e.var) for e in pattern}, skip)
    state = PartitionState()
    found: list[tuple[Step, ...]] = []
    for ts, letter in enumerate(letters):
        found += engine.advance(state, ts)
        found += engine.process(state, (letter,), ts)
    found += engine.advance(state, len(letters))
    return [(m[0][0], m[-1][0]) for m in found]


def model(text: str, letters: str, skip: str) -> list[tuple[int, int]]:
    """The same matches found with ``re``: leftmost, then past the last row or one on."""
    regex = re.compile(text.replace(" ", ""))
    out, start = [], 0
    while start < len(letters):
        m = regex.match(letters, start)
        if m is None or m.end() == m.start():
            start += 1
            continue
        out.append((m.start(), m.end() - 1))
        start = m.end() if skip == "past_last" else start + 1
    return out


@st.composite
def patterns(draw: st.DrawFn) -> str:
    variables = draw(st.permutations("ABC"))[: draw(st.integers(1, 3))]
    return " ".join(v + draw(st.sampled_from(QUANTIFIERS)) for v in variables)


@settings(max_examples=400, deadline=None)
@given(patterns(), st.text("ABCx", max_size=14), st.sampled_from(["past_last", "to_next"]))
def test_the_engine_finds_the_matches_a_regex_finds(text: str, letters: str, skip: str) -> None:
    try:
        pattern = elements(text)
    except SqlStreamError:
        assume(False)  # a pattern Flink refuses (greedy last, can match nothing)
        return
    letters += "x"
    assert sorted(run(pattern, letters, skip)) == sorted(model(text, letters, skip))


def test_greedy_takes_what_the_next_variable_would_have_taken() -> None:
    """Flink's greedy quantifier proceeds only when it cannot take the row: B* swallows
    the rows C would match, where a backtracking regex would give one back (Flink's doc
    example: prices 10 11 12 13 14 16 with A > 10, B < 15, C > 12 give one match)."""
    a, b, c = (lambda s: s[-1][2][0] > 10), (lambda s: s[-1][2][0] < 15), (lambda s: s[-1][2][0] > 12)
    prices = [10, 11, 12, 13, 14, 16]
    for text, expected in (("A B* C", [[16]]), ("A B*? C", [[13], [16]])):
        engine = Engine(elements(text), {"A": a, "B": b, "C": c}, "past_last")
        state, found = PartitionState(), []
        for ts, price in enumerate(prices):
            found += engine.process(state, (price,), ts)
        assert [[m[-1][2][0]] for m in found] == expected, text


def test_a_match_waits_for_a_partial_match_that_started_earlier() -> None:
    """A completed match is held while a partial match that started before it may still
    complete (Flink emits matches in the order they start)."""
    pattern = elements("A B C")
    conditions = {"A": lambda s: True, "B": lambda s: True, "C": lambda s: s[-1][2][0] == "c"}
    engine = Engine(pattern, conditions, "past_last")
    state = PartitionState()
    assert engine.process(state, ("a",), 0) == []
    assert engine.process(state, ("b",), 1) == []
    out = engine.process(state, ("c",), 2)  # [a b c] completes, and starts first
    assert [[s[2][0] for s in m] for m in out] == [["a", "b", "c"]]
    assert state.empty
