"""Flink's scalar functions whose DuckDB namesake means something else, rewritten so that
DuckDB computes Flink's answer (Flink 2.x's SqlFunctionUtils, DateTimeUtils and the docs'
function list are the reference; tests/unit/sqlstream/test_flink_semantics.py pins each).

Each rewrite receives the node with its children already in DuckDB's terms and returns a
DuckDB expression; :data:`REWRITES` maps the sqlglot node class (or an anonymous
function's upper-case name) to its rewrite.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable

from sqlglot import exp

from catalog.types import INT, DataType
from planner import java_regex, json_functions, regex_literal
from planner.arrays import REWRITES as _COLLECTION_REWRITES
from planner.dateformat import date_format
from planner.errors import PlanError, UnsupportedError
from planner.java_random import REWRITES as _RANDOM_REWRITES
from planner.lenient_time import SIMPLE_DATE_FORMAT, lenient_date, lenient_timestamp, parse_timestamp
from planner.numeric import template, wrap_sql
from planner.strings import REWRITES as _STRING_REWRITES
from planner.urls import REWRITES as _URL_REWRITES
from planner.zones import REWRITES as _ZONE_REWRITES

Rewrite = Callable[[exp.Expr], exp.Expr]

# Flink's valid epoch range (DateTimeUtils.MIN/MAX_EPOCH_MILLS): outside it, NULL.
_MIN_EPOCH_MILLIS = -62167219200000
_MAX_EPOCH_MILLIS = 253402300799999
_LONG_MIN = -(2**63)


def _args(n: exp.Expr) -> list[exp.Expr]:
    return [n.this, *n.expressions] if n.this is not None else list(n.expressions)


def _day_of_week(n: exp.Expr) -> exp.Expr:
    """Flink counts 1 = Sunday .. 7 = Saturday; DuckDB's dayofweek 0 = Sunday."""
    return template("dayofweek({x}) + 1", x=n.this)


# DateTimeUtils.subtractMonths(d0, d1) for d0 >= d1: the most months added to d1 (the day
# clamped to the month's end) that do not pass d0.
_MONTHS_FORWARD = (
    "((year({a}) - year({b})) * 12 + month({a}) - month({b}) "
    "- CASE WHEN {b} + to_months((year({a}) - year({b})) * 12 + month({a}) - month({b})) > {a} "
    "THEN 1 ELSE 0 END)"
)


def _subtract_months(end: exp.Expr, start: exp.Expr) -> exp.Expr:
    """Flink's DateTimeUtils.subtractMonths(end, start), which TIMESTAMPDIFF's MONTH, QUARTER
    and YEAR count with: months between the dates (counted from the later one back, so not
    symmetric: 2024-02-29 to 2020-12-31 is -38, the other way 37 with the times), one fewer
    when start's date plus them lands on end's date and end's time of day is earlier."""
    d0 = template("CAST({x} AS DATE)", x=end)
    d1 = template("CAST({x} AS DATE)", x=start)
    forward = template(_MONTHS_FORWARD, a=d0, b=d1)
    backward = template(_MONTHS_FORWARD, a=d1.copy(), b=d0.copy())
    months = template("(CASE WHEN {a} >= {b} THEN {f} ELSE -{g} END)", a=d0, b=d1, f=forward, g=backward)
    return template(
        "({m} - CASE WHEN {b} + to_months({m}) = {a} "
        "AND CAST(CAST({e} AS TIMESTAMP) AS TIME) < CAST(CAST({s} AS TIMESTAMP) AS TIME) THEN 1 ELSE 0 END)",
        m=months,
        a=d0,
        b=d1,
        e=end,
        s=start,
    )


def _timestampdiff(n: exp.Expr) -> exp.Expr:
    """Flink counts whole units elapsed (10:00 to the day after next 09:00 is 1 day);
    DuckDB's date_diff counts boundaries crossed, its date_sub counts whole units. Calcite
    rewrites the month units to DateTimeUtils.subtractMonths (QUARTER and YEAR divide it,
    truncating), and WEEK to the seconds, cast to INT (wrapping past 68 years), / 604800."""
    unit = n.args.get("unit")
    text = (unit.name if unit is not None else "").lower()
    if text in ("month", "quarter", "year"):
        months = _subtract_months(n.this, n.expression)
        divisor = {"month": 1, "quarter": 3, "year": 12}[text]
        return template(f"({wrap_sql('{d}', INT)} // {divisor})", d=months)
    if text == "week":
        seconds = exp.Anonymous(
            this="date_sub", expressions=[exp.Literal.string("second"), n.expression, n.this]
        )
        return template("(" + wrap_sql("{d}", INT) + " // 604800)", d=seconds)
    diff = exp.Anonymous(this="date_sub", expressions=[exp.Literal.string(text), n.expression, n.this])
    return template(wrap_sql("{d}", INT), d=diff)  # Flink's (int) of the long difference


# Python's re's words for a pattern java.util.regex cannot compile either
_JAVA_REFUSES = (
    "missing )", "unbalanced parenthesis", "unterminated character set", "nothing to repeat",
    "multiple repeat",
)  # fmt: skip


def _uncompilable(pattern: exp.Expr) -> bool:
    """A constant pattern java.util.regex cannot compile ('(', '[a', '*'). Flink's regular
    expression functions catch the error and answer NULL (REGEXP: FALSE); DuckDB's fail
    the job."""
    if not pattern.is_string:
        return False
    if java_regex.bad_repetition(pattern.name):
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning of Java's class intersections ('&&')
            re.compile(pattern.name)
    except re.error as e:
        return str(e).startswith(_JAVA_REFUSES)
    return False


def _group_index(group: exp.Expr | None, name: str, default: int) -> int:
    """A group index, which must be a constant (the dialect reads -1 as one literal)."""
    if group is None:
        return default
    if not group.is_int:
        raise UnsupportedError(f"{name} with a group index that is not a constant")
    return int(group.name)


