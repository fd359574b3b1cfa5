"""Text read as a date or time the lenient way Flink's DateTimeUtils reads it with a format:
``TO_DATE(s, format)`` through a lenient SimpleDateFormat (a day past the month's end rolls
into the next month: '20240230' is 2024-03-01), and ``TO_TIMESTAMP(s, format)`` /
``TO_TIMESTAMP_LTZ(s, format)`` falling back, where the format does not fit, to
``java.sql.Timestamp.valueOf`` (or ``Date.valueOf`` for text without a space), which reads
'2023-12-31 23:59:59.999' whatever the format said (DateTimeUtils.parseTimestampData).
"""

from __future__ import annotations

import re

from sqlglot import exp

from planner.errors import UnsupportedError
from planner.numeric import template

# Timestamp.valueOf: yyyy-[m]m-[d]d hh:mm:ss[.f...], month 1-12 and day 1-31 checked, the rest
# rolled over by java.util.Date's lenient calendar; Date.valueOf: yyyy-[m]m-[d]d.
_VALUE_OF = r"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?: (\d+):(\d+):(\d+)(?:\.(\d{{1,9}}))?)?$"
_FIELDS = "['y', 'mo', 'd', 'h', 'mi', 'sec', 'frac']"
_LENIENT = (
    "make_timestamp(CAST(__p.y AS BIGINT), 1, 1, 0, 0, 0) + to_months(CAST(__p.mo AS INTEGER) - 1) "
    "+ to_days(CAST(__p.d AS INTEGER) - 1) + to_hours(coalesce(CAST(nullif(__p.h, '') AS BIGINT), 0)) "
    "+ to_minutes(coalesce(CAST(nullif(__p.mi, '') AS BIGINT), 0)) "
    "+ to_seconds(coalesce(CAST(nullif(__p.sec, '') AS BIGINT), 0)) "
    "+ to_microseconds(coalesce(CAST(nullif(left(rpad(__p.frac, 6, '0'), 6), '') AS BIGINT), 0))"
)
_TIMESTAMP_VALUE_OF = (
    f"list_transform([regexp_extract(trim({{s}}), '{_VALUE_OF}', {_FIELDS})], __p -> "
    "CASE WHEN __p.y <> '' AND (__p.h <> '') = contains(trim({s}), ' ') "
    "AND CAST(__p.mo AS INTEGER) BETWEEN 1 AND 12 AND CAST(__p.d AS INTEGER) BETWEEN 1 AND 31 "
    f"THEN try({_LENIENT}) END)[1]"
)


def timestamp_value_of(text: exp.Expr) -> exp.Expr:
    """Timestamp.valueOf(text.trim()) when the text has a space, else Date.valueOf at
    midnight; NULL for text neither reads."""
    return template(_TIMESTAMP_VALUE_OF, s=text)


def parse_timestamp(text: exp.Expr, strptime_format: str) -> exp.Expr:
    """DateTimeUtils.parseTimestampData(text, format) at milliseconds: the format first
    (sqlglot's strptime form, 'strict' marks dropped), then Timestamp.valueOf."""
    pattern = strptime_format.replace("strict", "")
    return template(
        "date_trunc('millisecond', coalesce(try_strptime({s}, {f}), {v}))",
        s=text,
        f=exp.Literal.string(pattern),
        v=timestamp_value_of(text),
    )


