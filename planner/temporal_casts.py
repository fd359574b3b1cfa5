"""CAST and TRY_CAST of text to DATE, TIME, TIMESTAMP and TIMESTAMP_LTZ, read as Flink reads it.

Flink's readers (DateTimeUtils.parseDate, parseTime and parseTimestampData, which CAST
calls through BinaryStringDataUtil) each accept their own shapes, and DuckDB's casts accept
others: so the text is matched here against Flink's shape, and what Flink cannot read is
NULL for TRY_CAST and fails the job for CAST. The oracle's ``trycast`` fixtures hold
Flink's answers. In short:

- DATE: the text before the first space (when it does not start with one), as
  ``y[-m[-d]]`` of digits with blanks around each part: '42' is 0042-01-01, '2024-1-5'
  is 2024-01-05; the day must exist (2023-02-29 is NULL), years 0 to 9999.
- TIMESTAMP: exactly ``yyyy-M-d[ H:m:s[.fraction]]`` (no blanks around it, no 'T', the
  seconds required with a time), a day past the month's end (up to 31) moved back to its
  last day and 24:00:00 read as the next midnight (java.time's SMART resolver), years from
  1; the fraction is cut to the type's precision.
- TIME: ``H[:m[:s[.fraction]]]`` with blanks around each part, hours 0-23.
"""

from __future__ import annotations

from sqlglot import exp

from catalog.types import DataType
from planner.numeric import template

_DATE = r"^\s*(\d+)\s*(?:-\s*(\d+)\s*(?:-\s*(\d+)\s*)?)?$"
_TIMESTAMP = r"^(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{0,9}))?)?$"
_TIME = r"^\s*(\d+)\s*(?::\s*(\d+)\s*(?::\s*(\d+)\s*(?:\.(\d*))?)?)?\s*$"


def _fields(pattern: str, names: list[str]) -> str:
    """``regexp_extract`` of the named groups as a struct ('' for a group that is absent)."""
    quoted = pattern.replace("{", "{{").replace("}", "}}").replace("'", "''")
    listed = ", ".join(f"'{n}'" for n in names)
    return f"regexp_extract({{s}}, '{quoted}', [{listed}])"


def _int(field: str, default: int) -> str:
    return f"coalesce(TRY_CAST(nullif(__p.{field}, '') AS BIGINT), {default})"


# parseDate reads the text before the first space, unless the text starts with one
_DATE_TEXT = "CASE WHEN strpos({s}, ' ') > 1 THEN left({s}, strpos({s}, ' ') - 1) ELSE {s} END"
_DATE_SQL = (
    f"list_transform([{_fields(_DATE, ['y', 'mo', 'd']).replace('{s}', _DATE_TEXT)}], "
    f"__p -> CASE WHEN __p.y <> '' "
    f"AND {_int('y', 0)} <= 9999 THEN try(make_date({_int('y', 0)}, {_int('mo', 1)}, "
    f"{_int('d', 1)})) END)[1]"
)


_FAST_DATE = "\\d{{4}}-\\d\\d-\\d\\d"


def _micros(precision: int) -> str:
    """The fraction's digits as microseconds, cut to ``precision`` digits."""
    digits = min(precision, 6)
    kept = f"left(rpad(__p.frac, {digits}, '0'), {digits})" if digits else "'0'"
    return f"CAST({kept} AS BIGINT) * {10 ** (6 - digits)}"


def _timestamp_sql(precision: int) -> str:
    day = f"least({_int('d', 1)}, day(last_day(make_date({_int('y', 1)}, {_int('mo', 1)}, 1))))"
    clock = (
        f"{_int('h', 0)} * 3600000000 + {_int('mi', 0)} * 60000000 + {_int('sec', 0)} * 1000000 "
        f"+ {_micros(precision)}"
    )
    valid = (
        f"__p.y <> '' AND {_int('y', 0)} >= 1 AND {_int('mo', 0)} BETWEEN 1 AND 12 "
        f"AND {_int('d', 0)} BETWEEN 1 AND 31 AND {_int('mi', 0)} <= 59 AND {_int('sec', 0)} <= 59 "
        f"AND ({_int('h', 0)} <= 23 OR ({_int('h', 0)} = 24 AND {_int('mi', 0)} = 0 "
        f"AND {_int('sec', 0)} = 0 AND ltrim(__p.frac, '0') = ''))"
    )
    names = ["y", "mo", "d", "h", "mi", "sec", "frac"]
    return (
        f"list_transform([{_fields(_TIMESTAMP, names)}], __p -> CASE WHEN {valid} THEN "
        f"make_timestamp({_int('y', 1)}, {_int('mo', 1)}, {day}, 0, 0, 0) "
        f"+ to_microseconds({clock}) END)[1]"
    )