def _pattern_groups(pattern: exp.Expr) -> int | None:
    """How many groups a constant pattern has (None: not constant, or Python cannot say)."""
    if not pattern.is_string:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(pattern.name).groups
    except re.error:
        return None


def _re2(pattern: exp.Expr) -> exp.Expr:
    """A constant pattern in RE2's syntax (planner.java_regex), refused for what RE2 lacks."""
    return exp.Literal.string(java_regex.re2(pattern.name)) if pattern.is_string else pattern


def _regexp_extract(n: exp.Expr) -> exp.Expr:
    """NULL when nothing matches, the group index exceeds the pattern's groups, or the group
    took no part in the match (SqlFunctionUtils.regexpExtract: Java's group() is null);
    DuckDB's regexp_extract gives '' for all three, as for a group that matched ''.
    A group index that is not a constant picks among the constant pattern's groups
    (DuckDB's group must be a constant)."""
    if _uncompilable(n.expression):
        return exp.cast(exp.null(), "VARCHAR")
    group, pattern = n.args.get("group"), _re2(n.expression)
    groups = _pattern_groups(pattern)
    if group is not None and not group.is_int and groups is not None:
        picks = []
        for i in range(groups + 1):
            one = n.copy()
            one.set("group", exp.Literal.number(i))
            picks.append(exp.If(this=exp.Literal.number(i), true=_regexp_extract(one)))
        return exp.Case(this=group, ifs=picks)
    index = _group_index(group, "REGEXP_EXTRACT", 0)
    if index < 0 or (groups is not None and index > groups):
        return exp.cast(exp.null(), "VARCHAR")
    # a group that may take no part in the match (java_regex.optional_groups) and gives ''
    # needs a second look (_PROBE) to tell that from a group that matched ''
    optional = java_regex.optional_groups(pattern.name) if groups is not None else None
    probed = index > 0 and (optional is None or index in optional)
    parts = {"s": n.this, "p": pattern, "q": _first_match(pattern)}
    if groups is not None and (literal := regex_literal.required_literal(pattern.name)) is not None:
        # '' is no match, or an empty match; the probe tells a group that took no part
        empty = _PROBE.format(group=index) if probed else "__x"
        extract = (
            f"list_transform([regexp_extract({{s}}, {{p}}, {index})], __x -> CASE WHEN __x <> '' THEN __x "
            f"WHEN regexp_matches({{s}}, {{p}}) THEN {empty} END)[1]"
        )
        return template(regex_literal.extract_template(literal, extract), **parts)
    extract = f"regexp_extract({{s}}, {{p}}, {index})"
    if probed:
        probe = _PROBE.format(group=index)
        extract = f"list_transform([{extract}], __x -> CASE WHEN __x <> '' THEN __x ELSE {probe} END)[1]"
    plain = f"CASE WHEN regexp_matches({{s}}, {{p}}) THEN {extract} END"
    # A pattern Java cannot compile makes Flink's answer NULL (it catches the error).
    return template(plain if groups is not None else f"try({plain})", **parts)


# The group of the pattern's first match where regexp_extract gave '' for it: NULL when it
# took no part in the match. regexp_extract_all tells (its element is NULL for such a group)
# of the pattern anchored to its first match (:func:`_first_match`), so it finds only that.
_PROBE = "regexp_extract_all({{s}}, {{q}}, {group})[1]"


def _first_match(pattern: exp.Expr) -> exp.Expr:
    """``pattern`` matched only where it first matches: anchored at the start of the text
    after the shortest run of anything (RE2 tries shorter runs first, as its search tries
    earlier starts), so regexp_extract_all finds that one match and scans no further."""
    if pattern.is_string:
        return exp.Literal.string(r"\A(?s:.*?)(?:" + pattern.name + ")")
    return template(r"'\A(?s:.*?)(?:' || {p} || ')'", p=pattern)


def _greatest_least(n: exp.Expr) -> exp.Expr:
    """Flink's GREATEST/LEAST are NULL when any argument is NULL; DuckDB skips NULLs."""
    args = _args(n)
    name = "greatest" if isinstance(n, exp.Greatest) else "least"
    any_null = exp.or_(*(exp.Is(this=a.copy(), expression=exp.null()) for a in args))
    return exp.Case(ifs=[exp.If(this=any_null, true=exp.null())], default=exp.func(name, *args))


@functools.cache
def _long_upper() -> dict[str, str]:
    """Characters whose upper case is more than one character (Unicode's SpecialCasing, which
    Java's toUpperCase and Python's upper both follow): 'ß' is 'SS', 'ﬁ' 'FI'; DuckDB's upper
    keeps one character ('ẞ', 'ﬁ'). Found when a statement first calls UPPER: the 65,536
    calls of ``str.upper`` took ~16 ms of every job's start-up at import."""
    return {c: c.upper() for c in map(chr, range(0x10000)) if len(c.upper()) > 1}


def _sqrt(n: exp.Expr) -> exp.Expr:
    """Flink's SQRT is Math.pow(x, 0.5), whose square root of -0.0 is 0.0 (Math.sqrt's and
    DuckDB's is -0.0)."""
    return template("sqrt({x}) + 0.0", x=n.this)


def _power(n: exp.Expr) -> exp.Expr:
    """Java's Math.pow: a NaN exponent gives NaN, and so does 1 or -1 to an infinite power
    (C's pow, which DuckDB calls, gives 1 for both)."""
    return template(
        "CASE WHEN isnan(CAST({e} AS DOUBLE)) "
        "OR (abs(CAST({b} AS DOUBLE)) = 1 AND isinf(CAST({e} AS DOUBLE))) "
        "THEN CAST('NaN' AS DOUBLE) ELSE pow({b}, {e}) END",
        b=n.this,
        e=n.expression,
    )


