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
    pattern = strptime_format.replace("strict", "")
    tokens = re.findall(r"%[a-zA-Z]|[^%]+", pattern)
    if not {t for t in tokens if t.startswith("%")} <= set(_DATE_FIELD):
        raise UnsupportedError(f"TO_DATE with the format {pattern!r} is not supported yet")
    regex, names = "^", []
    for k, token in enumerate(tokens):
        if token not in _DATE_FIELD:
            regex += re.escape(token)
            continue
        name, width = _DATE_FIELD[token]
        abutting = k + 1 < len(tokens) and tokens[k + 1] in _DATE_FIELD
        regex += f"([0-9]{{{width}}})" if abutting else "([0-9]+)"
        names.append(name)
    if sorted(names) != ["d", "mo", "y"]:
        raise UnsupportedError(f"TO_DATE with the format {pattern!r} is not supported yet")
    return regex, names
