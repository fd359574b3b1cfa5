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
    "q": "quarter({x})",
    "Q": "quarter({x})",
    "F": "((day({x}) - 1) % 7 + 1)",  # Java 17's F: ALIGNED_DAY_OF_WEEK_IN_MONTH
    "W": "((day({x}) + dayofweek(CAST(date_trunc('month', {x}) AS DATE)) - 1) // 7 + 1)",
    "A": "(epoch_ms({x}) - epoch_ms(date_trunc('day', {x})))",
    "n": "(microsecond({x}) % 1000000 * 1000)",
    "N": "((epoch_us({x}) - epoch_us(date_trunc('day', {x}))) * 1000)",
}
"""Numeric fields: java.time pads a field of n letters to n digits (one letter: no padding),
and never cuts a longer value ('yyy' of 2024 is 2024, 'DD' of day 366 is 366)."""
_STRFTIME_TWO = {"y": "%y", "u": "%y", "d": "%d", "M": "%m", "L": "%m", "H": "%H", "h": "%I",
                 "m": "%M", "s": "%S"}  # fmt: skip
# Fields strftime spells exactly at these widths (one call formats the whole pattern, at
# half the cost of the computed pieces): %Y pads years 0-999 to four digits as java.time
# does (a TIMESTAMP's years are 0-9999); %g, %f, %n are the fraction's first 3, 6, 9 digits.
_STRFTIME_FOUR = {"y": "%Y", "u": "%Y"}
_STRFTIME_FRACTION = {3: "%g", 6: "%f", 9: "%n"}
_TEXT = {"M": ("%b", "%B"), "L": ("%b", "%B"), "E": ("%a", "%A"), "e": ("%a", "%A"), "c": ("%a", "%A")}
_ZONE_LETTERS = "VvzOXxZ"
_QUARTER_NAME = (
    "(CASE quarter({x}) WHEN 1 THEN '1st' WHEN 2 THEN '2nd' WHEN 3 THEN '3rd' ELSE '4th' END || ' quarter')"
)


def parse_pattern(pattern: str, simple: bool = False) -> list[Piece]:
    """The pattern's pieces, in order; a letter java.time does not know, or one that needs a
    time zone (a TIMESTAMP has none: Flink's job fails), is refused here. ``simple`` reads
    it as java.text.SimpleDateFormat does (FROM_UNIXTIME): 'u' is the day of the week
    (Monday 1), 'S' the milliseconds, 'F' the week of the month's day, no optional
    sections, and java.time's letters it lacks fail Flink's job (refused here)."""
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
        if ch in "[]" and not simple:  # an optional section's brackets: formatting prints what is inside
            i += 1
            continue
        if not ch.isascii() or not ch.isalpha():
            pieces.append(Strftime(ch.replace("%", "%%")))
            i += 1
            continue
        n = 1
        while i + n < len(pattern) and pattern[i + n] == ch:
            n += 1
        pieces.append(_simple_field(ch, n, pattern) if simple else _field(ch, n, pattern))
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
    if ch == "G":  # the era: a TIMESTAMP's years 1-9999 are all AD
        return Strftime("AD" if n < 4 else "Anno Domini")
    if ch in "Qq" and n >= 3:
        return Computed("'Q' || quarter({x})" if n == 3 else _QUARTER_NAME)
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
        if n >= 4 and ch in "yuY":  # SignStyle.EXCEEDS_PAD: a year past n digits gets a '+'
            return Computed(f"(CASE WHEN ({value}) >= {10**n} THEN '+' ELSE '' END || {_pad(value, n)})")
        return Computed(_pad(value, n))
    raise UnsupportedError(f"DATE_FORMAT pattern {pattern!r}: letter {ch!r} is not supported")


_SIMPLE = {
    "u": "isodow({x})",
    "S": "(microsecond({x}) // 1000 % 1000)",
    "F": "((day({x}) - 1) // 7 + 1)",
}
_NOT_SIMPLE = "QqeAnNcgVvOxX"


def _simple_field(ch: str, n: int, pattern: str) -> Piece:
    """A field of a SimpleDateFormat pattern (US locale, where they differ from java.time's)."""
    if ch in _NOT_SIMPLE or ch in "[]":
        raise UnsupportedError(
            f"FROM_UNIXTIME pattern {pattern!r}: letter {ch!r} is not a SimpleDateFormat letter"
        )
    if ch in _SIMPLE:
        return Computed(f"CAST({_SIMPLE[ch]} AS VARCHAR)" if n == 1 else _pad(_SIMPLE[ch], n))
    if ch in "yY" and n != 2:  # no '+' before a year past the pattern's digits
        value = _NUMBERS[ch]
        return Computed(f"CAST({value} AS VARCHAR)" if n == 1 else _pad(value, n))
    return _field(ch, n, pattern)


def _pad(value: str, n: int) -> str:
    """The number padded with zeros to n digits, not cut when longer (lpad cuts)."""
    text = f"CAST({value} AS VARCHAR)"
    return f"lpad({text}, CAST(greatest({n}, length({text})) AS INTEGER), '0')"


def date_format(x: exp.Expr, pattern: str, simple: bool = False) -> exp.Expr:
    """DuckDB SQL formatting the local TIMESTAMP ``x`` with a Java pattern (NULL for NULL);
    ``simple``: a SimpleDateFormat pattern (:func:`parse_pattern`)."""
    parts: list[str] = []
    run = ""
    for piece in parse_pattern(pattern, simple):
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