def _upper(n: exp.Expr) -> exp.Expr:
    """Java's toUpperCase, full case mapping: a text with a character of :func:`_long_upper`
    is upper-cased character by character with that table; other text by DuckDB's upper."""
    long_upper = _long_upper()
    each = " ".join(f"WHEN '{c}' THEN '{upper}'" for c, upper in long_upper.items())
    mapped = f"list_transform(string_split({{s}}, ''), __c -> CASE __c {each} ELSE upper(__c) END)"
    by_character = f"array_to_string({mapped}, '')"
    long_class = "[" + "".join(f"\\x{{{{{ord(c):X}}}}}" for c in long_upper) + "]"
    special = f"regexp_matches({{s}}, '{long_class}')"
    return template(f"CASE WHEN {special} THEN {by_character} ELSE upper({{s}}) END", s=n.this)


def _lower(n: exp.Expr) -> exp.Expr:
    """Java's toLowerCase: 'İ' becomes 'i' and a combining dot above, and a capital sigma
    that ends a word the final sigma (its context rule); DuckDB's gives 'i' and the medial
    sigma. Other text takes DuckDB's lower alone."""
    dotted = "replace({s}, 'İ', 'i' || chr(775))"
    final_sigma = f"regexp_replace({dotted}, '(\\p{{{{L}}}})Σ(\\P{{{{L}}}}|$)', '\\1ς\\2', 'g')"
    special = "contains({s}, 'Σ') OR contains({s}, 'İ')"
    return template(f"CASE WHEN {special} THEN lower({final_sigma}) ELSE lower({{s}}) END", s=n.this)


def _initcap(n: exp.Expr) -> exp.Expr:
    """Calcite's initcap, which Flink runs: a word is a run of ASCII letters and digits;
    its first letter is upper-cased and the rest lower-cased, everything else kept."""
    return template(
        "array_to_string(list_transform(string_split({s}, ''), (c, i) -> CASE "
        "WHEN i > 1 AND regexp_matches(string_split({s}, '')[i - 1], '^[A-Za-z0-9]$') "
        "THEN (CASE WHEN c BETWEEN 'A' AND 'Z' THEN lower(c) ELSE c END) "
        "ELSE (CASE WHEN c BETWEEN 'a' AND 'z' THEN upper(c) ELSE c END) END), '')",
        s=n.this,
    )


def _replace(n: exp.Expr) -> exp.Expr:
    """Java's String.replace: an empty search string matches before every character and
    at the end ('ab' -> 'XaXbX', '' -> 'X'); DuckDB leaves the string alone."""
    return template(
        "CASE WHEN {f} = '' THEN {r} || array_to_string(list_transform(string_split({s}, ''), "
        "c -> c || {r}), '') ELSE replace({s}, {f}, {r}) END",
        s=n.this,
        f=n.expression,
        r=n.args["replacement"],
    )


def _similar_to(n: exp.Expr) -> exp.Expr:
    """SQL's SIMILAR TO: '%' and '_' are wildcards, '.', '^', '$' and '\\' literal, the rest
    is regular-expression syntax, and the pattern must match the whole string."""
    return template(
        "regexp_full_match({s}, replace(replace(regexp_replace({p}, '([.^$\\\\])', '\\\\\\1', 'g'), "
        "'%', '.*'), '_', '.'))",
        s=n.this,
        p=n.expression,
    )


def _split(n: exp.Expr) -> exp.Expr:
    """Flink's SPLIT takes a plain delimiter, not a regular expression; '' has no parts."""
    return template(
        "CASE WHEN {d} IS NULL THEN NULL WHEN {s} = '' THEN CAST([] AS VARCHAR[]) "
        "ELSE string_split({s}, {d}) END",
        s=n.this,
        d=n.expression,
    )


def _pad(n: exp.Expr) -> exp.Expr:
    """LPAD/RPAD: NULL for a negative length or an empty pad (DuckDB fails on the latter).
    Flink counts the length in UTF-16 units (a character beyond U+FFFF is two) and DuckDB
    in characters: a row whose string or pad has such a character goes to
    runtime.charsets' flink_pad_utf16; ASCII text needs only the length test to skip it."""
    fill = n.args.get("fill_pattern") or exp.Literal.string(" ")
    name = "lpad" if n.args.get("is_left") else "rpad"
    if fill.is_string and not _BEYOND_BMP.search(fill.name):
        rare = f"strlen({{s}}) <> length({{s}}) AND {_HAS_BEYOND_BMP.replace('{t}', '{s}')}"
    elif fill.is_string:
        rare = "{s} IS NOT NULL"
    else:
        beyond = _HAS_BEYOND_BMP.replace("{t}", "{s} || {p}")
        rare = f"(strlen({{s}}) <> length({{s}}) OR strlen({{p}}) <> length({{p}})) AND {beyond}"
    left = "TRUE" if n.args.get("is_left") else "FALSE"
    return template(
        "CASE WHEN {n} < 0 OR {p} = '' THEN NULL "
        f"WHEN {rare} THEN flink_pad_utf16({{s}}, CAST({{n}} AS BIGINT), {{p}}, {left}) "
        "ELSE " + name + "({s}, TRY_CAST({n} AS INTEGER), {p}) END",
        s=n.this,
        n=n.expression,
        p=fill,
    )


_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_HAS_BEYOND_BMP = "regexp_matches({t}, '[\\x{{10000}}-\\x{{10FFFF}}]')"


def _left_right(n: exp.Expr) -> exp.Expr:
    """LEFT/RIGHT with a negative length give '' (DuckDB counts from the other end), and
    NULL for a NULL string."""
    name = "left" if isinstance(n, exp.Left) else "right"
    sql = f"CASE WHEN {{n}} < 0 THEN {name}({{s}}, 0) ELSE {name}({{s}}, {{n}}) END"
    return template(sql, s=n.this, n=n.expression)


def _substring(n: exp.Substring) -> exp.Expr:
    """SUBSTRING(s, start[, length]) as BinaryStringDataUtil.substringSQL: NULL for a
    negative length; a start before the beginning (counted from the end) is '' (DuckDB
    starts at the first character), a start of 0 is the first character."""
    s, start, length = n.this, n.args["start"], n.args.get("length")
    call = "substring({s}, CASE WHEN {p} = 0 THEN 1 ELSE {p} END" + (", {l})" if length is not None else ")")
    negative = "WHEN {l} < 0 THEN NULL " if length is not None else ""
    parts = {"s": s, "p": start} if length is None else {"s": s, "p": start, "l": length}
    before = "WHEN {p} < 0 AND length({s}) + {p} < 0 THEN left({s}, 0) "  # '' (NULL for NULL)
    return template(f"CASE {negative}{before}ELSE {call} END", **parts)