_DATE_FIELD = {"%Y": ("y", 4), "%m": ("mo", 2), "%d": ("d", 2)}
_TIME_FIELD = {"%H": ("h", 2), "%M": ("mi", 2), "%S": ("sec", 2), "%g": ("ms", 3)}
SIMPLE_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The pattern DateTimeUtils reads text with when no format is given, 'yyyy-MM-dd HH:mm:ss'."""


def lenient_timestamp(text: exp.Expr, strptime_format: str = SIMPLE_DATE_FORMAT) -> exp.Expr | None:
    """``text`` read as a lenient SimpleDateFormat reads it (UNIX_TIMESTAMP, DATE_FORMAT and
    CONVERT_TZ of text): blanks before a number skipped, a number next to another takes its
    pattern's width, else as many digits as there are; the fields roll over (2024-02-30 is
    1 March, 25:61:61 is 02:02:01 the next day, 'SSS' counts milliseconds however many
    digits); text after the format is ignored. NULL for text it cannot read; None for a
    format with other fields than year, month, day, hour, minute, second, millisecond."""
    fields = {**_DATE_FIELD, **_TIME_FIELD}
    try:
        regex, names = _pattern(strptime_format, fields)
    except UnsupportedError:
        return None
    if not {"y", "mo", "d"} <= set(names):
        return None
    groups = "[" + ", ".join(f"'{n}'" for n in names) + "]"
    regex = regex.replace("'", "''").replace("{", "{{").replace("}", "}}")
    parts = ["make_timestamp(CAST(__p.y AS BIGINT), 1, 1, 0, 0, 0)", "to_months(CAST(__p.mo AS INTEGER) - 1)",
             "to_days(CAST(__p.d AS INTEGER) - 1)"]  # fmt: skip
    units = {"h": "to_hours", "mi": "to_minutes", "sec": "to_seconds", "ms": "to_milliseconds"}
    parts += [f"{units[n]}(CAST(__p.{n} AS BIGINT))" for n in names if n in units]
    return template(
        f"list_transform([regexp_extract({{s}}, '{regex}', {groups})], __p -> CASE WHEN __p.y <> '' "
        f"THEN try({' + '.join(parts)}) END)[1]",
        s=text,
    )


def lenient_date(text: exp.Expr, strptime_format: str) -> exp.Expr:
    """TO_DATE(text, format) for a format of year, month and day fields and literal text, as a
    lenient SimpleDateFormat parses it: a field next to another takes its pattern's width,
    else as many digits as there are; the numbers roll over (month 13 is next January, day
    0 the month's eve); text after the format is ignored."""
    regex, names = date_pattern(strptime_format)
    fields = "[" + ", ".join(f"'{n}'" for n in names) + "]"
    regex = regex.replace("'", "''").replace("{", "{{").replace("}", "}}")
    return template(
        f"list_transform([regexp_extract({{s}}, '{regex}', {fields})], __p -> CASE WHEN __p.y <> '' "
        "THEN try(CAST(make_date(CAST(__p.y AS INTEGER), 1, 1) + to_months(CAST(__p.mo AS INTEGER) - 1) "
        "+ to_days(CAST(__p.d AS INTEGER) - 1) AS DATE)) END)[1]",
        s=text,
    )


def date_pattern(strptime_format: str) -> tuple[str, list[str]]:
    """The regular expression (anchored at the start only) and its groups' field names for
    a TO_DATE format; refuses a format with other fields than year, month and day."""
    regex, names = _pattern(strptime_format, _DATE_FIELD)
    if sorted(names) != ["d", "mo", "y"]:
        raise UnsupportedError(
            f"TO_DATE with the format {strptime_format.replace('strict', '')!r} is not supported yet"
        )
    return regex, names


def _pattern(strptime_format: str, known: dict[str, tuple[str, int]]) -> tuple[str, list[str]]:
    """The regular expression (anchored at the start only) reading a format's ``known``
    fields as SimpleDateFormat does, and its groups' field names."""
    pattern = strptime_format.replace("strict", "")
    tokens = re.findall(r"%[a-zA-Z]|[^%]+", pattern)
    if not {t for t in tokens if t.startswith("%")} <= set(known):
        raise UnsupportedError(f"TO_DATE with the format {pattern!r} is not supported yet")
    regex, names = "^", []
    for k, token in enumerate(tokens):
        if token not in known:
            regex += re.escape(token)
            continue
        name, width = known[token]
        abutting = k + 1 < len(tokens) and tokens[k + 1] in known
        regex += f"[ \t]*([0-9]{{{width}}})" if abutting else "[ \t]*([0-9]+)"
        names.append(name)
    if len(set(names)) != len(names):
        raise UnsupportedError(f"TO_DATE with the format {pattern!r} is not supported yet")
    return regex, names
