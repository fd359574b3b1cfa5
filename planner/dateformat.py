"""DATE_FORMAT's pattern, read as Flink reads it: java.time's DateTimeFormatter letters
(Flink's DateTimeUtils.formatTimestamp, default locale en_US), turned into DuckDB SQL.

sqlglot maps a Java pattern to strftime letter by letter through a table that knows
neither quoted text (``'at'``) nor the week-based fields (``Y``, ``w``), and takes ``u``
for a day of the week where java.time means the year. Here the pattern is read whole:
runs that strftime spells alike stay one ``strftime`` call; the rest become their own
expressions, concatenated.

>>> from sqlglot import exp
>>> date_format(exp.column("ts"), "'at' HH:mm, D").sql("duckdb")
"STRFTIME((ts), 'at %H:%M, ') || CAST(DAYOFYEAR((ts)) AS TEXT)"
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from planner.errors import UnsupportedError
from planner.numeric import template


@dataclass(frozen=True)
class Strftime:
    """Pattern text strftime spells (``%``-codes and literal text with ``%`` doubled)."""

    code: str


@dataclass(frozen=True)
class Computed:
    """A field strftime cannot spell: DuckDB SQL over ``{x}``, the local timestamp."""

    sql: str


Piece = Strftime | Computed

# US weeks (WeekFields.of(Locale.US)): they start on Sunday, and week 1 holds 1 January.
_WEEK_START = "(CAST({x} AS DATE) - CAST(dayofweek({x}) AS INTEGER))"
_WEEK_YEAR = f"year({_WEEK_START} + 6)"
_WEEK = (
    f"(({_WEEK_START} - (make_date({_WEEK_YEAR}, 1, 1) "
    f"- CAST(dayofweek(make_date({_WEEK_YEAR}, 1, 1)) AS INTEGER))) // 7 + 1)"
)
_NUMBERS = {
    "y": "year({x})",
    "u": "year({x})",
    "Y": _WEEK_YEAR,
    "D": "dayofyear({x})",
    "w": _WEEK,
    "e": "(dayofweek({x}) + 1)",
    "c": "(dayofweek({x}) + 1)",
    "d": "day({x})",
    "M": "month({x})",
    "L": "month({x})",
    "H": "hour({x})",
    "k": "(CASE hour({x}) WHEN 0 THEN 24 ELSE hour({x}) END)",
    "K": "(hour({x}) % 12)",
    "h": "(CASE hour({x}) % 12 WHEN 0 THEN 12 ELSE hour({x}) % 12 END)",
    "m": "minute({x})",
    "s": "second({x})",
}
"""Numeric fields: java.time pads a field of n letters to n digits (one letter: no padding)."""
_STRFTIME_TWO = {"y": "%y", "u": "%y", "d": "%d", "M": "%m", "L": "%m", "H": "%H", "h": "%I",
                 "m": "%M", "s": "%S"}  # fmt: skip
# Fields strftime spells exactly at these widths (one call formats the whole pattern, at
# half the cost of the computed pieces): %Y pads years 0-999 to four digits as java.time
# does (a TIMESTAMP's years are 0-9999); %g, %f, %n are the fraction's first 3, 6, 9 digits.
_STRFTIME_FOUR = {"y": "%Y", "u": "%Y"}
_STRFTIME_FRACTION = {3: "%g", 6: "%f", 9: "%n"}
_TEXT = {"M": ("%b", "%B"), "L": ("%b", "%B"), "E": ("%a", "%A"), "e": ("%a", "%A"), "c": ("%a", "%A")}
_ZONE_LETTERS = "VvzOXxZ"


def parse_pattern(pattern: str) -> list[Piece]:
    """The pattern's pieces, in order; a letter java.time does not know, or one that needs a
    time zone (a TIMESTAMP has none: Flink's job fails), is refused here."""
    pieces: list[Piece] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = i + 1
            text = ""
            while end < len(pattern):
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        text += "'"
                        end += 2
                        continue
                    break
                text += pattern[end]
                end += 1
            if end == i + 1 and end < len(pattern):  # '' outside quotes: one quote
                text = "'"
            elif end >= len(pattern):
                raise UnsupportedError(f"DATE_FORMAT pattern {pattern!r} has an unclosed quote")
            pieces.append(Strftime(text.replace("%", "%%")))
            i = end + 1
            continue
        if not ch.isascii() or not ch.isalpha():
            pieces.append(Strftime(ch.replace("%", "%%")))
            i += 1
            continue
        n = 1
        while i + n < len(pattern) and pattern[i + n] == ch:
            n += 1
        pieces.append(_field(ch, n, pattern))
        i += n
    return pieces


def _field(ch: str, n: int, pattern: str) -> Piece:
    if ch in _ZONE_LETTERS:
        raise UnsupportedError(
            f"DATE_FORMAT pattern letter {ch!r} needs a time zone, and the value formatted has none",
            hint="format the offset separately, or leave the zone out of the pattern",
        )
    if ch in _TEXT and (n >= 3 or ch == "E"):
        short, full = _TEXT[ch]
        return Strftime(full if n == 4 else short)
    if ch == "a":
        return Strftime("%p")
    if ch == "S":  # fraction of a second, n digits, truncated
        if n in _STRFTIME_FRACTION:
            return Strftime(_STRFTIME_FRACTION[n])
        return Computed(f"rpad(left(strftime({{x}}, '%n'), {n}), {n}, '0')")
    if ch in _NUMBERS:
        value = _NUMBERS[ch]
        if n == 2 and ch in _STRFTIME_TWO:
            return Strftime(_STRFTIME_TWO[ch])
        if n == 4 and ch in _STRFTIME_FOUR:
            return Strftime(_STRFTIME_FOUR[ch])
        if n == 2 and ch in "yuY":  # the reduced two-digit year
            return Computed(f"lpad(CAST(({value}) % 100 AS VARCHAR), 2, '0')")
        if n == 1:
            return Computed(f"CAST({value} AS VARCHAR)")
        return Computed(f"lpad(CAST({value} AS VARCHAR), {n}, '0')")
    raise UnsupportedError(f"DATE_FORMAT pattern {pattern!r}: letter {ch!r} is not supported")


def date_format(x: exp.Expr, pattern: str) -> exp.Expr:
    """DuckDB SQL formatting the local TIMESTAMP ``x`` with a Java pattern (NULL for NULL)."""
    parts: list[str] = []
    run = ""
    for piece in parse_pattern(pattern):
        if isinstance(piece, Strftime):
            run += piece.code
            continue
        if run:
            parts.append(_strftime(run))
            run = ""
        parts.append(piece.sql)
    if run:
        parts.append(_strftime(run))
    sql = " || ".join(parts) if parts else "''"
    if "{x}" not in sql:  # only literal text: still NULL for a NULL timestamp
        sql = f"CASE WHEN {{x}} IS NOT NULL THEN {sql} END"
    return template(sql, x=x)


def _strftime(code: str) -> str:
    if "%" not in code.replace("%%", ""):  # plain text: a literal, NULL-propagating via ||
        return _literal(code.replace("%%", "%"))
    return "strftime({x}, " + _literal(code) + ")"


def _literal(text: str) -> str:
    """A string literal inside a :func:`template` (whose braces are placeholders)."""
    return exp.Literal.string(text).sql(dialect="duckdb").replace("{", "{{").replace("}", "}}")