def _trim(n: exp.Trim) -> exp.Expr:
    """TRIM, LTRIM, RTRIM without characters trim spaces only (BinaryStringDataUtil.trim);
    DuckDB's trim every Unicode space (U+00A0, U+3000...)."""
    if n.args.get("expression") is None:
        n.set("expression", exp.Literal.string(" "))
    return n


def _ascii(n: exp.Expr) -> exp.Expr:
    """ASCII: the first byte of the UTF-8 encoding, as a signed Java byte ('ß' is -61)."""
    byte = template(
        "CASE WHEN {s} = '' THEN 0 ELSE CAST(('0x' || left(hex(encode({s})), 2)) AS INTEGER) END",
        s=n.this,
    )
    return template("CASE WHEN {b} >= 128 THEN {b} - 256 ELSE {b} END", b=byte)


def _chr(n: exp.Chr) -> exp.Expr:
    """CHR(i): the character of i's lowest byte (SqlFunctionUtils.chr: CHR(321) is 'A',
    CHR(256) is U+0000), '' for a negative i; DuckDB's chr takes the whole code point."""
    (code,) = n.expressions
    return template(
        "CASE WHEN {i} < 0 THEN '' ELSE chr(CAST(CAST({i} AS BIGINT) & 255 AS INTEGER)) END", i=code
    )


def _extract(n: exp.Expr) -> exp.Expr:
    """EXTRACT as Flink: EPOCH counts whole seconds (DuckDB's has a fraction), MILLISECOND
    is 0-999 and MICROSECOND 0-999999 (of the second), DOW counts from Sunday = 1."""
    unit = n.this.name.upper()
    if unit == "EPOCH":
        return template("CAST(trunc(epoch({x})) AS BIGINT)", x=n.expression)
    if unit == "MILLISECOND":  # the milliseconds of the second, not of the minute
        return template("CAST(millisecond({x}) % 1000 AS BIGINT)", x=n.expression)
    if unit == "MICROSECOND":
        return template("CAST(microsecond({x}) % 1000000 AS BIGINT)", x=n.expression)
    if unit == "DOW":  # 1 = Sunday, as DAYOFWEEK
        return template("dayofweek({x}) + 1", x=n.expression)
    return n


def _uuid(n: exp.Expr) -> exp.Expr:
    return template("CAST(uuid() AS VARCHAR)")


def _e(n: exp.Expr) -> exp.Expr:
    return template("exp(1)")


def _unix_timestamp(n: exp.Expr) -> exp.Expr:
    """UNIX_TIMESTAMP(s[, format]): a lenient SimpleDateFormat reads a leading 'yyyy-MM-dd
    HH:mm:ss' (or the format) and ignores what follows ('.123'); a string it cannot read
    gives Long.MIN_VALUE, not an error (DateTimeUtils.unixTimestamp). UNIX_TIMESTAMP() is the
    current time."""
    if isinstance(n.this, exp.CurrentTimestamp):
        return template("CAST(epoch(get_current_timestamp()) AS BIGINT)")
    fmt = n.args.get("format")
    if fmt is not None and not fmt.is_string:
        raise UnsupportedError("UNIX_TIMESTAMP with a format that is not a constant")
    # sqlglot's Spark time mapping marks strictly read fields ('%dstrict'); SimpleDateFormat
    # reads them leniently
    pattern = fmt.name.replace("strict", "") if fmt is not None else SIMPLE_DATE_FORMAT
    parsed = lenient_timestamp(n.this, pattern)
    if parsed is None:
        parsed = template("try_strptime({s}, {f})", s=n.this, f=exp.Literal.string(pattern))
    return template(
        "CASE WHEN {s} IS NULL THEN NULL "  # read in the session's time zone
        f"ELSE coalesce(CAST(trunc(epoch(CAST({{t}} AS TIMESTAMPTZ))) AS BIGINT), {_LONG_MIN}) END",
        s=n.this,
        t=parsed,
    )


# DateTimeUtils.parseTimestampData: its DateTimeFormatter 'yyyy-M-d[ H:m:s[.fraction]]',
# the whole text (no blanks around it, no 'T', the seconds required with a time), a day
# past the month's end (up to 31) moved back to its last day (java.time's SMART
# resolver), NULL for text it cannot read; the fraction cut to milliseconds (TIMESTAMP(3)).
_TIMESTAMP_TEXT = (
    r"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})"
    r"(?: (\d{{1,2}}):(\d{{1,2}}):(\d{{1,2}})(?:\.(\d{{1,9}}))?)?$"
)
_TO_TIMESTAMP = (
    f"list_transform([regexp_extract({{s}}, '{_TIMESTAMP_TEXT}', "
    "['y', 'mo', 'd', 'h', 'mi', 'sec', 'frac'])], "
    "__p -> CASE WHEN __p.y <> '' AND CAST(__p.d AS INTEGER) <= 31 THEN try(date_trunc('millisecond', "
    "make_timestamp(CAST(__p.y AS BIGINT), CAST(__p.mo AS BIGINT), least(CAST(__p.d AS BIGINT), "
    "day(last_day(make_date(CAST(__p.y AS INTEGER), CAST(__p.mo AS INTEGER), 1)))), "
    "coalesce(CAST(nullif(__p.h, '') AS BIGINT), 0), coalesce(CAST(nullif(__p.mi, '') AS BIGINT), 0), "
    "coalesce(CAST(nullif(__p.sec, '') AS DOUBLE), 0)) "
    "+ to_microseconds(coalesce(CAST(nullif(left(rpad(__p.frac, 6, '0'), 6), '') AS BIGINT), 0)))) END)[1]"
)


