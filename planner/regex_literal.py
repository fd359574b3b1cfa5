"""Text that every match of a regular expression contains, read off the pattern: a row whose
string lacks it cannot match, so ``contains`` (a substring search, a fifth of a regex's
cost on Nexmark's URLs) answers for it without the regex.

The reading is deliberately narrow, so that it holds for java.util.regex (Flink's) and RE2
(DuckDB's) alike: only plain ASCII characters outside every group, class and quantifier
count, and a pattern with inline flags (``(?i)`` would make the text case-insensitive),
quoting (``\\Q``), an escape of a letter or digit other than the few classes below, or an
alternation outside groups gives nothing.

>>> required_literal("(&|^)channel_id=([^&]*)")
'channel_id='
>>> required_literal("ab*cd+") is None, required_literal("x|channel") is None
(True, True)
>>> required_literal("(?i)channel"), required_literal("[a-z]+@example"), required_literal("ab{10,12}")
(None, '@example', None)
"""

from __future__ import annotations

# Characters that stand for themselves in java.util.regex and RE2 alike, outside classes
PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=_-/:;,@%!'\"#~<>& ")
_CLASS_ESCAPES = frozenset("dDwWsSbB")  # \d and the like: one character (or none), no text
_QUANTIFIERS = frozenset("*+?{")
_MINIMUM = 2  # a shorter text rules out too few rows to pay for its search


def required_literal(pattern: str) -> str | None:
    """The longest run of plain characters every match of ``pattern`` contains, or None."""
    if "(?" in pattern.replace("(?:", "") or "\\Q" in pattern:
        return None
    runs: list[str] = []
    run = ""
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c in _QUANTIFIERS:  # the atom before it may be absent or repeated: drop it
            run = run[:-1]
        if depth == 0 and c in PLAIN:
            run += c
            i += 1
            continue
        runs.append(run)
        run = ""
        if c == "\\":
            if i + 1 >= len(pattern) or (pattern[i + 1].isalnum() and pattern[i + 1] not in _CLASS_ESCAPES):
                return None
            i += 2
            continue
        if c in "[{":  # a class, or a repetition's bounds (not text)
            end = _class_end(pattern, i) if c == "[" else pattern.find("}", i)
            if end is None or end < 0:
                return None
            i = end + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        elif c == "|" and depth == 0:
            return None
        elif c not in PLAIN and c not in "^$.*+?{}|" and not (depth > 0 and c.isascii()):
            return None  # a character whose meaning is not plain in both dialects
        i += 1
    runs.append(run)
    best = max(runs, key=len)
    return best if len(best) >= _MINIMUM and depth == 0 else None


def _class_end(pattern: str, start: int) -> int | None:
    """Where the character class opened at ``start`` closes; None for a nested class (Java's
    unions and intersections) or a ``]`` first in the class (the dialects disagree)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        return None
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            return None
        if c == "]":
            return i
        i += 1
    return None


def extract_template(literal: str, extract: str) -> str:
    """REGEXP_EXTRACT of a pattern whose matches contain ``literal``, as a :func:`template`
    over ``{s}`` and the ``extract`` template: NULL without the text (no match), without
    running the regex."""
    return f"CASE WHEN contains({{s}}, {_quoted(literal)}) THEN {extract} END"


def matches_template(literal: str) -> str:
    """REGEXP of a (non-empty) pattern whose matches contain ``literal``, over ``{s}``, ``{p}``."""
    return (
        f"CASE WHEN contains({{s}}, {_quoted(literal)}) THEN regexp_matches({{s}}, {{p}}) "
        "WHEN {s} IS NOT NULL THEN false END"
    )


def _quoted(text: str) -> str:
    """A SQL string literal inside a template (braces doubled)."""
    return "'" + text.replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"