def _fast_timestamp_sql(precision: int) -> str:
    """The common shape, 'yyyy-MM-dd[ HH:mm:ss[.f]]' with no more fraction digits than the
    type keeps, read by DuckDB's own cast (13x faster than the general reader, which takes
    what this leaves NULL: other shapes, and dates DuckDB refuses but Flink resolves, such
    as 2024-02-30). DuckDB agrees with Flink on this shape: 24:00:00 is the next midnight,
    a 60th second or a 13th month is no time."""
    digits = min(precision, 6)
    fraction = f"(\\.\\d{{{{1,{digits}}}}})?" if digits else ""
    shape = f"\\d{{{{4}}}}-\\d\\d-\\d\\d( \\d\\d:\\d\\d:\\d\\d{fraction})?"
    # (DuckDB reads year 0000 as 1 BC; java.time's year-of-era has no year 0)
    return (
        f"CASE WHEN regexp_full_match({{s}}, '{shape}') AND NOT starts_with({{s}}, '0000') "
        "THEN TRY_CAST({s} AS TIMESTAMP) END"
    )


def _time_sql(precision: int) -> str:
    valid = f"__p.h <> '' AND {_int('h', 0)} <= 23 AND {_int('mi', 0)} <= 59 AND {_int('sec', 0)} <= 59"
    digits = min(precision, 3)  # Flink keeps a TIME in milliseconds
    micros = (
        f"CAST(left(rpad(__p.frac, {digits}, '0'), {digits}) AS BIGINT) * {10 ** (6 - digits)}"
        if digits
        else "0"
    )
    return (
        f"list_transform([{_fields(_TIME, ['h', 'mi', 'sec', 'frac'])}], __p -> CASE WHEN {valid} THEN "
        f"TIME '00:00:00' + to_microseconds({_int('h', 0)} * 3600000000 + {_int('mi', 0)} * 60000000 "
        f"+ {_int('sec', 0)} * 1000000 + {micros}) END)[1]"
    )


# A local time (TIMESTAMP) as an instant of the session's zone, as java.time resolves it:
# in a DST overlap the earlier instant (the offset from before the change, which DuckDB's
# cast does not take), in a gap the time pushed forward by the gap (as DuckDB's cast does).
_LOCAL_TO_INSTANT = (
    "list_transform([CAST({x} AS TIMESTAMPTZ)], __t -> list_transform("
    "[timezone('UTC', {x} - to_seconds(CAST(date_part('timezone', __t - INTERVAL 3 HOUR) AS BIGINT)))], "
    "__e -> CASE WHEN CAST(__e AS TIMESTAMP) = {x} THEN __e ELSE __t END)[1])[1]"
)


def local_to_instant(local: exp.Expr) -> exp.Expr:
    """A TIMESTAMP as the TIMESTAMP_LTZ of the same wall time in the session's zone."""
    return template(_LOCAL_TO_INSTANT, x=local)


def text_to_temporal(value: exp.Expr, target: DataType, strict: bool) -> exp.Expr | None:
    """The DuckDB expression that reads ``value`` (text) as Flink's ``target`` type, or None
    when the target is no DATE, TIME or TIMESTAMP. ``strict`` (CAST, not TRY_CAST) fails
    the job, naming the text, where Flink's CAST does."""
    precision = target.precision if target.precision is not None else 6
    if target.name == "DATE":  # the common shape by DuckDB's own (faster) cast first
        fast = f"CASE WHEN regexp_full_match({{s}}, '{_FAST_DATE}') THEN TRY_CAST({{s}} AS DATE) END"
        parsed = f"coalesce({fast}, {_DATE_SQL})"
    elif target.name == "TIME":
        parsed = _time_sql(target.precision or 0)
    elif target.name in ("TIMESTAMP", "TIMESTAMP_LTZ"):  # LTZ: the wall time of the session's zone
        parsed = f"coalesce({_fast_timestamp_sql(precision)}, {_timestamp_sql(precision)})"
    else:
        return None
    read = template(parsed, s=value)
    if target.name == "TIMESTAMP_LTZ":
        read = local_to_instant(read)
    if not strict:
        return read
    message = "error('cannot CAST ''' || {s} || ''' AS " + target.with_nullable(True).sql() + "')"
    return template(
        f"CASE WHEN {{s}} IS NOT NULL AND {{r}} IS NULL THEN {message} ELSE {{r}} END", s=value, r=read
    )