def _to_timestamp(n: exp.Anonymous) -> exp.Expr:
    (value,) = n.expressions
    return template(_TO_TIMESTAMP, s=value)


def _str_to_time(n: exp.Expr) -> exp.Expr:
    """TO_TIMESTAMP(s, format): Timestamp.valueOf's reading where the format does not fit,
    NULL for text neither reads (Flink catches the parse error), milliseconds kept; a quoted
    'T' in the Java format is literal text."""
    fmt = n.args.get("format")
    if fmt is None or not fmt.is_string:
        raise UnsupportedError("TO_TIMESTAMP with a format that is not a constant")
    text = fmt.name.replace("strict", "").replace("''", "\0")  # '' is a quote in Java
    pattern = re.sub(r"'([^']*)'", r"\1", text).replace("\0", "'")
    return parse_timestamp(n.this, pattern)


def _to_date(n: exp.TsOrDsToDate) -> exp.Expr:
    """TO_DATE(s, format): read by a lenient SimpleDateFormat (DateTimeUtils.parseDate).
    TO_DATE(s): DateTimeUtils.parseDate(s) reads 'y[-m[-d]]' before the first blank with
    Integer.parseInt, whose NumberFormatException for a number past INT fails Flink's job
    (TO_DATE('20240229134530')): so does ours, naming the text."""
    fmt = n.args.get("format")
    if fmt is None and not n.args.get("safe"):  # YEAR(x), DAYOFWEEK(x): sqlglot's date of x
        return n
    if fmt is None:
        head = template(
            "CASE WHEN strpos({s}, ' ') > 1 THEN left({s}, strpos({s}, ' ') - 1) ELSE {s} END", s=n.this
        )
        return template(
            "CASE WHEN regexp_full_match({d}, '\\s*[0-9]+\\s*(-\\s*[0-9]+\\s*){{0,2}}') "
            "AND list_bool_or(list_transform(regexp_extract_all({d}, '[0-9]+'), "
            "__n -> TRY_CAST(__n AS INTEGER) IS NULL)) "
            "THEN error('TO_DATE cannot read ' || {s} || ': a number past INT') ELSE {n} END",
            d=head,
            s=n.this,
            n=n,
        )
    if not fmt.is_string:
        raise UnsupportedError("TO_DATE with a format that is not a constant")
    return lenient_date(n.this, fmt.name)


def date_format_call(n: exp.Expr, source: DataType) -> exp.Expr:
    """DATE_FORMAT(x, pattern): a TIMESTAMP_LTZ in the session's zone; a STRING read as
    'yyyy-MM-dd HH:mm:ss' by a prefix, leniently (SimpleDateFormat.parse: the rest is
    ignored, 2024-02-30 is 1 March), and NULL when it does not start so
    (DateTimeUtils.formatTimestampString)."""
    fmt = n.args.get("format")
    if fmt is None or not fmt.is_string:
        raise UnsupportedError("DATE_FORMAT with a pattern that is not a constant")
    if source.is_string:
        stamp = lenient_timestamp(n.this)
        assert stamp is not None
    else:
        stamp = template("CAST({x} AS TIMESTAMP)", x=n.this)
    return date_format(stamp, fmt.name)


def _from_unixtime(n: exp.UnixToStr) -> exp.Expr:
    """FROM_UNIXTIME(seconds, pattern): the session zone's date-time of the epoch second,
    formatted by a SimpleDateFormat (DateTimeUtils.formatTimestampMillis), whose letters
    are read from the pattern as written (the dialect keeps it)."""
    pattern = n.meta.get("java_format")
    if pattern is None:
        return n
    local = template("CAST(to_timestamp({e}) AS TIMESTAMP)", e=n.this)
    return date_format(local, pattern, simple=True)


def to_timestamp_ltz(epoch: exp.Expr, precision: int, floating: bool = False) -> exp.Expr:
    """TO_TIMESTAMP_LTZ(epoch, 0 | 3): NULL outside years 0000-9999 (DateTimeUtils). An
    integer's or a DECIMAL's fraction is cut before the range is checked; a DOUBLE must be
    in range itself and keeps its milliseconds: the whole seconds floored, plus the
    fraction's milliseconds (1709214330.123 is 1709214330 s and 122.99... ms: .122)."""
    scale = 1000 if precision == 0 else 1
    low, high = _MIN_EPOCH_MILLIS // scale, _MAX_EPOCH_MILLIS // scale
    if floating:  # whole seconds (or milliseconds) floored, then the fraction's milliseconds
        millis = "TRY_CAST(floor({e}) AS BIGINT)"
        if precision == 0:
            millis = f"({millis} * 1000 + CAST(trunc(({{e}} - floor({{e}})) * 1000) AS BIGINT))"
        check = f"({{e}}) BETWEEN {low} AND {high}"
    else:
        millis = f"CAST(trunc({{e}}) AS BIGINT) * {scale}"
        check = f"trunc({{e}}) BETWEEN {low} AND {high}"
    # exact milliseconds (DuckDB's to_timestamp goes through a DOUBLE of seconds)
    return template(
        f"CASE WHEN {check} THEN TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_microseconds({millis} * 1000) END",
        e=epoch,
    )


def base64_call(n: exp.ToBase64 | exp.FromBase64, arg: DataType) -> exp.Expr:
    """TO_BASE64 and FROM_BASE64 of a string (its UTF-8 bytes) or of BYTES (themselves:
    SqlFunctionUtils has both overloads); DuckDB's encode takes no BLOB."""
    binary = arg.name in ("BYTES", "BINARY", "VARBINARY")
    if isinstance(n, exp.ToBase64):
        return template("to_base64({s})" if binary else "to_base64(encode({s}))", s=n.this)
    if binary:  # the bytes are base64's ASCII letters, or the decoder fails on them
        n.set("this", utf8_text(n.this))
    return _from_base64(n)


# What java.util.Base64's basic decoder reads: the alphabet, padding optional but not beyond
# the last unit; anything else (blanks, '-', a lone last character) fails Flink's job
_BASE64 = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?"


def _from_base64(n: exp.Expr) -> exp.Expr:
    """FROM_BASE64(s): Base64.getDecoder().decode, then UTF-8 (malformed bytes as U+FFFD);
    text it cannot read fails the job, as Flink's IllegalArgumentException does."""
    padded = template("from_base64({s} || repeat('=', (4 - length({s}) % 4) % 4))", s=n.this)
    pattern = _BASE64.replace("{", "{{").replace("}", "}}")
    return template(
        f"CASE WHEN NOT regexp_full_match({{s}}, '{pattern}') "
        "THEN error('FROM_BASE64: not base64: ' || {s}) ELSE {t} END",
        s=n.this,
        t=utf8_text(padded),
    )


def _json_string(n: exp.Anonymous) -> exp.Expr:
    """JSON_STRING: a DECIMAL keeps its scale (Jackson writes the BigDecimal, 1.50); a
    DOUBLE is written as the BigDecimal Flink makes of it (1.0E+308, runtime.json_text)."""
    (value,) = n.expressions
    return json_functions.typed_json(
        value,
        template(
            "CASE WHEN {v} IS NULL THEN NULL WHEN typeof({v}) LIKE 'DECIMAL%' THEN CAST({v} AS VARCHAR) "
            "WHEN typeof({v}) IN ('DOUBLE', 'FLOAT') THEN flink_json_double(TRY_CAST({v} AS DOUBLE)) "
            "ELSE CAST(to_json({v}) AS VARCHAR) END",
            v=value,
        ),
    )


def _bin(n: exp.Anonymous) -> exp.Expr:
    """Long.toBinaryString: a negative number in 64-bit two's complement."""
    (value,) = n.expressions
    return template("bin(CAST({v} AS BIGINT))", v=value)


# Commons Lang's isNumeric and isAlpha test each UTF-16 unit: a character beyond U+FFFF
# (two units, neither a digit nor a letter) never is one
_ONE_OF = (
    "coalesce(regexp_full_match({v}, '\\p{{%s}}+') "
    "AND NOT regexp_matches({v}, '[\\x{{10000}}-\\x{{10FFFF}}]'), false)"
)


def _is_digit(n: exp.Anonymous) -> exp.Expr:
    """IS_DIGIT: every character a (Unicode) digit of the BMP, not empty; NULL is FALSE."""
    (value,) = n.expressions
    return template(_ONE_OF % "Nd", v=value)


def _is_alpha(n: exp.Anonymous) -> exp.Expr:
    """IS_ALPHA: every character a (Unicode) letter of the BMP, not empty; NULL is FALSE."""
    (value,) = n.expressions
    return template(_ONE_OF % "L", v=value)


def _regexp(n: exp.Anonymous) -> exp.Expr:
    """REGEXP(s, p): some substring of s matches p; an empty pattern is FALSE."""
    s, p = n.expressions
    if _uncompilable(p):
        return template("CASE WHEN {s} IS NOT NULL THEN false END", s=s)
    p = _re2(p)
    if p.is_string and (literal := regex_literal.required_literal(p.name)) is not None:
        return template(regex_literal.matches_template(literal), s=s, p=p)
    sql = "CASE WHEN {p} = '' THEN {s} IS NULL AND NULL ELSE regexp_matches({s}, {p}) END"  # NULL or FALSE
    return template(sql, s=s, p=p)


def _sha2(n: exp.Expr) -> exp.Expr:
    """SHA2(s, bits): DuckDB's sha256 for the constant 256, runtime.digests' otherwise
    (224, 384, 512; another length fails the job, as Flink's does)."""
    length = n.args.get("length")
    if length is not None and length.is_int and int(length.name) == 256:
        return template("sha256({s})", s=n.this)
    if length is not None and length.is_int and int(length.name) not in (224, 384, 512):
        raise PlanError(
            f"SHA2 has no digest of {length.name} bits", hint="the lengths are 224, 256, 384, 512"
        )
    return template("flink_sha2({s}, CAST({b} AS BIGINT))", s=n.this, b=length or exp.Literal.number(256))


def _utf8(charset: exp.Expr) -> bool:
    return charset.is_string and charset.name.upper().replace("-", "").replace("_", "") == "UTF8"


def utf8_text(data: exp.Expr) -> exp.Expr:
    """Bytes read as UTF-8 text, malformed bytes as U+FFFD (Java's new String(bytes, UTF_8));
    DuckDB's decode fails the job on them (runtime.charsets reads those)."""
    return template("coalesce(try(decode({b})), flink_decode({b}, 'UTF-8'))", b=data)


def _encode(n: exp.Expr) -> exp.Expr:
    """ENCODE(s, charset): String.getBytes(charset); UTF-8 is DuckDB's own, any other set
    runtime.charsets' (a character the set lacks is '?')."""
    charset = n.args["charset"]
    if _utf8(charset):
        return template("encode({s})", s=n.this)
    return template("flink_encode({s}, {c})", s=n.this, c=charset)


def _decode(n: exp.Expr) -> exp.Expr:
    """DECODE(bytes, charset): new String(bytes, charset), malformed bytes as U+FFFD."""
    charset = n.args["charset"]
    if _utf8(charset):
        return utf8_text(n.this)
    return template("flink_decode({b}, {c})", b=n.this, c=charset)


def _translate(n: exp.Expr) -> exp.Expr:
    """TRANSLATE(s, from, to): a character of from is replaced by the one at its index in
    to, or dropped when to is shorter (Commons Lang's replaceChars, as DuckDB's translate);
    a NULL from changes nothing and a NULL to drops every character of from."""
    return template(
        "translate({s}, coalesce({f}, ''), coalesce({t}, ''))", s=n.this, f=n.args["from_"], t=n.args["to"]
    )


def _array_join(n: exp.Expr) -> exp.Expr:
    """ARRAY_JOIN(a, sep[, null]): NULL elements are skipped, or spelled as the third
    argument."""
    null = n.args.get("null")
    if null is None:  # a NULL separator makes the answer NULL (DuckDB skips it); an array of
        # NULLs joins to '' (DuckDB's array_to_string says NULL)
        return template(
            "CASE WHEN {d} IS NOT NULL "
            "THEN array_to_string(list_filter({a}, __x -> __x IS NOT NULL), {d}) END",
            a=n.this,
            d=n.expression,
        )
    return template(
        "CASE WHEN {n} IS NULL OR {d} IS NULL THEN NULL "
        "ELSE array_to_string(list_transform({a}, __x -> coalesce(__x, {n})), {d}) END",
        a=n.this,
        d=n.expression,
        n=null,
    )


def _local_time(n: exp.Expr) -> exp.Expr:
    """CURRENT_TIME: the session zone's wall time, TIME(0) (DuckDB's CURRENT_TIME is a TIME
    WITH TIME ZONE)."""
    return template("CAST(CAST(date_trunc('second', get_current_timestamp()) AS TIMESTAMP) AS TIME)")


def _regexp_replace(n: exp.RegexpReplace) -> exp.Expr:
    """REGEXP_REPLACE(s, p, r): r is text (Flink quotes it, Matcher.quoteReplacement), where
    DuckDB reads '\\1' as a group and fails on any other backslash."""
    if _uncompilable(n.expression):
        return exp.cast(exp.null(), "VARCHAR")
    r = n.args["replacement"]
    quoted = (
        exp.Literal.string(r.name.replace("\\", "\\\\"))
        if r.is_string
        else template("replace({r}, '\\', '\\\\')", r=r)
    )
    return template("regexp_replace({s}, {p}, {r}, 'g')", s=n.this, p=_re2(n.expression), r=quoted)


def _regexp_count(n: exp.Expr) -> exp.Expr:
    """REGEXP_COUNT(s, p): how many times p matches s, one match after the other."""
    if _uncompilable(n.expression):
        return exp.cast(exp.null(), "INTEGER")
    return template("CAST(len(regexp_extract_all({s}, {p})) AS INTEGER)", s=n.this, p=_re2(n.expression))


def _regexp_substr(n: exp.Expr) -> exp.Expr:
    """REGEXP_SUBSTR(s, p): the first match, NULL when there is none."""
    if _uncompilable(n.expression):
        return exp.cast(exp.null(), "VARCHAR")
    return template(
        "CASE WHEN regexp_matches({s}, {p}) THEN regexp_extract({s}, {p}) END", s=n.this, p=_re2(n.expression)
    )


def _regexp_instr(n: exp.Expr) -> exp.Expr:
    """REGEXP_INSTR(s, p): where (counting UTF-16 units from 1, as Java's Matcher.start) the
    first match starts, 0 when none: the shortest prefix after which p matches is what
    precedes the leftmost match; a character beyond U+FFFF in it counts two."""
    if not n.expression.is_string:
        raise UnsupportedError("REGEXP_INSTR with a pattern that is not a constant")
    if _uncompilable(n.expression):
        return exp.cast(exp.null(), "INTEGER")
    prefixed = exp.Literal.string(f"(?s)^(.*?)(?:{java_regex.re2(n.expression.name)})")
    return template(
        "CASE WHEN regexp_matches({s}, {q}) THEN list_transform([regexp_extract({s}, {q}, 1)], __pre -> "
        "CAST(length(__pre) + len(regexp_extract_all(__pre, '[\\x{{10000}}-\\x{{10FFFF}}]')) + 1 AS INTEGER)"
        ")[1] "
        "WHEN {s} IS NOT NULL THEN 0 END",
        s=n.this,
        q=prefixed,
    )


def _regexp_extract_all(n: exp.Expr) -> exp.Expr:
    """REGEXP_EXTRACT_ALL(s, p[, group]): every match's group (1 by default, 0 the match);
    NULL for a group the pattern does not have, a negative one, or a pattern Java cannot
    compile (DuckDB fails the job on each). A pattern or index that is not a constant is
    checked as the job runs."""
    if _uncompilable(n.expression):
        return exp.cast(exp.null(), "VARCHAR[]")
    group, pattern = n.args.get("group"), _re2(n.expression)
    groups = _pattern_groups(pattern)
    extract = "regexp_extract_all({s}, {p}, {i})"
    if groups is None:  # a pattern from a column (or one Python cannot read): try it
        extract = f"try({extract})"
    if group is not None and not group.is_int:
        valid = f"{{i}} BETWEEN 0 AND {groups}" if groups is not None else "{i} >= 0"
        return template(f"CASE WHEN {valid} THEN {extract} END", s=n.this, p=pattern, i=group)
    index = _group_index(group, "REGEXP_EXTRACT_ALL", 1)
    if index < 0 or (groups is not None and index > groups):
        return exp.cast(exp.null(), "VARCHAR[]")
    return template(extract, s=n.this, p=pattern, i=exp.Literal.number(index))


def _btrim(n: exp.Anonymous) -> exp.Expr:
    """BTRIM(s[, chars]): both ends trimmed of spaces (' ' only, as BTrimFunction: DuckDB's
    trim takes every Unicode space), or of the given characters."""
    s, *chars = n.expressions
    return exp.func("trim", s, *(chars or [exp.Literal.string(" ")]))


def _elt(n: exp.Expr) -> exp.Expr:
    """ELT(i, e1, e2, ...): the i-th expression; NULL when i is NULL or out of range."""
    index, values = n.this, n.expressions
    return exp.Case(
        this=index,
        ifs=[exp.If(this=exp.Literal.number(i + 1), true=v) for i, v in enumerate(values)],
    )


_HASH_STEP = (
    "(a, b) -> CASE WHEN b > 65535 "  # a supplementary character is two UTF-16 units
    "THEN (a * 961 + (55296 + ((b - 65536) >> 10)) * 31 + (56320 + ((b - 65536) & 1023))) % 4294967296 "
    "ELSE (a * 31 + b) % 4294967296 END"
)


_INT32 = "((({h}) + 2147483648) & 4294967295) - 2147483648"  # Java's (int) of a long


def hash_code_call(n: exp.Anonymous, arg: DataType) -> exp.Expr:
    """HASH_CODE(x): the Java hashCode of the value Flink holds. A string's is made absolute
    (:func:`_hash_code`); a number's is its boxed type's: an int's is itself, a long's
    ``(int) (v ^ v >>> 32)``, a DECIMAL's BigDecimal's ``31 * unscaled.hashCode() + scale``
    (BigInteger's hash of its 32-bit magnitude words, times its sign), a BOOLEAN's 1231 or
    1237, a DOUBLE's or FLOAT's that of its bits (:mod:`runtime.java_hash`)."""
    (value,) = n.expressions
    if arg.is_string:
        return _hash_code(n)
    if arg.name in ("TINYINT", "SMALLINT", "INT"):
        return template("CAST({x} AS INTEGER)", x=value)
    if arg.name == "BOOLEAN":
        return template("CASE WHEN {x} THEN 1231 WHEN NOT {x} THEN 1237 END", x=value)
    if arg.name == "BIGINT":
        bits = "((CAST({x} AS HUGEINT) + 18446744073709551616) % 18446744073709551616)"
        folded = f"xor({bits} >> 32, {bits} & 4294967295)"
        return template(f"CAST({_INT32.format(h=folded)} AS INTEGER)", x=value)
    if arg.name == "DECIMAL":
        unscaled = "CAST(replace(CAST({x} AS VARCHAR), '.', '') AS HUGEINT)"
        words = " + ".join(f"((abs({unscaled}) >> {32 * i}) & 4294967295) * {31**i}" for i in range(4))
        magnitude = _INT32.format(h=f"({words}) % 4294967296")
        signed = _INT32.format(h=f"({magnitude}) * sign({unscaled})")
        return template(f"CAST({_INT32.format(h=f'31 * ({signed}) + {arg.scale or 0}')} AS INTEGER)", x=value)
    if arg.name in ("DOUBLE", "FLOAT"):  # its bits, which runtime.java_hash reads
        is_float = "TRUE" if arg.name == "FLOAT" else "FALSE"
        return template(f"flink_float_hash(CAST({{x}} AS DOUBLE), {is_float})", x=value)
    raise UnsupportedError(f"HASH_CODE of a {arg.with_nullable(True).sql()} is not supported yet")


def _hash_code(n: exp.Anonymous) -> exp.Expr:
    """HASH_CODE(s): the absolute value (Math.abs: MIN_VALUE stays) of Java's String.hashCode,
    s[0]*31^(n-1) + ... over UTF-16 units."""
    (value,) = n.expressions
    codes = "list_transform(string_split({s}, ''), c -> unicode(c)::BIGINT)"
    h = f"((list_reduce([0::BIGINT] || {codes}, {_HASH_STEP}) + 2147483648) % 4294967296 - 2147483648)"
    return template(
        f"CASE WHEN {{s}} = '' THEN 0 WHEN {h} = -2147483648 THEN -2147483648 "
        f"ELSE CAST(abs({h}) AS INTEGER) END",
        s=value,
    )


def _cardinality(n: exp.Anonymous) -> exp.Expr:
    """CARDINALITY(array | map): its number of elements or entries."""
    (value,) = n.expressions
    return template("CAST(cardinality({x}) AS INTEGER)", x=value)


def _element(n: exp.Anonymous) -> exp.Expr:
    """ELEMENT(array): its one element; NULL for an empty or NULL array; more than one
    element fails the job, as Flink's does."""
    (value,) = n.expressions
    message = exp.Literal.string("ELEMENT: the array has more than one element")
    return template(
        "CASE WHEN len({a}) > 1 THEN error({m}) WHEN len({a}) = 1 THEN {a}[1] END", a=value, m=message
    )


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {
    exp.RegexpCount: _regexp_count,
    exp.RegexpReplace: _regexp_replace,
    exp.RegexpSubstr: _regexp_substr,
    exp.RegexpInstr: _regexp_instr,
    exp.RegexpExtractAll: _regexp_extract_all,
    exp.Elt: _elt,
    "BTRIM": _btrim,
    "CARDINALITY": _cardinality,
    "ELEMENT": _element,
    exp.CurrentTime: _local_time,
    exp.DayOfWeek: _day_of_week,
    exp.TimestampDiff: _timestampdiff,
    exp.RegexpExtract: _regexp_extract,
    exp.Greatest: _greatest_least,
    exp.Least: _greatest_least,
    exp.Upper: _upper,
    exp.Lower: _lower,
    exp.Sqrt: _sqrt,
    exp.Pow: _power,
    exp.Initcap: _initcap,
    exp.Replace: _replace,
    exp.SimilarTo: _similar_to,
    exp.RegexpSplit: _split,
    exp.StrToUnix: _unix_timestamp,
    exp.UnixToStr: _from_unixtime,
    exp.Pad: _pad,
    exp.Left: _left_right,
    exp.Substring: _substring,
    exp.Trim: _trim,
    exp.Right: _left_right,
    exp.Ascii: _ascii,
    exp.Chr: _chr,
    exp.Extract: _extract,
    exp.Uuid: _uuid,
    "E": _e,
    **json_functions.REWRITES,
    "JSON_STRING": _json_string,
    "BIN": _bin,
    "IS_DIGIT": _is_digit,
    "IS_ALPHA": _is_alpha,
    "REGEXP": _regexp,
    "TO_TIMESTAMP": _to_timestamp,
    exp.StrToTime: _str_to_time,
    exp.TsOrDsToDate: _to_date,
    exp.SHA2: _sha2,
    exp.Encode: _encode,
    exp.Decode: _decode,
    exp.Translate: _translate,
    exp.ArrayToString: _array_join,
    **_COLLECTION_REWRITES,
    **_URL_REWRITES,
    **_ZONE_REWRITES,
    **_STRING_REWRITES,
    **_RANDOM_REWRITES,
}
